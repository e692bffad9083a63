"""Run a :class:`~emulator.backends.loihi.graph.Graph` with the integer semantics of Lava 0.10's fixed-point models.

One barrier-synchronised step ``t`` (Lava's time step ``t + 1``), for every process at once:

1. every ``Dense`` outputs what it accumulated at ``t - 1`` (a one-step delay), and a neuron population's
   input ``a`` is the sum over the ``Dense`` processes that reach it;
2. ``SigmaDelta`` (``PySigmaDeltaModelFixed``): ``sigma += a``; ``act = sigma + bias`` (UNIT) or its ReLU;
   ``delta = act - act_prev + residue``; it fires ``delta`` when ``|delta| >= vth`` (with ``cum_error``:
   ``error += delta``, fire when ``|error| >= vth``, and the error is cleared where it fired); the residue
   keeps what was not sent; the payload is ``fired >> state_exp`` (``vth`` and ``bias`` are scaled by
   ``2**(spike_exp + state_exp)`` as the process constructor scales them);
3. ``LIF`` (``PyLifModelBitAcc``): ``u <- sgn(x) (|x| >> 12) + (a << 6)``, ``x = u (4096 - du - 1)``, wrapped
   into 24 bits; ``v <- sgn(y) (|y| >> 12) + u + bias``, ``y = v (4096 - dv)``, clipped to 24 bits; a spike
   (payload 1) when ``v > vth << 6``, which sets ``v`` to 0;
4. a ``RingBuffer`` sends column ``t mod T`` of its data;
5. every ``Dense`` accumulates its sender's payloads: ``W_stored @ payload`` (graded, int32 arithmetic) or the
   sum of the columns whose payload is non-zero (binary), shifted by ``weight_exp``.

The tests compare every traced variable at every step with Lava (``tests/backends/loihi/test_lava_graph.py``).
Sigma-delta registers are 24-bit on the chip; a run whose sigma, activation, residue or error leaves that range
stops with a :class:`~emulator.errors.DivergenceError` naming the population, where Lava's Python models would
go on in 32 bits.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emulator.backends.loihi.graph import Graph, Lif, RingBuffer, SigmaDelta
from emulator.errors import ConfigError, DivergenceError

UV_LIMIT = 2 ** 23
DECAY_UNITY = 2 ** 12


@dataclass(frozen=True)
class GraphRun:
    """What ``B`` runs of a graph did.

    Attributes
    ----------
    record : dict of str to dict of str to (T, B, n) int64
        Per population, every step's value of each of its variables (``population.variables``: what a Lava
        ``Monitor`` would record), after the step.
    state : dict of str to dict of str to (B, n) int64
        The variables after the last step.
    fired, active : (T, B, n_cores) int32
        Per step and core: neurons with a non-zero spike (streams included), and neurons of the neuron
        populations that did work (received input, changed a state variable or fired).
    steps : (B,) int64
        Steps each run took (all ``T``).
    """

    record: dict
    state: dict
    fired: np.ndarray
    active: np.ndarray
    steps: np.ndarray

    def spikes(self, name: str) -> np.ndarray:
        """(T, B, n) bool: which neurons of population ``name`` fired at each step."""
        return self.record[name]["s_out"] != 0


def _shift(x: np.ndarray, exp: int) -> np.ndarray:
    return x << exp if exp > 0 else x >> -exp


def _wrap32(x: np.ndarray) -> np.ndarray:
    """int64 -> the int32 result of the same integer arithmetic (two's complement wrap)."""
    return x.astype(np.int32).astype(np.int64)


def _decay(x: np.ndarray, keep: int) -> np.ndarray:
    """``sgn(x * keep) (|x * keep| >> 12)``: Lava's decay, rounded towards zero."""
    y = x * keep
    return np.sign(y) * (np.abs(y) >> 12)


def _initial(p, batch: int) -> dict:
    zeros = np.zeros((batch, p.size), np.int64)
    if isinstance(p, SigmaDelta):
        return {name: zeros.copy() for name in p.variables}
    if isinstance(p, Lif):
        return {"u": np.tile(p.u, (batch, 1)), "v": np.tile(p.v, (batch, 1)), "s_out": zeros.copy()}
    return {"s_out": zeros.copy()}


def _sigma_delta(p: SigmaDelta, s: dict, a: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """One step of a sigma-delta population (``s`` updated in place); returns which neurons fired."""
    vth = p.vth << p.scale
    s["sigma"] = _wrap32(s["sigma"] + a)
    act = s["sigma"] + bias
    if p.act_mode == "relu":
        act = np.maximum(act, 0)
    delta = act - s["act"] + s["residue"]
    if p.cum_error:
        s["error"] = s["error"] + delta
        fired = np.where(np.abs(s["error"]) >= vth, delta, 0)
        s["error"] = np.where(fired != 0, 0, s["error"])
    else:
        fired = np.where(np.abs(delta) >= vth, delta, 0)
    s["residue"] = delta - fired
    s["act"] = act
    s["s_out"] = fired >> p.state_exp
    for name in ("sigma", "act", "residue", "error"):
        if np.abs(s[name]).max(initial=0) >= UV_LIMIT:
            raise DivergenceError(f"SigmaDelta {p.name!r}: a neuron's {name} left the chip's 24-bit range; lower "
                                  "its inputs' weights or weight_exp, or its bias")
    return fired != 0


def _lif(p: Lif, s: dict, a: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """One step of a LIF population (``s`` updated in place); returns which neurons fired."""
    u = _decay(s["u"], DECAY_UNITY - p.du - 1) + (a << 6)
    u = np.where(u > UV_LIMIT, u - 2 * UV_LIMIT, u)
    u = np.where(u <= -UV_LIMIT, u + 2 * UV_LIMIT, u)
    v = np.clip(_decay(s["v"], DECAY_UNITY - p.dv) + u + bias, -UV_LIMIT + 1, UV_LIMIT - 1)
    spike = v > p.vth << 6
    s["u"], s["v"], s["s_out"] = u, np.where(spike, 0, v), spike.astype(np.int64)
    return spike


def run_graph(graph: Graph, steps: int, *, inputs: dict | None = None, core_of=None) -> GraphRun:
    """Run ``B`` copies of ``graph`` from rest for ``steps`` steps.

    Parameters
    ----------
    steps : int
        Time steps.
    inputs : dict of str to (B, n, T) int, optional
        Data of each ``RingBuffer`` per run (each stream's own data, one run, by default); a stream sends
        column ``t mod T`` at step ``t``.
    core_of : list of (n_p,) int, optional
        Core of every neuron of every population, for the per-core logs; one core per population by default.
    """
    if steps < 1:
        raise ConfigError(f"steps must be at least 1, got {steps}")
    data = _stream_data(graph, inputs or {})
    batch = next(iter(data.values())).shape[0] if data else 1
    pops = graph.populations
    state = {p.name: _initial(p, batch) for p in pops}
    bias = {p.name: (p.bias << p.scale if isinstance(p, SigmaDelta) else p.bias) for p in pops
            if not isinstance(p, RingBuffer)}
    if core_of is None:
        core_of = [np.full(p.size, i) for i, p in enumerate(pops)]
    n_cores = int(max(c.max(initial=0) for c in core_of)) + 1
    fired_log, active_log = (np.zeros((steps, batch, n_cores), np.int32) for _ in range(2))
    record = {p.name: {v: np.zeros((steps, batch, p.size), np.int64) for v in p.variables} for p in pops}
    buffers = [np.zeros((batch, graph.populations[graph.index(d.target)].size), np.int64)
               for d in graph.connections]
    for t in range(steps):
        received = {p.name: np.zeros((batch, p.size), np.int64) for p in pops}
        for d, buffer in zip(graph.connections, buffers):
            received[d.target] += buffer
        for i, p in enumerate(pops):
            s = state[p.name]
            if isinstance(p, RingBuffer):
                stream = data[p.name]
                s["s_out"] = stream[:, :, t % stream.shape[2]].copy()
                fired, busy = s["s_out"] != 0, np.zeros_like(s["s_out"], bool)  # streams send, do not update
            else:
                before = {name: s[name] for name in p.variables if name != "s_out"}
                a = received[p.name]
                fired = (_sigma_delta if isinstance(p, SigmaDelta) else _lif)(p, s, a, bias[p.name])
                busy = (a != 0) | fired
                for name, old in before.items():
                    busy |= s[name] != old
            np.add.at(fired_log[t], (slice(None), core_of[i]), fired.astype(np.int32))
            np.add.at(active_log[t], (slice(None), core_of[i]), busy.astype(np.int32))
            for name in p.variables:
                record[p.name][name][t] = s[name]
        for j, d in enumerate(graph.connections):
            payload = state[d.source]["s_out"]
            if d.binary:
                buffers[j] = _shift((payload != 0).astype(np.int64) @ d.stored.T, d.weight_exp)
            else:
                buffers[j] = _shift(_wrap32(payload @ d.stored.T), d.weight_exp)
    return GraphRun(record=record, state=state, fired=fired_log, active=active_log,
                    steps=np.full(batch, steps, np.int64))


def _stream_data(graph: Graph, inputs: dict) -> dict:
    """Each stream's (B, n, T) data: ``inputs`` where given, else the stream's own; all with one batch size."""
    streams = {p.name: p for p in graph.populations if isinstance(p, RingBuffer)}
    unknown = sorted(set(inputs) - set(streams))
    if unknown:
        raise ConfigError(f"inputs for {', '.join(map(repr, unknown))}, which are not RingBuffers of the graph "
                          f"(it has: {', '.join(map(repr, streams)) or 'none'})")
    data = {}
    for name, stream in streams.items():
        x = np.asarray(inputs[name], np.int64) if name in inputs else stream.data[None]
        if x.ndim != 3 or x.shape[1] != stream.size or x.shape[2] == 0:
            raise ConfigError(f"inputs[{name!r}] must have shape (runs, {stream.size}, steps), got {x.shape}")
        data[name] = x
    if len({x.shape[0] for x in data.values()}) > 1:
        raise ConfigError("inputs of different streams give different numbers of runs: "
                          + ", ".join(f"{n}: {x.shape[0]}" for n, x in data.items()))
    return data
