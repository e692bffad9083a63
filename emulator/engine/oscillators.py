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
stability region (so that, near an equilibrium, the phases converge instead of jittering). A sample ends when ``max_i |dphi_i/dtau|``
falls below ``settle_tolerance`` (it *settled*) or at ``t_max``.

Everything here is a pure function of its arguments (the noise takes a seeded generator).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Bogacki-Shampine 3(2) tableau: stage nodes, the 3rd-order weights, and the error weights
#: (3rd minus embedded 2nd order, the latter using the first-same-as-last stage)
_C2, _C3 = 0.5, 0.75
_B = (2.0 / 9.0, 1.0 / 3.0, 4.0 / 9.0)
_E = (-5.0 / 72.0, 1.0 / 12.0, 1.0 / 9.0, -1.0 / 8.0)
#: largest step times the flow's Lipschitz estimate (Bogacki-Shampine is stable to about 2.5)
STABLE = 1.5
#: hard cap on integrator iterations per relaxation, so a bad setting cannot hang a run
MAX_ITERATIONS = 1_000_000


@dataclass(frozen=True)
class Couplings:
    """A symmetric coupling matrix ``J`` (n, n) stored as dense blocks.

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
        return np.count_nonzero(self.to_dense(), axis=0).astype(np.int64)


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

    theta : lazy threshold, radians (0: continuous coupling).
    shil : SHIL strength S reached at ``shil_ramp`` (linear ramp from 0; 0 = constant S).
    noise : phase-noise amplitude, radians per sqrt(time unit) (0: noiseless).
    t_max : time limit. settle_tolerance : max |dphi/dtau| at which a sample has settled.
    step_tolerance : largest local error of a phase per step, radians.
    max_phase_step : largest change of a phase in one step, radians.
    bin_width, n_bins : the broadcast trace's time bins.
    """

    theta: float = 0.0
    shil: float = 0.0
    shil_ramp: float = 0.0
    noise: float = 0.0
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


@dataclass(frozen=True)
class PhaseState:
    """Outcome of :func:`relax_phases` for ``B`` samples of ``n`` oscillators.

    phi, heard : (B, n) live phases and the phases last broadcast (radians, not wrapped).
    t : (B,) time each sample ran (its settling time if it settled), dimensionless.
    settled : (B,) True where ``max |dphi/dtau| < settle_tolerance`` was reached before ``t_max``.
    steps : (B,) accepted integrator steps. events : (B, n) broadcasts of each oscillator.
    trace : (n_bins,) broadcasts per time bin, summed over the batch.
    """

    phi: np.ndarray
    heard: np.ndarray
    t: np.ndarray
    settled: np.ndarray
    steps: np.ndarray
    events: np.ndarray
    trace: np.ndarray


def relax_phases(couplings: Couplings, bias: np.ndarray, phi0: np.ndarray, settings: Settings, *,
                 heard0: np.ndarray | None = None, rng: np.random.Generator | None = None,
                 observer=None) -> PhaseState:
    """Integrate the lazily coupled gradient flow of ``B`` independent samples.

    Parameters
    ----------
    couplings : the symmetric J (n, n).
    bias : (B, n) complex, ``h exp(i psi)`` per sample.
    phi0 : (B, n) initial phases; ``heard0`` (B, n) the phases last broadcast (default ``phi0``).
    rng : generator of the phase noise (needed only if ``settings.noise > 0``).
    observer : optional ``observer(index, t, phi)`` called after every accepted step with the
        samples that took it (index (b,), t (b,), phi (b, n)), e.g. to record the energy.
    """
    s = settings
    phi = np.array(phi0, np.float64)
    heard = phi.copy() if heard0 is None else np.array(heard0, np.float64)
    bias = np.asarray(bias, np.complex128)
    batch, n = phi.shape
    if s.noise > 0 and rng is None:
        raise ValueError("phase noise needs a random generator (rng)")

    def rhs(t, y, h_idx, heard_at):
        """dphi/dtau at phases ``y`` with the broadcasts they would trigger from ``heard_at``."""
        moved = np.abs(wrap(y - heard_at)) > s.theta
        heard_now = np.where(moved, y, heard_at)
        cs = couplings.apply(np.stack([np.cos(heard_now), np.sin(heard_now)]))
        fc, fs = bias[h_idx].real + cs[0], bias[h_idx].imag + cs[1]
        return -(np.sin(y) * fc - np.cos(y) * fs) - s.shil_at(t) * np.sin(2.0 * y)

    t = np.zeros(batch)
    all_idx = np.arange(batch)
    k1 = rhs(t, phi, all_idx, heard)
    speed = np.abs(k1).max(axis=1, initial=0.0)
    settled = speed < s.settle_tolerance
    running = ~settled & (s.t_max > 0)
    dt = np.minimum(np.maximum(s.t_max, 1e-12), s.max_phase_step / np.maximum(speed, 1e-12)) * 0.5
    steps = np.zeros(batch, np.int64)
    events = np.zeros((batch, n), np.int64)
    trace = np.zeros(s.n_bins, np.int64)

    for _ in range(MAX_ITERATIONS):
        idx = np.flatnonzero(running)
        if idx.size == 0:
            break
        y, h, tt, a1 = phi[idx], heard[idx], t[idx], k1[idx]
        d = np.minimum(dt[idx], s.t_max - tt)
        d = np.minimum(d, s.max_phase_step / np.maximum(np.abs(a1).max(axis=1), 1e-300))
        dc = d[:, None]
        a2 = rhs(tt + _C2 * d, y + _C2 * dc * a1, idx, h)
        a3 = rhs(tt + _C3 * d, y + _C3 * dc * a2, idx, h)
        y_new = y + dc * (_B[0] * a1 + _B[1] * a2 + _B[2] * a3)
        a4 = rhs(tt + d, y_new, idx, h)
        err = np.abs(dc * (_E[0] * a1 + _E[1] * a2 + _E[2] * a3 + _E[3] * a4)).max(axis=1) / s.step_tolerance
        # a step that would move a phase further than max_phase_step is redone shorter too
        jump = np.abs(y_new - y).max(axis=1) / s.max_phase_step
        accept = (err <= 1.0) & (jump <= 1.0 + 1e-9)
        with np.errstate(divide="ignore"):
            grow = np.where(err > 0, 0.9 * err ** (-1.0 / 3.0), 5.0)
        dt[idx] = d * np.clip(np.minimum(grow, 0.9 / np.maximum(jump, 1e-300)), 0.2, 5.0)
        # near an equilibrium the error is small and the step would grow to the edge of the
        # method's stability (|d * lambda| ~ 2.5), where it hovers and the phases jitter at the
        # tolerance: keep it inside, from a Lipschitz estimate of the flow along the step
        lipschitz = np.abs(a4 - a1).max(axis=1) / np.maximum(np.abs(y_new - y).max(axis=1), 1e-300)
        dt[idx] = np.minimum(dt[idx], STABLE / np.maximum(lipschitz, 1e-300))

        a = idx[accept]
        if a.size == 0:
            continue
        y_acc, h_acc = y_new[accept], h[accept]
        sent = np.abs(wrap(y_acc - h_acc)) > s.theta
        heard[a] = np.where(sent, y_acc, h_acc)
        events[a] += sent
        t[a] = tt[accept] + d[accept]
        steps[a] += 1
        bins = np.minimum((t[a] / s.bin_width).astype(np.int64), s.n_bins - 1) if s.n_bins else None
        if s.n_bins:
            np.add.at(trace, bins, sent.sum(axis=1))
        if s.noise > 0:
            y_acc = y_acc + s.noise * np.sqrt(d[accept])[:, None] * rng.standard_normal(y_acc.shape)
            phi[a] = y_acc
            k1[a] = rhs(t[a], y_acc, a, heard[a])
        else:
            phi[a] = y_acc
            k1[a] = a4[accept]  # first same as last: the broadcasts just committed are what a4 saw
        if observer is not None:
            observer(a, t[a], phi[a])
        done = np.abs(k1[a]).max(axis=1) < s.settle_tolerance
        settled[a[done]] = True
        running[a[done | (t[a] >= s.t_max)]] = False
    return PhaseState(phi, heard, t, settled, steps, events, trace)
