"""Backpropagation on a chip: the layered network evaluated feed-forward and trained by its exact gradient.

The baseline EqProp is measured against (Scellier & Bengio 2017 compare with it on the same
architecture): the same layers, hard-sigmoid units, initialisation, loss ``L = 1/2 |s_L - y|^2``
and learning rates, but one pass ``s_{k+1} = rho(W_k s_k + b_k)`` instead of a relaxation, and
the gradient by backpropagation; or, with ``loss="cross_entropy"``, softmax cross-entropy on the output
layer's drives (the logits), ``L = -log softmax(h_L)_y``, whose gradient ``softmax(h_L) - y`` reaches the
output's drive without the hard sigmoid's slope, so no output unit can die (the softmax's few exponentials per
sample, on the host's side of the output, are not counted). Both run on the chip (:meth:`Backend.feedforward
<emulator.backends.base.Backend.feedforward>`, :meth:`Backend.backpropagate
<emulator.backends.base.Backend.backpropagate>`), which counts them. With ``drive_noise`` it is
noise-injection training: Gaussian noise on every unit's drive in each training pass, the cheap
robustness baseline for a network that will be deployed on a noisy chip.
"""
from __future__ import annotations

import numpy as np


def backprop_gradient(backend, program, x, y, *, drive_noise=None, loss: str = "squared_error"):
    """``-dL/dtheta`` on one batch by backpropagation, and what the chip did to get it.

    Parameters
    ----------
    x : (batch, n_0) inputs; y : (batch, n_L) one-hot targets.
    drive_noise : list of (batch, n_k) arrays, layers 1..L, optional
        Added to the drives of the forward pass.
    loss : {"squared_error", "cross_entropy"}

    Returns
    -------
    (dW, db, counters) : the update direction (shaped like the parameters) and the counters.
    """
    logits = loss == "cross_entropy"
    states, counters = backend.feedforward(program, x, drive_noise=drive_noise, output_drive=logits)
    error = softmax(states[-1]) - y if logits else states[-1] - y
    gw, gb, backward = backend.backpropagate(program, states, error, error_at_drive=logits)
    return tuple(-g for g in gw), tuple(-g for g in gb), counters + backward


def drive_noise(rng: np.random.Generator, layers, batch: int, std: float) -> list:
    """Gaussian noise of std ``std`` for the drive of every unit of layers 1..L: (batch, n_k) each."""
    return [rng.normal(0.0, std, (batch, n)) for n in layers[1:]]


def softmax(h: np.ndarray) -> np.ndarray:
    """Softmax over the last axis of drives ``h`` (B, n), shifted by the row maximum."""
    e = np.exp(h - h.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)
