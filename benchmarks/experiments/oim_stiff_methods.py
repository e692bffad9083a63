"""Would a stiff integrator settle the oscillators sooner? Bogacki-Shampine against two that are not stability-bound.

After its first few time units, a free phase of a trained Fashion-MNIST network on ``oim-cmos``
takes steps the explicit Bogacki-Shampine 3(2) integrator's stability allows (about 2.5 over the
largest field magnitude, the strongest-driven hidden oscillators'), not what the tolerance asks.
This experiment integrates the same relaxations (the chip's tolerances, ``theta = 0``: the
continuous flow, so that every method integrates the same equations) with

- the shipped method, the numpy reference of the kernels (Bogacki-Shampine 3(2), same controller);
- RKC2, the second-order Runge-Kutta-Chebyshev method (Sommeijer, Shampine & Verwer 1998), whose
  stability interval grows as the square of its stage count (chosen per step from a Gershgorin
  bound of the spectral radius, ``max |F_i| + sum_j |J_ij|``);
- ROS34PW2, the third-order L-stable Rosenbrock-W method of Rang & Angermann (2005), with the
  diagonal of the Jacobian (``-Re(exp(-i phi) F)``, its damping part) as the W matrix;

and prints per sample: right-hand-side evaluations, settling time and the phase error there
against ``solve_ivp`` (DOP853, tolerances 1e-10). The step tolerance of the two alternatives is
``--tolerance`` (default: the chip's), the same largest phase step limits every method.

    python -m benchmarks.experiments.oim_stiff_methods --run RUN_DIR [--samples 3] [--tolerance 1e-4]
"""
from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import numpy as np
from scipy.integrate import solve_ivp

from benchmarks.checks.oim_integration_error import problem
from emulator.backends.oim.oscillators import Couplings, gradient
from emulator.backends.oim.oscillators_numpy import relax_phases_numpy

#: ROS34PW2 (Rang & Angermann 2005): alpha, gamma (off-diagonal), diagonal gamma, b, embedded b
ROS_A = np.array([[0, 0, 0, 0], [0.87173304301691801, 0, 0, 0],
                  [0.84457060015369423, -0.11299064236484185, 0, 0], [0, 0, 1.0, 0]])
ROS_G = np.array([[0, 0, 0, 0], [-0.87173304301691801, 0, 0, 0],
                  [-0.90338057013044082, 0.054180672388095326, 0, 0],
                  [0.24212380706095346, -1.2232505839045147, 0.54526025533510214, 0]])
ROS_GAMMA = 0.43586652150845900
ROS_B = np.array([0.24212380706095346, -1.2232505839045147, 1.5452602553351020, 0.43586652150845900])
ROS_BHAT = np.array([0.37810903145819369, -0.096042292212423178, 0.5, 0.21793326075422950])


class Counted:
    """Couplings that count their products (one per right-hand side evaluation of the reference)."""

    def __init__(self, couplings: Couplings):
        self.couplings, self.calls = couplings, 0

    def apply(self, v):
        self.calls += 1
        return self.couplings.apply(v)


def flow(couplings, bias):
    """``f(phi)`` and the diagonal of its Jacobian for one sample, with an evaluation counter."""
    count = [0]

    def f(phi):
        count[0] += 1
        cs = couplings.apply(np.stack([np.cos(phi), np.sin(phi)]))
        field = bias + cs[0] + 1j * cs[1]
        z = np.exp(1j * phi)
        return -np.imag(z * np.conj(field)), -np.real(z * np.conj(field))
    return f, count


def rkc_coefficients(s: int, eps: float = 2.0 / 13.0):
    """RKC2 recursion coefficients (mu, nu, mu~, gamma~) for ``s`` stages, and the stability bound."""
    w0 = 1.0 + eps / s ** 2
    t, dt, ddt = np.zeros(s + 1), np.zeros(s + 1), np.zeros(s + 1)
    t[0], t[1], dt[1] = 1.0, w0, 1.0
    for j in range(2, s + 1):
        t[j] = 2 * w0 * t[j - 1] - t[j - 2]
        dt[j] = 2 * t[j - 1] + 2 * w0 * dt[j - 1] - dt[j - 2]
        ddt[j] = 4 * dt[j - 1] + 2 * w0 * ddt[j - 1] - ddt[j - 2]
    w1 = dt[s] / ddt[s]
    b = np.zeros(s + 1)
    b[2:] = ddt[2:] / dt[2:] ** 2
    b[:2] = b[2]
    mu, nu, mu_t, gamma_t = (np.zeros(s + 1) for _ in range(4))
    mu_t[1] = b[1] * w1
    for j in range(2, s + 1):
        mu[j], nu[j] = 2 * w0 * b[j] / b[j - 1], -b[j] / b[j - 2]
        mu_t[j] = 2 * w1 * b[j] / b[j - 1]
        gamma_t[j] = -(1 - b[j - 1] * t[j - 1]) * mu_t[j]
    return mu, nu, mu_t, gamma_t


def rkc_step(f, phi, f0, h, rho):
    """One RKC2 step: the new phases, f there, and the error estimate (Sommeijer et al.)."""
    s = max(2, 1 + int(np.sqrt(1 + 1.54 * h * rho)))
    mu, nu, mu_t, gamma_t = rkc_coefficients(s)
    before, last = phi, phi + mu_t[1] * h * f0
    for j in range(2, s + 1):
        before, last = last, ((1 - mu[j] - nu[j]) * phi + mu[j] * last + nu[j] * before
                              + mu_t[j] * h * f(last)[0] + gamma_t[j] * h * f0)
    f1 = f(last)
    return last, f1, (12 * (phi - last) + 6 * h * (f0 + f1[0])) / 15


def ros_step(f, phi, f0, jd, h):
    """One ROS34PW2 step with W = I - gamma h diag(J)^-: the new phases, f there, error estimate."""
    w = 1.0 / (1.0 - ROS_GAMMA * h * np.minimum(jd, 0.0))
    k = []
    for i in range(4):
        fi = f0 if i == 0 else f(phi + sum(ROS_A[i, j] * k[j] for j in range(i)))[0]
        k.append(w * h * (fi + np.minimum(jd, 0.0) * sum(ROS_G[i, j] * k[j] for j in range(i))))
    new = phi + sum(b * ki for b, ki in zip(ROS_B, k))
    return new, f(new), sum((b - bh) * ki for b, bh, ki in zip(ROS_B, ROS_BHAT, k))


def integrate(method: str, couplings, bias, settings, tolerance: float):
    """Relax one sample from phases 0: evaluations, the time it ran, whether it settled, the phases."""
    f, count = flow(couplings, bias)
    rho_rows = np.abs(couplings.to_dense()).sum(axis=1)
    phi = np.zeros(couplings.n)
    f0, jd = f(phi)
    t, h = 0.0, 0.5 * settings.max_phase_step / np.abs(f0).max()
    while t < settings.t_max and np.abs(f0).max() >= settings.settle_tolerance:
        h = min(h, settings.t_max - t, settings.max_phase_step / np.abs(f0).max())
        if method == "RKC2":
            new, (f1, jd1), estimate = rkc_step(f, phi, f0, h, (np.abs(jd) + rho_rows).max())
            order = 2
        else:
            new, (f1, jd1), estimate = ros_step(f, phi, f0, jd, h)
            order = 3
        err = np.abs(estimate).max() / tolerance
        jump = np.abs(new - phi).max() / settings.max_phase_step
        factor = 0.9 * max(err, 1e-10) ** (-1.0 / order)
        if err <= 1.0 and jump <= 1.0 + 1e-9:
            t, phi, f0, jd = t + h, new, f1, jd1
        h *= min(max(min(factor, 0.9 / max(jump, 1e-300)), 0.2), 5.0)
    return count[0], t, np.abs(f0).max() < settings.settle_tolerance, phi


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", type=Path, help="a run of fashion_mnist_snn on oim-cmos (its checkpoint's weights)")
    p.add_argument("--samples", type=int, default=3)
    p.add_argument("--tolerance", type=float, help="step tolerance of RKC2 and ROS34PW2 (default: the chip's)")
    args = p.parse_args()
    program, bias = problem(args.run, args.samples)
    settings = replace(program.settings, t_max=75.0, n_bins=0)
    tolerance = args.tolerance or settings.step_tolerance
    print("| sample | method | rhs evaluations | settled at | error there, rad |\n|---:|---|---:|---:|---:|")
    for b in range(args.samples):
        counted = Counted(program.couplings)
        state = relax_phases_numpy(counted, bias[b:b + 1], np.zeros((1, program.n)), settings)
        runs = {"Bogacki-Shampine 3(2) (shipped)": (counted.calls, state.t[0], state.settled[0], state.phi[0])}
        for method in ("RKC2", "ROS34PW2"):
            runs[f"{method}, tolerance {tolerance:g}"] = integrate(method, program.couplings, bias[b], settings, tolerance)
        ends = sorted({run[1] for run in runs.values()})
        exact = solve_ivp(lambda t, phi: -gradient(program.couplings, bias[b:b + 1], 0.0, phi[None])[0],
                          (0.0, ends[-1]), np.zeros(program.n), t_eval=ends, method="DOP853", rtol=1e-10, atol=1e-10)
        for name, (calls, t, settled, phi) in runs.items():
            error = np.abs(phi - exact.y[:, ends.index(t)]).max()
            print(f"| {b} | {name} | {calls} | {t:.2f}{'' if settled else ' (not settled)'} | {error:.1e} |", flush=True)


if __name__ == "__main__":
    main()
