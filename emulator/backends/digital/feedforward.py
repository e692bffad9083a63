"""Backpropagation on the digital accelerator: a dense feed-forward pass and its backward pass, counted.

The layered network evaluated feed-forward (one pass, no feedback, no relaxation):
``h_{k+1} = W_k s_k + b_k``, ``s_{k+1} = rho(h_{k+1})`` with the hard sigmoid ``rho = clip(., 0, 1)``.
A dense accelerator computes every product, whatever the values, so the counts follow from the
layer sizes and the batch; per sample, for layers ``n_0 .. n_L``:

- ``forward_macs``: ``sum_k n_k n_{k+1}`` (every weight once);
- ``activation_writes``: ``sum_{k>=1} n_k`` (each unit's activation written for the next layer
  and, in training, kept for the backward pass);
- ``backward_macs``: ``sum_{k>=1} n_k n_{k+1}`` (the error sent back to every layer but the input);
- ``gradient_macs``: ``sum_k (n_k n_{k+1} + n_{k+1})`` (each weight's and bias's gradient accumulated);
- ``activation_reads``: ``sum_k n_k`` (each kept activation read back once, for its units' slope and
  the weight gradients it enters).

All arithmetic is in the chip's number format.
"""
from __future__ import annotations

import numpy as np

from emulator.backends.digital.relax import LayeredNet
from emulator.counters import Counters
from emulator.network import synapses


def feedforward(net: LayeredNet, x: np.ndarray, drive_noise=None, *, output_drive: bool = False
                ) -> tuple[list, Counters]:
    """One pass of inputs ``x`` (B, n_0); ``drive_noise``, if given, is added to the drives of layers
    1..L ((B, n_k) each). Returns the states of layers 0..L (with ``output_drive``, the output layer's
    drive in place of its state) and the counters."""
    states = [np.ascontiguousarray(x, net.dtype)]
    depth = len(net.up)
    for k, (w_t, b) in enumerate(zip(net.up, net.bias)):
        h = states[-1] @ w_t + b
        if drive_noise is not None:
            h = h + np.asarray(drive_noise[k], net.dtype)
        states.append(h if output_drive and k == depth - 1 else np.clip(h, 0.0, 1.0))
    batch = len(x)
    return states, Counters(forward_macs=batch * synapses(net.layers), activation_writes=batch * sum(net.layers[1:]))


def backpropagate(net: LayeredNet, states, error: np.ndarray, *, error_at_drive: bool = False):
    """``dL/dtheta`` (batch mean) through the pass that gave ``states``, for ``dL/ds_L = error`` (B, n_L), or
    ``dL/dh_L = error`` with ``error_at_drive``.

    The hard sigmoid's slope is 1 where a unit is strictly inside (0, 1) and 0 where it clips.

    Returns
    -------
    (dW, db, counters) : tuples shaped like ``W_k`` (n_{k+1}, n_k) and ``b_k`` (n_{k+1},), and the counters.
    """
    batch = len(error)
    depth = len(net.down)
    dw, db = [None] * depth, [None] * depth
    delta = np.asarray(error, net.dtype) if error_at_drive else np.asarray(error, net.dtype) * _slope(states[-1])
    for k in range(depth - 1, -1, -1):
        dw[k] = (delta.T @ states[k]) / batch
        db[k] = delta.mean(axis=0)
        if k > 0:
            delta = (delta @ net.down[k]) * _slope(states[k])
    layers = net.layers
    counts = Counters(backward_macs=batch * synapses(layers[1:]), activation_reads=batch * sum(layers))
    return tuple(dw), tuple(db), counts + update_counts(layers, batch)


def update_counts(layers, products: int) -> Counters:
    """``gradient_macs`` of accumulating ``products`` per-sample outer products into every weight and
    bias gradient of a network of ``layers``."""
    return Counters(gradient_macs=products * (synapses(layers) + sum(layers[1:])))


def _slope(s: np.ndarray) -> np.ndarray:
    """``rho'`` of the hard sigmoid at the units whose states are ``s``: 1 inside (0, 1), else 0."""
    return ((s > 0.0) & (s < 1.0)).astype(s.dtype)
