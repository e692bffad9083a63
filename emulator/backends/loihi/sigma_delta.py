"""Integer sigma-delta relaxation with the semantics of Lava's fixed-point process models.

A layered EqProp network runs as Lava would run it on Loihi 2: each relaxing layer is a
population of sigma-delta neurons, each coupling a ``Dense`` process with 8-bit integer
weights and a weight exponent (one forward, one feedback), the input a source that sends its
graded spikes once. One barrier-synchronised step ``t``, for every layer at once:

1. ``Dense`` outputs what it accumulated at ``t - 1`` (a one-step synaptic delay):
   ``a = (W @ s) >> -weight_exp`` (``<<`` if positive), an arithmetic (floor) shift of the sum;
2. each neuron integrates it: ``sigma += a``; ``act = clip(sigma + bias, 0, act_max)``, or, for
   a ``pair`` network, ``act = max(sigma + bias, 0)`` (Lava's ReLU);
3. delta encoding: ``d = act - act_prev + residue``; it fires ``d`` when ``|d| >= vth``
   (Lava's ``>=``), else keeps it as residue; the graded spike is ``fired >> state_exp``,
   whose dropped low bits are lost (as in Lava);
4. the spikes reach the ``Dense`` processes, to be delivered at ``t + 1``.

A ``pair`` network is made of Lava 0.10's ``PySigmaDeltaModelFixed`` (ReLU) and
``PyDenseModelBitAcc`` only: each unit is two ReLU neurons whose difference is the hard sigmoid
(see :class:`FixedNet`). Otherwise a unit is one neuron with the upper clip, which Lava's
``SigmaDelta`` lacks and :mod:`emulator.backends.loihi.lava.processes` adds as a process model
with the same integer semantics. Either way the emulator equals Lava step for step
(``tests/backends/loihi/test_lava.py``).

A relaxation stops early after a step in which no neuron fired: nothing is then in flight and
no neuron can change again, so the state equals what ``max_steps`` steps would give.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import NamedTuple

import numba as nb
import numpy as np

from emulator.backends.base import LayeredCouplings
from emulator.backends.loihi.quantise import extremes, fan_out_layout
from emulator.backends.loops import copy
from emulator.errors import DivergenceError

#: a neuron's sigma and activation are 24-bit registers on the chip
STATE_BITS = 24


@dataclass(frozen=True)
class FixedNet(LayeredCouplings):
    """A layered network in the chip's integers.

    Attributes
    ----------
    down : tuple of (n_{k+1}, n_k) int16
        ``W_k`` as programmed (8-bit, even if of mixed sign); row ``i`` is the feedback fan-out
        of unit ``i`` of layer ``k + 1``.
    weight_exp : tuple of int
        Exponent of ``W_k``, used by both its ``Dense`` processes.
    bias : tuple of (n_{k+1},) int64
        Bias of each relaxing layer, in activation units.
    vth : int
        Sigma-delta threshold in activation units (the lazy threshold).
    act_max : int
        The activation of a saturated neuron (state 1.0).
    state_exp : int
        Right shift from a fired delta to its graded spike payload.
    pair : bool
        Each unit is a pair of ReLU sigma-delta neurons (Lava's standard ``SigmaDelta``): ``A``
        with bias ``b`` and ``B`` with bias ``b - act_max``, sending through ``W`` and ``-W``,
        so that receivers hear ``A - B = clip(sigma + b, 0, act_max)``. Without ``pair`` a unit
        is one neuron with the clipped activation.
    """

    down: tuple[np.ndarray, ...]
    weight_exp: tuple[int, ...]
    bias: tuple[np.ndarray, ...]
    vth: int
    act_max: int
    state_exp: int = 0
    pair: bool = False

    def __post_init__(self):
        ranges = [tuple(map(int, extremes(np.ascontiguousarray(w).reshape(-1)))) for w in self.down]
        if any(low < -256 or high > 256 for low, high in ranges):
            raise ValueError("weights must be stored 8-bit values (|w| <= 256); see emulator.backends.loihi.quantise.as_stored")
        if self.pair and any(low == -256 for low, _ in ranges):
            raise ValueError("a pair network sends through -W too, which cannot store 256: keep weights in [-254, 254]")
        object.__setattr__(self, "down", tuple(np.ascontiguousarray(w, np.int16) for w in self.down))

    @property
    def act_bits(self) -> int:
        """Fraction bits of an activation (``act_max`` is a power of two on the chip)."""
        return self.act_max.bit_length() - 1

    @property
    def neurons(self) -> tuple[int, ...]:
        """Neurons per layer on the chip (see :func:`neurons`)."""
        return neurons(self.layers, self.pair)

    @cached_property
    def fan_out(self) -> tuple:
        """The couplings as the event loop reads them (:func:`~emulator.backends.loihi.quantise.fan_out_layout`)."""
        return fan_out_layout(self)

    def neuron_bias(self, bias: np.ndarray) -> np.ndarray:
        """Biases (..., n) of a layer's units -> of its neurons (..., 2n with ``pair``: ``b``, ``b - act_max``)."""
        bias = np.asarray(bias, np.int64)
        return np.concatenate([bias, bias - self.act_max], axis=-1) if self.pair else bias

    def unit_values(self, values: np.ndarray) -> np.ndarray:
        """Neuron values (B, P n) of a layer -> the units' (B, n): ``A - B`` with ``pair``."""
        if not self.pair:
            return values
        n = values.shape[-1] // 2
        return values[..., :n] - values[..., n:]


def neurons(layers, pair: bool) -> tuple[int, ...]:
    """Neurons per layer of a network of these layer sizes on the chip: two per relaxing unit with ``pair``
    (a pair of ReLU neurons), the input's one each."""
    return (layers[0],) + tuple((2 if pair else 1) * n for n in layers[1:])


@dataclass(frozen=True)
class FixedState:
    """Neuron and synapse state of ``B`` relaxations after some steps, and what they did.

    Attributes
    ----------
    sigma, act, residue : list of (B, N_k) int64, layers 1..L
        The sigma accumulator, the activation and the unsent residue of every neuron
        (``N_k = net.neurons[k]``: the ``A`` then the ``B`` neurons with ``pair``).
    pending : list of (B, N_k) int64, layers 0..L
        Graded spikes sent at the last step, still in the ``Dense`` buffers.
    bias : list of (B, N_k) int64, layers 1..L
        The neurons' biases the phase ran with (the output layer's includes the nudge).
    steps : (B,) int64
        Steps each sample ran.
    quiescent : (B,) bool
        Whether the sample stopped at quiescence (no neuron fired in its last step).
    trace : (max_steps,) int64
        Neurons fired per step, summed over the batch.
    fired, active : (max_steps, B, n_cores) int32
        Per step and core: neurons that fired (input neurons included), and relaxing neurons
        that did work (received input, changed activation or fired). Zero after a sample stopped.
    record : list of (max_steps, B, n_k) int64 triples, or None
        With ``record=True``: every step's ``(sigma, act, spikes)`` of layers 1..L.
    """

    sigma: list
    act: list
    residue: list
    pending: list
    bias: list
    steps: np.ndarray
    quiescent: np.ndarray
    trace: np.ndarray
    fired: np.ndarray
    active: np.ndarray
    record: list | None = None


def host_values(net: FixedNet, state: FixedState) -> tuple[list, list, list]:
    """A relaxation's layers 1..L in host floats (activation units over ``act_max``), one pass per layer.

    Returns
    -------
    states, heard, drive : lists of (B, n_k) float64, layers 1..L
        The units' values (a pair's ``A - B``), the values their neighbours last heard (activation less the
        unsent residue) and their drive (the ``A`` neuron's ``sigma + bias``).
    """
    states, heard, drive = [], [], []
    for sigma, act, residue, bias, n in zip(state.sigma, state.act, state.residue, state.bias, net.layers[1:]):
        s, h, d = (np.empty((sigma.shape[0], n)) for _ in range(3))
        _host_values(sigma, act, residue, bias, net.pair, float(net.act_max), s, h, d)
        states.append(s)
        heard.append(h)
        drive.append(d)
    return states, heard, drive


@nb.njit(cache=True)
def _host_values(sigma, act, residue, bias, pair, act_max, states, heard, drive):
    """:func:`host_values` of one layer: (B, N) int64 neuron arrays -> (B, n) float64 unit arrays, each value the
    exact integer over ``act_max`` (the division numpy does)."""
    n = states.shape[1]
    for b in range(states.shape[0]):
        for i in range(n):
            a, h = act[b, i], act[b, i] - residue[b, i]
            if pair:
                a, h = a - act[b, n + i], h - (act[b, n + i] - residue[b, n + i])
            states[b, i] = np.float64(a) / act_max
            heard[b, i] = np.float64(h) / act_max
            drive[b, i] = np.float64(sigma[b, i] + bias[b, i]) / act_max


@nb.njit(cache=True, _nrt=False)
def _deliver(acc, weights, spikes):
    """``acc += spikes[i] * weights[i]`` over the neurons ``i`` with a non-zero payload; returns the sum of the
    payloads (int32 each), which a zero point needs (:attr:`FixedNet.fan_out`).

    ``acc`` is int32 and wraps on overflow, as the int32 ``weights.dot(s_in)`` of Lava's Dense
    does (and it vectorises twice as wide as int64).
    """
    m, total = acc.size, 0
    for i in range(spikes.size):
        p = np.int32(spikes[i])
        if p != 0:
            total += np.int64(p)
            w = weights[i]
            for j in range(m):
                acc[j] += p * np.int32(w[j])
    return total


@nb.njit(cache=True, _nrt=False)
def _dense(acc, part, weights, spikes, exp, shift, zero, pair):
    """Add to ``acc`` what the Dense process(es) of one coupling deliver for a layer's spikes (``part`` is
    int32 scratch of ``acc``'s size).

    ``weights`` is the (n, m) fan-out matrix of mantissas, the stored weights ``(weights + zero) << shift``.
    With ``pair`` the layer's 2n neurons are the ``A`` and ``B`` populations, whose Dense processes hold ``W``
    and ``-W``: each sum is shifted on its own, as two Lava processes do.
    """
    n = weights.shape[0]
    for half in range(2 if pair else 1):
        part.fill(0)
        total = zero * _deliver(part, weights, spikes[half * n:(half + 1) * n])
        for j in range(acc.size):  # in int32, as the Dense process computes (a negation or a << may wrap)
            x = np.int64(np.int32((np.int64(part[j]) + total) << shift))
            x = np.int64(np.int32(-x)) if half else x
            acc[j] += np.int64(np.int32(x << exp)) if exp > 0 else x >> -exp


@nb.njit(cache=True, inline="always")
def _neurons(a, sigma, act, residue, bias, out, vth, act_max, clip, state_exp):
    """One step of a run of neurons that hear ``a`` (all arrays of the run's length, indexed from 0, so numba
    drops its negative-index checks; branch-free); returns (fired, busy)."""
    n_fired, n_busy = 0, 0
    for i in range(a.size):
        s = sigma[i] + a[i]
        v = max(s + bias[i], 0)
        v = min(v, act_max) if clip else v
        d = v - act[i] + residue[i]
        fire = abs(d) >= vth
        n_busy += (v != act[i]) | (a[i] != 0) | fire
        n_fired += fire
        sigma[i], act[i], residue[i], out[i] = s, v, 0 if fire else d, (d >> state_exp) if fire else 0
    return n_fired, n_busy


class KernelNet(NamedTuple):
    """A :class:`FixedNet` as :func:`_relax` reads it (numba takes named tuples, not dataclasses).

    Attributes
    ----------
    ups : tuple of (n_k, n_{k+1}) int8 (or int16), k = 0..L-1
        Forward fan-out matrices of mantissas (:attr:`FixedNet.fan_out`).
    downs : tuple of (n_{k+1}, n_k) int8 (or int16), k = 0..L-1
        Feedback fan-out matrices of mantissas.
    exps, shifts, zeros : (L,) int64
        Weight exponent, mantissa shift and zero point of every coupling.
    pair : bool
        Units are pairs of ReLU neurons (:attr:`FixedNet.pair`).
    vth, act_max, state_exp : int
        Threshold and saturated activation (activation units), and the spike payload's shift.
    """

    ups: tuple
    downs: tuple
    exps: np.ndarray
    shifts: np.ndarray
    zeros: np.ndarray
    pair: bool
    vth: int
    act_max: int
    state_exp: int


class Neurons(NamedTuple):
    """The neuron and synapse state of ``B`` samples, updated in place (see :class:`FixedState`).

    Attributes
    ----------
    sigma, act, residue : tuple of (B, N_k) int64, layers 1..L
        Sigma accumulators, activations and unsent residues.
    pending : tuple of (B, N_k) int64, layers 0..L
        Graded spikes sent at the last step, still in the ``Dense`` buffers.
    bias : tuple of (B, N_k) int64, layers 1..L
        Biases of the neurons (read only).
    """

    sigma: tuple
    act: tuple
    residue: tuple
    pending: tuple
    bias: tuple


class Logs(NamedTuple):
    """What the chip did, filled in by :func:`_relax` (see :class:`FixedState`).

    Attributes
    ----------
    fired, active : (max_steps, B, n_cores) int32
        Per step and core: neurons that fired, relaxing neurons that did work.
    trace : (max_steps,) int64
        Neurons fired per step, summed over the batch.
    steps : (B,) int64
        Steps each sample ran.
    quiescent : (B,) bool
        Whether the sample stopped at quiescence.
    """

    fired: np.ndarray
    active: np.ndarray
    trace: np.ndarray
    steps: np.ndarray
    quiescent: np.ndarray


class Record(NamedTuple):
    """Every step's state of layers 1..L, each a tuple of (max_steps, B, N_k) int64 (empty when not recording).

    Attributes
    ----------
    sigma, act, spikes : tuple of (max_steps, B, N_k) int64, layers 1..L
        Sigma, activation and graded spikes sent, after each step.
    """

    sigma: tuple
    act: tuple
    spikes: tuple


@nb.njit(cache=True, _nrt=False)
def _relax(net, neurons, train, max_steps, core_of, runs, logs, record, rec, scratch):
    """All steps of all samples (each sample runs on its own; see :func:`relax_fixed`).

    ``net`` is a :class:`KernelNet`, ``neurons`` the :class:`Neurons` to update, ``train``
    (T, B, N_0) the input spikes, ``core_of`` the core of every neuron (layers 0..L), ``runs`` for each relaxing
    layer its (R, 3) runs ``(first, end, core)`` of neurons (:func:`core_runs`), ``logs`` the :class:`Logs` to fill
    and, with ``record``, ``rec`` the :class:`Record` buffers; ``scratch`` the :class:`Scratch` of one sample.

    It and the kernels it calls allocate nothing and are compiled without numba's reference counting
    (``_nrt=False``), whose atomic updates of the counts of the arrays sliced at every step cost more than a
    quiet step's arithmetic.
    """
    ups, downs, exps, shifts, zeros, pair = net.ups, net.downs, net.exps, net.shifts, net.zeros, net.pair
    vth, act_max, state_exp = net.vth, net.act_max, net.state_exp
    sigma, act, residue, pending, bias = neurons.sigma, neurons.act, neurons.residue, neurons.pending, neurons.bias
    fired_log, active_log, trace, steps, quiescent = logs.fired, logs.active, logs.trace, logs.steps, logs.quiescent
    depth = len(downs)
    batch = sigma[0].shape[0]
    n_in = train.shape[0]
    acc, part, sent = scratch.acc, scratch.part, scratch.sent
    for b in range(batch):
        for k in range(depth + 1):
            copy(pending[k][b], sent[k])
        for t in range(max_steps):
            for k in range(depth):  # relaxing layer k + 1 hears layer k below and k + 2 above
                acc[k].fill(0)
                _dense(acc[k], part[k], ups[k], sent[k], exps[k], shifts[k], zeros[k], pair and k > 0)
                if k + 1 < depth:
                    _dense(acc[k], part[k], downs[k + 1], sent[k + 2], exps[k + 1], shifts[k + 1], zeros[k + 1], pair)
            n_fired = 0
            for i in range(sent[0].size):
                p = train[t, b, i] if t < n_in else 0
                sent[0][i] = p
                if p != 0:
                    fired_log[t, b, core_of[0][i]] += 1
                    n_fired += 1
            for k in range(depth):
                s_k, a_k, r_k, out, bias_k = sigma[k][b], act[k][b], residue[k][b], sent[k + 1], bias[k][b]
                units = acc[k].size
                for g in range(runs[k].shape[0]):  # runs of neurons on one core, within one half of a pair
                    lo, hi, core = runs[k][g, 0], runs[k][g, 1], runs[k][g, 2]
                    heard = lo % units  # both neurons of a pair hear the same input
                    fired, busy = _neurons(acc[k][heard:heard + hi - lo], s_k[lo:hi], a_k[lo:hi], r_k[lo:hi],
                                           bias_k[lo:hi], out[lo:hi], vth, act_max, not pair, state_exp)
                    fired_log[t, b, core] += fired
                    active_log[t, b, core] += busy
                    n_fired += fired
                if record:
                    copy(s_k, rec.sigma[k][t, b])
                    copy(a_k, rec.act[k][t, b])
                    copy(out, rec.spikes[k][t, b])
            trace[t] += n_fired
            steps[b] = t + 1
            if n_fired == 0 and t + 1 >= n_in:
                quiescent[b] = True
                break
        for k in range(depth + 1):
            copy(sent[k], pending[k][b])


class Scratch(NamedTuple):
    """One sample's working arrays of the Loihi family's layered kernels (:func:`_relax`, and the LIF one),
    overwritten.

    Attributes
    ----------
    acc : tuple of (N_{k+1},) int64, k = 0..L-1
        What the neurons of each relaxing layer hear this step.
    part : tuple of (N_{k+1},) int32, k = 0..L-1
        One Dense process's sums (:func:`_dense`).
    sent : tuple of (N_k,) int64, layers 0..L
        Spikes (or graded payloads) sent at the last step.
    senders : (max N_k,) int64
        The binary event loop's list of senders (:func:`emulator.backends.loihi.events.deliver`).
    """

    acc: tuple
    part: tuple
    sent: tuple
    senders: np.ndarray

    @classmethod
    def for_sizes(cls, hearing, neurons) -> "Scratch":
        """Scratch for relaxing layers that hear ``hearing`` (N_{k+1},) inputs and layers of ``neurons`` neurons."""
        return cls(tuple(np.zeros(m, np.int64) for m in hearing), tuple(np.zeros(m, np.int32) for m in hearing),
                   tuple(np.zeros(n, np.int64) for n in neurons), np.zeros(max(neurons), np.int64))


def relax_fixed(net: FixedNet, x_spikes: np.ndarray, *, max_steps: int, bias=None,
                init: FixedState | None = None, core_of=None, record: bool = False) -> FixedState:
    """Run ``B`` relaxations for at most ``max_steps`` steps.

    Parameters
    ----------
    x_spikes : (B, n_0) int, or (T, B, n_0) int
        Graded spikes the input sends at the first step, or at each of the first ``T`` steps
        (a spike train); only when starting from rest.
    bias : list of (B, n_k) int, layers 1..L, optional
        Biases of the units to run with (e.g. the output's nudged bias); ``net.bias`` by default.
    init : FixedState, optional
        Continue from this state (its pending spikes are delivered first) instead of from rest.
    core_of : list of (n_k,) int, layers 0..L, optional
        Core of every neuron, for the per-core logs; one core per layer by default.
    record : bool
        Keep every step's sigma, activation and spikes (for tests against Lava).
    """
    depth = len(net.down)
    sizes = net.neurons
    train = np.asarray(x_spikes, np.int64)
    train = train[None] if train.ndim == 2 else train
    if train.ndim != 3 or train.shape[2] != sizes[0]:
        raise ValueError(f"x_spikes must have shape (batch, {sizes[0]}) or (steps, batch, {sizes[0]}), "
                         f"got {np.shape(x_spikes)}")
    batch = train.shape[1]
    if bias is None:
        bias = net.bias
    bias = [np.array(np.broadcast_to(net.neuron_bias(b), (batch, n)), np.int64, order="C")
            for b, n in zip(bias, sizes[1:])]
    if init is None:
        sigma, act, residue = ([np.zeros((batch, n), np.int64) for n in sizes[1:]] for _ in range(3))
        pending = [np.zeros((batch, n), np.int64) for n in sizes]
    else:
        if init.sigma[0].shape[0] != batch:
            raise ValueError(f"init holds {init.sigma[0].shape[0]} samples but x_spikes has {batch}")
        sigma, act, residue, pending = ([a.copy() for a in arrays] for arrays in
                                        (init.sigma, init.act, init.residue, init.pending))
        train = train[:0]
    if core_of is None:
        core_of = [np.full(n, k, np.int64) for k, n in enumerate(sizes)]
    n_cores = int(max(c.max(initial=0) for c in core_of)) + 1
    logs = Logs(fired=np.zeros((max_steps, batch, n_cores), np.int32),
                active=np.zeros((max_steps, batch, n_cores), np.int32),
                trace=np.zeros(max_steps, np.int64), steps=np.zeros(batch, np.int64),
                quiescent=np.zeros(batch, bool))
    shape = (lambda n: (max_steps, batch, n)) if record else (lambda n: (0, 0, 0))
    rec = Record(*(tuple(np.zeros(shape(n), np.int64) for n in sizes[1:]) for _ in Record._fields))
    ups, downs, shifts, zeros = net.fan_out
    kernel_net = KernelNet(ups=ups, downs=downs, exps=np.array(net.weight_exp, np.int64), shifts=shifts, zeros=zeros,
                           pair=net.pair, vth=net.vth, act_max=net.act_max, state_exp=net.state_exp)
    neurons = Neurons(sigma=tuple(sigma), act=tuple(act), residue=tuple(residue), pending=tuple(pending),
                      bias=tuple(bias))
    core_of = tuple(np.asarray(c, np.int64) for c in core_of)
    runs = tuple(core_runs(c, n) for c, n in zip(core_of[1:], net.layers[1:]))
    _relax(kernel_net, neurons, train, max_steps, core_of, runs, logs, record, rec,
           Scratch.for_sizes([w.shape[1] for w in ups], sizes))
    _check_range(sigma)
    return FixedState(sigma=sigma, act=act, residue=residue, pending=pending, bias=bias, steps=logs.steps,
                      quiescent=logs.quiescent, trace=logs.trace, fired=logs.fired, active=logs.active,
                      record=[tuple(r[k] for r in rec) for k in range(depth)] if record else None)


def core_runs(cores: np.ndarray, units: int) -> np.ndarray:
    """(R, 3) int64: a layer's maximal runs ``(first, end, core)`` of neurons on one core, cut where a pair's
    second half begins (at ``units``). Remembered per placement: a training asks for the same ones at every phase."""
    return _core_runs(np.ascontiguousarray(cores, np.int64).tobytes(), int(units)).copy()


@lru_cache(maxsize=256)
def _core_runs(placement: bytes, units: int) -> np.ndarray:
    cores = np.frombuffer(placement, np.int64)
    cut = np.zeros(cores.size + 1, bool)
    cut[[0, cores.size]] = True
    cut[1:-1] = cores[1:] != cores[:-1]
    cut[min(units, cores.size)] = True
    edges = np.flatnonzero(cut)
    return np.stack([edges[:-1], edges[1:], cores[edges[:-1]]], axis=1).astype(np.int64)


def _check_range(sigma):
    limit = 2 ** (STATE_BITS - 1)
    for k, s in enumerate(sigma, start=1):
        if s.size and max(-int(s.min()), int(s.max())) >= limit:
            raise DivergenceError(
                f"a neuron's sigma in layer {k} left the chip's {STATE_BITS}-bit range: lower "
                "training.learning_rates, enable training.spectral_norm, or give the chip fewer "
                "parameters.act_bits")
