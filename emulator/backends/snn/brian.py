"""The generic spiking chip's network written as Brian2 equations: the independent reference.

:func:`to_brian2` builds, from a :class:`~emulator.backends.snn.neurons.SpikingNet` (a compiled
program's ``net``), one Brian2 ``Network`` per input: a ``SpikeGeneratorGroup`` sending the inputs'
spike trains, a ``NeuronGroup`` per relaxing layer and a ``Synapses`` object per coupling and
direction. Every neuron is the chip's, as equations integrated by Brian2's Euler method with a
time step ``dt`` (one emulator step)::

    du/dt = -step_size(t) u / dt                      (synaptic current)
    dv/dt = (-leak v + u + I) / dt                     (lif)
    dv/dt = clip(u + I, 0, vth) / dt                   (if)
    threshold v > vth; reset v -= vth (or v = 0); on a presynaptic spike u_post += step_size(t) w

with ``I`` the bias (and nudge) current. Brian2's schedule in a step (the state update, then the
threshold, then the synapses of this step's spikes, then the reset) gives the emulator's order: a
spike sent at step ``t`` moves the potential at ``t + 1``. Brian2's current after step ``t`` is the
emulator's at ``t + 1`` (it already holds the spikes of step ``t``), so the step-size schedule is
given one step ahead. The two simulators then differ only in the rounding of their float sums,
and fire the same spikes while no potential comes within rounding of the threshold
(``tests/backends/snn/test_brian2.py``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emulator.backends.snn.neurons import SpikingNet, relax_spiking
from emulator.backends.spiking import code_target, input_train, require_brian2, step_sizes

#: Brian2 time of one emulator step
STEP_MS = 1.0

SYNAPSE_CURRENT = "du/dt = -step_size(t) * u / dt : 1\nI : 1 (constant)\n"
MEMBRANE = {True: "dv/dt = clip(u + I, 0, vth) / dt : 1",  # if: integrates the hard sigmoid of its drive
            False: "dv/dt = (-leak * v + u + I) / dt : 1"}  # lif


@dataclass
class BrianNetwork:
    """A spiking network in Brian2, with its monitors.

    Attributes
    ----------
    network : brian2.Network
    layers : list of brian2.NeuronGroup, layers 1..L
    spike_monitors : list of brian2.SpikeMonitor, layers 1..L
    state_monitors : list of brian2.StateMonitor or None, layers 1..L
        ``u`` and ``v`` at the end of every step, when recording.
    steps : int
        Steps the input trains cover.
    target : str
        Brian2's code-generation target (``numpy``, or ``cython``, which needs a C++ compiler).
    """

    network: object
    layers: list
    spike_monitors: list
    state_monitors: list
    steps: int
    target: str

    def run(self, steps: int | None = None):
        """Run ``steps`` steps (all the input covers by default) with the network's code target."""
        with code_target(self.target) as b2:
            self.network.run((self.steps if steps is None else steps) * STEP_MS * b2.ms, namespace={})

    def spikes(self) -> list[np.ndarray]:
        """Every layer's spikes at every step run: list of (steps, n_k) bool, layers 1..L."""
        b2 = require_brian2()
        out = []
        for group, monitor in zip(self.layers, self.spike_monitors):
            grid = np.zeros((self.steps, len(group)), bool)
            step = np.round(np.asarray(monitor.t / b2.ms) / STEP_MS).astype(np.int64)
            grid[step, np.asarray(monitor.i)] = True
            out.append(grid)
        return out

    def states(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """``(u, v)`` of every layer at the end of every step, each (steps, n_k) float64, layers 1..L (recording
        networks only). ``u`` after step ``t`` is the emulator's current at step ``t + 1``."""
        return [(np.asarray(m.u).T, np.asarray(m.v).T) for m in self.state_monitors]


def to_brian2(net: SpikingNet, train: np.ndarray, eps: np.ndarray, *, bias=None, record: bool = False,
              target: str = "numpy") -> BrianNetwork:
    """The Brian2 network of ``net`` for one input, from rest.

    Parameters
    ----------
    net : SpikingNet
        The network as the chip runs it (``program.net`` of the ``snn`` back-end).
    train : (steps, n_0) bool
        The input's spikes at each step (:func:`emulator.backends.spiking.input_train` of one sample).
    eps : (steps,) float
        Step size of the synaptic current at each step, as the emulator uses it.
    bias : list of (n_k,) float, layers 1..L, optional
        Bias currents (the outputs' with a nudge); ``net.bias`` by default.
    record : bool
        Record ``u`` and ``v`` of every neuron at every step.
    target : str
        Brian2 code target: ``numpy`` (no compiler) or ``cython``.

    Returns
    -------
    BrianNetwork
        Built, not run: call :meth:`BrianNetwork.run`.
    """
    with code_target(target) as b2:  # building generates code too
        dt = STEP_MS * b2.ms
        train = np.asarray(train, bool)
        steps = train.shape[0]
        ahead = np.append(np.asarray(eps, np.float64)[1:], eps[-1])  # Brian2's current runs one step ahead
        namespace = {"step_size": b2.TimedArray(ahead, dt=dt), "leak": float(net.leak), "vth": float(net.vth)}
        step, index = np.nonzero(train)
        source = b2.SpikeGeneratorGroup(net.layers[0], index, step * dt, dt=dt, name="inputs")
        layers, objects = [], [source]
        for k, (n, b) in enumerate(zip(net.layers[1:], net.bias if bias is None else bias), start=1):
            group = b2.NeuronGroup(n, SYNAPSE_CURRENT + MEMBRANE[net.clip], threshold="v > vth",
                                   reset="v -= vth" if net.subtract else "v = 0", method="euler", dt=dt,
                                   namespace=namespace, name=f"layer{k}")
            group.I = np.asarray(b, np.float64)
            layers.append(group)
        senders = [source] + layers
        for k, w in enumerate(net.down):
            objects.append(_couple(b2, senders[k], layers[k], w, dt, namespace, f"W{k}"))
            if k >= 1:  # the input is clamped: no feedback to it
                objects.append(_couple(b2, layers[k], layers[k - 1], w.T, dt, namespace, f"W{k}T"))
        spike_monitors = [b2.SpikeMonitor(g, name=f"spikes{k}") for k, g in enumerate(layers, start=1)]
        state_monitors = ([b2.StateMonitor(g, ["u", "v"], record=True, when="end", dt=dt, name=f"states{k}")
                           for k, g in enumerate(layers, start=1)] if record else [])
        network = b2.Network(*objects, *layers, *spike_monitors, *state_monitors)
        return BrianNetwork(network, layers, spike_monitors, state_monitors, steps, target)


def program_to_brian2(program, x: np.ndarray, *, steps: int, record: bool = False,
                      target: str = "numpy") -> BrianNetwork:
    """The Brian2 network of a compiled program of the ``snn`` chip for one input, as the chip's free phase of
    ``steps`` steps runs it from rest: the same spike train of ``x`` (n_0,), the same step sizes (the chip's,
    or the workload's schedule). Compile with ``parameters.precision: float64``, Brian2's format, to expect
    the same spikes."""
    train = input_train(np.asarray(x, np.float64)[None], 0, steps)[:, 0]
    return to_brian2(program.net, train, step_sizes(program.spiking, program.du, steps), record=record,
                     target=target)


def chip_spikes(program, x: np.ndarray, *, steps: int) -> list[np.ndarray]:
    """The spikes the chip fires for one input in a free phase of ``steps`` steps from rest, as
    :func:`program_to_brian2`'s network should: list of (steps, n_k) bool, layers 1..L (compare with
    :meth:`BrianNetwork.spikes`)."""
    state = relax_spiking(program.net, input_train(np.asarray(x, np.float64)[None], 0, steps),
                          step_sizes(program.spiking, program.du, steps), window=steps, record=True)
    return [spikes[:, 0].astype(bool) for _, _, spikes in state.record]


def _couple(b2, pre, post, weights: np.ndarray, dt, namespace, name: str):
    """Synapses from ``pre`` to ``post`` with ``weights`` (n_post, n_pre); zero weights are left out."""
    post_index, pre_index = np.nonzero(np.asarray(weights))
    synapses = b2.Synapses(pre, post, "w : 1", on_pre="u_post += step_size(t) * w", dt=dt, namespace=namespace,
                           name=name)
    synapses.connect(i=pre_index, j=post_index)
    synapses.w = np.asarray(weights, np.float64)[post_index, pre_index]
    return synapses
