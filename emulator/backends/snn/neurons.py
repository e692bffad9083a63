"""Integrate-and-fire neurons in host floats: the relaxation of the generic spiking chip.

A layered network whose relaxing layers are populations of IF or LIF neurons and whose couplings
``W_k`` deliver binary spikes forward (layer ``k`` to ``k + 1``) and back (``k + 1`` to ``k``). One step
``t``, for every layer at once, in the order of Lava's LIF (and of Brian2's Euler step followed by its
synapses, :mod:`emulator.backends.snn.brian`):

1. the spikes sent at ``t - 1`` arrive (a one-step synaptic delay): ``a = sum_j W_ij s_j``;
2. the synaptic current, a leaky integrator with step size ``eps``: ``u <- u - eps u + eps a``;
3. the membrane potential integrates the drive ``I = u + b`` (bias and, on the outputs of a nudged
   phase, the nudge current): an ``if`` neuron ``v <- v + clip(I, 0, vth)`` (it integrates the hard
   sigmoid of its drive: the first-order sigma-delta quantiser of O'Connor et al. 2019), a ``lif``
   neuron ``v <- v - leak v + I``;
4. it fires when ``v > vth``, and ``v <- v - vth`` (``subtract``) or ``v <- 0``;
5. the spikes go out, to arrive at ``t + 1``; the input layer sends its spike train.

A unit's state is its firing rate: with ``vth = 1`` (state units) and weights and biases in state
units, a unit fires at rate ``clip(W r + b, 0, 1)`` once the current has settled.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numba as nb
import numpy as np

from emulator.backends.base import LayeredCouplings
from emulator.backends.loops import copy
from emulator.counters import Counters


@dataclass(frozen=True)
class SpikingNet(LayeredCouplings):
    """A layered network of spiking neurons in a float format.

    Attributes
    ----------
    down : tuple of (n_{k+1}, n_k) float
        ``W_k``; row ``i`` is the feedback fan-out of unit ``i`` of layer ``k + 1``.
    bias : tuple of (n_{k+1},) float
        Bias current of each relaxing layer, state units per step.
    vth : float
        Spike threshold of the membrane potential.
    leak : float
        Leak of the membrane potential per step (``lif``; 0 for ``if``).
    subtract : bool
        Reset by subtracting the threshold (True) or to 0.
    clip : bool
        The potential integrates ``clip(u + b, 0, vth)`` (``if`` neurons) rather than ``u + b``.
    """

    down: tuple[np.ndarray, ...]
    bias: tuple[np.ndarray, ...]
    vth: float
    leak: float
    subtract: bool
    clip: bool

    @property
    def dtype(self):
        return self.down[0].dtype



@dataclass(frozen=True)
class SpikingState:
    """The neurons of ``B`` relaxations after some steps, and what they did.

    Attributes
    ----------
    u, v : list of (B, n_k) float, layers 1..L
        Synaptic currents and membrane potentials.
    pending : list of (B, n_k) uint8, layers 0..L
        Spikes sent at the last step, to arrive at the next.
    bias : list of (B, n_k) float, layers 1..L
        The bias currents the phase ran with (the outputs' include the nudge).
    counts : list of (B, n_k) int64, layers 1..L
        Spikes of each neuron over the window (the phase's last steps).
    fired : (steps, B, L + 1) int32
        Spikes of each layer (the input's included) at each step.
    record : list of (steps, B, n_k) triples (u, v, spikes), or None
        With ``record=True``: every step's state of layers 1..L, after the reset.
    """

    u: list
    v: list
    pending: list
    bias: list
    counts: list
    fired: np.ndarray
    record: list | None = None


class Record(NamedTuple):
    """Every step's ``u``, ``v`` and spikes of layers 1..L, tuples of (steps, B, n_k) (empty when not recording)."""

    u: tuple
    v: tuple
    spikes: tuple


@nb.njit(cache=True, _nrt=False)
def _relax(ups, downs, bias, train, eps, vth, leak, subtract, clip, u, v, pending, first_counted, counts, fired,
           record, rec, acc, sent):
    """Every step of every sample, in place (see :func:`relax_spiking` for the arguments; ``acc`` (layers 1..L)
    and ``sent`` (layers 0..L) are one sample's scratch, tuples of (n_k,) arrays).

    It allocates nothing and is compiled without numba's reference counting (``_nrt=False``), whose atomic
    count updates of the fan-out rows taken for every spike cost more than adding them."""
    depth = len(downs)
    batch = u[0].shape[0]
    steps = train.shape[0]
    zero = vth * 0
    for b in range(batch):
        for k in range(depth + 1):
            copy(pending[k][b], sent[k])
        for t in range(steps):
            for k in range(depth):  # relaxing layer k + 1 hears layer k below and k + 2 above
                acc[k].fill(zero)
                _add_rows(acc[k], ups[k], sent[k])
                if k + 1 < depth:
                    _add_rows(acc[k], downs[k + 1], sent[k + 2])
            for i in range(sent[0].size):
                sent[0][i] = train[t, b, i]
                fired[t, b, 0] += train[t, b, i]
            e = eps[t]
            counted = t >= first_counted
            for k in range(depth):
                u_k, v_k, out, acc_k, bias_k, count_k = u[k][b], v[k][b], sent[k + 1], acc[k], bias[k][b], counts[k][b]
                n_fired = 0
                for i in range(np.uint64(u_k.size)):  # branch-free, unsigned indices: the compiler vectorises it
                    current = u_k[i] - e * u_k[i] + e * acc_k[i]
                    u_k[i] = current
                    drive = current + bias_k[i]
                    if clip:
                        potential = v_k[i] + min(max(drive, zero), vth)
                    else:
                        potential = v_k[i] - leak * v_k[i] + drive
                    spike = potential > vth
                    v_k[i] = (potential - vth if subtract else zero) if spike else potential
                    n_fired += spike
                    count_k[i] += spike & counted
                    out[i] = spike
                fired[t, b, k + 1] += n_fired
                if record:
                    copy(u_k, rec.u[k][t, b])
                    copy(v_k, rec.v[k][t, b])
                    copy(out, rec.spikes[k][t, b])
        for k in range(depth + 1):
            copy(sent[k], pending[k][b])


@nb.njit(cache=True, _nrt=False, inline="always")
def _add_rows(acc, weights, spikes):
    """``acc += weights[i]`` for every neuron ``i`` that spiked."""
    for i in range(spikes.size):
        if spikes[i]:
            for j in range(acc.size):
                acc[j] += weights[i, j]


def relax_spiking(net: SpikingNet, train: np.ndarray, eps: np.ndarray, *, window: int, bias=None,
                  init: SpikingState | None = None, record: bool = False) -> SpikingState:
    """Run ``B`` relaxations for ``steps`` steps.

    Parameters
    ----------
    train : (steps, B, n_0) bool
        The inputs' spikes at each step (:func:`emulator.backends.spiking.input_train`).
    eps : (steps,) float
        Step size of the synaptic current at each step.
    window : int
        Steps at the end whose spikes are counted (``counts``).
    bias : list of (B, n_k) float, layers 1..L, optional
        Bias currents to run with (e.g. the outputs' nudged ones); ``net.bias`` by default.
    init : SpikingState, optional
        Continue from this state (its pending spikes arrive first) instead of from rest.
    record : bool
        Keep every step's ``u``, ``v`` and spikes (for the tests against Brian2).
    """
    dtype, sizes = net.dtype, net.layers
    steps, batch = train.shape[0], train.shape[1]
    if train.ndim != 3 or train.shape[2] != sizes[0]:
        raise ValueError(f"train must have shape (steps, batch, {sizes[0]}), got {train.shape}")
    bias = [np.array(np.broadcast_to(b, (batch, n)), dtype, order="C")
            for b, n in zip(net.bias if bias is None else bias, sizes[1:])]
    if init is None:
        u, v = ([np.zeros((batch, n), dtype) for n in sizes[1:]] for _ in range(2))
        pending = [np.zeros((batch, n), np.uint8) for n in sizes]
    else:
        if init.u[0].shape[0] != batch:
            raise ValueError(f"init holds {init.u[0].shape[0]} samples but train has {batch}")
        u, v, pending = ([a.copy() for a in arrays] for arrays in (init.u, init.v, init.pending))
    counts = [np.zeros((batch, n), np.int64) for n in sizes[1:]]
    fired = np.zeros((steps, batch, len(sizes)), np.int32)
    shape = (lambda n: (steps, batch, n)) if record else (lambda n: (0, 0, 0))
    rec = Record(*(tuple(np.zeros(shape(n), dtype) for n in sizes[1:]) for _ in range(2)),
                 tuple(np.zeros(shape(n), np.uint8) for n in sizes[1:]))
    _relax(net.up, net.down, tuple(bias), np.ascontiguousarray(train, np.uint8), np.asarray(eps, dtype),
           dtype.type(net.vth), dtype.type(net.leak), net.subtract, net.clip, tuple(u), tuple(v), tuple(pending),
           steps - window, tuple(counts), fired, record, rec, tuple(np.zeros(n, dtype) for n in sizes[1:]),
           tuple(np.zeros(n, np.uint8) for n in sizes))
    return SpikingState(u=u, v=v, pending=pending, bias=bias, counts=counts, fired=fired,
                        record=[tuple(r[k] for r in rec) for k in range(len(sizes) - 1)] if record else None)


def count(net: SpikingNet, state: SpikingState) -> Counters:
    """What the chip did in a relaxation: spikes, their synaptic ops, neuron updates and steps."""
    steps, batch, _ = state.fired.shape
    per_layer = state.fired.sum((0, 1)).astype(np.int64)
    fan_out = np.array([net.fan_out(k) for k in range(len(per_layer))], np.int64)
    return Counters(spikes=int(per_layer.sum()), synaptic_ops=int(per_layer @ fan_out),
                    neuron_updates=steps * batch * sum(net.layers[1:]), steps=steps * batch)
