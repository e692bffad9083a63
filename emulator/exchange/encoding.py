"""Spike encodings of static inputs, to feed a spiking network (e.g. a NIR graph run by :mod:`.nir_sim`).

:func:`rate_code` is Bernoulli rate coding (a Poisson-like spike train in discrete time): at every step
each input spikes with a probability equal to its intensity, independently of the other inputs and steps,
so an input of intensity ``x`` fires ``x * steps`` spikes on average.
"""
from __future__ import annotations

import numpy as np

from emulator.errors import ConfigError


def rate_code(x, steps: int, seed: int) -> np.ndarray:
    """Bernoulli rate coding: each step, each input spikes with probability equal to its intensity.

    Parameters
    ----------
    x : (B, n) array_like of float
        Intensities in [0, 1] (e.g. pixels scaled to [0, 1]): the spike probability per step.
    steps : int
        Number of time steps ``T`` (at least 1).
    seed : int
        Seed of ``np.random.default_rng``; the same seed and ``x`` give the same spikes.

    Returns
    -------
    (T, B, n) float64
        Spikes, 0.0 or 1.0; ``spikes[t, b, i] = 1`` with probability ``x[b, i]``. An intensity of 0 never
        spikes and one of 1 spikes at every step.

    Raises
    ------
    ConfigError
        ``x`` is not a (B, n) array of finite numbers in [0, 1], or ``steps`` is not a positive integer.
    """
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ConfigError(f"steps = {steps!r}: give a positive whole number of time steps")
    try:
        x = np.asarray(x, np.float64)
    except (TypeError, ValueError):
        raise ConfigError("x is not numeric; give intensities as a (B, n) array of numbers in [0, 1]") from None
    if x.ndim != 2:
        raise ConfigError(f"x has shape {x.shape}; give intensities as a (B, n) array (one row per sample)")
    if not np.isfinite(x).all():
        raise ConfigError("x holds NaN or infinite values; give finite intensities in [0, 1]")
    if x.size and (x.min() < 0 or x.max() > 1):
        raise ConfigError(f"x holds values in [{x.min()}, {x.max()}], outside [0, 1]; scale the inputs to [0, 1] "
                          "(e.g. pixel / maximum pixel value) before rate coding")
    uniform = np.random.default_rng(seed).random((int(steps), *x.shape))
    return (uniform < x).astype(np.float64)
