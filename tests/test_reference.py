"""The family-neutral references: EqProp's update against exact gradients, the learning rule, the exact
gradient itself."""
import numpy as np
import pytest

from emulator.network import contrastive_update, energy, init_network
from emulator.reference import exact_gradient, gradient_check, relax_dense


@pytest.mark.parametrize("layers, seed", [([6, 8, 5, 3], 0), ([10, 12, 4], 2), ([8, 16, 16, 5], 4), ([5, 20, 2], 3)])
def test_eqprop_update_matches_exact_gradient(layers, seed):
    assert gradient_check(layers, beta=1e-3, seed=seed) >= 0.99


def test_symmetric_nudging_error_shrinks_with_beta():
    misalignment = [1 - gradient_check([6, 10, 4], beta=beta, seed=0) for beta in (0.2, 0.05)]
    assert misalignment[1] < misalignment[0] / 100  # O(beta^2) bias of the symmetric estimate


def fixed_point(net, x, steps=3000):
    return relax_dense(net, x, steps=steps)


def test_exact_gradient_matches_finite_differences():
    rng = np.random.default_rng(3)
    net = init_network([5, 7, 3], rng, gain=0.8)
    net = net.with_parameters(net.weights, tuple(rng.uniform(-0.2, 0.5, b.shape) for b in net.biases))
    x, y = rng.random((2, 5)), np.eye(3)[[0, 2]]

    def loss(n):
        return 0.5 * ((fixed_point(n, x)[-1] - y) ** 2).sum(axis=1).mean()

    gw, gb = exact_gradient(net, x, y, fixed_point(net, x))
    eps = 1e-6
    for k, (i, j) in [(0, (1, 2)), (0, (4, 0)), (1, (2, 3)), (1, (0, 6))]:
        weights = [w.copy() for w in net.weights]
        weights[k][i, j] += eps
        plus = loss(net.with_parameters(weights, net.biases))
        weights[k][i, j] -= 2 * eps
        minus = loss(net.with_parameters(weights, net.biases))
        assert (plus - minus) / (2 * eps) == pytest.approx(gw[k][i, j], abs=1e-6)
    biases = [b.copy() for b in net.biases]
    biases[1][1] += eps
    assert (loss(net.with_parameters(net.weights, biases)) - loss(net)) / eps == pytest.approx(gb[1][1], abs=1e-5)


def test_free_fixed_point_minimises_the_energy():
    rng = np.random.default_rng(0)
    net = init_network([4, 6, 3], rng, gain=0.7)
    x = rng.random((3, 4))
    s = fixed_point(net, x)
    e0 = energy(net, s)
    for _ in range(20):
        moved = [s[0]] + [np.clip(v + rng.normal(0, 1e-3, v.shape), 0, 1) for v in s[1:]]
        assert (energy(net, moved) >= e0 - 1e-12).all()


def test_contrastive_update_is_the_local_rule():
    rng = np.random.default_rng(1)
    a = [rng.random((4, n)) for n in (3, 5, 2)]
    b = [rng.random((4, n)) for n in (3, 5, 2)]
    dw, db = contrastive_update(a, b, 2.5)
    for k in range(2):
        expected = 2.5 * np.mean([np.outer(a[k + 1][n], a[k][n]) - np.outer(b[k + 1][n], b[k][n]) for n in range(4)], 0)
        np.testing.assert_allclose(dw[k], expected)
        np.testing.assert_allclose(db[k], 2.5 * (a[k + 1] - b[k + 1]).mean(0))
