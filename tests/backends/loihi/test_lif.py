"""The Loihi back-end with ``neuron: lif``: Lava's fixed-point LIF neurons, binary spikes, rates as states."""
import numpy as np
import pytest

from emulator.backends.base import Nudge
from emulator.backends.loihi import LoihiBackend
from emulator.chip import load_chip
from emulator.errors import ConfigError
from emulator.network import Network, init_network
from emulator.workload import GeometricStepSize, SpikingSpec

CHAIN_TIMES = {"neuron_updates_active": 3, "neuron_updates_idle": 1, "synaptic_ops": 2, "spikes": 0, "messages": 1,
               "hops": 5, "barrier_syncs": 10, "chip_messages": 100}


def lif_chip(**parameters):
    return load_chip("chips/loihi2-lif.yaml", [f"parameters.{k}={v}" for k, v in parameters.items()])


def test_counts_of_a_hand_checked_chain():
    """x -> h -> o with W0 = 0.5, W1 = 0.25; du = 4095 (the current keeps nothing: u = a << 6), no leak,
    vth = 16: one state unit is 1024. Weights times vth (du + 1) / 4096 = 16: W0 is 128 >> 4 = 8 (u = 512),
    W1 is 128 >> 5 = 4 (u = 256).

    The input fires at every step. h: v = 0, 512, 1024 (not above 1024), 1536 -> fires at step 3, then at 6, 9.
    o hears 256 at steps 4, 7, 10 and stays below the threshold. 12 steps: 15 spikes (12 input), 15 synaptic
    ops (each reaches one neuron). h works at steps 1-11; o at the steps its current rises or falls back
    (4, 5, 7, 8, 10, 11). Window: the last 6 steps, where h fired twice: rate 1/3.
    """
    backend = LoihiBackend()
    net = Network((np.array([[0.5]]), np.array([[0.25]])), (np.zeros(1), np.zeros(1)))
    program = backend.compile(net, lif_chip(du=4095, dv=0, vth=16))
    assert [w.tolist() for w in program.net.down] == [[[128]], [[128]]] and program.net.weight_exp == (-4, -5)
    eq, c = backend.relax(program, np.array([[1.0]]), max_steps=12)
    record = np.flatnonzero(eq.neurons.fired[:, 0, 1])
    np.testing.assert_array_equal(record, [3, 6, 9])
    assert [s.tolist() for s in eq.states[1:]] == [[[1 / 3]], [[0.0]]]
    totals = c.totals()
    assert {op: totals[op] for op in ("spikes", "synaptic_ops", "barrier_syncs", "messages")} == \
        {"spikes": 15, "synaptic_ops": 15, "barrier_syncs": 12, "messages": 15}
    assert c["neuron_updates_active_per_core"].tolist() == [0, 11, 6]
    assert c["neuron_updates_idle_per_core"].tolist() == [0, 1, 6]
    assert not eq.quiescent.any() and eq.steps.tolist() == [12]


def test_a_rate_through_a_weight_drives_the_current_to_their_product():
    """With the chip's du (0.2 per step), the current settles at w r state units (within the 8-bit weights)."""
    backend = LoihiBackend()
    net = Network((np.array([[0.5]]),), (np.zeros(1),))
    program = backend.compile(net, lif_chip())
    eq, _ = backend.relax(program, np.array([[1.0]]), max_steps=60)
    np.testing.assert_allclose(eq.drive[0], [[0.5]], rtol=0.01)


def test_nudged_phases_continue_the_free_one_and_move_the_outputs_to_the_target():
    backend, rng = LoihiBackend(), np.random.default_rng(1)
    program = backend.compile(init_network([6, 12, 3], rng, gain=2.0), lif_chip())
    x, y = rng.random((8, 6)), np.eye(3)[rng.integers(0, 3, 8)]
    free, _ = backend.relax(program, x, max_steps=60)
    plus, _ = backend.relax(program, x, max_steps=60, nudge=Nudge(0.5, y), init=free)
    assert plus.elapsed == 120 and np.abs(plus.output - y).sum() < np.abs(free.output - y).sum()
    whole, _ = backend.relax(program, x, max_steps=120)
    rest, _ = backend.relax(program, x, max_steps=60, init=free)
    for a, b in zip(whole.neurons.u + whole.neurons.v, rest.neurons.u + rest.neurons.v):
        np.testing.assert_array_equal(a, b)


def test_the_program_says_what_it_runs():
    program = LoihiBackend().compile(init_network([4, 3, 2], np.random.default_rng(0), theta=0.01), lif_chip())
    summary = program.summary()
    assert not program.uses_theta and summary["eqprop.theta"] == "not used: spikes are binary"
    assert summary["state_unit"] == 1024 << 6 and [w["bias_exp"] for w in summary["weights"]] == [0, 5]


@pytest.mark.parametrize("key, value, allowed", [("du", 5000, "<= 4095"), ("dv", -1, ">= 0"),
                                                 ("vth", 2 ** 17, "<= 131071")])
def test_a_parameter_lava_cannot_hold_names_the_key(key, value, allowed):
    with pytest.raises(ConfigError, match=rf"--chip-set parameters.{key}={value}: parameters.{key}: must be "
                                          rf"{allowed} \(neuron: lif: Lava's 1[27]-bit"):
        LoihiBackend().parameters_of(lif_chip(**{key: value}))


def test_an_annealed_step_size_is_refused_naming_the_key():
    net = init_network([4, 3, 2], np.random.default_rng(0),
                       spiking=SpikingSpec(step_size=GeometricStepSize(final=0.05)))
    with pytest.raises(ConfigError, match=r"spiking.step_size: 'geometric' anneals the step size, but Lava's LIF "
                                          r"fixes its decay du"):
        LoihiBackend().compile(net, lif_chip())


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # Brian2 2.9's use of pyparsing 3.3
def test_brian2_runs_the_same_integers():
    """lif_to_brian2 (numpy target) fires the same spikes at the same steps and ends in the same currents and
    voltages as the emulator, on a deep network with feedback, mixed weights, leak and biases."""
    b2 = pytest.importorskip("brian2")
    from emulator.backends.loihi.brian import STEP_MS, lif_to_brian2
    from emulator.backends.loihi.lif import LifNet, relax_lif
    from emulator.backends.loihi.quantise import as_stored
    from emulator.backends.spiking import input_train

    rng = np.random.default_rng(0)
    layers, steps = [6, 5, 7, 4], 40
    net = LifNet(down=tuple(as_stored(rng.integers(-200, 250, (layers[k + 1], layers[k]))) for k in range(3)),
                 weight_exp=(2, 1, 0), bias_mant=tuple(rng.integers(-500, 3000, n) for n in layers[1:]),
                 bias_exp=(3, 2, 4), du=300, dv=100, vth=200)
    train = input_train(rng.random((1, 6)), 0, steps)
    mine = relax_lif(net, train, window=steps, record=True)
    network, groups, monitors = lif_to_brian2(net, train[:, 0])
    b2.prefs.codegen.target = "numpy"
    network.run(steps * STEP_MS * b2.ms, namespace={})
    for (u, v, spikes), group, monitor in zip(mine.record, groups, monitors):
        theirs = np.zeros((steps, len(group)), np.int64)
        theirs[np.round(np.asarray(monitor.t / b2.ms) / STEP_MS).astype(int), np.asarray(monitor.i)] = 1
        np.testing.assert_array_equal(theirs, spikes[:, 0])
        np.testing.assert_array_equal(np.asarray(group.u), u[-1, 0])
        np.testing.assert_array_equal(np.asarray(group.v), v[-1, 0])
    assert sum(int(s.sum()) for _, _, s in mine.record) > 100
