"""Device and periphery models of a resistive crossbar (PCM, RRAM): pure functions.

Conductances are in microsiemens (uS), times in seconds. A weight ``w`` of a layer with weight
scale ``w_scale`` is stored as a differential pair ``(G+, G-)`` in ``[g_min, g_max]``:
``w = w_scale * (G+ - G-) / (g_max - g_min)``.

The statistical models follow the published phenomenological fits of PCM (Nandakumar et al.,
ICECS 2019) and RRAM (Wan et al., Nature 2022) as released in IBM's analog hardware toolkit;
the chip files give each coefficient with its source.
"""
from __future__ import annotations

import numpy as np


def to_pairs(w: np.ndarray, w_scale: float, g_min: float, g_max: float) -> tuple[np.ndarray, np.ndarray]:
    """Target conductances ``(G+, G-)`` (uS) of weights ``w``, clipped to ``+-w_scale``."""
    g = np.clip(np.abs(w) / w_scale, 0.0, 1.0) * (g_max - g_min)
    positive = w > 0
    return g_min + np.where(positive, g, 0.0), g_min + np.where(positive, 0.0, g)


def polynomial_sigma(g: np.ndarray, coeffs, g_max: float, g_ref: float) -> np.ndarray:
    """Programming-noise std (uS): ``sum_i c_i (g/g_max)^i``, fitted at ``g_max = g_ref``, scaled by ``g_max/g_ref``."""
    x = np.asarray(g, np.float64) / g_max
    sigma = np.zeros_like(x)
    for c in reversed(coeffs):  # Horner
        sigma = sigma * x + c
    return np.maximum(sigma, 0.0) * (g_max / g_ref)


def program(g_target: np.ndarray, sigma: np.ndarray | float, rng: np.random.Generator) -> np.ndarray:
    """Conductances reached by one write: ``g_target + sigma * N(0, 1)``, never below 0 uS."""
    return np.maximum(g_target + sigma * rng.standard_normal(g_target.shape), 0.0)


def drift_exponents(g: np.ndarray, mean_coeffs, std_coeffs, g_max: float, rng: np.random.Generator) -> np.ndarray:
    """Per-device drift exponents ``nu``, drawn when the device is programmed.

    ``mean_coeffs = (a, b, lo, hi)``: ``mu_nu = clip(a ln(g/g_max) + b, lo, hi)``; the same form
    for the std with ``std_coeffs``; ``nu = |mu + sigma N(0, 1)|``.
    """
    lg = np.log(np.maximum(np.asarray(g) / g_max, 1e-3))
    a, b, lo, hi = mean_coeffs
    mu = np.clip(a * lg + b, lo, hi)
    a, b, lo, hi = std_coeffs
    sd = np.clip(a * lg + b, lo, hi)
    return np.abs(mu + sd * rng.standard_normal(np.shape(g)))


def drifted(g: np.ndarray, nu: np.ndarray, t: float, t0: float) -> np.ndarray:
    """Conductance ``t`` seconds after programming: ``g (t/t0)^-nu`` for ``t > t0``, else ``g``."""
    return g * (t / t0) ** -nu if t > t0 else g


def read_sigma_1f(g: np.ndarray, g_max: float, t: float, t_read: float, q: float, q_exp: float,
                  q_max: float) -> np.ndarray:
    """Read (1/f) noise std (uS) of PCM devices read ``t`` seconds after programming.

    ``sigma = g Q_s sqrt(ln((t + t_read) / (2 t_read)))``, ``Q_s = min(q / (g/g_max)^q_exp, q_max)``.
    """
    rel = np.maximum(np.abs(g) / g_max, 1e-3)
    q_s = np.minimum(q / rel ** q_exp, q_max)
    return np.abs(g) * q_s * np.sqrt(np.log((t + t_read) / (2.0 * t_read)))


def ir_drop_factor(g: np.ndarray, g_max: float, ir_drop: float, along: int) -> np.ndarray:
    """First-order wire-resistance attenuation of each cell of a tile (same shape as ``g``).

    A line driven from index 0 loses voltage along ``along`` (the axis of the sensed lines) in
    proportion to how far the cell is from the driver and to the line's load (its total
    conductance over the largest possible): ``1 - ir_drop * position * load``.
    """
    n = g.shape[along]
    position = (np.arange(n) + 1.0) / n
    load = g.sum(axis=along, keepdims=True) / (n * g_max)
    shape = [1, 1]
    shape[along] = n
    return np.clip(1.0 - ir_drop * position.reshape(shape) * load, 0.0, 1.0)

