"""The generic spiking chip: its neurons step by step, its counts by hand, its program and its errors."""
import numpy as np
import pytest

from emulator.backends.base import Nudge
from emulator.backends.snn import SnnBackend
from emulator.backends.snn.neurons import SpikingNet, relax_spiking
from emulator.chip import load_chip
from emulator.errors import CapacityError, ConfigError
from emulator.network import Network, init_network


def one_synapse(w, *, leak=0.0, subtract=True, clip=True, bias=0.0):
    """An input neuron and one relaxing neuron, coupled by ``w``."""
    return SpikingNet(down=(np.array([[w]]),), bias=(np.array([bias]),), vth=1.0, leak=leak, subtract=subtract,
                      clip=clip)


def spikes_of(net, steps, eps=1.0, train=None):
    train = np.ones((steps, 1, 1), bool) if train is None else train
    state = relax_spiking(net, train, np.full(steps, eps), window=steps, record=True)
    return np.flatnonzero(state.record[0][2][:, 0, 0]), state


def test_an_if_neuron_fires_at_its_drive_a_step_after_the_spikes_that_cause_it():
    """Input fires every step, w = 0.5, no filter (du = 1). The input's spike of step 0 arrives at step 1:
    v = 0, 0.5, 1.0 (not above 1), 1.5 -> fires, 0.5 after the subtraction, 1.0, 1.5 -> fires...: rate 1/2."""
    fired, state = spikes_of(one_synapse(0.5), 12)
    np.testing.assert_array_equal(fired, [3, 5, 7, 9, 11])
    np.testing.assert_allclose(state.record[0][1][:4, 0, 0], [0.0, 0.5, 1.0, 0.5])


def test_an_if_neuron_integrates_the_hard_sigmoid_of_its_drive():
    """A drive of 3 (w = 3) counts as 1: it fires every step once the spikes arrive, and never winds up;
    a negative drive counts as 0: the potential keeps the bias it integrated at step 0, before the spikes arrived."""
    fired, state = spikes_of(one_synapse(3.0), 6)
    np.testing.assert_array_equal(fired, [2, 3, 4, 5])  # v = 0, 1, 2 - 1, ...
    assert state.v[0].max() <= 1.0
    fired, state = spikes_of(one_synapse(-2.0, bias=0.25), 12)
    assert fired.size == 0 and state.record[0][1][:, 0, 0].tolist() == [0.25] * 12


def test_a_lif_neuron_leaks_and_resets_to_zero():
    """w = 0.6, leak 0.5, reset to 0: v = 0.6, 0.9, 1.05 -> fires, then the same again: every third step."""
    fired, state = spikes_of(one_synapse(0.6, leak=0.5, subtract=False, clip=False), 10)
    np.testing.assert_array_equal(fired, [3, 6, 9])
    np.testing.assert_allclose(state.record[0][1][1:4, 0, 0], [0.6, 0.9, 0.0])


def test_the_synaptic_current_is_a_leaky_integrator_with_the_step_size():
    """eps = 0.5, w = 1, one input spike at step 0: u = 0, 0.5, 0.25, 0.125 (it arrives at step 1, then decays)."""
    train = np.zeros((4, 1, 1), bool)
    train[0] = True
    _, state = spikes_of(one_synapse(1.0), 4, eps=0.5, train=train)
    np.testing.assert_allclose(state.record[0][0][:, 0, 0], [0.0, 0.5, 0.25, 0.125])


def snn(**parameters):
    overrides = [f"parameters.{k}={v}" for k, v in parameters.items()]
    return load_chip("chips/snn.yaml", overrides)


def test_counts_by_hand():
    """[2, 3, 1], every weight 1 and no filter: both inputs fire every step; the hidden units hear 2 from step 1
    and fire from step 2 (v = 2 > 1... counted as 1 by the clip: 1, then 2 - 1); the output hears 3 (counted 1)
    from step 3. 5 steps: input 10 spikes, hidden 3 x 3 (steps 2-4... see below), output 2 (steps 3, 4)."""
    backend = SnnBackend()
    net = Network((np.ones((3, 2)), np.ones((1, 3))), (np.zeros(3), np.zeros(1)))
    program = backend.compile(net, snn(du=1.0))
    eq, counters = backend.relax(program, np.ones((1, 2)), max_steps=5)
    fired = eq.neurons.fired[:, 0]
    # the hidden potential: 0, 1 (not above), 2 -> fires -> 1, 2 -> fires...: steps 2, 3, 4
    np.testing.assert_array_equal(fired[:, 1], [0, 0, 3, 3, 3])
    np.testing.assert_array_equal(fired[:, 2], [0, 0, 0, 0, 1])  # it hears the hidden spikes from step 3: 1, 2
    assert counters["spikes"] == 10 + 9 + 1
    assert counters["synaptic_ops"] == 10 * 3 + 9 * 1 + 1 * 3
    assert counters["neuron_updates"] == 5 * 4 and counters["steps"] == 5
    np.testing.assert_allclose(eq.states[1], [[3 / 3, 3 / 3, 3 / 3]])  # window: the last 3 steps (half of 5)
    assert not eq.quiescent.any() and eq.steps.tolist() == [5]


def test_a_phase_continued_from_another_equals_one_phase_of_both_lengths():
    backend, rng = SnnBackend(), np.random.default_rng(0)
    net = init_network([6, 8, 4], rng)
    program = backend.compile(net, snn())
    x = rng.random((3, 6))
    whole, _ = backend.relax(program, x, max_steps=50)
    first, _ = backend.relax(program, x, max_steps=30)
    rest, _ = backend.relax(program, x, max_steps=20, init=first)
    for a, b in zip(whole.neurons.v + whole.neurons.u, rest.neurons.v + rest.neurons.u):
        np.testing.assert_array_equal(a, b)
    assert rest.elapsed == 50


def test_the_nudge_moves_the_outputs_towards_the_target():
    backend, rng = SnnBackend(), np.random.default_rng(1)
    net = init_network([6, 12, 3], rng, gain=2.0)
    program = backend.compile(net, snn())
    x, y = rng.random((8, 6)), np.eye(3)[rng.integers(0, 3, 8)]
    free, _ = backend.relax(program, x, max_steps=60)
    plus, _ = backend.relax(program, x, max_steps=60, nudge=Nudge(0.5, y), init=free)
    assert np.abs(plus.output - y).sum() < np.abs(free.output - y).sum()


def test_the_program_says_theta_is_not_used():
    program = SnnBackend().compile(init_network([4, 3, 2], np.random.default_rng(0), theta=0.01), snn())
    assert not program.uses_theta
    assert program.summary()["eqprop.theta"] == "not used: spikes are binary"


def test_an_if_neuron_with_a_leak_names_the_key():
    with pytest.raises(ConfigError, match=r"--chip-set parameters.dv=0.1: parameters.dv: an `if` neuron has no leak"):
        SnnBackend().parameters_of(snn(dv=0.1))


def test_a_network_too_large_names_the_chip_key():
    with pytest.raises(CapacityError, match=r"needs 20,002 neurons but chip 'snn' has 16,384 \(chips/snn.yaml:\d+\)"):
        SnnBackend().check_fits([2, 20000], load_chip("chips/snn.yaml"))
