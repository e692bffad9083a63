"""The lazy relaxation engine: exact counts, equality with the dense iteration (determinism and the
host's kernel choice are checked for every family by tests/test_backend_contract.py)."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from emulator.backends.base import Nudge
from emulator.backends.digital.relax import LayeredNet, relax
from emulator.reference import relax_dense
from emulator.errors import DivergenceError
from emulator.network import init_network

import importlib

engine_relax = importlib.import_module("emulator.backends.digital.relax")


def chain(theta, damping=0.0):
    """1-1-1 chain, x = 1, both weights 0.5, no bias (counted by hand in the tests)."""
    return LayeredNet.from_parameters([np.array([[0.5]]), np.array([[0.5]])], [np.zeros(1), np.zeros(1)],
                                      theta, damping, np.float64)


def test_hand_counted_chain():
    # step 1: s1 = 0.5 sends (drive2 = 0.25); step 2: s2 = 0.25 sends (drive1 = 0.625);
    # step 3: s1 moves 0.125 > 0.1, sends (drive2 = 0.3125); step 4: s2 would move 0.0625 <= 0.1: quiescent.
    eq, c = relax(chain(theta=0.1), np.ones((1, 1)), max_steps=50)
    assert dict(c) == {"steps": 4, "unit_updates": 8, "messages": 4, "synaptic_ops": 4}
    assert eq.quiescent.tolist() == [True] and eq.steps.tolist() == [4]
    np.testing.assert_allclose(eq.states[1], [[0.625]])
    np.testing.assert_allclose(eq.states[2], [[0.3125]])
    np.testing.assert_allclose(eq.heard[2], [[0.25]])
    assert eq.trace[:5].tolist() == [1, 1, 1, 0, 0]


def test_step_limit_is_reported():
    eq, c = relax(chain(theta=0.1), np.ones((1, 1)), max_steps=2)
    assert eq.quiescent.tolist() == [False] and c["steps"] == 2


def test_fan_out_counts():
    # layers 2-3-4-2, all weights and biases positive: every unit sends at step 1.
    # input: 2 messages x 3 receivers; layer 1: 3 x 4; layer 2: 4 x (2 + 3); layer 3: 2 x 4
    sizes = [2, 3, 4, 2]
    net = LayeredNet.from_parameters([np.full((m, n), 0.1) for n, m in zip(sizes[:-1], sizes[1:])],
                                     [np.full(m, 0.5) for m in sizes[1:]], 0.01, 0.0, np.float64)
    _, c = relax(net, np.array([[1.0, 0.0], [0.5, 0.5]]), max_steps=1)
    assert c["messages"] == 3 + 2 * 9 and c["unit_updates"] == 2 * 9 and c["steps"] == 2
    assert c["synaptic_ops"] == 3 * 3 + 2 * (3 * 4 + 4 * 5 + 2 * 4)


def random_network(layers, seed, theta, damping):
    """A random host network with biases, and the generator that made it."""
    rng = np.random.default_rng(seed)
    net = init_network(layers, rng, theta=theta, damping=damping)
    return net.with_parameters(net.weights, tuple(rng.uniform(-0.3, 0.3, b.shape) for b in net.biases)), rng


def random_net(layers, seed, theta, damping, dtype=np.float64):
    net, rng = random_network(layers, seed, theta, damping)
    return LayeredNet.from_parameters(net.weights, net.biases, theta, damping, dtype), rng


@settings(max_examples=25, deadline=None)
@given(layers=st.lists(st.integers(1, 12), min_size=2, max_size=5), seed=st.integers(0, 10**6),
       damping=st.sampled_from([0.0, 0.3, 0.5, 0.9]), steps=st.integers(1, 40), beta=st.floats(-0.9, 0.9))
def test_theta_zero_equals_dense_iteration(layers, seed, damping, steps, beta):
    network, rng = random_network(layers, seed, 0.0, damping)
    net = LayeredNet.from_parameters(network.weights, network.biases, 0.0, damping, np.float64)
    x = rng.random((3, layers[0]))
    eq, _ = relax(net, x, max_steps=steps)
    ref = relax_dense(network, x, steps=steps)
    for a, b in zip(eq.states, ref):
        np.testing.assert_allclose(a, b, atol=1e-12)
    nudge = Nudge(beta, np.eye(layers[-1])[rng.integers(0, layers[-1], 3)])
    eq_n, _ = relax(net, x, max_steps=steps, nudge=nudge, init=eq)
    ref_n = relax_dense(network, x, steps=steps, nudge=nudge, init=ref)
    for a, b in zip(eq_n.states, ref_n):
        np.testing.assert_allclose(a, b, atol=1e-12)


def test_batch_runs_as_independent_networks():
    net, rng = random_net([10, 16, 5], 7, 0.05, 0.5)
    x = rng.random((6, 10))
    eq, c = relax(net, x, max_steps=25)
    singles = [relax(net, x[i:i + 1], max_steps=25) for i in range(6)]
    assert sum(s[1] for s in singles) == c
    assert eq.steps.tolist() == [int(s[0].steps[0]) for s in singles]
    for i, (e, _) in enumerate(singles):
        np.testing.assert_allclose(eq.states[1][i], e.states[1][0], atol=1e-12)


@pytest.mark.parametrize("seed", [5, 6, 7])
def test_lazy_threshold_cuts_messages_near_the_same_fixed_point(seed):
    # a contraction (coupling spectral norms 0.5) has one fixed point; the lazy one stays near it
    rng = np.random.default_rng(seed)
    net = init_network([20, 30, 10], rng)
    weights = [0.5 * w / np.linalg.norm(w, 2) for w in net.weights]
    biases = [rng.uniform(-0.3, 0.3, b.shape) for b in net.biases]
    x = rng.random((8, 20))
    exact, c0 = relax(LayeredNet.from_parameters(weights, biases, 0.0, 0.5, np.float64), x, max_steps=200)
    lazy, c1 = relax(LayeredNet.from_parameters(weights, biases, 0.02, 0.5, np.float64), x, max_steps=200)
    assert lazy.quiescent.all()
    assert c1["synaptic_ops"] < 0.5 * c0["synaptic_ops"]
    assert np.abs(lazy.states[-1] - exact.states[-1]).max() < 3 * 0.02


def test_overflow_is_a_divergence_error():
    big = LayeredNet.from_parameters([np.full((3, 2), 3e38), np.full((2, 3), 3e38)], [np.zeros(3), np.zeros(2)],
                                     0.0, 0.0, np.float32)
    with pytest.raises(DivergenceError, match="learning_rates"):
        relax(big, np.ones((1, 2)), max_steps=5)


def test_programming_counts_the_stored_values_that_change():
    """A re-programmed float32 chip writes the weights and biases whose stored (rounded) value changed: here
    one weight by 0.25, one by 1e-12 (below float32's resolution at 0.5: the same stored value), one bias."""
    weights = [np.array([[0.5, -0.25], [0.125, 1.0], [0.0, 2.0]]), np.array([[0.5, 0.5, -1.0]])]
    biases = [np.zeros(3), np.array([0.1])]
    first, written = LayeredNet.stored(weights, biases, 0.0, 0.5, np.float32)
    assert written == 6 + 3 + 3 + 1
    assert [u.tolist() for u in first.up] == [w.T.astype(np.float32).tolist() for w in weights]
    assert all(a.dtype == np.float32 and a.flags.c_contiguous for a in first.up + first.down + first.bias)
    weights[0] = weights[0] + np.array([[0.0, 0.25, 0.0], [0.0, 0.0, 1e-12]]).T
    biases[1] = np.array([0.3])
    second, written = LayeredNet.stored(weights, biases, 0.0, 0.5, np.float32, previous=first)
    assert written == 2
    np.testing.assert_array_equal(second.down[0], weights[0].astype(np.float32))
    np.testing.assert_array_equal(second.up[0], second.down[0].T)
    for bad in (np.inf, np.nan, 1e39):  # 1e39 is finite on the host, not in float32
        with pytest.raises(DivergenceError, match="beyond the range of float32"):
            LayeredNet.stored([weights[0], np.array([[0.5, bad, 0.0]])], biases, 0.0, 0.5, np.float32, previous=first)


def test_shapes_are_checked_with_a_clear_message():
    net = chain(theta=0.1)
    with pytest.raises(ValueError, match=r"x must have shape \(batch, 1\), got \(2, 3\)"):
        relax(net, np.ones((2, 3)), max_steps=3)
    with pytest.raises(ValueError, match="nudge.target must have shape"):
        relax(net, np.ones((2, 1)), max_steps=3, nudge=Nudge(0.5, np.ones((2, 4))))
    eq, _ = relax(net, np.ones((2, 1)), max_steps=3)
    with pytest.raises(ValueError, match="init holds 2 samples but x has 3"):
        relax(net, np.ones((3, 1)), max_steps=3, init=eq)


def test_a_program_without_its_network_is_refused():
    from emulator.backends.digital.backend import DigitalProgram
    with pytest.raises(TypeError, match="missing 3 required keyword-only arguments: 'net', 'memory_bytes', and "
                                        "'sram_bytes'"):
        DigitalProgram()
