"""A NIR graph run in host floats with NIR's equations, discretised at a stated time step, and what a chip
would pay for it.

:func:`simulate` runs a :class:`~emulator.exchange.nir_graph.NirNetwork` (:func:`~emulator.exchange.nir_graph.read_nir`)
for ``T`` steps of ``dt`` seconds on a batch of inputs, vectorised over the batch, in float64. NIR
states its neurons as ODEs and leaves the discretisation to whoever runs them (Pedersen et al. 2024,
Nature Communications 15, 8122); this is the one the emulator uses.

**Time step.** ``dt`` is the graph's ``metadata["dt"]`` (seconds) where it states one, else the
``dt`` argument; a graph without one needs the argument, and an argument that contradicts the
graph's is refused. ``Delay`` nodes delay by ``round(delay / dt)`` steps (a delay that is not a
whole number of steps is refused).

**Neurons** (forward Euler in the state; ``I`` is the sum of what the node's incoming edges carry at
this step, held over the step; states start at 0)::

    LI       v <- v + dt/tau * ((v_leak - v) + r I)                             output v
    LIF      v <- v + dt/tau * ((v_leak - v) + r I); z = v > v_threshold;
             v <- v_reset where z                                               output z (0 or 1)
    IF       v <- v + dt r I; z = v > v_threshold; v <- v_reset where z          output z
    CubaLI   i <- i + dt/tau_syn * (-i + w_in I)   (the synaptic current first)
             v <- v + dt/tau_mem * ((v_leak - v) + r i)   (with the new i)       output v
    CubaLIF  as CubaLI, then z = v > v_threshold; v <- v_reset where z           output z
    Threshold z = I > threshold  (no state)                                      output z

The threshold test is strict (``>``) and the reset sets the potential to ``v_reset`` (NIR 1.0 has no
reset by subtraction). Maps: ``Affine`` ``W I + b``, ``Linear`` ``W I``, ``Scale`` ``s I``, ``Flatten`` the
values as they are (C order), ``Delay`` ``I(t - k)``.

**Edges carry no delay.** NIR's edges are identities (its graphs are continuous-time; a delay is a
``Delay`` node), so within a step every node sees the values its sources computed at the same step,
in an order where sources come first. A cycle needs a break: the edges leaving a ``Delay`` of at least
one step carry what was stored earlier, and in a cycle without one, the edges that close it in a
depth-first walk from the ``Input`` nodes (back edges; the walk follows the graph's edge order) carry
their source's value of the previous step (0 at the first). A recurrent sub-graph as snnTorch writes
it (``lif -> w_rec -> lif``) then has the one-step recurrence its frameworks run. A chip with a
one-step synaptic delay on every connection (the ``snn`` chip) is written with an explicit
``Delay(dt)`` behind each population (:mod:`emulator.backends.snn.nir`).

**Counts** (what an event-driven chip pays; :class:`~emulator.counters.Counters`, summed over the batch):
``spikes`` (nonzero outputs of ``Input`` nodes and spiking populations), ``messages`` (nonzero outputs
of ``LI`` and ``CubaLI`` populations, graded), ``synaptic_ops`` (each such event times the fan-out of
the neuron that sent it: the population neurons it reaches through nonzero weights of the maps in
between), ``neuron_updates`` (every population neuron at every step) and ``steps`` (steps times
samples).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from emulator.counters import Counters
from emulator.errors import NirError
from emulator.exchange.nir_graph import Map, NirNetwork, Population

#: how far ``delay / dt`` may be from a whole number of steps (relative)
STEP_TOLERANCE = 1e-6


@dataclass(frozen=True)
class Simulation:
    """What a run of a NIR graph did.

    Attributes
    ----------
    values : dict of str to (T, B, n) float64
        Every node's output at every step, flattened to ``n`` values per sample (C order): spikes (0 or 1)
        of spiking populations, potentials of LI and CubaLI, the maps' outputs, the ports' values.
    events : dict of str to (n,) int64
        For each ``Input`` and population, the nonzero outputs of each neuron over all steps and samples.
    fan_out : dict of str to (n,) int64
        For each ``Input`` and population, the population neurons each of its neurons reaches.
    counts : Counters
        ``spikes``, ``messages``, ``synaptic_ops``, ``neuron_updates``, ``steps`` (see the module's docstring).
    dt : float
        The time step run, seconds.
    """

    values: dict[str, np.ndarray]
    events: dict[str, np.ndarray]
    fan_out: dict[str, np.ndarray]
    counts: Counters
    dt: float


@dataclass(frozen=True)
class Schedule:
    """The order of one step.

    Attributes
    ----------
    order : tuple of str
        Every node, sources before targets along the edges that carry this step's values.
    late : frozenset of (str, str)
        The back edges that carry their source's value of the previous step.
    held : tuple of str
        ``Delay`` nodes of at least one step: their outputs are known at the start of a step.
    """

    order: tuple[str, ...]
    late: frozenset
    held: tuple[str, ...]


def time_step(network: NirNetwork, dt: float | None = None) -> float:
    """The time step to run ``network`` with: its ``metadata["dt"]``, else ``dt`` (seconds).

    Raises :class:`NirError` if neither gives one, or if ``dt`` contradicts the graph's."""
    if dt is not None and not (math.isfinite(dt) and dt > 0):
        raise NirError(f"dt = {dt}: give a positive time step in seconds")
    if network.dt is None:
        if dt is None:
            raise NirError("the NIR graph states no time step (metadata dt); pass dt, the seconds of one step")
        return float(dt)
    if dt is not None and not math.isclose(dt, network.dt, rel_tol=1e-12):
        raise NirError(f"dt = {dt} contradicts the graph's own time step, metadata dt = {network.dt}; leave dt out")
    return network.dt


def delay_steps(delay: Map, dt: float) -> np.ndarray:
    """The whole steps of ``dt`` a ``Delay`` node waits, (n,) int64; NirError if one is not a whole number."""
    steps = delay.delay.ravel() / dt
    whole = np.round(steps)
    if not (np.abs(steps - whole) <= STEP_TOLERANCE * np.maximum(1.0, whole)).all():
        raise NirError(f"Delay node {delay.name!r}: delays {delay.delay.ravel()[:4]} s are not whole numbers of "
                       f"steps of dt = {dt} s; give delays that are multiples of dt")
    return whole.astype(np.int64)


def schedule(network: NirNetwork, delays: dict[str, np.ndarray]) -> Schedule:
    """The evaluation order of a step, with ``delays`` the steps of each ``Delay`` node (:func:`delay_steps`)."""
    held = [name for name, k in delays.items() if k.size and k.min() >= 1]
    names = [*network.inputs, *held, *network.populations, *network.maps, *network.outputs]
    succ = {name: [] for name in names}
    for a, b in network.edges:
        if a not in held:
            succ[a].append(b)
    visiting, done, late, post = set(), set(), set(), []
    for root in dict.fromkeys(names):
        if root in done:
            continue
        stack = [(root, iter(succ[root]))]
        visiting.add(root)
        while stack:
            node, targets = stack[-1]
            nxt = next(targets, None)
            if nxt is None:
                stack.pop()
                visiting.discard(node)
                done.add(node)
                post.append(node)
            elif nxt in visiting:
                late.add((node, nxt))
            elif nxt not in done:
                visiting.add(nxt)
                stack.append((nxt, iter(succ[nxt])))
    return Schedule(order=tuple(reversed(post)), late=frozenset(late), held=tuple(held))


def fan_out(network: NirNetwork) -> dict[str, np.ndarray]:
    """For each ``Input`` and population, the population neurons each of its neurons reaches through the maps
    after it (nonzero weights and scales only), (n,) int64."""
    result = {}
    for source in (*network.inputs, *network.populations):
        n = math.prod(network.shape_out(source))
        reach = {source: np.eye(n, dtype=bool)}  # what the outputs of ``source`` and of the maps reach
        hits = {}  # populations reached, (n, size)
        changed = True
        while changed:
            changed = False
            for a, b in network.edges:
                if a not in reach or b in network.outputs:
                    continue
                new = _through(network.maps[b], reach[a]) if b in network.maps else reach[a]
                store = reach if b in network.maps else hits
                old = store.get(b)
                merged = new if old is None else old | new
                if old is None or (merged != old).any():
                    store[b] = merged
                    changed = True
        result[source] = sum((h.sum(axis=1) for h in hits.values()), np.zeros(n, np.int64)).astype(np.int64)
    return result


def _through(node: Map, reach: np.ndarray) -> np.ndarray:
    """Which outputs of a map the sources reaching its inputs (``reach``, (n_source, n_in) bool) reach."""
    if node.kind in ("Affine", "Linear"):
        return (reach.astype(np.int64) @ (node.weight != 0).T.astype(np.int64)) > 0
    if node.kind == "Scale":
        return reach & (node.scale.ravel() != 0)
    return reach


def simulate(network: NirNetwork, x, *, dt: float | None = None) -> Simulation:
    """Run ``network`` on a batch of inputs.

    Parameters
    ----------
    network : NirNetwork
    x : (T, B, n_in) float array, or dict of Input name to such arrays
        What each ``Input`` node holds at each step (an array for a graph with one ``Input``); ``n_in``
        is the Input's size (its shape flattened; ``(T, B, *shape)`` is accepted too).
    dt : float, optional
        Seconds per step, for a graph whose metadata states none (:func:`time_step`).

    Returns
    -------
    Simulation
    """
    dt = time_step(network, dt)
    inputs = _inputs(network, x)
    steps, batch = next(iter(inputs.values())).shape[:2]
    delays = {name: delay_steps(m, dt) for name, m in network.maps.items() if m.kind == "Delay"}
    plan = schedule(network, delays)
    size = {name: math.prod(network.shape_out(name)) for name in plan.order}
    values = {name: np.zeros((steps, batch, n)) for name, n in size.items()}
    stored = {name: np.zeros((steps, batch, size[name])) for name in delays}  # each Delay's inputs
    neurons = {name: _Neurons(pop, dt, batch) for name, pop in network.populations.items()}
    into = {name: network.sources(name) for name in plan.order}
    for t in range(steps):
        for name in plan.held:
            values[name][t] = _delayed(stored[name], delays[name], t)
        for name in plan.order:
            if name in network.inputs:
                values[name][t] = inputs[name][t]
                continue
            total = np.zeros((batch, math.prod(network.shape_in(name))))
            for a in into[name]:
                if (a, name) not in plan.late:
                    total += values[a][t]
                elif t > 0:
                    total += values[a][t - 1]
            if name in delays:
                stored[name][t] = total
                if name not in plan.held:
                    values[name][t] = _delayed(stored[name], delays[name], t)
            elif name in neurons:
                values[name][t] = neurons[name].step(total)
            elif name in network.maps:
                values[name][t] = _apply(network.maps[name], total)
            else:
                values[name][t] = total
    return _counted(network, values, dt)


def _inputs(network: NirNetwork, x) -> dict[str, np.ndarray]:
    if not isinstance(x, dict):
        if len(network.inputs) != 1:
            raise ValueError(f"the graph has {len(network.inputs)} Input nodes ({', '.join(network.inputs)}); "
                             "give x as a dict of Input name to (T, B, n) arrays")
        x = {next(iter(network.inputs)): x}
    if set(x) != set(network.inputs):
        raise ValueError(f"x holds inputs {sorted(x)}, the graph has Input nodes {sorted(network.inputs)}")
    out = {}
    for name, port in network.inputs.items():
        a = np.asarray(x[name], np.float64)
        if a.ndim < 3 or math.prod(a.shape[2:]) != port.size:
            raise ValueError(f"input {name!r} must have shape (T, B, {port.size}), got {a.shape}")
        if not np.isfinite(a).all():
            raise ValueError(f"input {name!r} holds NaN or infinite values")
        out[name] = a.reshape(a.shape[0], a.shape[1], port.size)
    shapes = {a.shape[:2] for a in out.values()}
    if len(shapes) != 1:
        raise ValueError(f"the inputs cover different steps and batches: {sorted(shapes)}")
    return out


def _delayed(stored: np.ndarray, k: np.ndarray, t: int) -> np.ndarray:
    """A Delay's output at step ``t``: element ``i`` of its input at ``t - k_i`` (0 before the first step)."""
    source = t - k
    out = stored[np.maximum(source, 0), :, np.arange(k.size)].T  # (B, n)
    return np.where(source >= 0, out, 0.0)


def _apply(node: Map, total: np.ndarray) -> np.ndarray:
    if node.kind == "Affine":
        return total @ node.weight.T + node.bias
    if node.kind == "Linear":
        return total @ node.weight.T
    if node.kind == "Scale":
        return total * node.scale.ravel()
    return total  # Flatten: the flat values are the same


class _Neurons:
    """One population's state over a batch, stepped with the equations of the module's docstring."""

    def __init__(self, pop: Population, dt: float, batch: int):
        p = {name: value.ravel() for name, value in pop.params.items()}
        self.model, self.p = pop.model, p
        self.v = np.zeros((batch, pop.size))
        self.i = np.zeros((batch, pop.size))
        if pop.model == "IF":
            self.gain = dt * p["r"]
        elif pop.model in ("LI", "LIF"):
            self.alpha = dt / p["tau"]
        elif pop.model in ("CubaLI", "CubaLIF"):
            self.alpha_syn, self.alpha = dt / p["tau_syn"], dt / p["tau_mem"]

    def step(self, current: np.ndarray) -> np.ndarray:
        p, model = self.p, self.model
        if model == "Threshold":
            return (current > p["threshold"]).astype(np.float64)
        if model == "IF":
            self.v = self.v + self.gain * current
        else:
            if model in ("CubaLI", "CubaLIF"):
                self.i = self.i + self.alpha_syn * (-self.i + p["w_in"] * current)
                current = self.i
            self.v = self.v + self.alpha * ((p["v_leak"] - self.v) + p["r"] * current)
        if model in ("LI", "CubaLI"):
            return self.v.copy()
        fired = self.v > p["v_threshold"]
        self.v = np.where(fired, p["v_reset"], self.v)
        return fired.astype(np.float64)


def _counted(network: NirNetwork, values: dict, dt: float) -> Simulation:
    sources = (*network.inputs, *network.populations)
    events = {name: np.count_nonzero(values[name], axis=(0, 1)).astype(np.int64) for name in sources}
    reach = fan_out(network)
    graded = {name for name, pop in network.populations.items() if not pop.spiking}
    steps, batch = next(iter(values.values())).shape[:2]
    counts = Counters(
        spikes=int(sum(events[n].sum() for n in sources if n not in graded)),
        messages=int(sum(events[n].sum() for n in graded)),
        synaptic_ops=int(sum(events[n] @ reach[n] for n in sources)),
        neuron_updates=steps * batch * sum(pop.size for pop in network.populations.values()),
        steps=steps * batch)
    return Simulation(values=values, events=events, fan_out=reach, counts=counts, dt=dt)
