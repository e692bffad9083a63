"""Family-neutral references: the dense fixed-point iteration and the exact gradient of the layered network.

They know no chip. Every back-end family is tested against them (at ``theta = 0`` and with
its non-idealities off, a family's equilibria equal :func:`relax_dense`'s), and EqProp's update
is checked against :func:`exact_gradient` (:func:`gradient_check`).
"""
from __future__ import annotations

import numpy as np

from emulator.backends.base import Nudge
from emulator.network import Network, contrastive_update, init_network


def drive(net: Network, states) -> list:
    """Drive ``W_{k-1} s_{k-1} + W_k^T s_{k+1} + b_{k-1}`` of layers 1..L from states (B, n_k) of layers 0..L."""
    depth = len(net.weights)
    out = []
    for k in range(1, depth + 1):
        h = states[k - 1] @ net.weights[k - 1].T + net.biases[k - 1]
        if k < depth:
            h = h + states[k + 1] @ net.weights[k]
        out.append(h)
    return out


def relax_dense(net: Network, x: np.ndarray, *, steps: int, nudge: Nudge | None = None, init=None,
                dtype=np.float64) -> list:
    """Run ``steps`` synchronous steps ``s_k <- d s_k + (1-d) clip(drive_k(s))`` on all units.

    Every unit is recomputed from every neighbour at every step (no threshold, no events); a
    nudged output settles towards ``clip((h + beta y) / (1 + beta))``, the minimiser of
    ``E + beta C`` along it.

    Parameters
    ----------
    net : Network
        Host parameters; ``net.damping`` is ``d``, ``net.theta`` is not used.
    x : (B, n_0) array
        Clamped inputs.
    steps : int
        Steps to run (all of them: there is no early stop).
    nudge : Nudge, optional
        Nudge of the output layer.
    init : list of (B, n_k) arrays, layers 0..L, optional
        States to start from (e.g. the free fixed point, for a nudged phase); rest by default.
    dtype : numpy dtype
        Arithmetic of the iteration.

    Returns
    -------
    list of (B, n_k) arrays: the states of layers 0..L.
    """
    net = net.with_parameters(tuple(np.asarray(w, dtype) for w in net.weights),
                              tuple(np.asarray(b, dtype) for b in net.biases))
    x = np.asarray(x, dtype)
    states = [x] + ([np.zeros((x.shape[0], n), dtype) for n in net.layers[1:]] if init is None
                    else [np.array(s, dtype) for s in init[1:]])
    for _ in range(steps):
        h = drive(net, states)
        if nudge is not None:
            h[-1] = (h[-1] + nudge.beta * nudge.target) / (1.0 + nudge.beta)
        states = [x] + [net.damping * s + (1.0 - net.damping) * np.clip(v, 0.0, 1.0)
                        for s, v in zip(states[1:], h)]
    return states


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


def gradient_check(layers, *, beta=1e-3, seed=0, batch=4, steps=4000, damping=0.5) -> float:
    """Cosine similarity between EqProp's update and the exact ``-dL/dtheta`` on a random network.

    Relaxes with :func:`relax_dense` in float64 (no threshold) and symmetric nudging, and
    compares with the implicit-differentiation gradient of :func:`exact_gradient`.
    """
    rng = np.random.default_rng(seed)
    net = init_network(layers, rng, damping=damping)
    net = net.with_parameters(net.weights, tuple(rng.uniform(-0.5, 0.5, b.shape) for b in net.biases))
    x = rng.random((batch, layers[0]))
    y = np.eye(layers[-1])[rng.integers(0, layers[-1], batch)]
    free = relax_dense(net, x, steps=steps)
    plus = relax_dense(net, x, steps=steps, nudge=Nudge(beta, y), init=free)
    minus = relax_dense(net, x, steps=steps, nudge=Nudge(-beta, y), init=free)
    dw, db = contrastive_update(plus, minus, 1.0 / (2.0 * beta))
    gw, gb = exact_gradient(net, x, y, free)
    ep = np.concatenate([g.ravel() for g in dw + db])
    exact = -np.concatenate([g.ravel() for g in gw + gb])
    if not np.linalg.norm(exact) > 0:
        raise ValueError(f"seed {seed}: every output unit is saturated, the gradient is 0; use another seed")
    return float(ep @ exact / (np.linalg.norm(ep) * np.linalg.norm(exact)))
