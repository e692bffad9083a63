"""Integer sigma-delta relaxation with the semantics of Lava's fixed-point process models.

A layered EqProp network runs as Lava would run it on Loihi 2: each relaxing layer is a
population of sigma-delta neurons, each coupling a ``Dense`` process with 8-bit integer
weights and a weight exponent (one forward, one feedback), the input a source that sends its
graded spikes once. One barrier-synchronised step ``t``, for every layer at once:

1. ``Dense`` outputs what it accumulated at ``t - 1`` (a one-step synaptic delay):
   ``a = (W @ s) >> -weight_exp`` (``<<`` if positive), an arithmetic (floor) shift of the sum;
2. each neuron integrates it: ``sigma += a``; ``act = clip(sigma + bias, 0, act_max)``;
3. delta encoding: ``d = act - act_prev + residue``; it fires ``d`` when ``|d| >= vth``
   (Lava's ``>=``), else keeps it as residue; the graded spike is ``fired >> state_exp``,
   whose dropped low bits are lost (as in Lava);
4. the spikes reach the ``Dense`` processes, to be delivered at ``t + 1``.

Only step 2's upper clip differs from Lava's ``SigmaDelta`` (which has ReLU and identity
activations): the hard sigmoid of EqProp needs it, and :mod:`emulator.lava` adds it to Lava as
a process model with the same integer semantics. Everything else is Lava 0.10's
``PySigmaDeltaModelFixed`` and ``PyDenseModelBitAcc``, step for step (``tests/test_lava.py``).

A relaxation stops early after a step in which no neuron fired: nothing is then in flight and
no neuron can change again, so the state equals what ``max_steps`` steps would give.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numba as nb
import numpy as np

from emulator.errors import DivergenceError

#: a neuron's sigma and activation are 24-bit registers on the chip
STATE_BITS = 24
#: messages per unit of the sending layer above which the host delivers with a matrix product
DENSE_ABOVE = 0.5


@dataclass(frozen=True)
class FixedNet:
    """A layered network in the chip's integers.

    Attributes
    ----------
    down : tuple of (n_{k+1}, n_k) int16
        ``W_k`` as programmed (8-bit, even if of mixed sign); row ``i`` is the feedback fan-out
        of unit ``i`` of layer ``k + 1``.
    up : tuple of (n_k, n_{k+1}) int16
        ``W_k^T``, row ``i`` the forward fan-out of unit ``i`` of layer ``k``.
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
    """

    down: tuple[np.ndarray, ...]
    up: tuple[np.ndarray, ...] = field(init=False)
    weight_exp: tuple[int, ...]
    bias: tuple[np.ndarray, ...]
    vth: int
    act_max: int
    state_exp: int = 0

    def __post_init__(self):
        if any(np.abs(np.asarray(w, np.int64)).max(initial=0) > 256 for w in self.down):
            raise ValueError("weights must be stored 8-bit values (|w| <= 256); see emulator.quantise.as_stored")
        down = tuple(np.ascontiguousarray(w, np.int16) for w in self.down)
        object.__setattr__(self, "down", down)
        object.__setattr__(self, "up", tuple(np.ascontiguousarray(w.T) for w in down))

    @cached_property
    def up_float(self) -> tuple[np.ndarray, ...]:
        """float64 copies of ``up`` for BLAS (products and sums of these integers are exact)."""
        return tuple(w.astype(np.float64) for w in self.up)

    @cached_property
    def down_float(self) -> tuple[np.ndarray, ...]:
        return tuple(w.astype(np.float64) for w in self.down)

    @property
    def layers(self) -> tuple[int, ...]:
        return (self.down[0].shape[1],) + tuple(w.shape[0] for w in self.down)


@dataclass(frozen=True)
class FixedState:
    """Neuron and synapse state of ``B`` relaxations after some steps.

    Attributes
    ----------
    sigma, act, residue : list of (B, n_k) int64, layers 1..L
        The sigma accumulator, the activation and the unsent residue of every neuron.
    pending : list of (B, n_k) int64, layers 0..L
        Graded spikes sent at the last step, still in the ``Dense`` buffers.
    bias : list of (B, n_k) int64, layers 1..L
        The biases the phase ran with (the output layer's includes the nudge).
    steps : (B,) int64; quiescent : (B,) bool; trace : (max_steps,) int64
        Steps run, whether the sample stopped at quiescence, and spikes fired per step.
    """

    sigma: list
    act: list
    residue: list
    pending: list
    bias: list
    steps: np.ndarray
    quiescent: np.ndarray
    trace: np.ndarray


@nb.njit(cache=True)
def neuron_step(a, sigma, act, residue, bias, spikes, senders, n_sent, active, running,
                act_max, vth, state_exp):
    """One step of a layer of sigma-delta neurons with a clipped activation.

    Parameters
    ----------
    a : (B, n) int64
        Input from the ``Dense`` processes this step.
    sigma, act, residue : (B, n) int64, updated in place
    bias : (B, n) int64
    spikes : (B, n) int64, overwritten
        Graded spike payload of each neuron (0 where it did not fire).
    senders : (B, n) int32, overwritten; n_sent : (B,) int64, overwritten
        Indices of the neurons that fired, and how many.
    active : (B, n) bool, overwritten
        Neurons that did work: received input, changed activation or fired.
    running : (B,) bool
        Samples still relaxing; others are left untouched.
    """
    batch, n = sigma.shape
    for b in range(batch):
        n_sent[b] = 0
        if not running[b]:
            continue
        for i in range(n):
            s = sigma[b, i] + a[b, i]
            sigma[b, i] = s
            v = min(max(s + bias[b, i], 0), act_max)
            d = v - act[b, i] + residue[b, i]
            changed = v != act[b, i]
            act[b, i] = v
            if abs(d) >= vth:
                residue[b, i] = 0
                spikes[b, i] = d >> state_exp
                senders[b, n_sent[b]] = i
                n_sent[b] += 1
                active[b, i] = True
            else:
                residue[b, i] = d
                spikes[b, i] = 0
                active[b, i] = changed or a[b, i] != 0


@nb.njit(cache=True)
def accumulate_events(acc, weights, spikes, senders, n_sent):
    """``acc[b] += spikes[b, i] * weights[i]`` over the senders ``i`` of each sample (int64)."""
    batch, m = acc.shape
    for b in range(batch):
        for e in range(n_sent[b]):
            i = senders[b, e]
            p = spikes[b, i]
            for j in range(m):
                acc[b, j] += p * weights[i, j]


def dense_output(weights, weights_float, exp, spikes, senders, n_sent) -> np.ndarray:
    """What a ``Dense`` process outputs one step after receiving ``spikes`` (B, n): shifted ``W s``.

    ``weights`` is the (n, m) int16 fan-out matrix and ``weights_float`` its float64 copy. The
    shift is applied to each receiver's sum, not to each contribution, as Lava does.
    """
    batch, n = spikes.shape
    if int(n_sent.sum()) > DENSE_ABOVE * n * batch:
        # float64 sums of these integers are exact (|sum| < 2**53), and BLAS is fast
        acc = (spikes.astype(np.float64) @ weights_float).astype(np.int64)
    else:
        acc = np.zeros((batch, weights.shape[1]), np.int64)
        accumulate_events(acc, weights, spikes, senders, n_sent)
    return acc << exp if exp > 0 else acc >> -exp


def senders_of(spikes: np.ndarray):
    """Event lists of a spike array: (senders (B, n) int32, n_sent (B,) int64)."""
    batch, n = spikes.shape
    senders = np.zeros((batch, n), np.int32)
    n_sent = np.zeros(batch, np.int64)
    for b in range(batch):
        idx = np.flatnonzero(spikes[b])
        senders[b, :idx.size] = idx
        n_sent[b] = idx.size
    return senders, n_sent


def relax_fixed(net: FixedNet, x_spikes: np.ndarray, *, max_steps: int, bias=None,
                init: FixedState | None = None, observer=None) -> FixedState:
    """Run ``B`` relaxations for at most ``max_steps`` steps.

    Parameters
    ----------
    x_spikes : (B, n_0) int, or (T, B, n_0) int
        Graded spikes the input sends at the first step, or at each of the first ``T`` steps
        (a spike train); only when starting from rest.
    bias : list of (B, n_k) int, layers 1..L, optional
        Biases to run with (e.g. the output's nudged bias); ``net.bias`` by default.
    init : FixedState, optional
        Continue from this state (its pending spikes are delivered first) instead of from rest.
    observer : callable, optional
        Called after every step as ``observer(t, running, spikes, active, sigma, act)`` with the
        per-layer spike payloads (layers 0..L), active masks, sigmas and activations (layers
        1..L); ``running`` is the mask of samples that ran this step. The Loihi back-end counts
        per-core work with it; the tests compare every step with Lava.
    """
    depth = len(net.down)
    sizes = net.layers
    train = np.asarray(x_spikes, np.int64)
    train = train[None] if train.ndim == 2 else train
    if train.ndim != 3 or train.shape[2] != sizes[0]:
        raise ValueError(f"x_spikes must have shape (batch, {sizes[0]}) or (steps, batch, {sizes[0]}), "
                         f"got {np.shape(x_spikes)}")
    batch = train.shape[1]
    if bias is None:
        bias = [np.broadcast_to(b, (batch, b.size)) for b in net.bias]
    bias = [np.ascontiguousarray(np.broadcast_to(b, (batch, n)), np.int64) for b, n in zip(bias, sizes[1:])]
    if init is None:
        sigma, act, residue = ([np.zeros((batch, n), np.int64) for n in sizes[1:]] for _ in range(3))
        pending = [np.zeros((batch, n), np.int64) for n in sizes]
    else:
        if init.sigma[0].shape[0] != batch:
            raise ValueError(f"init holds {init.sigma[0].shape[0]} samples but x_spikes has {batch}")
        sigma, act, residue, pending = ([a.copy() for a in arrays] for arrays in
                                        (init.sigma, init.act, init.residue, init.pending))
        train = train[:0]
    events = [senders_of(p) for p in pending]
    spikes = [np.zeros((batch, n), np.int64) for n in sizes]
    active = [np.zeros((batch, n), bool) for n in sizes[1:]]
    running = np.ones(batch, bool)
    quiescent = np.zeros(batch, bool)
    steps = np.zeros(batch, np.int64)
    trace = np.zeros(max_steps, np.int64)
    for t in range(max_steps):
        inputs = []
        for k in range(1, depth + 1):
            a = dense_output(net.up[k - 1], net.up_float[k - 1], net.weight_exp[k - 1], pending[k - 1],
                             *events[k - 1])
            if k < depth:
                a += dense_output(net.down[k], net.down_float[k], net.weight_exp[k], pending[k + 1],
                                  *events[k + 1])
            inputs.append(a)
        fired = np.zeros(batch, np.int64)
        spikes[0] = train[t] if t < len(train) else np.zeros_like(spikes[0])
        new_events = [senders_of(spikes[0])]
        fired += new_events[0][1]
        for k in range(1, depth + 1):
            senders = np.zeros((batch, sizes[k]), np.int32)
            n_sent = np.zeros(batch, np.int64)
            neuron_step(inputs[k - 1], sigma[k - 1], act[k - 1], residue[k - 1], bias[k - 1], spikes[k],
                        senders, n_sent, active[k - 1], running, net.act_max, net.vth, net.state_exp)
            new_events.append((senders, n_sent))
            fired += n_sent
        steps += running
        trace[t] = fired.sum()
        if observer is not None:
            observer(t, running, spikes, active, sigma, act)
        pending, events = [s.copy() for s in spikes], new_events
        done = running & (fired == 0) & (t + 1 >= len(train))
        quiescent |= done
        running &= ~done
        if not running.any():
            break
    _check_range(sigma)
    return FixedState(sigma, act, residue, pending, bias, steps, quiescent, trace)


def _check_range(sigma):
    limit = 2 ** (STATE_BITS - 1)
    for k, s in enumerate(sigma, start=1):
        if s.size and np.abs(s).max() >= limit:
            raise DivergenceError(
                f"a neuron's sigma in layer {k} left the chip's {STATE_BITS}-bit range: lower "
                "training.learning_rates, enable training.spectral_norm, or give the chip fewer "
                "parameters.act_bits")
