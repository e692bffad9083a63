"""The EqProp trainer: free and nudged phases on a chip, local updates on the host.

It is chip-agnostic: it talks to the chip only through ``backend.compile`` and
``backend.relax``. One update on a batch is (Scellier & Bengio 2017; Laborieux et al. 2021):

1. free phase from rest -> ``s0``;
2. nudged phase ``+beta`` from ``s0`` -> ``s+`` (and, if symmetric, ``-beta`` from ``s0`` -> ``s-``);
3. ``dW_k = lr_k / (2 beta) (s+_{k+1} s+_k^T - s-_{k+1} s-_k^T)`` (``1/beta`` and ``s0`` if one-sided),
   or, on a chip whose energy differs, ``backend.contrastive_update`` (``-dE/dtheta`` of its energy);
   a chip that computes the update itself counts the two products of every sample
   (``backend.count_update``);
4. host weights updated, optionally spectrally normalised, and the chip re-programmed.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emulator.backends.base import Nudge
from emulator.network import Network, contrastive_update, plus_scaled


@dataclass(frozen=True)
class Phases:
    """EqProp relaxation settings (the ``eqprop`` section of a workload)."""

    beta: float
    symmetric: bool
    free_steps: int
    nudged_steps: int


def one_hot(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """(batch,) int labels -> (batch, n_classes) float targets."""
    return np.eye(n_classes)[labels]


def eqprop_gradient(backend, program, x, y, phases: Phases):
    """EqProp estimate of ``-dL/dtheta`` on one batch, and what the chip did to get it.

    Parameters
    ----------
    x : (batch, n_0) inputs; y : (batch, n_L) one-hot targets.

    Returns
    -------
    (dW, db, free, counters) : the update direction (shaped like the parameters), the free
    equilibrium, and the counters of all phases and of the update's arithmetic.
    """
    free, counters = backend.relax(program, x, max_steps=phases.free_steps)
    plus, c = backend.relax(program, x, max_steps=phases.nudged_steps, nudge=Nudge(phases.beta, y), init=free)
    counters += c
    if phases.symmetric:
        minus, c = backend.relax(program, x, max_steps=phases.nudged_steps,
                                 nudge=Nudge(-phases.beta, y), init=free)
        counters += c
        scale = 1.0 / (2.0 * phases.beta)
    else:
        minus, scale = free, 1.0 / phases.beta
    rule = getattr(backend, "contrastive_update", None)  # plug-ins that predate it use the layered rule
    dw, db = rule(plus, minus, scale) if rule else contrastive_update(plus.states, minus.states, scale)
    counting = getattr(backend, "count_update", None)  # as for contrastive_update
    if counting:
        counters += counting(program, 2 * len(x))
    return dw, db, free, counters


class PowerIteration:
    """Running estimate of each layer's spectral norm, one power-iteration step per call."""

    def __init__(self, weights, rng: np.random.Generator):
        self.vectors = [rng.standard_normal(w.shape[1]) for w in weights]

    def normalise(self, weights, limit: float):
        out = []
        for k, w in enumerate(weights):
            v = self.vectors[k]
            u = w @ v
            u /= np.linalg.norm(u) + 1e-30
            v = w.T @ u
            sigma = np.linalg.norm(v)
            self.vectors[k] = v / (sigma + 1e-30)
            out.append(w * (limit / sigma) if sigma > limit else w)
        return tuple(out)


def sgd_step(network: Network, dw, db, learning_rates) -> Network:
    """``theta <- theta + lr_k * dtheta_k`` per layer (``dtheta`` estimates ``-dL/dtheta``)."""
    weights = [plus_scaled(w, lr, g) for w, g, lr in zip(network.weights, dw, learning_rates)]
    biases = [plus_scaled(b, lr, g) for b, g, lr in zip(network.biases, db, learning_rates)]
    return network.with_parameters([w for w, _ in weights], [b for b, _ in biases],
                                   finite=all(finite for _, finite in weights + biases))
