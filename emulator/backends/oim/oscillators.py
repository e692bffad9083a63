"""Overdamped phase oscillators with lazy coupling, integrated in continuous time.

The model is the XY / Kuramoto energy of an oscillator Ising machine (OIM) with biases and
second-harmonic injection locking (SHIL) (Wang & Roychowdhury 2019; Wang, Wanjura & Marquardt
2024)::

    E(phi) = -1/2 sum_ij J_ij cos(phi_i - phi_j) - sum_i h_i cos(phi_i - psi_i) - sum_i (S_i/2) cos(2 phi_i)

and the phases follow its gradient flow in dimensionless time ``tau`` (seconds times the
chip's coupling rate)::

    dphi_i/dtau = -dE/dphi_i = -Im(z_i conj(F_i)) - S_i sin(2 phi_i) (+ phase noise)

with ``z = exp(i phi)`` and the complex *field* ``F_i = h_i exp(i psi_i) + sum_j J_ij z_j``
(the equilibrium of one oscillator in a fixed field is ``phi_i = arg F_i``).

**Lazy coupling.** Oscillator ``j`` re-broadcasts its phase only when it has moved more than
``theta`` (radians, on the circle) from the phase it last broadcast (``heard_j``); its
neighbours couple to ``heard_j``, its own terms use its live phase. Inside a step the
integrator's stages see the broadcasts the stage's phases would trigger, so with
``theta = 0`` the right-hand side is the continuous (non-lazy) one bit for bit; broadcasts
are committed, and counted, at accepted steps. A step moves no phase by more than
``max_phase_step``, so a broadcast is never late by more than that.

**Integration.** Bogacki-Shampine 3(2) with per-sample step-size control on the largest
local error of any phase (absolute, radians), the step also kept inside the method's
stability region (so that, near an equilibrium, the phases converge instead of jittering).
A sample ends when ``max_i |dphi_i/dtau|`` falls below ``settle_tolerance`` (it *settled*) or
at ``t_max``. Phase noise is added after each accepted step (Euler-Maruyama), with an
amplitude that may fall linearly to 0 (an anneal); SHIL may ramp up.

:func:`relax_phases` runs the numba kernels of :mod:`emulator.backends.oim.phase_kernels`, each sample on
its own, the samples of a batch spread over numba's threads (one after another with phase noise).
They are event-driven: between broadcasts each oscillator's field from the heard phases is kept,
and a stage adds only the couplings of the oscillators that moved past ``theta``.
:func:`emulator.backends.oim.oscillators_numpy.relax_phases_numpy` is the same integrator on whole
batches in numpy, summing every coupling at every stage: the reference the kernels must equal
without noise.

Everything here is a pure function of its arguments (the noise takes a seeded generator).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.sparse

from emulator.backends.oim.phase_kernels import Csr, Integration, Outcome, Phases, relax_batch


@dataclass(frozen=True)
class Couplings:
    """A symmetric coupling matrix ``J`` (n, n) stored as dense blocks (how a mapping builds it);
    the kernels read its non-zeros as a sparse matrix, :attr:`csr`.

    Attributes
    ----------
    n : int
        Number of oscillators.
    blocks : tuple of (rows: slice, cols: slice, M: (len(rows), len(cols)) array)
        ``J[rows, cols] = M``; a symmetric pair of off-diagonal blocks is given as two blocks
        (``M`` and ``M.T``). Entries not in a block are 0.
    """

    n: int
    blocks: tuple

    @classmethod
    def dense(cls, j: np.ndarray) -> "Couplings":
        j = np.asarray(j, np.float64)
        return cls(j.shape[0], ((slice(0, j.shape[0]), slice(0, j.shape[0]), j),))

    def apply(self, v: np.ndarray) -> np.ndarray:
        """``v @ J.T`` for ``v`` (..., n), i.e. ``(J v_b)_i`` for every row ``b``."""
        out = np.zeros(v.shape[:-1] + (self.n,), np.float64)
        for rows, cols, m in self.blocks:
            out[..., rows] += v[..., cols] @ m.T
        return out

    def to_dense(self) -> np.ndarray:
        j = np.zeros((self.n, self.n))
        for rows, cols, m in self.blocks:
            j[rows, cols] += m
        return j

    def fan_out(self) -> np.ndarray:
        """Receivers of each oscillator's broadcast: its non-zero couplings, (n,) int64."""
        return np.diff(self.csr.indptr).astype(np.int64)

    @cached_property
    def csr(self) -> scipy.sparse.csr_matrix:
        """The non-zero couplings as a sparse (n, n) matrix (int64 indices, float64 values)."""
        rows, cols, values = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)], [np.zeros(0)]
        for r, c, m in self.blocks:
            i, j = np.nonzero(m)
            rows.append(i + r.start)
            cols.append(j + c.start)
            values.append(m[i, j])
        j_csr = scipy.sparse.coo_matrix((np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))),
                                        shape=(self.n, self.n)).tocsr()
        j_csr.indptr, j_csr.indices = j_csr.indptr.astype(np.int64), j_csr.indices.astype(np.int64)
        return j_csr


def wrap(a: np.ndarray) -> np.ndarray:
    """Angles mapped to [-pi, pi)."""
    return (a + np.pi) % (2.0 * np.pi) - np.pi


def field(couplings: Couplings, bias: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """Complex field ``F = bias + J exp(i phi)``, (B, n) complex."""
    cs = couplings.apply(np.stack([np.cos(phi), np.sin(phi)]))
    return bias + cs[0] + 1j * cs[1]


def energy(couplings: Couplings, bias: np.ndarray, shil, phi: np.ndarray) -> np.ndarray:
    """``E(phi)`` per sample, (B,); ``bias`` is ``h exp(i psi)`` (B, n) complex, ``shil`` S (n,) or scalar."""
    z = np.exp(1j * phi)
    jz = field(couplings, np.zeros_like(bias), phi)
    return (-0.5 * np.real(np.conj(z) * jz).sum(-1) - np.real(np.conj(z) * bias).sum(-1)
            - (0.5 * np.asarray(shil) * np.cos(2.0 * phi)).sum(-1))


def gradient(couplings: Couplings, bias: np.ndarray, shil, phi: np.ndarray) -> np.ndarray:
    """``dE/dphi``, (B, n)."""
    f = field(couplings, bias, phi)
    return np.imag(np.exp(1j * phi) * np.conj(f)) + np.asarray(shil) * np.sin(2.0 * phi)


@dataclass(frozen=True)
class Settings:
    """How a relaxation runs (all times dimensionless, in units of 1 / coupling rate).

    Attributes
    ----------
    theta : float
        Lazy threshold, radians (0: continuous coupling).
    shil : float
        SHIL strength ``S``, energy units.
    shil_ramp : float
        Time at which ``S`` is reached, ramping linearly from 0 (0: constant ``S``).
    noise : float
        Phase-noise amplitude, radians per sqrt(time unit) (0: noiseless).
    noise_decay : float
        Time at which the noise has fallen linearly to 0 (0: constant noise).
    t_max : float
        Time limit.
    settle_tolerance : float
        ``max |dphi/dtau|`` below which a sample has settled, radians per time unit.
    step_tolerance : float
        Largest local error of a phase per step, radians.
    max_phase_step : float
        Largest change of a phase in one step, radians.
    bin_width : float
        Width of a time bin of the broadcast trace.
    n_bins : int
        Time bins of the broadcast trace (0: no trace; the last bin also counts everything later).
    """

    theta: float = 0.0
    shil: float = 0.0
    shil_ramp: float = 0.0
    noise: float = 0.0
    noise_decay: float = 0.0
    t_max: float = 20.0
    settle_tolerance: float = 1e-3
    step_tolerance: float = 1e-4
    max_phase_step: float = 0.1
    bin_width: float = 0.5
    n_bins: int = 40

    def shil_at(self, t: np.ndarray) -> np.ndarray:
        """SHIL strength at times ``t`` (B,), as (B, 1)."""
        if self.shil_ramp > 0:
            return (self.shil * np.minimum(1.0, t / self.shil_ramp))[:, None]
        return np.full((t.shape[0], 1), self.shil)

    def noise_at(self, t: np.ndarray) -> np.ndarray:
        """Phase-noise amplitude at times ``t`` (B,), as (B, 1)."""
        if self.noise_decay > 0:
            return (self.noise * np.maximum(0.0, 1.0 - t / self.noise_decay))[:, None]
        return np.full((t.shape[0], 1), self.noise)

    def integration(self) -> Integration:
        """These settings as the kernels take them (floats; the trace's shape gives ``n_bins``)."""
        return Integration(*(float(getattr(self, name)) for name in Integration._fields))


@dataclass(frozen=True)
class PhaseState:
    """Outcome of :func:`relax_phases` for ``B`` samples of ``n`` oscillators.

    Attributes
    ----------
    phi : (B, n) float64
        Live phases, radians (not wrapped).
    heard : (B, n) float64
        Phases last broadcast, radians (not wrapped).
    t : (B,) float64
        Time each sample ran (its settling time if it settled), dimensionless.
    settled : (B,) bool
        True where ``max |dphi/dtau| < settle_tolerance`` was reached before ``t_max``.
    steps : (B,) int64
        Accepted integrator steps.
    events : (B, n) int64
        Broadcasts of each oscillator.
    trace : (n_bins,) int64
        Broadcasts per time bin, summed over the batch.
    """

    phi: np.ndarray
    heard: np.ndarray
    t: np.ndarray
    settled: np.ndarray
    steps: np.ndarray
    events: np.ndarray
    trace: np.ndarray


def initial_state(phi0, heard0, bias, settings: Settings, rng) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fresh copies of the phases (B, n), the phases last broadcast (``phi0`` if ``heard0`` is None)
    and the complex biases (B, n); ValueError if phase noise is asked for without a generator."""
    if settings.noise > 0 and rng is None:
        raise ValueError("phase noise needs a random generator (rng)")
    phi = np.array(phi0, np.float64)
    heard = phi.copy() if heard0 is None else np.array(heard0, np.float64)
    return phi, heard, np.asarray(bias, np.complex128)


def relax_phases(couplings: Couplings, bias: np.ndarray, phi0: np.ndarray, settings: Settings, *,
                 heard0: np.ndarray | None = None, rng: np.random.Generator | None = None) -> PhaseState:
    """Integrate the lazily coupled gradient flow of ``B`` independent samples.

    Parameters
    ----------
    couplings : Couplings
        The symmetric ``J`` (n, n), energy units.
    bias : (B, n) complex
        ``h exp(i psi)`` per sample, energy units.
    phi0 : (B, n) float
        Initial phases, radians.
    settings : Settings
        How to integrate.
    heard0 : (B, n) float, optional
        The phases last broadcast, radians; ``phi0`` by default.
    rng : numpy.random.Generator, optional
        Generator of the phase noise (needed only if ``settings.noise > 0``); the noise of
        sample ``b`` is drawn after that of samples ``0..b-1``.
    """
    s = settings
    phi, heard, bias = initial_state(phi0, heard0, bias, s, rng)
    batch, n = phi.shape
    j = couplings.csr
    csr, integration = Csr(j.indptr, j.indices, j.data), s.integration()
    t, settled, steps = np.zeros(batch), np.zeros(batch, np.bool_), np.zeros(batch, np.int64)
    events, trace = np.zeros((batch, n), np.int64), np.zeros((batch, s.n_bins), np.int64)
    bias_re, bias_im = np.ascontiguousarray(bias.real), np.ascontiguousarray(bias.imag)
    rng = rng if rng is not None else np.random.default_rng(0)
    # noiseless samples run in parallel; noisy ones one after another, so each draws its noise in turn
    for part in [slice(0, batch)] if s.noise == 0 else [slice(b, b + 1) for b in range(batch)]:
        relax_batch(Phases(phi[part], heard[part], bias_re[part], bias_im[part], events[part], trace[part]),
                    Outcome(t[part], settled[part], steps[part]), csr, integration, rng)
    return PhaseState(phi, heard, t, settled, steps, events, trace.sum(axis=0))
