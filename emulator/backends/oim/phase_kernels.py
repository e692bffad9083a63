"""Numba kernels of :func:`emulator.backends.oim.oscillators.relax_phases`: one sample at a time, event-driven.

The couplings are a symmetric sparse matrix in CSR form (:class:`Csr`); row ``i`` lists the
oscillators ``i`` hears. What travels together travels as one named tuple: the couplings
(:class:`Csr`), the integrator's settings (:class:`Integration`), the samples' phases and
inputs (:class:`Phases`), what the neighbours hear (:class:`Heard`) and how a sample ended
(:class:`Outcome`). Every kernel writes into arrays it is given and allocates only per-sample
scratch.

The kernels that run at every step (:func:`rhs`, :func:`integrate`) allocate nothing and are
compiled without numba's reference counting (``_nrt=False``): with it, the atomic increments and
decrements of the counts of the arrays they pass around and unpack took a third of an epoch on
``oim-cmos`` (benchmarks/RESULTS.md, "Reference counting in the per-step kernels").

:func:`relax_batch` spreads the samples over numba's threads (OpenMP). Unless the user has set
``OMP_WAIT_POLICY``, they wait passively between parallel regions: a thread that spins takes the core
another job needs, and on a shared 2-core machine two spinning threads ran slower than one
(benchmarks/RESULTS.md, "Threads under load").
"""
from __future__ import annotations

import math
import os
from typing import NamedTuple

import numba as nb
import numpy as np

from emulator.backends.loops import copy, largest_magnitude, magnitude_key, magnitude_of

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # read when numba first starts its OpenMP threads

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


class Csr(NamedTuple):
    """The couplings ``J`` (n, n) in CSR form: row ``i`` lists the oscillators ``i`` hears.

    Attributes
    ----------
    indptr : (n + 1,) int64
        Row ``i``'s entries are ``indptr[i]:indptr[i + 1]``.
    indices : (nnz,) int64
        Column (the heard oscillator) of each entry.
    data : (nnz,) float64
        ``J_ij`` of each entry, energy units.
    """

    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray


class Integration(NamedTuple):
    """How the kernels integrate: the fields of :class:`~emulator.backends.oim.oscillators.Settings`
    (same names, meanings and units) but its trace's bin count, which the trace's shape gives.    """

    theta: float
    shil: float
    shil_ramp: float
    noise: float
    noise_decay: float
    t_max: float
    settle_tolerance: float
    step_tolerance: float
    max_phase_step: float
    bin_width: float


class Phases(NamedTuple):
    """The samples' phases and inputs, (B, ...) for a batch or one row each for one sample.

    Attributes
    ----------
    phi : (B, n) float64
        Live phases, radians (not wrapped); updated in place.
    heard : (B, n) float64
        Phases last broadcast, radians; updated in place.
    bias_re, bias_im : (B, n) float64
        Real and imaginary parts of the complex biases ``h exp(i psi)``, energy units.
    events : (B, n) int64
        Broadcasts of each oscillator, incremented in place.
    trace : (B, n_bins) int64
        Broadcasts per time bin, incremented in place.
    """

    phi: np.ndarray
    heard: np.ndarray
    bias_re: np.ndarray
    bias_im: np.ndarray
    events: np.ndarray
    trace: np.ndarray


class Heard(NamedTuple):
    """What the neighbours of one sample's ``n`` oscillators hear, kept between broadcasts.

    Attributes
    ----------
    phase : (n,) float64
        Phases last broadcast, radians.
    cos, sin : (n,) float64
        Their cosines and sines.
    field_re, field_im : (n,) float64
        The field ``F = bias + J exp(i phase)`` they make, real and imaginary parts.
    """

    phase: np.ndarray
    cos: np.ndarray
    sin: np.ndarray
    field_re: np.ndarray
    field_im: np.ndarray


class Outcome(NamedTuple):
    """How samples ended: scalars for one sample, (B,) arrays for a batch.

    Attributes
    ----------
    t : float
        Time the sample ran (its settling time if it settled), dimensionless.
    settled : bool
        Whether ``max |dphi/dtau|`` fell below ``settle_tolerance`` before ``t_max``.
    steps : int
        Accepted integrator steps.
    """

    t: float
    settled: bool
    steps: int


@nb.njit(cache=True)
def wrap1(a):
    """An angle mapped to [-pi, pi)."""
    return a - TWO_PI * math.floor((a + math.pi) / TWO_PI)


@nb.njit(cache=True)
def moved_past(d, theta):
    """Whether a phase ``d`` radians (unwrapped) from its heard phase is more than ``theta`` from it on the circle."""
    return abs(d) > theta and abs(wrap1(d)) > theta


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
#: largest offset :func:`rotated_near` covers (truncation error below 6e-17): the lazy thresholds of
#: the classification workloads (0.01 pi rad) are below it, so every oscillator that has not moved
#: past theta is rotated with it
NEAR_MAX = 0.035


@nb.njit(cache=True, fastmath={"contract"})
def rotated(c0, s0, d):
    """``cos(a + d), sin(a + d)`` from ``c0 = cos a``, ``s0 = sin a`` and ``|d| <= ROTATE_MAX``:
    Taylor polynomials of cos d (to d^10) and sin d (to d^11), multiply-adds fused."""
    d2 = d * d
    cd = 1.0 - d2 * 0.5 * (1.0 - d2 * (1.0 / 12.0) * (1.0 - d2 * (1.0 / 30.0) * (1.0 - d2 * (1.0 / 56.0) * (
        1.0 - d2 * (1.0 / 90.0)))))
    sd = d * (1.0 - d2 * (1.0 / 6.0) * (1.0 - d2 * (1.0 / 20.0) * (1.0 - d2 * (1.0 / 42.0) * (
        1.0 - d2 * (1.0 / 72.0) * (1.0 - d2 * (1.0 / 110.0))))))
    return c0 * cd - s0 * sd, s0 * cd + c0 * sd


@nb.njit(cache=True, fastmath={"contract"})
def rotated_near(c0, s0, d):
    """:func:`rotated` for ``|d| <= NEAR_MAX``: cos d to d^6 and sin d to d^7."""
    d2 = d * d
    cd = 1.0 - d2 * 0.5 * (1.0 - d2 * (1.0 / 12.0) * (1.0 - d2 * (1.0 / 30.0)))
    sd = d * (1.0 - d2 * (1.0 / 6.0) * (1.0 - d2 * (1.0 / 20.0) * (1.0 - d2 * (1.0 / 42.0))))
    return c0 * cd - s0 * sd, s0 * cd + c0 * sd


@nb.njit(cache=True)
def heard_field(heard, couplings, bias_re, bias_im):
    """Fill in :class:`Heard` ``heard`` from its ``phase`` (n,): the cos and sin of the heard phases,
    and the field they make, ``F = bias + J exp(i phase)`` (``couplings``, a :class:`Csr`)."""
    phase, hc, hs = heard.phase, heard.cos, heard.sin
    indptr, indices, data = couplings
    n = phase.shape[0]
    for j in range(n):
        hc[j], hs[j] = math.cos(phase[j]), math.sin(phase[j])
    for i in range(n):
        fc, fs = bias_re[i], bias_im[i]
        for k in range(indptr[i], indptr[i + 1]):
            fc += data[k] * hc[indices[k]]
            fs += data[k] * hs[indices[k]]
        heard.field_re[i], heard.field_im[i] = fc, fs


@nb.njit(cache=True, inline="always")
def couple(j, dc, ds, f_re, f_im, indptr, indices, data):
    """Oscillator ``j``'s heard ``exp(i phi_j)`` moved by ``dc + i ds``: its neighbours' fields
    ``f_re + i f_im`` move by ``J (dc + i ds)`` (``J`` symmetric in CSR form: row ``j`` lists who
    hears ``j``). Each field gets one addition, so the order of the rows coupled is the order
    of the additions to every field."""
    a, b = indptr[j], indptr[j + 1]
    if b > a and indices[b - 1] - indices[a] == b - 1 - a:
        # consecutive receivers (a layer): unsigned offsets, which need no wrap-around of negative
        # indices, so the compiler vectorises the loop
        start, stop = np.uint64(a), np.uint64(b)
        offset = np.uint64(indices[a]) - start
        for k in range(start, stop):
            f_re[k + offset] += data[k] * dc
            f_im[k + offset] += data[k] * ds
    else:
        for k in range(a, b):
            f_re[indices[k]] += data[k] * dc
            f_im[indices[k]] += data[k] * ds


@nb.njit(cache=True, _nrt=False)
def rhs(y, heard, theta, shil_t, couplings, out, scratch, moved):
    """``dphi/dtau`` at phases ``y`` (n,) into ``out``; returns how many oscillators moved past ``theta``.

    Neighbours are coupled to the phases they would hear: ``heard.phase_j`` (a :class:`Heard`,
    with its cos, sin and field, :func:`heard_field`), or ``y_j`` where ``y_j`` moved more than
    ``theta`` from it. Only those moved oscillators' couplings are summed (event-driven); the cos
    and sin of y are rotated from the heard phases' (:func:`rotated_near` within
    ``min(theta, NEAR_MAX)``, :func:`rotated` within ``ROTATE_MAX``, the library's functions
    further). ``shil_t`` is the SHIL strength now, ``couplings`` a :class:`Csr`. ``scratch``
    (4, n) receives the field the oscillators feel if any oscillator moved (the heard field plus
    the moved oscillators' couplings, added in the order of their indices), cos y and sin y;
    ``moved`` (n,) int64 receives the indices of the moved oscillators, ascending.
    """
    phase, hc, hs = heard.phase, heard.cos, heard.sin
    indptr, indices, data = couplings
    n = y.shape[0]
    cy, sy = scratch[2], scratch[3]
    reach = min(theta, NEAR_MAX)
    far = 0
    for j in range(n):  # as if no oscillator had moved far (branch-free, so the compiler may vectorise it)
        d = y[j] - phase[j]
        cy[j], sy[j] = rotated_near(hc[j], hs[j], d)
        far += abs(d) > reach
    count = 0
    if far == 0:
        fc, fs = heard.field_re, heard.field_im  # nothing moved: the heard field
    else:
        fc, fs = scratch[0], scratch[1]
        copy(heard.field_re, fc)
        copy(heard.field_im, fs)
        for j in range(n):
            moved[count] = j  # the candidates, ascending, without a branch
            count += abs(y[j] - phase[j]) > reach
        far, count = count, 0
        for m in range(far):
            j = moved[m]
            d = y[j] - phase[j]
            if abs(d) <= ROTATE_MAX:
                cy[j], sy[j] = rotated(hc[j], hs[j], d)
            else:
                cy[j], sy[j] = math.cos(y[j]), math.sin(y[j])
            if moved_past(d, theta):
                couple(j, cy[j] - hc[j], sy[j] - hs[j], fc, fs, indptr, indices, data)
                moved[count] = j  # count <= m: the candidates not read yet stay
                count += 1
    for i in range(n):
        out[i] = -(sy[i] * fc[i] - cy[i] * fs[i]) - shil_t * 2.0 * sy[i] * cy[i]
    return count


@nb.njit(cache=True)
def relax_one(phases, couplings, settings, rng):
    """Integrate one sample in place: ``phases`` a :class:`Phases` of one row each (``trace``
    (n_bins,)), ``couplings`` a :class:`Csr`, ``settings`` an :class:`Integration`; ``rng`` draws
    the phase noise.

    Returns the sample's :class:`Outcome`: the time it ran, whether ``max |dphi/dtau|`` fell
    below ``settle_tolerance``, and the accepted integrator steps.
    """
    n = phases.phi.shape[0]
    stages = np.empty((4, n))
    y, y_new, scratch, moved = np.empty(n), np.empty(n), np.empty((4, n)), np.empty(n, np.int64)
    heard = Heard(phases.heard, np.empty(n), np.empty(n), np.empty(n), np.empty(n))
    heard_field(heard, couplings, phases.bias_re, phases.bias_im)
    return integrate(phases, couplings, settings, rng, heard, stages, y, y_new, scratch, moved)


@nb.njit(cache=True, _nrt=False)
def integrate(phases, couplings, settings, rng, heard, stages, y, y_new, scratch, moved):
    """:func:`relax_one` once its scratch arrays are made: ``heard`` a :class:`Heard` filled in by
    :func:`heard_field`, ``stages`` (4, n), ``y``, ``y_new`` (n,), ``scratch`` (4, n) and ``moved``
    (n,) int64 overwritten."""
    phi, events, trace = phases.phi, phases.events, phases.trace
    theta, shil, shil_ramp = settings.theta, settings.shil, settings.shil_ramp
    noise, noise_decay, t_max = settings.noise, settings.noise_decay, settings.t_max
    settle_tolerance, step_tolerance = settings.settle_tolerance, settings.step_tolerance
    max_phase_step, bin_width = settings.max_phase_step, settings.bin_width
    n = phi.shape[0]
    n_bins = trace.shape[0]
    k1, a2, a3, a4 = stages[0], stages[1], stages[2], stages[3]
    rhs(phi, heard, theta, shil_at(0.0, shil, shil_ramp), couplings, k1, scratch, moved)
    speed = largest_magnitude(k1)
    if speed < settle_tolerance:
        return Outcome(0.0, True, 0)
    if t_max <= 0:
        return Outcome(0.0, False, 0)
    dt = min(max(t_max, 1e-12), max_phase_step / max(speed, 1e-12)) * 0.5
    t, steps = 0.0, 0
    for _ in range(MAX_ITERATIONS):
        d = min(dt, t_max - t, max_phase_step / max(speed, 1e-300))
        for i in range(n):
            y[i] = phi[i] + C2 * d * k1[i]
        rhs(y, heard, theta, shil_at(t + C2 * d, shil, shil_ramp), couplings, a2, scratch, moved)
        for i in range(n):
            y[i] = phi[i] + C3 * d * a2[i]
        rhs(y, heard, theta, shil_at(t + C3 * d, shil, shil_ramp), couplings, a3, scratch, moved)
        for i in range(n):
            y_new[i] = phi[i] + d * (B1 * k1[i] + B2 * a2[i] + B3 * a3[i])
        sent = rhs(y_new, heard, theta, shil_at(t + d, shil, shil_ramp), couplings, a4, scratch, moved)
        err, jump, slope = 0, 0, 0  # the largest magnitudes, as keys (vectorised, see largest_magnitude)
        for i in range(n):
            err = max(err, magnitude_key(d * (E1 * k1[i] + E2 * a2[i] + E3 * a3[i] + E4 * a4[i])))
            jump = max(jump, magnitude_key(y_new[i] - phi[i]))
            slope = max(slope, magnitude_key(a4[i] - k1[i]))
        err, jump, slope = magnitude_of(err) / step_tolerance, magnitude_of(jump), magnitude_of(slope)
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
        # commit the broadcasts: the last stage, at y_new, found the oscillators that moved and
        # summed their couplings, so its field and cos and sin are the new heard ones (a heard
        # phase's cos and sin are rotated from the previous ones, each rotation within 2e-16;
        # every relaxation starts from the library's, heard_field)
        for m in range(sent):
            j = moved[m]
            heard.phase[j], heard.cos[j], heard.sin[j] = y_new[j], scratch[2, j], scratch[3, j]
            events[j] += 1
        if sent:
            copy(scratch[0], heard.field_re)
            copy(scratch[1], heard.field_im)
        amplitude = noise_at(t, noise, noise_decay)
        t += d
        steps += 1
        if n_bins:
            trace[min(int(t / bin_width), n_bins - 1)] += sent
        if amplitude > 0:
            scale = amplitude * math.sqrt(d)
            for i in range(n):
                phi[i] = y_new[i] + scale * rng.standard_normal()
            rhs(phi, heard, theta, shil_at(t, shil, shil_ramp), couplings, k1, scratch, moved)
        else:
            copy(y_new, phi)
            k1, a4 = a4, k1  # first same as last: the broadcasts just committed are what a4 saw
        speed = largest_magnitude(k1)
        if speed < settle_tolerance:
            return Outcome(t, True, steps)
        if t >= t_max:
            return Outcome(t, False, steps)
    return Outcome(t, False, steps)


@nb.njit(cache=True, parallel=True)
def relax_batch(phases, outcome, couplings, settings, rng):
    """:func:`relax_one` on every row of ``phases`` (a :class:`Phases` of (B, ...) arrays), the samples
    spread over numba's threads; ``outcome`` (an :class:`Outcome` of (B,) arrays) is filled. The
    samples share ``rng``: with phase noise, give one sample per call."""
    # a parallel loop loses what it writes through a named tuple's arrays (numba issue 5872):
    # take the arrays out of the tuples first
    phi, heard, bias_re, bias_im = phases.phi, phases.heard, phases.bias_re, phases.bias_im
    events, trace = phases.events, phases.trace
    t, settled, steps = outcome.t, outcome.settled, outcome.steps
    for b in nb.prange(phi.shape[0]):
        t[b], settled[b], steps[b] = relax_one(
            Phases(phi[b], heard[b], bias_re[b], bias_im[b], events[b], trace[b]), couplings, settings, rng)
