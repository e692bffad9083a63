"""The oscillator Ising machine back-end: energy descent, equilibria, lazy coupling, exact counts, errors."""
import os
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
import yaml
from hypothesis import given, strategies as st
from scipy.integrate import solve_ivp
from scipy.optimize import minimize

from emulator.backends.oim import OimBackend
from emulator.chip import load_chip
from emulator.energy import account
from emulator.backends.base import Nudge
from emulator.backends.oim import phase_kernels
from emulator.backends.oim.oscillators import Couplings, Settings, energy, gradient, relax_phases, wrap
from emulator.backends.oim.oscillators_numpy import relax_phases_numpy
from emulator.errors import CapacityError, ConfigError
from emulator.network import Network

OIM = "chips/oim-cmos.yaml"


def random_problem(seed, n=6, batch=3):
    """A random symmetric J (zero diagonal) and complex biases h exp(i psi), (batch, n)."""
    rng = np.random.default_rng(seed)
    j = rng.normal(0, 1, (n, n))
    j = np.triu(j, 1) + np.triu(j, 1).T
    bias = rng.uniform(0.2, 1.0, (batch, n)) * np.exp(1j * rng.uniform(-np.pi, np.pi, (batch, n)))
    return Couplings.dense(j), bias, rng.uniform(-np.pi, np.pi, (batch, n))


def chip_with(tmp_path, **parameters):
    spec = yaml.safe_load(open(OIM))
    spec["parameters"].update(parameters)
    path = tmp_path / "chip.yaml"
    path.write_text(yaml.safe_dump(spec))
    return load_chip(path)


# -- the physics ------------------------------------------------------------------------------

def test_gradient_is_the_derivative_of_the_energy():
    couplings, bias, phi = random_problem(0)
    shil = 0.3
    eps = 1e-6
    numeric = np.stack([(energy(couplings, bias, shil, phi + eps * e) - energy(couplings, bias, shil, phi - eps * e))
                        / (2 * eps) for e in np.eye(phi.shape[1])], axis=1)
    assert np.allclose(gradient(couplings, bias, shil, phi), numeric, atol=1e-7)


@pytest.mark.parametrize("seed", range(3))
def test_energy_never_increases_along_a_noiseless_relaxation(seed):
    couplings, bias, phi0 = random_problem(seed)
    settings = Settings(shil=0.3, t_max=300.0, settle_tolerance=1e-6, step_tolerance=1e-5, n_bins=0)
    energies = {b: [energy(couplings, bias[b:b + 1], 0.3, phi0[b:b + 1])[0]] for b in range(3)}

    def record(index, t, phi):
        for b, e in zip(index, energy(couplings, bias[index], 0.3, phi)):
            energies[b].append(e)

    state = relax_phases_numpy(couplings, bias, phi0, settings, observer=record)
    assert state.settled.all()
    for b, e in energies.items():
        rises = np.diff(e)
        assert rises.max() <= 1e-9, f"sample {b}: the energy rose by {rises.max():.2e}"
        assert e[-1] < e[0]


@pytest.mark.parametrize("seed", range(4))
def test_equilibria_are_minima_of_the_energy(seed):
    """Every relaxed state is a local minimum (a minimiser started there does not move or gain),
    and the best of many relaxations is the best of as many direct minimisations."""
    couplings, bias, _ = random_problem(seed, n=5, batch=1)
    rng = np.random.default_rng(seed + 100)
    starts = rng.uniform(-np.pi, np.pi, (40, 5))
    bias40 = np.repeat(bias, 40, axis=0)
    state = relax_phases(couplings, bias40, starts, Settings(t_max=500.0, settle_tolerance=1e-7,
                                                             step_tolerance=1e-6, n_bins=0))
    assert state.settled.all()

    def f(phi):
        return energy(couplings, bias, 0.0, phi[None])[0], gradient(couplings, bias, 0.0, phi[None])[0]

    relaxed = energy(couplings, bias40, 0.0, state.phi)
    direct = []
    for phi, e in zip(state.phi, relaxed):
        res = minimize(f, phi, jac=True, method="BFGS", options={"gtol": 1e-10})
        assert res.fun >= e - 1e-8
        assert np.abs(wrap(res.x - phi)).max() < 1e-3
    for start in starts:
        direct.append(minimize(f, start, jac=True, method="BFGS", options={"gtol": 1e-10}).fun)
    assert relaxed.min() == pytest.approx(min(direct), abs=1e-7)


def non_lazy_flow(couplings, bias, shil):
    def rhs(t, phi):
        return -gradient(couplings, bias[None], shil, phi[None])[0]
    return rhs


@pytest.mark.parametrize("theta", [0.0, 1e-3])
def test_lazy_coupling_with_theta_zero_is_the_continuous_dynamics(theta):
    """theta = 0 follows the non-lazy gradient flow (checked against an independent solver at
    every accepted step); a small theta stays within O(theta) of it."""
    couplings, bias, phi0 = random_problem(7, batch=1)
    settings = Settings(theta=theta, shil=0.2, t_max=8.0, step_tolerance=1e-7, settle_tolerance=1e-9, n_bins=0)
    times, phases = [], []
    state = relax_phases_numpy(couplings, bias, phi0, settings,
                               observer=lambda i, t, phi: (times.append(t[0]), phases.append(phi[0].copy())))
    exact = solve_ivp(non_lazy_flow(couplings, bias[0], 0.2), (0, 8.0), phi0[0], t_eval=times,
                      rtol=1e-11, atol=1e-11, method="DOP853")
    error = np.abs(np.array(phases) - exact.y.T).max()
    if theta == 0:
        assert error < 1e-5
        assert state.events.sum() == (np.abs(np.diff(np.vstack([phi0, phases]), axis=0)) > 0).sum()
    else:
        assert 1e-6 < error < 20 * theta


def layered_problem(seed, sizes=(25, 15)):
    """Two layers coupled by a random block ``W`` (as the back-end maps a network: every row of J
    lists consecutive oscillators), complex biases and phases, (1, n)."""
    rng = np.random.default_rng(seed)
    n = sum(sizes)
    w = rng.normal(0, 1, (sizes[1], sizes[0]))
    lower, upper = slice(0, sizes[0]), slice(sizes[0], n)
    couplings = Couplings(n, ((upper, lower, w), (lower, upper, np.ascontiguousarray(w.T))))
    bias = rng.uniform(0.2, 1.0, (1, n)) * np.exp(1j * rng.uniform(-np.pi, np.pi, (1, n)))
    return couplings, bias, rng.uniform(-np.pi, np.pi, (1, n))


def kernel_rhs(couplings, bias, phi, heard, theta, shil):
    """The kernel's dphi/dtau at phases ``phi`` (n,) with ``heard`` (n,) the phases last broadcast,
    and the indices of the oscillators it found moved."""
    j, n = couplings.csr, phi.shape[0]
    csr = phase_kernels.Csr(j.indptr, j.indices, j.data)
    out, scratch, moved = np.empty(n), np.empty((4, n)), np.empty(n, np.int64)
    heard = phase_kernels.Heard(heard, np.empty(n), np.empty(n), np.empty(n), np.empty(n))
    phase_kernels.heard_field(heard, csr, bias.real.copy(), bias.imag.copy())
    count = phase_kernels.rhs(phi, heard, theta, shil, csr, out, scratch, moved)
    return out, moved[:count]


def test_the_kernel_right_hand_side_with_theta_zero_is_minus_the_gradient():
    couplings, bias, phi = random_problem(4, batch=1)
    heard = phi[0] + np.random.default_rng(0).uniform(-1, 1, phi.shape[1])  # ignored when theta = 0
    out, _ = kernel_rhs(couplings, bias[0], phi[0], heard, 0.0, 0.3)
    assert np.allclose(out, -gradient(couplings, bias, 0.3, phi)[0], rtol=0, atol=1e-13)


@pytest.mark.parametrize("problem", [lambda: random_problem(5, n=40, batch=1), lambda: layered_problem(5)],
                         ids=["all-to-all", "layered"])
@pytest.mark.parametrize("theta", [0.1, 0.3])
def test_the_event_driven_right_hand_side_couples_to_what_is_heard(theta, problem):
    """Neighbours hear ``phi_j`` where it moved more than theta from ``heard_j`` and ``heard_j``
    elsewhere; the phases are offset by up to 0.5 rad so that moved oscillators, rotated ones
    (offset up to ROTATE_MAX) and unmoved ones further off (theta 0.3) all occur. Receivers
    scattered (all-to-all) and consecutive (layered) are coupled alike."""
    couplings, bias, phi = problem()
    offset = np.random.default_rng(1).uniform(-0.5, 0.5, 40)
    heard = phi[0] - offset
    moved = np.abs(offset) > theta
    assert moved.any() and (~moved).any()
    assert theta < phase_kernels.ROTATE_MAX or (np.abs(offset[~moved]) > phase_kernels.ROTATE_MAX).any()
    view = np.where(moved, phi[0], heard)
    f = bias[0] + couplings.to_dense() @ np.exp(1j * view)
    expected = -np.imag(np.exp(1j * phi[0]) * np.conj(f)) - 0.3 * np.sin(2 * phi[0])
    out, found = kernel_rhs(couplings, bias[0], phi[0], heard, theta, 0.3)
    assert np.allclose(out, expected, rtol=0, atol=1e-13)
    assert found.tolist() == np.flatnonzero(moved).tolist()


@pytest.mark.parametrize("rotate, reach", [(phase_kernels.rotated, phase_kernels.ROTATE_MAX),
                                           (phase_kernels.rotated_near, phase_kernels.NEAR_MAX)],
                         ids=["rotated", "rotated_near"])
@given(a=st.floats(-100, 100), fraction=st.floats(-1.0, 1.0))
def test_rotating_a_heard_phase_gives_cos_and_sin(rotate, reach, a, fraction):
    """Against the angle-sum identity with library cos and sin of d (``a + d`` itself would round),
    over each polynomial's range."""
    d = fraction * reach
    c, s = rotate(np.cos(a), np.sin(a), d)
    assert abs(c - (np.cos(a) * np.cos(d) - np.sin(a) * np.sin(d))) < 1e-15
    assert abs(s - (np.sin(a) * np.cos(d) + np.cos(a) * np.sin(d))) < 1e-15


@pytest.mark.parametrize("theta", [0.0, 0.05])
def test_the_numba_kernel_equals_the_numpy_reference(theta):
    """Same equilibria, settling and (lazy) broadcasts; the two sum the couplings in another
    order, so near an equilibrium, where steps are accepted at the tolerance, their step
    sequences part by a few steps."""
    couplings, bias, phi0 = random_problem(11, n=8, batch=4)
    settings = Settings(theta=theta, shil=0.3, t_max=200.0, settle_tolerance=1e-7, step_tolerance=1e-6,
                        n_bins=20)
    fast = relax_phases(couplings, bias, phi0, settings)
    reference = relax_phases_numpy(couplings, bias, phi0, settings)
    assert fast.settled.all() and reference.settled.all()
    assert np.abs(wrap(fast.phi - reference.phi)).max() < 1e-6
    assert np.abs(fast.steps - reference.steps).max() <= 0.03 * reference.steps.max()
    assert np.abs(fast.t - reference.t).max() < 0.03 * reference.t.max()
    assert np.abs(fast.events.sum(1) - reference.events.sum(1)).max() <= 0.03 * reference.events.sum(1).max()


def test_phase_noise_is_reproducible_and_decays():
    couplings, bias, phi0 = random_problem(2, batch=2)
    settings = Settings(noise=0.5, noise_decay=10.0, t_max=10.0, settle_tolerance=0.0, n_bins=0)
    a, b = (relax_phases(couplings, bias, phi0, settings, rng=np.random.default_rng(5)) for _ in range(2))
    c = relax_phases(couplings, bias, phi0, settings, rng=np.random.default_rng(6))
    assert np.array_equal(a.phi, b.phi) and not np.array_equal(a.phi, c.phi)
    quiet = relax_phases(couplings, bias, phi0, replace(settings, noise=0.0))
    assert np.abs(wrap(a.phi - quiet.phi)).max() > 1e-3
    assert (a.t == 10.0).all() and not a.settled.any()
    assert [phase_kernels.noise_at(t, 0.5, 10.0) for t in (0.0, 5.0, 10.0, 12.0)] == [0.5, 0.25, 0.0, 0.0]
    assert [phase_kernels.shil_at(t, 2.0, 4.0) for t in (0.0, 1.0, 4.0, 9.0)] == [0.0, 0.5, 2.0, 2.0]


def test_theta_zero_on_the_backend_equals_the_continuous_flow_of_the_layered_network():
    rng = np.random.default_rng(3)
    net = Network((rng.normal(0, 0.5, (4, 3)), rng.normal(0, 0.5, (2, 4))),
                  (rng.normal(0, 0.3, 4), rng.normal(0, 0.3, 2)), theta=0.0)
    chip = load_chip(OIM)
    backend = OimBackend()
    program = backend.compile(net, chip)
    program = replace(program, settings=replace(program.settings, step_tolerance=1e-8))
    x = rng.random((1, 3))
    eq, _ = backend.relax(program, x, max_steps=4)  # 4 x 2.5 = 10 time units
    j = np.zeros((6, 6))
    j[4:, :4] = net.weights[1]
    j[:4, 4:] = net.weights[1].T
    # inputs clamped at phase x * pi/2 (the chip's input_phase_scale)
    h = np.concatenate([net.weights[0] @ np.exp(1j * np.pi / 2 * x[0]) + net.biases[0], net.biases[1]])
    exact = solve_ivp(non_lazy_flow(Couplings.dense(j), h, 0.0), (0, eq.settle_time[0]),
                      np.zeros(6), rtol=1e-11, atol=1e-11, method="DOP853")
    assert np.abs(eq.phases[0] - exact.y[:, -1]).max() < 1e-5
    assert np.allclose(eq.output, np.cos(exact.y[4:, -1]), atol=1e-5)


# -- the back-end -------------------------------------------------------------------------------

def tiny():
    """Input oscillator clamped at pi/2 (a pixel of 1) -- J = 2 -- oscillator A -- J = 0.1 --
    oscillator B (h = 1 at psi = 0); theta 0.4 rad."""
    return Network((np.array([[2.0]]), np.array([[0.1]])), (np.zeros(1), np.ones(1)), theta=0.4 / np.pi)


def test_counters_of_a_tiny_network_by_hand(tmp_path):
    """Both start at phase 0. A travels to ~pi/2 (1.52 rad) in steps of at most 0.1 rad: with
    theta = 0.4 it broadcasts 3 times (after 0.4-0.5, 0.8-1.0 and 1.2-1.5 rad), never a 4th.
    B, pulled by 0.1 e^(i phi_A), moves by at most arctan(0.1) = 0.1 rad: it never broadcasts.
    Each broadcast reaches the one other oscillator; the clamped input broadcasts once, to A."""
    chip = chip_with(tmp_path, input_phase_scale=float(np.pi / 2))
    backend = OimBackend()
    program = backend.compile(tiny(), chip)
    assert program.programming == {"weight_writes": 4}  # input weight, 2 biases, 1 coupling
    x = np.ones((2, 1))  # two identical samples: every count doubles
    eq, c = backend.relax(program, x, max_steps=400)
    assert eq.quiescent.all()
    # lazy: each settles in the field of the other's last broadcast, not of its live phase
    heard_a, heard_b = eq.heard_phases[0]
    assert heard_b == 0.0 and 1.2 <= heard_a <= 1.5
    assert eq.phases[0, 1] == pytest.approx(np.angle(1.0 + 0.1 * np.exp(1j * heard_a)), abs=2e-3)
    assert eq.phases[0, 0] == pytest.approx(np.angle(2.0j + 0.1), abs=2e-3)
    assert eq.settle_time[0] == eq.settle_time[1]
    assert c["coupling_events"] == 2 * (1 + 3 + 0)
    assert c["coupling_ops"] == 2 * (1 * 1 + 3 * 1)
    assert c["phase_readouts"] == 2 * 2
    seconds = eq.settle_time / 2e8  # the chip's coupling rate
    assert c["settle_s"] == pytest.approx(seconds.sum())
    assert c["oscillator_seconds"] == pytest.approx(3 * seconds.sum())  # A, B and the clamped input
    # A alone in its field |F| = 2, pi/2 away, slows below tol after arccosh(|F| / tol) / |F| = 4.1
    # time units; B then still follows A's last broadcast (a shift of ~0.03 rad in a field ~1,
    # ln(0.03 / tol) ~ 3.4 more at most)
    assert np.arccosh(2 / 1e-3) / 2 * 0.95 < eq.settle_time[0] < np.arccosh(2 / 1e-3) / 2 + 3.4
    assert eq.trace.sum() == 2 * 3  # broadcasts of A and B only (the clamped input's is not traced)
    assert (eq.steps == np.ceil(eq.settle_time / 2.5)).all()  # in the workload's steps of 2.5 time units

    nudged, c2 = backend.relax(program, x, max_steps=400, nudge=Nudge(0.5, np.ones((2, 1))), init=eq)
    assert c2["coupling_events"] == 2 * 1 and c2["coupling_ops"] == 2 * 1  # the nudge's injection only
    assert c2["phase_readouts"] == 4

    e = account(c, chip, OimBackend(), 2, phase="inference")
    assert e["breakdown_j"]["oscillator_seconds"] == pytest.approx(c["oscillator_seconds"] * 21.3e-6)
    assert e["emulated_s"] == pytest.approx(c["settle_s"] + 4 * 0.03125e-9)


def test_inputs_are_oscillators_clamped_at_phase_x_times_the_scale():
    """A hidden oscillator coupled (J = 1) to one input and to nothing else settles at the
    input's clamped phase x * pi/2: a blank pixel drives it too, in phase with the biases."""
    net = Network((np.ones((1, 1)), np.zeros((1, 1))), (np.zeros(1), np.zeros(1)), theta=0.0)
    backend = OimBackend()
    program = backend.compile(net, load_chip(OIM))
    x = np.array([[0.0], [0.5], [1.0]])
    eq, c = backend.relax(program, x, max_steps=400)
    assert np.allclose(eq.phases[:, 0], [0.0, np.pi / 4, np.pi / 2], atol=2e-3)
    assert c["coupling_events"] >= 3  # every input oscillator broadcasts its phase, blank or not


def test_reprogramming_counts_only_changed_cells():
    chip = load_chip(OIM)
    backend = OimBackend()
    first = backend.compile(tiny(), chip)
    net = tiny()
    changed = net.with_parameters((net.weights[0], np.array([[0.2]])), net.biases)
    assert backend.compile(changed, chip, previous=first).programming == {"weight_writes": 1}


def test_contrastive_update_is_minus_the_energy_derivative():
    rng = np.random.default_rng(5)
    net = Network((rng.normal(0, 1, (3, 2)), rng.normal(0, 1, (2, 3))), (rng.normal(0, 1, 3), rng.normal(0, 1, 2)))
    backend = OimBackend()
    program = backend.compile(net, load_chip(OIM))
    x = rng.random((4, 2))
    a, _ = backend.relax(program, x, max_steps=3)
    b, _ = backend.relax(program, x, max_steps=40)
    dw, db = backend.contrastive_update(a, b, 1.0)

    def minus_de(eq):  # -dE/dtheta from the phases, one sample at a time
        pa, ph = eq.phases[:, :3], eq.phases[:, 3:]
        w0 = np.cos(pa[:, :, None] - np.pi / 2 * x[:, None, :]).mean(0)  # inputs clamped at x * pi/2
        w1 = np.mean([np.cos(ph[s][:, None] - pa[s][None, :]) for s in range(4)], axis=0)
        return (w0, w1), (np.cos(pa).mean(0), np.cos(ph).mean(0))

    (wa0, wa1), (ba0, ba1) = minus_de(a)
    (wb0, wb1), (bb0, bb1) = minus_de(b)
    assert np.allclose(dw[0], wa0 - wb0) and np.allclose(dw[1], wa1 - wb1)
    assert np.allclose(db[0], ba0 - bb0) and np.allclose(db[1], ba1 - bb1)


def test_nudge_lowers_the_cost_and_the_opposite_nudge_raises_it():
    rng = np.random.default_rng(1)
    net = Network((rng.normal(0, 0.3, (8, 4)), rng.normal(0, 0.3, (3, 8))), (np.zeros(8), np.zeros(3)))
    backend = OimBackend()
    program = backend.compile(net, load_chip(OIM))
    x = rng.random((5, 4))
    y = np.eye(3)[rng.integers(0, 3, 5)]
    free, _ = backend.relax(program, x, max_steps=1000)
    plus, _ = backend.relax(program, x, max_steps=1000, nudge=Nudge(0.1, y), init=free)
    minus, _ = backend.relax(program, x, max_steps=1000, nudge=Nudge(-0.1, y), init=free)
    assert free.quiescent.all() and plus.quiescent.all() and minus.quiescent.all()
    cost = [-np.cos(eq.phases[:, -3:] - (1 - y) * np.pi / 2).sum(axis=1) for eq in (plus, free, minus)]
    assert (cost[0] < cost[1]).all() and (cost[1] < cost[2]).all()


def test_a_nudged_phase_feels_the_inputs_and_couplings_it_is_given():
    """The free equilibrium's input field is reused only for the same inputs on the same program."""
    rng = np.random.default_rng(3)
    net = Network((rng.normal(0, 0.5, (6, 4)), rng.normal(0, 0.5, (3, 6))), (np.zeros(6), np.zeros(3)), theta=0.01)
    backend = OimBackend()
    program = backend.compile(net, load_chip(OIM))
    other = backend.compile(net.with_parameters((2 * net.weights[0], net.weights[1]), net.biases), load_chip(OIM))
    x, x2 = rng.random((2, 4)), rng.random((2, 4))
    nudge = Nudge(0.5, np.eye(3)[[0, 2]])
    free, _ = backend.relax(program, x, max_steps=10)
    same, _ = backend.relax(program, x, max_steps=10, nudge=nudge, init=free)
    assert same.input_field is free.input_field  # reused, not computed again
    for prog, inputs in [(program, x), (program, x2), (other, x)]:
        continued, _ = backend.relax(prog, inputs, max_steps=10, nudge=nudge, init=free)
        recomputed, _ = backend.relax(prog, inputs, max_steps=10, nudge=nudge, init=replace(free, input_couplings=None))
        assert np.array_equal(continued.phases, recomputed.phases)
        assert np.array_equal(continued.input_field, recomputed.input_field)


# -- errors -------------------------------------------------------------------------------------

@pytest.mark.parametrize("key, value, message", [
    ("coupling_rate", -1.0, "coupling_rate"),
    ("max_oscillators", 0, "max_oscillators"),
    ("step_tolerance", 0.5, "step_tolerance"),
    ("shil", -0.1, "shil"),
    ("max_phase_step", "fast", "max_phase_step"),
])
def test_bad_chip_parameters_are_one_clear_error(tmp_path, key, value, message):
    with pytest.raises(ConfigError, match=rf"chip.yaml:\d+: parameters.{message}: "):
        chip_with(tmp_path, **{key: value})


def test_a_network_too_large_for_the_chip_names_the_limit(tmp_path):
    chip = chip_with(tmp_path, max_oscillators=8)  # 3 clamped inputs + 4 + 2
    with pytest.raises(CapacityError, match=r"needs 9 oscillators .* has 8 \(.*chip.yaml:\d+\).*max_oscillators"):
        OimBackend().compile(Network((np.zeros((4, 3)), np.zeros((2, 4))), (np.zeros(4), np.zeros(2))), chip)
    chip = chip_with(tmp_path, max_couplings=10)
    with pytest.raises(CapacityError, match="needs 20 coupling cells"):
        OimBackend().compile(Network((np.zeros((4, 3)), np.zeros((2, 4))), (np.zeros(4), np.zeros(2))), chip)


def test_noise_without_a_generator_is_an_error():
    couplings, bias, phi0 = random_problem(0)
    with pytest.raises(ValueError, match="rng"):
        relax_phases(couplings, bias, phi0, Settings(noise=0.1))


def test_eqprop_on_oscillators_gives_the_gradient_of_the_loss():
    """With a small symmetric nudge, the back-end's rule equals -dL/dtheta of the free
    equilibrium's cost L = -sum cos(phi_out - (1 - y) pi/2), by finite differences (theta = 0)."""
    backend, chip = OimBackend(), load_chip(OIM)
    rng = np.random.default_rng(0)
    layers = [3, 3, 2]
    net = Network(tuple(rng.normal(0, 0.8, (b, a)) for a, b in zip(layers[:-1], layers[1:])),
                  tuple(rng.normal(0, 0.3, b) for b in layers[1:]), theta=0.0)
    x, y = rng.random((2, 3)), np.eye(2)[[0, 1]]

    def program(n):
        p = backend.compile(n, chip)
        return replace(p, settings=replace(p.settings, step_tolerance=1e-8, settle_tolerance=1e-9))

    def loss(n):
        eq, _ = backend.relax(program(n), x, max_steps=2000)
        assert eq.quiescent.all()
        return -np.cos(eq.phases[:, -2:] - (1 - y) * np.pi / 2).sum(1).mean(), eq

    _, free = loss(net)
    beta, eps = 1e-3, 1e-5
    plus, _ = backend.relax(program(net), x, max_steps=2000, nudge=Nudge(beta, y), init=free)
    minus, _ = backend.relax(program(net), x, max_steps=2000, nudge=Nudge(-beta, y), init=free)
    dw, db = backend.contrastive_update(plus, minus, 1 / (2 * beta))
    params = list(net.weights) + list(net.biases)
    for k, estimate in enumerate(list(dw) + list(db)):
        numeric = np.zeros_like(params[k])
        for idx in np.ndindex(numeric.shape):
            values = []
            for sign in (1, -1):
                p = [a.copy() for a in params]
                p[k][idx] += sign * eps
                values.append(loss(net.with_parameters(p[:2], p[2:]))[0])
            numeric[idx] = (values[0] - values[1]) / (2 * eps)
        # finite differences of equilibria settled to 1e-9 rad/time unit with eps 1e-5: ~1e-4 noise
        assert np.abs(estimate + numeric).max() < 1e-3 * max(1.0, np.abs(numeric).max())


def test_a_program_or_equilibrium_without_its_oscillators_is_refused():
    from emulator.backends.oim.backend import IsingProgram, OimEquilibrium
    with pytest.raises(TypeError, match="missing 7 required keyword-only arguments: 'couplings', 'fan_out', "
                                        "'settings', 'coupling_rate', 'seed', 'max_oscillators', and 'max_couplings'"):
        IsingProgram()
    with pytest.raises(TypeError, match="missing 6 required keyword-only arguments: 'phases', 'heard_phases'"):
        OimEquilibrium([], [], [], np.zeros(0), np.zeros(0), np.zeros(0))


def test_strong_shil_at_the_end_binarises_the_phases(tmp_path):
    chip = chip_with(tmp_path, phase_noise=0.05, shil=0.5, shil_ramp=10.0)
    rng = np.random.default_rng(2)
    net = Network((rng.normal(0, 0.5, (6, 4)), rng.normal(0, 0.5, (2, 6))), (np.zeros(6), np.zeros(2)), theta=0.01)
    backend = OimBackend()
    eq, _ = backend.relax(backend.compile(net, chip), rng.random((3, 4)), max_steps=20)
    assert np.abs(np.abs(eq.output) - 1).max() < 0.2  # every phase near 0 or pi


@pytest.mark.parametrize("chosen", [None, "ACTIVE"])
def test_the_oscillator_threads_wait_passively_unless_the_user_chose(chosen):
    """Importing the kernels sets ``OMP_WAIT_POLICY=PASSIVE`` for numba's OpenMP threads, and leaves a user's
    own choice."""
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    env.update({"OMP_WAIT_POLICY": chosen} if chosen else {})
    code = "import os, emulator.backends.oim.phase_kernels; print(os.environ['OMP_WAIT_POLICY'])"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.strip() == (chosen or "PASSIVE")
