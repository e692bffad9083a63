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

The kernel holds all neurons of all populations in flat (B, N) registers with per-neuron parameters
(:class:`Flat`), and delivers only the non-zero payloads of each ``Dense``'s senders (its cost is the synaptic
events, not the matrix size).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numba as nb
import numpy as np

from emulator.backends.loihi.graph import Graph, Lif, RingBuffer, SigmaDelta
from emulator.backends.loihi.lif import DECAY_BITS, UV_BITS, _decay
from emulator.errors import ConfigError, DivergenceError

UV_LIMIT = 2 ** (UV_BITS - 1)
DECAY_UNITY = 2 ** DECAY_BITS
#: neuron kinds of the flat layout
STREAM, SIGMA_DELTA, LIF = 0, 1, 2
#: the registers of the flat layout, and which population variable each records
REGISTERS = ("sigma", "act", "residue", "error", "u", "v", "s_out")


@dataclass(frozen=True)
class GraphRun:
    """What ``B`` runs of a graph did.

    Attributes
    ----------
    record : dict of str to dict of str to (T, B, n) int64, or None
        With ``record=True``: per population, every step's value of each of its variables
        (``population.variables``: what a Lava ``Monitor`` would record), after the step.
    state : dict of str to dict of str to (B, n) int64
        The variables after the last step.
    counts : dict of str to (B, n) int64
        Spikes (non-zero payloads) of every neuron over the run.
    fired, active : (T, B, n_cores) int32
        Per step and core: neurons with a non-zero spike (streams included), and neurons of the neuron
        populations that did work (received input, changed a state variable or fired).
    steps : (B,) int64
        Steps each run took (all ``T``).
    """

    record: dict | None
    state: dict
    counts: dict
    fired: np.ndarray
    active: np.ndarray
    steps: np.ndarray

    def spikes(self, name: str) -> np.ndarray:
        """(T, B, n) bool: which neurons of population ``name`` fired at each step (needs ``record=True``)."""
        return self.record[name]["s_out"] != 0


class Flat(NamedTuple):
    """A graph as the kernel reads it: every neuron's kind and parameters, every ``Dense``'s span and fan-out.

    Attributes
    ----------
    kind : (N,) int64
        :data:`STREAM`, :data:`SIGMA_DELTA` or :data:`LIF`.
    vth, bias : (N,) int64
        Sigma-delta: scaled threshold and bias; LIF: ``vth << 6`` and ``bias_mant << bias_exp``.
    relu, cum_error : (N,) bool
        Sigma-delta activation and firing rule.
    state_exp : (N,) int64
        Sigma-delta payload shift.
    keep_u, keep_v : (N,) int64
        LIF decays as multipliers: ``4096 - du - 1`` and ``4096 - dv``.
    period : (N,) int64
        Streams: the length of their data.
    src, tgt : (D, 2) int64
        Each ``Dense``'s sender and receiver spans ``(first neuron, count)``.
    exp : (D,) int64
        Weight exponents.
    binary : (D,) bool
        Binary messages.
    fan_out, offset : (sum of sender x receiver sizes,) int16, (D,) int64
        The stored weights of every ``Dense`` (:attr:`~emulator.backends.loihi.graph.Graph.fan_out`).
    """

    kind: np.ndarray
    vth: np.ndarray
    bias: np.ndarray
    relu: np.ndarray
    cum_error: np.ndarray
    state_exp: np.ndarray
    keep_u: np.ndarray
    keep_v: np.ndarray
    period: np.ndarray
    src: np.ndarray
    tgt: np.ndarray
    exp: np.ndarray
    binary: np.ndarray
    fan_out: np.ndarray
    offset: np.ndarray


def flatten(graph: Graph, lengths: dict) -> Flat:
    """The kernel's layout of ``graph`` (populations in order, one after another), whose streams send data of
    ``lengths`` (stream name to T) steps."""
    n = sum(graph.sizes)
    kind, vth, bias, state_exp, keep_u, keep_v, period = (np.zeros(n, np.int64) for _ in range(7))
    relu, cum_error = np.zeros(n, bool), np.zeros(n, bool)
    starts = np.concatenate([[0], np.cumsum(graph.sizes)])
    for p, first, last in zip(graph.populations, starts, starts[1:]):
        span = slice(first, last)
        if isinstance(p, RingBuffer):
            kind[span], period[span] = STREAM, lengths[p.name]
        elif isinstance(p, SigmaDelta):
            kind[span], vth[span], bias[span] = SIGMA_DELTA, p.vth << p.scale, p.bias << p.scale
            relu[span], cum_error[span], state_exp[span] = p.act_mode == "relu", p.cum_error, p.state_exp
        else:
            kind[span], vth[span], bias[span] = LIF, p.vth << 6, p.bias
            keep_u[span], keep_v[span] = DECAY_UNITY - p.du - 1, DECAY_UNITY - p.dv
    dense = graph.connections
    span = lambda name: (starts[graph.index(name)], graph.sizes[graph.index(name)])  # noqa: E731
    fan_out, offset = graph.fan_out
    return Flat(kind, vth, bias, relu, cum_error, state_exp, keep_u, keep_v, period,
                src=np.array([span(d.source) for d in dense], np.int64).reshape(-1, 2),
                tgt=np.array([span(d.target) for d in dense], np.int64).reshape(-1, 2),
                exp=np.array([d.weight_exp for d in dense], np.int64), binary=np.array([d.binary for d in dense]),
                fan_out=fan_out, offset=offset)


@nb.njit(cache=True)
def _wrap32(x):
    """The int32 result of the same integer arithmetic (two's complement wrap)."""
    return np.int64(np.int32(x))


@nb.njit(cache=True)
def _deliver(acc, fan_out, payload, binary):
    """``acc += W @ payload`` over the senders with a non-zero payload (each adds its weight row once if
    ``binary``), in int32 arithmetic as Lava's Dense: ``fan_out`` (senders, receivers) int16, ``acc`` int32."""
    for i in range(payload.size):
        if payload[i] != 0:
            p = np.int32(1) if binary else np.int32(payload[i])
            for j in range(acc.size):
                acc[j] += p * np.int32(fan_out[i, j])


@nb.njit(cache=True, inline="always")
def _update(f, i, a, r):
    """One step of neuron ``i`` with input ``a`` on registers ``r`` (one sample's (7, N) rows); returns
    (fired, busy, overflowed)."""
    sigma, act, residue, error, u, v, out = r[0], r[1], r[2], r[3], r[4], r[5], r[6]
    if f.kind[i] == SIGMA_DELTA:
        s = _wrap32(sigma[i] + a)
        x = s + f.bias[i]
        if f.relu[i] and x < 0:
            x = 0
        d = x - act[i] + residue[i]
        fired, e0 = 0, error[i]
        if f.cum_error[i]:
            error[i] += d
            if abs(error[i]) >= f.vth[i]:
                fired = d
            if fired != 0:
                error[i] = 0
        elif abs(d) >= f.vth[i]:
            fired = d
        busy = a != 0 or s != sigma[i] or x != act[i] or d - fired != residue[i] or error[i] != e0 or fired != 0
        sigma[i], act[i], residue[i], out[i] = s, x, d - fired, fired >> f.state_exp[i]
        over = max(abs(s), abs(x), abs(residue[i]), abs(error[i])) >= UV_LIMIT
        return fired != 0, busy, over
    uu = _decay(u[i], f.keep_u[i]) + (a << 6)
    if uu > UV_LIMIT:
        uu -= 2 * UV_LIMIT
    elif uu <= -UV_LIMIT:
        uu += 2 * UV_LIMIT
    vv = min(max(_decay(v[i], f.keep_v[i]) + uu + f.bias[i], -UV_LIMIT + 1), UV_LIMIT - 1)
    spike = vv > f.vth[i]
    if spike:
        vv = 0
    busy = a != 0 or uu != u[i] or vv != v[i] or spike
    u[i], v[i], out[i] = uu, vv, 1 if spike else 0
    return spike, busy, False


@nb.njit(cache=True)
def _run(f, regs, data, core_of, fired_log, active_log, counts, record, rec):
    """All steps of all samples; returns the first neuron whose registers left 24 bits, or -1."""
    batch, steps, n = regs.shape[0], fired_log.shape[0], regs.shape[2]
    n_dense = f.exp.size
    for b in range(batch):
        r = regs[b]
        buffers = np.zeros(n, np.int64)  # what the Dense processes deliver next step, summed per receiver
        nxt = np.zeros(n, np.int64)
        scratch = np.zeros(n, np.int32)  # one Dense's sums: int32, as Lava's (a binary sum cannot overflow it)
        for t in range(steps):
            period, column = 0, 0
            for i in range(n):
                if f.kind[i] == STREAM:
                    if f.period[i] != period:  # a stream's neurons share its period: one division per stream
                        period = f.period[i]
                        column = t % period
                    r[6, i] = data[b, column, i]
                    fired, busy, over = r[6, i] != 0, False, False
                else:
                    fired, busy, over = _update(f, i, buffers[i], r)
                    if over:
                        return i
                if fired:
                    fired_log[t, b, core_of[i]] += 1
                    counts[b, i] += 1
                if busy:
                    active_log[t, b, core_of[i]] += 1
            nxt[:] = 0
            for k in range(n_dense):
                s0, sn, t0, tn, base = f.src[k, 0], f.src[k, 1], f.tgt[k, 0], f.tgt[k, 1], f.offset[k]
                acc = scratch[:tn]
                acc[:] = 0
                _deliver(acc, f.fan_out[base:base + sn * tn].reshape(sn, tn), r[6, s0:s0 + sn], f.binary[k])
                e = f.exp[k]
                for m in range(tn):
                    x = np.int64(acc[m])
                    nxt[t0 + m] += x << e if e > 0 else x >> -e
            buffers[:] = nxt
            if record:
                rec[t, b] = r
    return -1


def run_graph(graph: Graph, steps: int, *, inputs: dict | None = None, core_of=None, record: bool = True) -> GraphRun:
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
    record : bool
        Keep every variable at every step (:attr:`GraphRun.record`; ``B x T x N x 7`` integers).
    """
    if steps < 1:
        raise ConfigError(f"steps must be at least 1, got {steps}")
    streams = _stream_data(graph, inputs or {})
    batch = next(iter(streams.values())).shape[0] if streams else 1
    pops, n = graph.populations, sum(graph.sizes)
    starts = np.concatenate([[0], np.cumsum(graph.sizes)])
    longest = max([x.shape[2] for x in streams.values()], default=1)
    data = np.zeros((batch, longest, n), np.int64)  # (runs, step, neuron): a step's payloads side by side
    regs = np.zeros((batch, len(REGISTERS), n), np.int64)
    for p, first, last in zip(pops, starts, starts[1:]):
        if isinstance(p, RingBuffer):
            data[:, :streams[p.name].shape[2], first:last] = streams[p.name].transpose(0, 2, 1)
        elif isinstance(p, Lif):
            regs[:, 4, first:last], regs[:, 5, first:last] = p.u, p.v
    flat = flatten(graph, {name: x.shape[2] for name, x in streams.items()})
    cores = np.concatenate([np.full(p.size, i) for i, p in enumerate(pops)] if core_of is None else
                           [np.asarray(c) for c in core_of]).astype(np.int64)
    n_cores = int(cores.max(initial=0)) + 1
    fired, active = (np.zeros((steps, batch, n_cores), np.int32) for _ in range(2))
    counts = np.zeros((batch, n), np.int64)
    rec = np.zeros((steps, batch, len(REGISTERS), n) if record else (0, 0, 0, 0), np.int64)
    over = _run(flat, regs, data, cores, fired, active, counts, record, rec)
    if over >= 0:
        p = pops[int(np.searchsorted(starts, over, side="right")) - 1]
        raise DivergenceError(f"SigmaDelta {p.name!r}: a neuron's sigma, activation, residue or error left the "
                              "chip's 24-bit range; lower its inputs' weights or weight_exp, or its bias")
    rows = {name: k for k, name in enumerate(REGISTERS)}
    per_pop = lambda x, first, last, p: {v: x[..., rows[v], first:last] for v in p.variables}  # noqa: E731
    return GraphRun(record={p.name: per_pop(rec, a, z, p) for p, a, z in zip(pops, starts, starts[1:])}
                    if record else None,
                    state={p.name: per_pop(regs, a, z, p) for p, a, z in zip(pops, starts, starts[1:])},
                    counts={p.name: counts[:, a:z] for p, a, z in zip(pops, starts, starts[1:])},
                    fired=fired, active=active, steps=np.full(batch, steps, np.int64))


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
