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
(:class:`~emulator.backends.loihi.graph.Flat`) and updates them one run of a population at a time, in
branch-free loops; it delivers only the non-zero payloads of each ``Dense``'s senders (its cost is the synaptic
events, not the matrix size), from weights stored as int8 mantissas with a shift and a zero point per ``Dense``.
"""
from __future__ import annotations

from dataclasses import dataclass
import numba as nb
import numpy as np

from emulator.backends.loihi.events import deliver
from emulator.backends.loihi.graph import SIGMA_DELTA, STREAM, Graph, Lif, RingBuffer
from emulator.backends.loihi.lif import UV_BITS, _toward_zero
from emulator.errors import ConfigError, DivergenceError

UV_LIMIT = 2 ** (UV_BITS - 1)
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


@nb.njit(cache=True)
def _wrap32(x):
    """The int32 result of the same integer arithmetic (two's complement wrap)."""
    return np.int64(np.int32(x))


@nb.njit(cache=True, inline="always")
def _sigma_delta(f, lo, hi, a, sigma, act, residue, error, out, counts):
    """One step of the sigma-delta neurons ``lo:hi`` with inputs ``a``; returns (fired, busy, the first
    neuron whose registers left 24 bits or -1). Branch-free, and on slices indexed from 0 (numba then drops
    its negative-index checks and the loop runs several times faster)."""
    a, sigma, act, residue, error, out, counts = a[lo:hi], sigma[lo:hi], act[lo:hi], residue[lo:hi], \
        error[lo:hi], out[lo:hi], counts[lo:hi]
    bias, relu, cum_error, vth, state_exp = f.bias[lo:hi], f.relu[lo:hi], f.cum_error[lo:hi], f.vth[lo:hi], \
        f.state_exp[lo:hi]
    n_fired, n_busy, magnitudes = 0, 0, 0
    for i in range(hi - lo):
        s = _wrap32(sigma[i] + a[i])
        x = s + bias[i]
        x = max(x, 0) if relu[i] else x
        d = x - act[i] + residue[i]
        e0 = error[i]
        e = e0 + d if cum_error[i] else d
        fired = d if abs(e) >= vth[i] else 0
        e = e0 if not cum_error[i] else (0 if fired != 0 else e)
        rest = d - fired
        n_busy += (a[i] != 0) | (s != sigma[i]) | (x != act[i]) | (rest != residue[i]) | (e != e0) | (fired != 0)
        n_fired += fired != 0
        counts[i] += fired != 0
        magnitudes |= abs(s) | abs(x) | abs(rest) | abs(e)  # >= UV_LIMIT where any of them is
        sigma[i], act[i], residue[i], error[i], out[i] = s, x, rest, e, fired >> state_exp[i]
    if magnitudes < UV_LIMIT:
        return n_fired, n_busy, -1
    for i in range(hi - lo):
        if max(abs(sigma[i]), abs(act[i]), abs(residue[i]), abs(error[i])) >= UV_LIMIT:
            return n_fired, n_busy, lo + i
    return n_fired, n_busy, -1


@nb.njit(cache=True, inline="always")
def _lif(f, lo, hi, a, u, v, out, counts):
    """One step of the LIF neurons ``lo:hi`` with inputs ``a``; returns (fired, busy). Branch-free, on slices
    indexed from 0 (see :func:`_sigma_delta`)."""
    a, u, v, out, counts = a[lo:hi], u[lo:hi], v[lo:hi], out[lo:hi], counts[lo:hi]
    keep_u, keep_v, bias, vth = f.keep_u[lo:hi], f.keep_v[lo:hi], f.bias[lo:hi], f.vth[lo:hi]
    n_fired, n_busy = 0, 0
    for i in range(hi - lo):
        uu = _toward_zero(u[i] * keep_u[i]) + (a[i] << 6)
        uu += 2 * UV_LIMIT * ((uu <= -UV_LIMIT) - (uu > UV_LIMIT))
        vv = min(max(_toward_zero(v[i] * keep_v[i]) + uu + bias[i], -UV_LIMIT + 1), UV_LIMIT - 1)
        spike = vv > vth[i]
        vv = 0 if spike else vv
        n_fired += spike
        counts[i] += spike
        n_busy += (a[i] != 0) | (uu != u[i]) | (vv != v[i]) | spike
        u[i], v[i], out[i] = uu, vv, spike
    return n_fired, n_busy


@nb.njit(cache=True, inline="always")
def _stream(column, out, counts):
    """A stream's step: send ``column``; returns how many payloads are non-zero."""
    n_fired = 0
    for i in range(column.size):
        out[i] = column[i]
        n_fired += column[i] != 0
        counts[i] += column[i] != 0
    return n_fired


@nb.njit(cache=True)
def _run(f, segments, regs, data, fired_log, active_log, counts, record, rec):
    """All steps of all samples; returns the first neuron whose registers left 24 bits, or -1.

    ``segments`` (S, 6): runs of neurons ``(first, end, kind, core, period, column)`` of one population and one
    core; a stream's run sends ``data[b, t mod period, column:column + end - first]`` at step ``t``."""
    batch, steps, n = regs.shape[0], fired_log.shape[0], regs.shape[2]
    n_dense = f.exp.size
    for b in range(batch):
        sigma, act, residue, error, u, v, out = regs[b, 0], regs[b, 1], regs[b, 2], regs[b, 3], regs[b, 4], \
            regs[b, 5], regs[b, 6]
        count = counts[b]
        buffers = np.zeros(n, np.int64)  # what the Dense processes deliver next step, summed per receiver
        scratch = np.zeros(n, np.int32)  # one Dense's sums: int32, as Lava's (a binary sum cannot overflow it)
        senders = np.zeros(n, np.int64)
        for t in range(steps):
            for g in range(segments.shape[0]):
                lo, hi, kind, core = segments[g, 0], segments[g, 1], segments[g, 2], segments[g, 3]
                if kind == STREAM:
                    first = segments[g, 5]
                    column = data[b, t % segments[g, 4], first:first + hi - lo]
                    n_fired, n_busy = _stream(column, out[lo:hi], count[lo:hi]), 0
                elif kind == SIGMA_DELTA:
                    n_fired, n_busy, over = _sigma_delta(f, lo, hi, buffers, sigma, act, residue, error, out, count)
                    if over >= 0:
                        return over
                else:
                    n_fired, n_busy = _lif(f, lo, hi, buffers, u, v, out, count)
                fired_log[t, b, core] += n_fired
                active_log[t, b, core] += n_busy
            buffers[:] = 0
            for k in range(n_dense):
                s0, sn, t0, tn, base = f.src[k, 0], f.src[k, 1], f.tgt[k, 0], f.tgt[k, 1], f.offset[k]
                acc = scratch[:tn]
                acc[:] = 0
                total = deliver(acc, f.fan_out[base:base + sn * tn].reshape(sn, tn), out[s0:s0 + sn], senders,
                                 f.binary[k])
                e, shift, zero, into = f.exp[k], f.shift[k], f.zero[k] * total, buffers[t0:t0 + tn]
                for m in range(tn):
                    x = _wrap32((np.int64(acc[m]) + zero) << shift)  # the int32 sum of the stored weights
                    into[m] += x << e if e > 0 else x >> -e
            if record:
                rec[t, b] = regs[b]
    return -1


def _segments(graph: Graph, cores: np.ndarray, periods: dict) -> np.ndarray:
    """(S, 6) int64: the maximal runs ``(first, end, kind, core, period, column)`` of neurons of one population on
    one core; streams' ``period`` is the length of their data (``periods``, by name), and ``column`` where their
    neurons sit in the streams' data (the streams one after another)."""
    starts = np.concatenate([[0], np.cumsum(graph.sizes)])
    rows, column = [], 0
    for p, lo, hi in zip(graph.populations, starts, starts[1:]):
        cuts = [lo, *(lo + 1 + np.flatnonzero(cores[lo + 1:hi] != cores[lo:hi - 1])), hi]
        rows += [(a, z, graph.flat.kind[a], cores[a], periods.get(p.name, 1), column + a - lo)
                 for a, z in zip(cuts, cuts[1:]) if z > a]
        column += p.size if isinstance(p, RingBuffer) else 0
    return np.array(rows, np.int64).reshape(-1, 6)


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
    # (runs, step, stream neuron): a step's payloads of all streams side by side
    data = np.zeros((batch, longest, sum(x.shape[1] for x in streams.values())), np.int64)
    regs = np.zeros((batch, len(REGISTERS), n), np.int64)
    column = 0
    for p, first, last in zip(pops, starts, starts[1:]):
        if isinstance(p, RingBuffer):
            data[:, :streams[p.name].shape[2], column:column + p.size] = streams[p.name].transpose(0, 2, 1)
            column += p.size
        elif isinstance(p, Lif):
            regs[:, 4, first:last], regs[:, 5, first:last] = p.u, p.v
    cores = np.concatenate([np.full(p.size, i) for i, p in enumerate(pops)] if core_of is None else
                           [np.asarray(c) for c in core_of]).astype(np.int64)
    n_cores = int(cores.max(initial=0)) + 1
    fired, active = (np.zeros((steps, batch, n_cores), np.int32) for _ in range(2))
    counts = np.zeros((batch, n), np.int64)
    rec = np.zeros((steps, batch, len(REGISTERS), n) if record else (0, 0, 0, 0), np.int64)
    segments = _segments(graph, cores, {name: x.shape[2] for name, x in streams.items()})
    over = _run(graph.flat, segments, regs, data, fired, active, counts, record, rec)
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
