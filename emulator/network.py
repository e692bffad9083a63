"""Layered Hopfield-like EqProp networks: parameters, energy and exact gradients.

A network has layers ``s_0 = x`` (clamped input), ``s_1 .. s_L`` (``s_L`` is the output),
symmetric couplings ``W_k`` between layers ``k`` and ``k+1`` and biases ``b_k``. With the
hard-sigmoid ``rho(s) = clip(s, 0, 1)`` and states kept in ``[0, 1]`` its energy is
(Scellier & Bengio 2017)::

    E(s) = 1/2 sum_k |s_k|^2 - sum_k s_{k+1}^T W_k s_k - sum_k b_k^T s_k

and the cost is ``C = 1/2 |s_L - y|^2``. Everything here is plain numpy on host floats:
it is the model a chip back-end compiles, and the exact reference the tests compare with.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from emulator.errors import DivergenceError


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
    """

    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]
    theta: float = 0.0
    damping: float = 0.5

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
        return sum(w.size for w in self.weights)

    def with_parameters(self, weights, biases) -> "Network":
        """A copy with new parameters; raises :class:`DivergenceError` if any is not finite."""
        for k, (w, b) in enumerate(zip(weights, biases)):
            if not (np.isfinite(w).all() and np.isfinite(b).all()):
                raise DivergenceError(
                    f"the parameters of layer {k} -> {k + 1} became NaN or infinite: "
                    "lower training.learning_rates or eqprop.beta, or enable training.spectral_norm")
        return replace(self, weights=tuple(weights), biases=tuple(biases))


def init_network(layers, rng: np.random.Generator, *, theta=0.0, damping=0.5, gain=1.0) -> Network:
    """Glorot-uniform weights ``U(+-gain*sqrt(6/(n_in+n_out)))`` and zero biases (Scellier 2017)."""
    weights, biases = [], []
    for n_in, n_out in zip(layers[:-1], layers[1:]):
        bound = gain * np.sqrt(6.0 / (n_in + n_out))
        weights.append(rng.uniform(-bound, bound, size=(n_out, n_in)))
        biases.append(np.zeros(n_out))
    return Network(tuple(weights), tuple(biases), theta=theta, damping=damping)


def energy(net: Network, states) -> np.ndarray:
    """Hopfield energy ``E(s)`` per sample, shape ``(batch,)``; ``states[k]`` is ``(batch, n_k)``."""
    e = sum(0.5 * (s * s).sum(axis=1) for s in states[1:])
    for k, (w, b) in enumerate(zip(net.weights, net.biases)):
        e = e - np.einsum("bi,ij,bj->b", states[k + 1], w, states[k]) - states[k + 1] @ b
    return e


def contrastive_update(states_a, states_b, scale: float):
    """EqProp's local rule ``scale * (dPhi(s_a) - dPhi(s_b))`` averaged over the batch.

    ``dPhi/dW_k = s_{k+1} s_k^T`` and ``dPhi/db_k = s_{k+1}`` (``Phi = -E``). With ``s_a`` the
    ``+beta`` and ``s_b`` the ``-beta`` (or free) equilibrium and ``scale = 1/(2 beta)``
    (or ``1/beta``), this estimates ``-dL/dtheta`` (Scellier & Bengio 2017; Laborieux et al. 2021).

    Returns
    -------
    (dW, db) : tuples of arrays shaped like the weights and biases.
    """
    n = states_a[0].shape[0]
    dw = tuple(scale * (a1.T @ a0 - b1.T @ b0) / n
               for a0, a1, b0, b1 in zip(states_a[:-1], states_a[1:], states_b[:-1], states_b[1:]))
    db = tuple(scale * (a1 - b1).mean(axis=0) for a1, b1 in zip(states_a[1:], states_b[1:]))
    return dw, db


def coupling_matrix(net: Network) -> np.ndarray:
    """Symmetric coupling ``A`` of the relaxing units (layers 1..L), shape ``(n_units, n_units)``."""
    sizes = net.layers[1:]
    edges = np.concatenate([[0], np.cumsum(sizes)])
    a = np.zeros((edges[-1], edges[-1]))
    for k, w in enumerate(net.weights[1:], start=1):  # W_k couples layer k and k+1
        rows, cols = slice(edges[k], edges[k + 1]), slice(edges[k - 1], edges[k])
        a[rows, cols] = w
        a[cols, rows] = w.T
    return a


def exact_gradient(net: Network, x: np.ndarray, y: np.ndarray, states):
    """Gradient of ``L = 1/2 |s_L - y|^2`` (batch mean) at a free fixed point, by implicit differentiation.

    At the fixed point ``s = clip(A s + c)``, with ``c`` the input drive and biases. Clipped
    units are locally constant; on the unsaturated set ``U`` we solve
    ``(I - A_UU) lam = dL/ds_U`` and get ``dL/dW_k = lam_{k+1} s_k^T + s_{k+1} lam_k^T`` and
    ``dL/db_k = lam_{k+1}`` (Scellier & Bengio 2019, Neural Computation 31(2)).

    Parameters
    ----------
    x : (batch, n_0) inputs; y : (batch, n_L) targets; states : free fixed point, layers 0..L.

    Returns
    -------
    (dW, db) shaped like the parameters.
    """
    sizes = net.layers[1:]
    edges = np.concatenate([[0], np.cumsum(sizes)])
    a = coupling_matrix(net)
    dw = [np.zeros_like(w) for w in net.weights]
    db = [np.zeros_like(b) for b in net.biases]
    for n in range(x.shape[0]):
        s = np.concatenate([st[n] for st in states[1:]])
        free = (s > 0.0) & (s < 1.0)
        grad_s = np.zeros_like(s)
        grad_s[edges[-2]:] = s[edges[-2]:] - y[n]
        lam = np.zeros_like(s)
        idx = np.flatnonzero(free)
        lam[idx] = np.linalg.solve(np.eye(idx.size) - a[np.ix_(idx, idx)], grad_s[idx])
        lam_layers = [np.zeros(net.layers[0])] + [lam[edges[k]:edges[k + 1]] for k in range(len(sizes))]
        s_layers = [x[n]] + [s[edges[k]:edges[k + 1]] for k in range(len(sizes))]
        for k in range(len(net.weights)):
            dw[k] += np.outer(lam_layers[k + 1], s_layers[k]) + np.outer(s_layers[k + 1], lam_layers[k])
            db[k] += lam_layers[k + 1]
    m = x.shape[0]
    return tuple(g / m for g in dw), tuple(g / m for g in db)


def lipschitz(net: Network) -> list[float]:
    """Spectral norm ``sigma_max(W_k)`` of each layer: its Lipschitz constant as a map of states."""
    return [float(np.linalg.norm(w, 2)) for w in net.weights]
