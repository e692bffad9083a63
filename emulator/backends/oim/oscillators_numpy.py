"""The oscillator integrator of :mod:`emulator.backends.oim.oscillators` on whole batches in plain numpy.

The reference the numba kernels equal (tests compare them), and the speed baseline of
``benchmarks/speed/bench_oim.py``. Same method, same step control, same lazy coupling.
"""
from __future__ import annotations

import numpy as np

from emulator.backends.oim.oscillators import Couplings, PhaseState, Settings, initial_state, wrap
from emulator.backends.oim.phase_kernels import B1, B2, B3, C2, C3, E1, E2, E3, E4, MAX_ITERATIONS, STABLE


def relax_phases_numpy(couplings: Couplings, bias: np.ndarray, phi0: np.ndarray, settings: Settings, *,
                 heard0: np.ndarray | None = None, rng: np.random.Generator | None = None,
                 observer=None) -> PhaseState:
    """Integrate the lazily coupled gradient flow of ``B`` independent samples, all at once in numpy.

    The reference :func:`~emulator.backends.oim.oscillators.relax_phases` equals without noise (its
    noise is drawn in another order).

    Parameters
    ----------
    couplings, bias, phi0, settings, heard0
        As for :func:`~emulator.backends.oim.oscillators.relax_phases`.
    rng : numpy.random.Generator, optional
        Generator of the phase noise (needed only if ``settings.noise > 0``).
    observer : callable, optional
        ``observer(index, t, phi)``, called after every accepted step with the samples that took
        it (``index`` (b,) int, ``t`` (b,), ``phi`` (b, n) radians), e.g. to record the energy.
    """
    s = settings
    phi, heard, bias = initial_state(phi0, heard0, bias, s, rng)
    batch, n = phi.shape

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
        a2 = rhs(tt + C2 * d, y + C2 * dc * a1, idx, h)
        a3 = rhs(tt + C3 * d, y + C3 * dc * a2, idx, h)
        y_new = y + dc * (B1 * a1 + B2 * a2 + B3 * a3)
        a4 = rhs(tt + d, y_new, idx, h)
        err = np.abs(dc * (E1 * a1 + E2 * a2 + E3 * a3 + E4 * a4)).max(axis=1) / s.step_tolerance
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
            y_acc = y_acc + s.noise_at(tt[accept]) * np.sqrt(d[accept])[:, None] * rng.standard_normal(y_acc.shape)
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
