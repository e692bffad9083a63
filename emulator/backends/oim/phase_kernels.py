"""Numba kernels of :func:`emulator.backends.oim.oscillators.relax_phases`: one sample at a time, event-driven.

The couplings are a symmetric sparse matrix in CSR form (``indptr`` (n+1,), ``indices``
(nnz,), ``data`` (nnz,)); row ``i`` lists the oscillators ``i`` hears. Every kernel writes into
arrays it is given and allocates only per-sample scratch.
"""
from __future__ import annotations

import math

import numba as nb
import numpy as np

#: Bogacki-Shampine 3(2) tableau: stage nodes, the 3rd-order weights, and the error weights
#: (3rd minus embedded 2nd order, the latter using the first-same-as-last stage)
C2, C3 = 0.5, 0.75
B1, B2, B3 = 2.0 / 9.0, 1.0 / 3.0, 4.0 / 9.0
E1, E2, E3, E4 = -5.0 / 72.0, 1.0 / 12.0, 1.0 / 9.0, -1.0 / 8.0
#: largest step times the flow's Lipschitz estimate (Bogacki-Shampine is stable to about 2.5)
STABLE = 1.5
#: hard cap on integrator iterations per sample, so a bad setting cannot hang a run
MAX_ITERATIONS = 1_000_000

TWO_PI = 2.0 * math.pi


@nb.njit(cache=True)
def wrap1(a):
    """An angle mapped to [-pi, pi)."""
    return a - TWO_PI * math.floor((a + math.pi) / TWO_PI)


@nb.njit(cache=True)
def moved_past(d, theta):
    """Whether a phase ``d`` radians (unwrapped) from its heard phase is more than ``theta`` from it on the circle."""
    return abs(d) > theta and abs(wrap1(d)) > theta


@nb.njit(cache=True)
def max_abs(a):
    """``max |a|`` of a 1-D array (0 if empty), without a temporary."""
    m = 0.0
    for v in a:
        m = max(m, abs(v))
    return m


@nb.njit(cache=True)
def shil_at(t, shil, shil_ramp):
    """SHIL strength at time ``t``: ``shil`` reached linearly at ``shil_ramp`` (0: constant)."""
    return shil * min(1.0, t / shil_ramp) if shil_ramp > 0 else shil


@nb.njit(cache=True)
def noise_at(t, noise, noise_decay):
    """Phase-noise amplitude at time ``t``: ``noise`` falling linearly to 0 at ``noise_decay`` (0: constant)."""
    return noise * max(0.0, 1.0 - t / noise_decay) if noise_decay > 0 else noise


#: largest phase offset from the heard phase whose cos and sin are got by rotating the heard
#: phase's (:func:`rotated`, truncation error below 2e-16) instead of calling the trigonometric functions
ROTATE_MAX = 0.25


@nb.njit(cache=True)
def rotated(c0, s0, d):
    """``cos(a + d), sin(a + d)`` from ``c0 = cos a``, ``s0 = sin a`` and ``|d| <= ROTATE_MAX``:
    Taylor polynomials of cos d (to d^10) and sin d (to d^11)."""
    d2 = d * d
    cd = 1.0 - d2 * 0.5 * (1.0 - d2 * (1.0 / 12.0) * (1.0 - d2 * (1.0 / 30.0) * (1.0 - d2 * (1.0 / 56.0) * (
        1.0 - d2 * (1.0 / 90.0)))))
    sd = d * (1.0 - d2 * (1.0 / 6.0) * (1.0 - d2 * (1.0 / 20.0) * (1.0 - d2 * (1.0 / 42.0) * (
        1.0 - d2 * (1.0 / 72.0) * (1.0 - d2 * (1.0 / 110.0))))))
    return c0 * cd - s0 * sd, s0 * cd + c0 * sd


@nb.njit(cache=True)
def heard_field(heard, indptr, indices, data, bias_re, bias_im, hc, hs, fh_re, fh_im):
    """The field the heard phases ``heard`` (n,) make, ``F = bias + J exp(i heard)``, into
    ``fh_re``, ``fh_im`` (n,); the heard phases' cos and sin into ``hc``, ``hs``."""
    n = heard.shape[0]
    for j in range(n):
        hc[j], hs[j] = math.cos(heard[j]), math.sin(heard[j])
    for i in range(n):
        fc, fs = bias_re[i], bias_im[i]
        for k in range(indptr[i], indptr[i + 1]):
            fc += data[k] * hc[indices[k]]
            fs += data[k] * hs[indices[k]]
        fh_re[i], fh_im[i] = fc, fs


@nb.njit(cache=True)
def couple(j, dc, ds, f_re, f_im, indptr, indices, data):
    """Oscillator ``j``'s heard ``exp(i phi_j)`` moved by ``dc + i ds``: its neighbours' fields
    ``f_re + i f_im`` move by ``J (dc + i ds)`` (``J`` symmetric: row ``j`` lists who hears ``j``)."""
    for k in range(indptr[j], indptr[j + 1]):
        f_re[indices[k]] += data[k] * dc
        f_im[indices[k]] += data[k] * ds


@nb.njit(cache=True)
def rhs(y, heard, hc, hs, fh_re, fh_im, theta, shil_t, indptr, indices, data, out, scratch):
    """``dphi/dtau`` at phases ``y`` (n,) into ``out``.

    Neighbours are coupled to the phases they would hear: ``heard_j`` (whose cos and sin are
    ``hc``, ``hs``, and whose field is ``fh_re + i fh_im``, :func:`heard_field`), or ``y_j``
    where ``y_j`` moved more than ``theta`` from it. Only those moved oscillators' couplings are
    summed (event-driven); the cos and sin of phases near the heard ones are :func:`rotated` from those.
    ``scratch`` (4, n) receives the field, cos y and sin y.
    """
    n = y.shape[0]
    fc, fs, cy, sy = scratch[0], scratch[1], scratch[2], scratch[3]
    fc[:] = fh_re
    fs[:] = fh_im
    for j in range(n):  # as if no oscillator had moved far (branch-free, so the compiler may vectorise it)
        cy[j], sy[j] = rotated(hc[j], hs[j], y[j] - heard[j])
    reach = min(theta, ROTATE_MAX)
    for j in range(n):
        if abs(y[j] - heard[j]) > reach:
            cy[j], sy[j] = math.cos(y[j]), math.sin(y[j])
            if moved_past(y[j] - heard[j], theta):
                couple(j, cy[j] - hc[j], sy[j] - hs[j], fc, fs, indptr, indices, data)
    for i in range(n):
        out[i] = -(sy[i] * fc[i] - cy[i] * fs[i]) - shil_t * 2.0 * sy[i] * cy[i]


@nb.njit(cache=True)
def relax_one(phi, heard, events, trace, indptr, indices, data, bias_re, bias_im, theta, shil, shil_ramp,
              noise, noise_decay, t_max, settle_tolerance, step_tolerance, max_phase_step, bin_width, rng):
    """Integrate one sample in place (``phi``, ``heard``, ``events`` (n,), ``trace`` (n_bins,)).

    Returns ``(t, settled, steps)``: the time it ran, whether ``max |dphi/dtau|`` fell below
    ``settle_tolerance``, and the accepted integrator steps.
    """
    n = phi.shape[0]
    n_bins = trace.shape[0]
    k1, a2, a3, a4 = np.empty(n), np.empty(n), np.empty(n), np.empty(n)
    y, y_new, scratch = np.empty(n), np.empty(n), np.empty((4, n))
    hc, hs, fh_re, fh_im = np.empty(n), np.empty(n), np.empty(n), np.empty(n)
    heard_field(heard, indptr, indices, data, bias_re, bias_im, hc, hs, fh_re, fh_im)
    rhs(phi, heard, hc, hs, fh_re, fh_im, theta, shil_at(0.0, shil, shil_ramp), indptr, indices, data, k1, scratch)
    speed = max_abs(k1)
    if speed < settle_tolerance:
        return 0.0, True, 0
    if t_max <= 0:
        return 0.0, False, 0
    dt = min(max(t_max, 1e-12), max_phase_step / max(speed, 1e-12)) * 0.5
    t, steps = 0.0, 0
    for _ in range(MAX_ITERATIONS):
        d = min(dt, t_max - t, max_phase_step / max(max_abs(k1), 1e-300))
        for i in range(n):
            y[i] = phi[i] + C2 * d * k1[i]
        rhs(y, heard, hc, hs, fh_re, fh_im, theta, shil_at(t + C2 * d, shil, shil_ramp), indptr, indices, data,
            a2, scratch)
        for i in range(n):
            y[i] = phi[i] + C3 * d * a2[i]
        rhs(y, heard, hc, hs, fh_re, fh_im, theta, shil_at(t + C3 * d, shil, shil_ramp), indptr, indices, data,
            a3, scratch)
        for i in range(n):
            y_new[i] = phi[i] + d * (B1 * k1[i] + B2 * a2[i] + B3 * a3[i])
        rhs(y_new, heard, hc, hs, fh_re, fh_im, theta, shil_at(t + d, shil, shil_ramp), indptr, indices, data, a4,
            scratch)
        err, jump, slope = 0.0, 0.0, 0.0
        for i in range(n):
            err = max(err, abs(d * (E1 * k1[i] + E2 * a2[i] + E3 * a3[i] + E4 * a4[i])))
            jump = max(jump, abs(y_new[i] - phi[i]))
            slope = max(slope, abs(a4[i] - k1[i]))
        err /= step_tolerance
        # the step also never moves a phase further than max_phase_step
        accept = err <= 1.0 and jump / max_phase_step <= 1.0 + 1e-9
        grow = 0.9 * err ** (-1.0 / 3.0) if err > 0 else 5.0
        factor = min(max(min(grow, 0.9 / max(jump / max_phase_step, 1e-300)), 0.2), 5.0)
        # near an equilibrium the error is small and the step would grow to the edge of the
        # method's stability (|d * lambda| ~ 2.5), where it hovers and the phases jitter at the
        # tolerance: keep it inside, from a Lipschitz estimate of the flow along the step
        dt = min(d * factor, STABLE / max(slope / max(jump, 1e-300), 1e-300))
        if not accept:
            continue
        sent = 0
        for j in range(n):
            if moved_past(y_new[j] - heard[j], theta):
                c, s = math.cos(y_new[j]), math.sin(y_new[j])
                couple(j, c - hc[j], s - hs[j], fh_re, fh_im, indptr, indices, data)
                heard[j], hc[j], hs[j] = y_new[j], c, s
                events[j] += 1
                sent += 1
        amplitude = noise_at(t, noise, noise_decay)
        t += d
        steps += 1
        if n_bins:
            trace[min(int(t / bin_width), n_bins - 1)] += sent
        if amplitude > 0:
            scale = amplitude * math.sqrt(d)
            for i in range(n):
                phi[i] = y_new[i] + scale * rng.standard_normal()
            rhs(phi, heard, hc, hs, fh_re, fh_im, theta, shil_at(t, shil, shil_ramp), indptr, indices, data,
                k1, scratch)
        else:
            phi[:] = y_new
            k1[:] = a4  # first same as last: the broadcasts just committed are what a4 saw
        if max_abs(k1) < settle_tolerance:
            return t, True, steps
        if t >= t_max:
            return t, False, steps
    return t, False, steps


@nb.njit(cache=True, parallel=True)
def relax_batch(phi, heard, events, trace, t, settled, steps, indptr, indices, data, bias_re, bias_im, theta,
                shil, shil_ramp, noise, noise_decay, t_max, settle_tolerance, step_tolerance, max_phase_step,
                bin_width, rng):
    """:func:`relax_one` on every row of ``phi``, ``heard``, ``events``, ``bias_re``, ``bias_im``,
    ``trace`` (B, ...), the samples spread over numba's threads; ``t``, ``settled``, ``steps`` (B,)
    are filled. The samples share ``rng``: with phase noise, give one sample per call."""
    for b in nb.prange(phi.shape[0]):
        t[b], settled[b], steps[b] = relax_one(
            phi[b], heard[b], events[b], trace[b], indptr, indices, data, bias_re[b], bias_im[b], theta, shil,
            shil_ramp, noise, noise_decay, t_max, settle_tolerance, step_tolerance, max_phase_step, bin_width, rng)
