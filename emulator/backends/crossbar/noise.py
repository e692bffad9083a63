"""Noise and drift models of a crossbar's devices: one small class per model, chosen by ``model:``.

A chip file writes each as a tagged section of ``parameters``, e.g. ``read_noise: {model:
pcm_1f, q: 0.0088, ...}``; the schema builds the class whose ``model`` tag matches. Each class
applies its model with the pure device functions of :mod:`emulator.backends.crossbar.devices`.
Conductances ``g`` are in microsiemens (uS), times in seconds, ``rng`` a numpy Generator.

- read noise (every array read): :class:`NoReadNoise`, :class:`Pcm1fReadNoise`, :class:`ConstantReadNoise`;
- programming noise (every cell write): :class:`NoProgrammingNoise`, :class:`PolynomialProgrammingNoise`;
- drift (from the write to the reads): :class:`NoDrift`, :class:`PowerLawDrift`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np

from emulator.backends.crossbar import devices
from emulator.schema import spec

#: largest conductance, uS: 10 mS is beyond any memristive device (PCM 25 uS, RRAM 40 uS)
MAX_CONDUCTANCE_US = 1e4
#: longest time, s: ten years, the retention of non-volatile memory
MAX_TIME_S = 3.2e8


# -- read noise ------------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class NoReadNoise:
    """Noiseless reads."""

    model: Literal["none"] = spec("no read noise", default="none")
    #: the name reports give the model
    label: ClassVar[str] = "none"

    def variance(self, conductances, *, g_max: float, t: float, to_w: float, w_scale: float) -> None:
        """No variance: None."""
        return None


@dataclass(frozen=True, kw_only=True)
class Pcm1fReadNoise:
    """1/f read noise of PCM devices (Nandakumar et al., ICECS 2019; the toolkit's PCMLikeNoiseModel).

    ``sigma = g Q_s sqrt(ln((t + t_read) / (2 t_read)))``, ``Q_s = min(q / (g/g_max)^q_exp, q_max)``
    for a device read ``t`` seconds after programming.
    """

    model: Literal["pcm_1f"] = spec("PCM 1/f read noise", default="pcm_1f")
    q: float = spec("numerator of Q_s, a relative std (at 1 the noise is as large as the conductance)", ge=0, le=1)
    q_exp: float = spec("exponent of g/g_max in Q_s (g/g_max is at least 1e-3 there, so at 5 Q_s reaches "
                        "1e15 before q_max)", ge=0, le=5)
    q_max: float = spec("largest Q_s, a relative std", ge=0, le=1)
    t_read_s: float = spec("read duration t_read, s, at most the read time (a millisecond is slow for a read)",
                           gt=0, le=1e-3)
    label: ClassVar[str] = "1/f"

    def sigma(self, g: np.ndarray, *, g_max: float, t: float) -> np.ndarray:
        """Read-noise std (uS) of devices of conductance ``g`` (uS, any shape)."""
        return devices.read_sigma_1f(g, g_max, t, self.t_read_s, self.q, self.q_exp, self.q_max)

    def variance(self, conductances, *, g_max: float, t: float, to_w: float, w_scale: float) -> np.ndarray:
        """Read-noise variance of each cell pair's weight, the sum of its two devices' (same shape as
        ``conductances = (G+, G-)``; weight units squared, ``to_w`` weight units per uS)."""
        return sum((self.sigma(g, g_max=g_max, t=t) * to_w) ** 2 for g in conductances)


@dataclass(frozen=True, kw_only=True)
class ConstantReadNoise:
    """Additive read noise of one std on every cell pair's weight (the toolkit's ``w_noise``; RRAM)."""

    model: Literal["constant"] = spec("constant read noise", default="constant")
    std: float = spec("read-noise std of a cell pair's weight, fraction of the full-scale weight (at 1 as "
                      "large as the largest weight)", ge=0, le=1)
    label: ClassVar[str] = "constant"

    def variance(self, conductances, *, g_max: float, t: float, to_w: float, w_scale: float) -> np.ndarray:
        """``(std w_scale)^2`` for each cell pair (same shape as ``conductances = (G+, G-)``)."""
        return np.full(np.shape(conductances[0]), (self.std * w_scale) ** 2)


ReadNoise = NoReadNoise | Pcm1fReadNoise | ConstantReadNoise


# -- programming noise ----------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class NoProgrammingNoise:
    """Every write reaches its target exactly."""

    model: Literal["none"] = spec("no programming noise", default="none")

    def program(self, g_target: np.ndarray, *, g_max: float, rng: np.random.Generator) -> np.ndarray:
        """The targets themselves (draws nothing)."""
        return g_target


@dataclass(frozen=True, kw_only=True)
class PolynomialProgrammingNoise:
    """Gaussian programming noise whose std is a polynomial in ``g/g_max`` (the toolkit's PCM and RRAM fits).

    ``sigma = sum_i c_i (g/g_max)^i`` uS, fitted at ``g_max = g_ref`` and scaled by ``g_max/g_ref``.
    """

    model: Literal["polynomial"] = spec("programming-noise std polynomial in g/g_max", default="polynomial")
    coeffs_us: list[float] = spec("coefficients c_0, c_1, ... (ascending powers), uS, at most degree 10 (the "
                                  "RRAM fit is of degree 4), each within the largest conductance",
                                  ge=-MAX_CONDUCTANCE_US, le=MAX_CONDUCTANCE_US, min_len=1, max_len=11)
    g_ref_us: float = spec("g_max at which coeffs_us were fitted, uS", gt=0, le=MAX_CONDUCTANCE_US)

    def sigma(self, g: np.ndarray, *, g_max: float) -> np.ndarray:
        """Programming-noise std (uS) of writes to targets ``g`` (uS, any shape)."""
        return devices.polynomial_sigma(g, self.coeffs_us, g_max, self.g_ref_us)

    def program(self, g_target: np.ndarray, *, g_max: float, rng: np.random.Generator) -> np.ndarray:
        """Conductances reached by one write to each of ``g_target`` (one normal drawn per device)."""
        return devices.program(g_target, self.sigma(g_target, g_max=g_max), rng)


ProgrammingNoise = NoProgrammingNoise | PolynomialProgrammingNoise


# -- drift ------------------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class NoDrift:
    """Conductances stay as programmed."""

    model: Literal["none"] = spec("no drift", default="none")

    def drifted(self, g: np.ndarray, *, target: np.ndarray, g_max: float, t: float,
                rng: np.random.Generator) -> np.ndarray:
        """``g`` itself (draws nothing)."""
        return g


@dataclass(frozen=True, kw_only=True)
class PowerLawDrift:
    """Power-law drift ``g (t/t0)^-nu`` of PCM devices (the toolkit's PCMLikeNoiseModel).

    Each write draws the device's exponent ``nu = |mu + sigma N(0, 1)|`` with
    ``mu = clip(a ln(g/g_max) + b, lo, hi)`` from ``nu_mean = [a, b, lo, hi]`` and ``sigma`` of the
    same form from ``nu_std``, ``g`` the target conductance.
    """

    model: Literal["power_law"] = spec("power-law drift", default="power_law")
    t0_s: float = spec("time of the first read after programming, t0, s", gt=0, le=MAX_TIME_S)
    nu_mean: list[float] = spec("mean nu = clip(a ln(g/g_max) + b, lo, hi) as [a, b, lo, hi]; drift exponents "
                                "of PCM are about 0.05, and one of 1 halves a conductance each time t doubles",
                                ge=-1, le=1)
    nu_std: list[float] = spec("std of nu, the same form, [a, b, lo, hi]", ge=-1, le=1)

    def drifted(self, g: np.ndarray, *, target: np.ndarray, g_max: float, t: float,
                rng: np.random.Generator) -> np.ndarray:
        """Conductances ``g`` (uS) just written to ``target`` (uS, same shape), ``t`` seconds later."""
        nu = devices.drift_exponents(target, self.nu_mean, self.nu_std, g_max, rng)
        return devices.drifted(g, nu, t, self.t0_s)


Drift = NoDrift | PowerLawDrift
