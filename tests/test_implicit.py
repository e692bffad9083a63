"""Physics-aware training: a chip's calibration, the proxy built from it, and the implicit gradient through it."""
import numpy as np
import pytest

from emulator.backends.base import Nudge
from emulator.chip import get_backend, load_chip
from emulator.counters import Counters
from emulator.network import init_network
from emulator.reference import exact_gradient, relax_dense
from emulator.training.eqprop import Phases, eqprop_gradient
from emulator.training.implicit import implicit_gradient
from emulator.training.krylov import bicgstab
from emulator.training.proxy import Proxy, ProxyParts, activation_slope, mean_activation
from emulator.workload import ImplicitSpec

LAYERS = (8, 12, 7, 4)
#: every part of the crossbar on, converters fine enough for a smooth map but coarse enough to round, small
#: tiles (several partial sums per line) and a narrow ADC range (some partial sums clip)
ALL_ON = ["parameters.tile_rows=5", "parameters.tile_cols=4", "parameters.device_variation=0.1",
          "parameters.forward.dac_bits=10", "parameters.forward.adc_bits=10", "parameters.forward.adc_range=0.4"]
#: every non-ideality of the crossbar off, exact converters, a settling tolerance far below the test's
ALL_OFF = ["parameters.programming_noise={model: none}", "parameters.read_noise={model: none}",
           "parameters.drift={model: none}", "parameters.forward={dac_bits: null, adc_bits: null}",
           "parameters.tolerance=1e-12"]


def network_and_batch(seed=1, gain=1.0, batch=5):
    rng = np.random.default_rng(seed)
    net = init_network(LAYERS, rng, gain=gain)
    net = net.with_parameters(net.weights, tuple(rng.uniform(-0.2, 0.5, b.shape) for b in net.biases))
    return net, rng.random((batch, LAYERS[0])), np.eye(LAYERS[-1])[rng.integers(0, LAYERS[-1], batch)]


def crossbar(overrides):
    chip = load_chip("chips/crossbar-pcm.yaml", overrides)
    return chip, get_backend(chip.backend)


def loss(states, y) -> float:
    return 0.5 * float(((states[-1] - y) ** 2).sum(axis=1).mean())


def test_the_implicit_gradient_equals_finite_differences_through_the_proxy_with_every_part_on():
    """The proxy's surrogate, frozen at the chip's equilibrium (converter residuals and noise fixed, weights
    moving by the calibrated gains), settles to a fixed point; the implicit gradient there is the derivative of
    the loss at that fixed point, in every direction of the parameters."""
    net, x, y = network_and_batch()
    chip, backend = crossbar(ALL_ON)
    program = backend.compile(net, chip)
    equilibrium, _ = backend.relax(program, x, max_steps=200)
    calibration, _ = backend.calibrate(program)
    proxy = Proxy(net, calibration, ProxyParts())
    frozen = proxy.at(x, equilibrium.states)
    assert all(0 < m.mean() < 1 for m in frozen.forward_pass)  # some partial sums clip
    assert all(s.min() > 0 for s in frozen.sigma) and any((g != 1).any() for g in proxy.gain)
    assert any(np.abs(r).max() > 0 for r in frozen.forward_residual)  # the ADCs round
    fixed = proxy.settle(equilibrium.states, frozen, steps=300, damping=0.5)
    point = proxy.at(x, fixed, frozen)
    nu, solution = proxy.adjoint(point, fixed[-1] - y, tolerance=1e-12, max_iterations=500)
    assert solution.converged.all()
    dw, db = proxy.gradient(point, nu)
    rng, eps = np.random.default_rng(2), 1e-6
    for _ in range(3):
        direction = [rng.standard_normal(p.shape) for p in net.weights + net.biases]
        moved = []
        for sign in (1, -1):
            params = [p + sign * eps * d for p, d in zip(net.weights + net.biases, direction)]
            other = Proxy(net.with_parameters(params[:3], params[3:]), calibration, ProxyParts(), reference=net)
            moved.append(loss(other.settle(fixed, frozen, steps=300, damping=0.5), y))
        analytic = sum(float((g * d).sum()) for g, d in zip(dw + db, direction))
        assert analytic == pytest.approx((moved[0] - moved[1]) / (2 * eps), rel=1e-5)


def test_with_every_non_ideality_off_the_implicit_gradient_and_eqprop_at_small_beta_agree():
    net, x, y = network_and_batch(gain=0.5)
    chip, backend = crossbar(ALL_OFF)
    program = backend.compile(net, chip)
    dw, db, free, _ = eqprop_gradient(backend, program, x, y, Phases(1e-3, True, 400, 400))
    assert free.quiescent.all()
    iw, ib, _ = implicit_gradient(backend, program, net, x, y, free_steps=400, settings=ImplicitSpec())
    eqprop, implicit = (np.concatenate([g.ravel() for g in grads]) for grads in (dw + db, iw + ib))
    assert eqprop @ implicit / (np.linalg.norm(eqprop) * np.linalg.norm(implicit)) >= 0.999
    assert np.linalg.norm(implicit) > 0.01


def test_the_ideal_proxy_of_the_digital_chip_gives_the_reference_gradient_at_a_fixed_point():
    net, x, y = network_and_batch(seed=4)
    chip = load_chip("chips/digital.yaml", ["parameters.precision=float64"])
    backend = get_backend(chip.backend)
    calibration, counters = backend.calibrate(backend.compile(net, chip))
    assert counters == Counters()
    states = relax_dense(net, x, steps=3000)
    assert max(np.abs(a - b).max() for a, b in zip(states, relax_dense(net, x, steps=1, init=states))) < 1e-12
    proxy = Proxy(net, calibration, ProxyParts())
    point = proxy.at(x, states)
    nu, _ = proxy.adjoint(point, states[-1] - y, tolerance=1e-12, max_iterations=500)
    for got, want in zip(sum(proxy.gradient(point, nu), ()), sum(exact_gradient(net, x, y, states), ())):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


def test_the_crossbar_reports_gains_its_written_cells_and_what_a_mismatched_proxy_believes():
    net, x, y = network_and_batch()
    chip, backend = crossbar(["parameters.device_variation=0.1"])
    program = backend.compile(net, chip)
    calibration, counters = backend.calibrate(program)
    written = program.programming["cell_writes"]
    assert counters == Counters(dac_conversions=written, array_macs=written, adc_conversions=written)
    for a, array, w in zip(calibration.arrays, program.arrays, net.weights):
        np.testing.assert_array_equal(a.forward, array.fwd.T)
        fabricated = np.where(w > 0, array.gain[0].T, array.gain[1].T)  # the gain of the device in use
        drift = a.gain / fabricated
        assert drift.std() < 1e-12 and 0.8 < drift.mean() < 1  # one drift factor per array: a few % lost
    again = backend.compile(net, chip, previous=program)
    assert backend.calibrate(again)[1] == Counters(dac_conversions=0, array_macs=0, adc_conversions=0)
    believed = Proxy(net, calibration, ProxyParts(gains=False, read_noise_std=0.01))
    point = believed.at(x, relax_dense(net, x, steps=200))
    full_scale = [a.full_scale for a in calibration.arrays]
    want = np.sqrt(point.driven[0] ** 2 @ np.full(LAYERS[:2], (0.01 * full_scale[0]) ** 2)
                   + point.driven[2] ** 2 @ np.full(LAYERS[1:3][::-1], (0.01 * full_scale[1]) ** 2))
    np.testing.assert_allclose(point.sigma[0], want)
    assert all(np.array_equal(w, g) for w, g in zip(believed.forward, net.weights))


def test_the_mean_activation_under_noise_and_its_slope():
    h = np.linspace(-1, 2, 31)
    z = np.random.default_rng(0).standard_normal(200_000)
    sigma = np.full_like(h, 0.3)
    np.testing.assert_allclose(mean_activation(h, sigma), np.clip(h[:, None] + 0.3 * z, 0, 1).mean(axis=1), atol=3e-3)
    eps = 1e-6
    np.testing.assert_allclose(activation_slope(h, sigma),
                               (mean_activation(h + eps, sigma) - mean_activation(h - eps, sigma)) / (2 * eps),
                               atol=1e-6)
    np.testing.assert_array_equal(mean_activation(h, 0 * h), np.clip(h, 0, 1))


def test_batched_bicgstab_solves_each_sample_to_its_tolerance():
    rng = np.random.default_rng(0)
    matrices = np.eye(30) + 0.3 * rng.standard_normal((6, 30, 30)) / np.sqrt(30)
    rhs = rng.standard_normal((6, 30))
    rhs[2] = 0.0
    solution = bicgstab(lambda v: np.einsum("bij,bj->bi", matrices, v), rhs, tolerance=1e-10, max_iterations=200)
    assert solution.converged.all() and solution.iterations < 60
    np.testing.assert_allclose(solution.x, np.linalg.solve(matrices, rhs[..., None])[..., 0], atol=1e-8)
    assert not solution.x[2].any()


def test_the_nudge_is_not_needed_by_the_implicit_algorithm():
    """One phase on the chip: the implicit update counts the free phase's ops only (and the calibration)."""
    net, x, y = network_and_batch(gain=0.5)
    chip, backend = crossbar(ALL_OFF[:3])
    program = backend.compile(net, chip)
    free, expected = backend.relax(program, x, max_steps=30)
    _, _, counters = implicit_gradient(backend, program, net, x, y, free_steps=30,
                                       settings=ImplicitSpec(gains=False))
    assert counters == expected
    nudged, more = backend.relax(program, x, max_steps=30, nudge=Nudge(0.5, y), init=free)
    assert more["adc_conversions"] > 0  # what EqProp would have paid on top
