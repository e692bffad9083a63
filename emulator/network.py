"""Layered Hopfield-like EqProp networks: parameters, energy and exact gradients.

A network has layers ``s_0 = x`` (clamped input), ``s_1 .. s_L`` (``s_L`` is the output),
symmetric couplings ``W_k`` between layers ``k`` and ``k+1`` and biases ``b_k``. With the
hard-sigmoid ``rho(s) = clip(s, 0, 1)`` and states kept in ``[0, 1]`` its energy is
(Scellier & Bengio 2017)::

    E(s) = 1/2 sum_k |s_k|^2 - sum_k s_{k+1}^T W_k s_k - sum_k b_k^T s_k

and the cost is ``C = 1/2 |s_L - y|^2``. Everything here is numpy on host floats: it is the model
a chip back-end compiles (the references it is checked against are in :mod:`emulator.reference`).
The two element-wise steps of every update (:func:`contrastive_update`'s scaled difference and the
SGD step's :func:`plus_scaled`) run as one numba pass each, with numpy's types and rounding.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numba as nb
import numpy as np

from emulator.errors import DivergenceError

#: what to change when a training diverges
TO_CONVERGE = "lower training.learning_rates, or enable training.spectral_norm"


@dataclass(frozen=True)
class Network:
    """Host copy of an EqProp network and the settings of its lazy relaxation.

    Attributes
    ----------
    weights : tuple of ndarray
        ``weights[k]`` has shape ``(n_{k+1}, n_k)``: the coupling from layer ``k`` to ``k+1``
        (and, symmetrically, its transpose as feedback).
    biases : tuple of ndarray
        ``biases[k]`` has shape ``(n_{k+1},)``: the bias of layer ``k+1`` (the input has none).
    theta : float
        Lazy threshold: a unit sends its change once it exceeds ``theta`` (state units, in [0, 1]).
    damping : float
        Fraction of the old state kept per step, ``s <- damping * s + (1 - damping) * target``.
    spiking : object, optional
        How the spiking chips relax it (a workload's ``spiking`` section: ``window``, the steps at the end
        of a phase whose spikes give the rates, and ``step_size``, whose ``at(start, t, steps)`` is the
        step size of step ``t``); None for their defaults. Other chips ignore it.
    """

    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]
    theta: float = 0.0
    damping: float = 0.5
    spiking: object = None

    @property
    def layers(self) -> tuple[int, ...]:
        """Layer sizes ``(n_0, ..., n_L)``."""
        return (self.weights[0].shape[1],) + tuple(w.shape[0] for w in self.weights)

    @property
    def n_units(self) -> int:
        """Units that relax (all but the clamped input)."""
        return sum(self.layers[1:])

    @property
    def n_synapses(self) -> int:
        return synapses(self.layers)

    def with_parameters(self, weights, biases, *, finite: bool = False) -> "Network":
        """A copy with new parameters; raises :class:`DivergenceError` if any is not finite (not checked again
        when the caller knows they all are: ``finite``)."""
        if not finite:
            for k, (w, b) in enumerate(zip(weights, biases)):
                if not (np.isfinite(w).all() and np.isfinite(b).all()):
                    raise DivergenceError(f"the parameters of layer {k} -> {k + 1} became NaN or infinite: "
                                          f"{TO_CONVERGE}")
        return replace(self, weights=tuple(weights), biases=tuple(biases))


def synapses(layers) -> int:
    """Weights of a layered network of these layer sizes: ``sum_k n_k n_{k+1}``."""
    return sum(n_in * n_out for n_in, n_out in zip(layers[:-1], layers[1:]))


def init_network(layers, rng: np.random.Generator, *, theta=0.0, damping=0.5, gain=1.0, spiking=None) -> Network:
    """Glorot-uniform weights ``U(+-gain*sqrt(6/(n_in+n_out)))`` and zero biases (Scellier 2017)."""
    weights, biases = [], []
    for n_in, n_out in zip(layers[:-1], layers[1:]):
        bound = gain * np.sqrt(6.0 / (n_in + n_out))
        weights.append(rng.uniform(-bound, bound, size=(n_out, n_in)))
        biases.append(np.zeros(n_out))
    return Network(tuple(weights), tuple(biases), theta=theta, damping=damping, spiking=spiking)


def energy(net: Network, states) -> np.ndarray:
    """Hopfield energy ``E(s)`` per sample, shape ``(batch,)``; ``states[k]`` is ``(batch, n_k)``."""
    e = sum(0.5 * (s * s).sum(axis=1) for s in states[1:])
    for k, (w, b) in enumerate(zip(net.weights, net.biases)):
        e = e - np.einsum("bi,ij,bj->b", states[k + 1], w, states[k]) - states[k + 1] @ b
    return e


def contrastive_update(states_a, states_b, scale: float, *, shared_input: bool = False):
    """EqProp's local rule ``scale * (dPhi(s_a) - dPhi(s_b))`` averaged over the batch.

    ``dPhi/dW_k = s_{k+1} s_k^T`` and ``dPhi/db_k = s_{k+1}`` (``Phi = -E``). With ``s_a`` the
    ``+beta`` and ``s_b`` the ``-beta`` (or free) equilibrium and ``scale = 1/(2 beta)``
    (or ``1/beta``), this estimates ``-dL/dtheta`` (Scellier & Bengio 2017; Laborieux et al. 2021).

    With ``shared_input`` the two phases heard the same clamped input ``x = s_0``, and the first
    coupling's term is computed as ``(s_1^a - s_1^b)^T x``: one matrix product instead of two. It is the
    same sum; its rounding differs from the two products' unless every product and partial sum is exact
    (as with the Loihi family's fixed-point states, see
    :meth:`emulator.backends.loihi.backend.LoihiBackend.contrastive_update`).

    Returns
    -------
    (dW, db) : tuples of arrays shaped like the weights and biases.
    """
    n = states_a[0].shape[0]
    dw = []
    for k, (a0, a1, b0, b1) in enumerate(zip(states_a[:-1], states_a[1:], states_b[:-1], states_b[1:])):
        if k == 0 and shared_input:
            dw.append(scaled_difference((a1 - b1).T @ a0, None, scale, n))
        else:
            dw.append(scaled_difference(a1.T @ a0, b1.T @ b0, scale, n))
    db = tuple(scale * (a1 - b1).mean(axis=0) for a1, b1 in zip(states_a[1:], states_b[1:]))
    return tuple(dw), db


def scaled_difference(p: np.ndarray, q: np.ndarray | None, scale: float, n: int) -> np.ndarray:
    """``scale * (p - q) / n`` (or ``scale * p / n`` without ``q``) for arrays of one shape, with numpy's
    types and rounding, in one pass."""
    p = np.ascontiguousarray(p)
    q = None if q is None else np.ascontiguousarray(q)
    product = np.result_type(scale, p if q is None else np.result_type(p, q))
    quotient = np.result_type(product, n)
    out = np.empty(p.shape, quotient)
    _scaled_difference(p.reshape(-1), None if q is None else q.reshape(-1), product.type(scale), quotient.type(n),
                       out.reshape(-1))
    return out


@nb.njit(cache=True)
def _scaled_difference(p, q, scale, n, out):
    """``out = scale * (p - q) / n`` (``scale * p / n`` if ``q`` is None) on flat arrays, ``scale`` and ``n``
    already of their steps' types."""
    if q is None:
        for i in range(p.size):
            out[i] = scale * p[i] / n
    else:
        for i in range(p.size):
            out[i] = scale * (p[i] - q[i]) / n


def plus_scaled(x: np.ndarray, lr: float, g: np.ndarray) -> tuple[np.ndarray, bool]:
    """``x + lr * g`` for arrays of one shape, with numpy's types and rounding (the product in the type numpy
    gives ``lr * g``, then the sum) but in one pass, without the product's temporary array; and whether every
    value of the sum is finite, found in the same pass."""
    x, g = np.ascontiguousarray(x), np.ascontiguousarray(g)
    product = np.result_type(lr, g)
    out = np.empty(x.shape, np.result_type(x, product))
    finite = _plus_scaled(x.reshape(-1), product.type(lr), g.reshape(-1), out.reshape(-1))
    return out, finite


@nb.njit(cache=True)
def _plus_scaled(x, lr, g, out):
    """``out = x + lr * g`` on flat arrays, ``lr`` already of the product's type; whether all of ``out`` is finite."""
    finite = True
    for i in range(x.size):
        v = x[i] + lr * g[i]
        out[i] = v
        finite &= v - v == 0.0  # False for inf and NaN
    return finite


def lipschitz(net: Network) -> list[float]:
    """Spectral norm ``sigma_max(W_k)`` of each layer: its Lipschitz constant as a map of states."""
    return [float(np.linalg.norm(w, 2)) for w in net.weights]
