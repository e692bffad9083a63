"""Integer LIF relaxation with the semantics of Lava 0.10's ``PyLifModelBitAcc`` and binary ``Dense``.

A layered network runs as Lava runs it with ``LIF`` neurons: each relaxing layer is a ``LIF``
population, each coupling a forward and a feedback ``Dense`` process with 8-bit weights, a weight
exponent and binary messages (``num_message_bits=0``), the input a source of binary spike trains.
One barrier-synchronised step ``t``, for every layer at once:

1. each ``Dense`` outputs what it accumulated at ``t - 1`` (a one-step synaptic delay): the sum of
   the weight columns of the neurons that fired, shifted by the weight exponent (floor);
2. the current: ``u <- sgn(x) (|x| >> 12) + (a << 6)``, ``x = u (4096 - du - 1)`` (the decay rounds
   towards zero), wrapped into 24 bits;
3. the voltage: ``v <- sgn(y) (|y| >> 12) + u + (bias_mant << bias_exp)``, ``y = v (4096 - dv)``,
   clipped to 24 bits;
4. a neuron fires when ``v > vth << 6`` (strictly), and its voltage is set to 0 (its current is not);
5. the spikes reach the ``Dense`` processes, to be delivered at ``t + 1``.

The emulator equals Lava's ``Loihi2SimCfg(select_tag='fixed_pt')`` step for step
(``tests/backends/loihi/test_lava_lif.py``). A unit's state is its firing rate over the last
``window`` steps (:mod:`emulator.backends.spiking`).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple

import numba as nb
import numpy as np

from emulator.backends.base import LayeredCouplings
from emulator.backends.loihi.events import deliver
from emulator.backends.loihi.quantise import fan_out_layout
from emulator.backends.loihi.sigma_delta import Scratch, core_runs
from emulator.backends.loops import copy

#: u and v are 24-bit registers; decays are 12-bit fractions; vth and the synaptic input are aligned with
#: them by 6-bit shifts (Lava's ``uv_bitwidth``, ``decay_shift``, ``vth_shift``, ``act_shift``)
UV_BITS, DECAY_BITS, ALIGN = 24, 12, 6


@dataclass(frozen=True)
class LifNet(LayeredCouplings):
    """A layered network of LIF neurons in the chip's integers.

    Attributes
    ----------
    down : tuple of (n_{k+1}, n_k) int16
        ``W_k`` as programmed (8-bit, even if of mixed sign); row ``i`` is the feedback fan-out of unit ``i``
        of layer ``k + 1``.
    weight_exp : tuple of int
        Exponent of ``W_k``, used by both its ``Dense`` processes.
    bias_mant : tuple of (n_{k+1},) int64
        Bias mantissa of each relaxing layer (13-bit signed).
    bias_exp : tuple of int
        Bias exponent of each relaxing layer (0-7): the bias is ``bias_mant << bias_exp``.
    du, dv : int
        Lava's 12-bit current and voltage decays (the current decays by ``(du + 1) / 4096`` per step).
    vth : int
        Lava's threshold: a neuron fires when ``v > vth << 6``.
    """

    down: tuple[np.ndarray, ...]
    weight_exp: tuple[int, ...]
    bias_mant: tuple[np.ndarray, ...]
    bias_exp: tuple[int, ...]
    du: int
    dv: int
    vth: int

    def __post_init__(self):
        object.__setattr__(self, "down", tuple(np.ascontiguousarray(w, np.int16) for w in self.down))

    @property
    def neurons(self) -> tuple[int, ...]:
        """Neurons per layer: one per unit."""
        return self.layers

    @cached_property
    def fan_out(self) -> tuple:
        """The couplings as the event loop reads them (:func:`~emulator.backends.loihi.quantise.fan_out_layout`)."""
        return fan_out_layout(self)

    @property
    def bias(self) -> tuple[np.ndarray, ...]:
        """Each relaxing layer's bias in voltage units, ``bias_mant << bias_exp``."""
        return tuple(np.asarray(m, np.int64) << e for m, e in zip(self.bias_mant, self.bias_exp))

    @property
    def state_unit(self) -> int:
        """The voltage of one state unit, the threshold ``vth << 6``: a unit driven by one state unit per step
        fires at (nearly) every step."""
        return self.vth << ALIGN


@dataclass(frozen=True)
class LifState:
    """Neuron and synapse state of ``B`` relaxations after some steps, and what they did.

    Attributes
    ----------
    u, v : list of (B, n_k) int64, layers 1..L
        Currents and voltages.
    pending : list of (B, n_k) int64, layers 0..L
        Spikes (0 or 1) sent at the last step, still in the ``Dense`` buffers.
    bias : list of (B, n_k) int64, layers 1..L
        The biases (voltage units) the phase ran with (the outputs' include the nudge).
    counts : list of (B, n_k) int64, layers 1..L
        Spikes of each neuron over the window (the phase's last steps).
    steps : (B,) int64
        Steps each sample ran (all of the phase: a spiking network does not fall quiet).
    quiescent : (B,) bool
        All False.
    trace : (max_steps,) int64
        Neurons fired per step, summed over the batch.
    fired, active : (max_steps, B, n_cores) int32
        Per step and core: neurons that fired (input neurons included), and relaxing neurons that did work
        (received input, or changed current or voltage).
    record : list of (max_steps, B, n_k) int64 triples (u, v, spikes), or None
        With ``record=True``: every step's state of layers 1..L.
    """

    u: list
    v: list
    pending: list
    bias: list
    counts: list
    steps: np.ndarray
    quiescent: np.ndarray
    trace: np.ndarray
    fired: np.ndarray
    active: np.ndarray
    record: list | None = None


class KernelLif(NamedTuple):
    """A :class:`LifNet` as :func:`_relax` reads it: fan-out matrices of mantissas (:attr:`LifNet.fan_out`), weight
    exponents, mantissa shifts and zero points (L,), decays and threshold."""

    ups: tuple
    downs: tuple
    exps: np.ndarray
    shifts: np.ndarray
    zeros: np.ndarray
    du: int
    dv: int
    vth: int


class Neurons(NamedTuple):
    """Currents, voltages, spikes in flight and biases of ``B`` samples (see :class:`LifState`), updated in place."""

    u: tuple
    v: tuple
    pending: tuple
    bias: tuple


@nb.njit(cache=True, _nrt=False)
def _binary_dense(acc, part, weights, spikes, senders, exp, shift, zero):
    """Add to ``acc`` what one binary ``Dense`` delivers: the sum of the fan-out rows (mantissas, the stored
    weights ``(weights + zero) << shift``) of the neurons that fired, in int32, shifted by ``exp``."""
    part.fill(0)
    total = zero * deliver(part, weights, spikes, senders, True)
    for j in range(acc.size):
        x = np.int32((np.int64(part[j]) + total) << shift)
        acc[j] += np.int64(np.int32(x << exp)) if exp > 0 else np.int64(x >> -exp)


@nb.njit(cache=True, inline="always")
def _toward_zero(y):
    """``y >> 12`` rounded towards zero (Lava's decay: ``sgn(y) * (|y| >> 12)``), without a branch."""
    return (y + ((y >> 63) & ((1 << DECAY_BITS) - 1))) >> DECAY_BITS


@nb.njit(cache=True, inline="always")
def _neurons(a, u, v, bias, out, count, keep_u, keep_v, threshold, counted):
    """One step of a run of LIF neurons that hear ``a`` (arrays of the run's length, indexed from 0 so numba drops
    its negative-index checks; branch-free); spikes are added to ``count`` if ``counted``. Returns (fired, busy)."""
    wrap, limit = 1 << (UV_BITS - 1), (1 << (UV_BITS - 1)) - 1
    n_fired, n_busy = 0, 0
    for i in range(a.size):
        uu = _toward_zero(u[i] * keep_u) + (a[i] << ALIGN)
        uu += 2 * wrap * ((uu <= -wrap) - (uu > wrap))
        vv = min(max(_toward_zero(v[i] * keep_v) + uu + bias[i], -limit), limit)
        spike = vv > threshold
        vv = 0 if spike else vv
        n_fired += spike
        count[i] += spike & counted
        n_busy += (a[i] != 0) | (uu != u[i]) | (vv != v[i]) | spike
        u[i], v[i], out[i] = uu, vv, spike
    return n_fired, n_busy


@nb.njit(cache=True, _nrt=False)
def _relax(net, neurons, train, first_counted, core_of, runs, counts, fired_log, active_log, trace, record, rec_u,
           rec_v, rec_s, scratch):
    """All steps of all samples (see :func:`relax_lif`); ``runs`` for each relaxing layer its (R, 3) runs
    ``(first, end, core)`` of neurons on one core; ``scratch`` one sample's :class:`Scratch`.

    It allocates nothing and is compiled without numba's reference counting (``_nrt=False``), whose atomic
    count updates of the arrays sliced at every step cost more than a quiet step's arithmetic."""
    ups, downs, exps, shifts, zeros = net.ups, net.downs, net.exps, net.shifts, net.zeros
    keep_u, keep_v, threshold = (1 << DECAY_BITS) - net.du - 1, (1 << DECAY_BITS) - net.dv, net.vth << ALIGN
    depth = len(downs)
    batch = neurons.u[0].shape[0]
    steps = train.shape[0]
    acc, part, sent, senders = scratch.acc, scratch.part, scratch.sent, scratch.senders
    for b in range(batch):
        for k in range(depth + 1):
            copy(neurons.pending[k][b], sent[k])
        for t in range(steps):
            for k in range(depth):  # relaxing layer k + 1 hears layer k below and k + 2 above
                acc[k].fill(0)
                _binary_dense(acc[k], part[k], ups[k], sent[k], senders, exps[k], shifts[k], zeros[k])
                if k + 1 < depth:
                    _binary_dense(acc[k], part[k], downs[k + 1], sent[k + 2], senders, exps[k + 1], shifts[k + 1],
                                  zeros[k + 1])
            n_fired = 0
            for i in range(sent[0].size):
                sent[0][i] = train[t, b, i]
                if train[t, b, i]:
                    fired_log[t, b, core_of[0][i]] += 1
                    n_fired += 1
            for k in range(depth):
                u_k, v_k, bias_k, out, count = neurons.u[k][b], neurons.v[k][b], neurons.bias[k][b], sent[k + 1], \
                    counts[k][b]
                for g in range(runs[k].shape[0]):
                    lo, hi, core = runs[k][g, 0], runs[k][g, 1], runs[k][g, 2]
                    fired, busy = _neurons(acc[k][lo:hi], u_k[lo:hi], v_k[lo:hi], bias_k[lo:hi], out[lo:hi],
                                           count[lo:hi], keep_u, keep_v, threshold, t >= first_counted)
                    fired_log[t, b, core] += fired
                    active_log[t, b, core] += busy
                    n_fired += fired
                if record:
                    copy(u_k, rec_u[k][t, b])
                    copy(v_k, rec_v[k][t, b])
                    copy(out, rec_s[k][t, b])
            trace[t] += n_fired
        for k in range(depth + 1):
            copy(sent[k], neurons.pending[k][b])


def relax_lif(net: LifNet, train: np.ndarray, *, window: int, bias=None, init: LifState | None = None,
              core_of=None, record: bool = False) -> LifState:
    """Run ``B`` relaxations for ``steps`` steps.

    Parameters
    ----------
    train : (steps, B, n_0) bool
        The inputs' spikes at each step (:func:`emulator.backends.spiking.input_train`).
    window : int
        Steps at the end whose spikes are counted (``counts``).
    bias : list of (B, n_k) int, layers 1..L, optional
        Biases in voltage units (``bias_mant << bias_exp``) to run with (e.g. the outputs' nudged ones);
        ``net.bias`` by default.
    init : LifState, optional
        Continue from this state (its pending spikes are delivered first) instead of from rest.
    core_of : list of (n_k,) int, layers 0..L, optional
        Core of every neuron, for the per-core logs; one core per layer by default.
    record : bool
        Keep every step's ``u``, ``v`` and spikes (for the tests against Lava).
    """
    sizes = net.layers
    if train.ndim != 3 or train.shape[2] != sizes[0]:
        raise ValueError(f"train must have shape (steps, batch, {sizes[0]}), got {train.shape}")
    steps, batch = train.shape[:2]
    bias = [np.array(np.broadcast_to(b, (batch, n)), np.int64, order="C")
            for b, n in zip(net.bias if bias is None else bias, sizes[1:])]
    if init is None:
        u, v = ([np.zeros((batch, n), np.int64) for n in sizes[1:]] for _ in range(2))
        pending = [np.zeros((batch, n), np.int64) for n in sizes]
    else:
        if init.u[0].shape[0] != batch:
            raise ValueError(f"init holds {init.u[0].shape[0]} samples but train has {batch}")
        u, v, pending = ([a.copy() for a in arrays] for arrays in (init.u, init.v, init.pending))
    if core_of is None:
        core_of = [np.full(n, k, np.int64) for k, n in enumerate(sizes)]
    n_cores = int(max(c.max(initial=0) for c in core_of)) + 1
    fired, active = (np.zeros((steps, batch, n_cores), np.int32) for _ in range(2))
    trace = np.zeros(steps, np.int64)
    counts = [np.zeros((batch, n), np.int64) for n in sizes[1:]]
    shape = (lambda n: (steps, batch, n)) if record else (lambda n: (0, 0, 0))
    rec = [tuple(np.zeros(shape(n), np.int64) for n in sizes[1:]) for _ in range(3)]
    ups, downs, shifts, zeros = net.fan_out
    kernel = KernelLif(ups=ups, downs=downs, exps=np.array(net.weight_exp, np.int64), shifts=shifts, zeros=zeros,
                       du=net.du, dv=net.dv, vth=net.vth)
    core_of = tuple(np.asarray(c, np.int64) for c in core_of)
    runs = tuple(core_runs(c, c.size) for c in core_of[1:])
    _relax(kernel, Neurons(tuple(u), tuple(v), tuple(pending), tuple(bias)), np.ascontiguousarray(train, np.uint8),
           steps - window, core_of, runs, tuple(counts), fired, active, trace, record, *rec,
           Scratch.for_sizes([w.shape[1] for w in ups], sizes))
    return LifState(u=u, v=v, pending=pending, bias=bias, counts=counts, steps=np.full(batch, steps, np.int64),
                    quiescent=np.zeros(batch, bool), trace=trace, fired=fired, active=active,
                    record=[tuple(r[k] for r in rec) for k in range(len(sizes) - 1)] if record else None)
