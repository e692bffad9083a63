"""Batched iterative solution of linear systems ``A_b x_b = r_b``, one per sample: BiCGSTAB.

Each sample has its own (non-symmetric) matrix, known only through a batched product
``matvec(v) -> (A_b v_b)_b``; nothing is stored but a few vectors per sample, so the work per
iteration is a few products and the memory grows with the units, not their square
(van der Vorst, SIAM J. Sci. Stat. Comput. 13(2), 1992).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np


class Solution(NamedTuple):
    """The solutions and how far each got.

    Attributes
    ----------
    x : (B, N) float64
        The solution of each sample (its last iterate if it did not converge; 0 where it broke down).
    converged : (B,) bool
        Where ``|r_b - A_b x_b| <= tolerance |r_b|``.
    iterations : int
        Iterations run (the slowest sample's).
    """

    x: np.ndarray
    converged: np.ndarray
    iterations: int


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.einsum("bn,bn->b", a, b)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` per sample, 0 where ``den`` is 0."""
    safe = den != 0.0
    return np.where(safe, num / np.where(safe, den, 1.0), 0.0)


def bicgstab(matvec: Callable[[np.ndarray], np.ndarray], rhs: np.ndarray, *, tolerance: float,
             max_iterations: int) -> Solution:
    """Solve ``A_b x_b = rhs_b`` for every sample ``b`` from ``x = 0``.

    Parameters
    ----------
    matvec : callable
        ``(B, N) -> (B, N)``, the products ``A_b v_b``.
    rhs : (B, N) float64
        Right-hand sides.
    tolerance : float
        Relative residual at which a sample has converged; it then stops changing.
    max_iterations : int
        Iterations at most.
    """
    x = np.zeros_like(rhs)
    r = rhs.copy()
    r_hat = rhs.copy()
    p = np.zeros_like(rhs)
    v = np.zeros_like(rhs)
    rho = alpha = omega = np.ones(len(rhs))
    target = tolerance * np.linalg.norm(rhs, axis=1)
    active = np.linalg.norm(r, axis=1) > target
    iterations = 0
    while active.any() and iterations < max_iterations:
        iterations += 1
        rho_new = _dot(r_hat, r)
        beta = _ratio(rho_new, rho) * _ratio(alpha, omega)
        p = r + beta[:, None] * (p - omega[:, None] * v)
        v = matvec(p)
        alpha = _ratio(rho_new, _dot(r_hat, v))
        s = r - alpha[:, None] * v
        t = matvec(s)
        omega = _ratio(_dot(t, s), _dot(t, t))
        step = alpha[:, None] * p + omega[:, None] * s
        x = np.where(active[:, None], x + step, x)
        r = np.where(active[:, None], s - omega[:, None] * t, r)
        rho = rho_new
        active = active & (np.linalg.norm(r, axis=1) > target)
        broke = active & ((rho_new == 0.0) | (omega == 0.0))
        if broke.any():  # a breakdown before converging: that sample starts afresh from its iterate
            r_hat, p, v = (np.where(broke[:, None], fresh, old) for fresh, old in ((r, r_hat), (0.0, p), (0.0, v)))
            rho, alpha, omega = (np.where(broke, 1.0, old) for old in (rho, alpha, omega))
    finite = np.isfinite(x).all(axis=1)
    x = np.where(finite[:, None], x, 0.0)
    residual = np.linalg.norm(rhs - matvec(x), axis=1)
    return Solution(x, finite & (residual <= target * (1 + 1e-9) + 1e-300), iterations)
