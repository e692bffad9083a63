"""The generic spiking chip fires the same spikes as Brian2 running the same network, step for step.

Each case draws a random network (feed-forward, or layered with feedback, i.e. recurrent), builds it
in Brian2 with :func:`emulator.backends.snn.brian.to_brian2` (numpy code target, Euler steps) and
compares every neuron's spikes at every step with the emulator's (float64), and its current and
potential within :data:`ROUNDING`.

Why the spikes can be equal: the two simulators do the same float64 operations except for the
order of some additions (Brian2 adds each synapse's ``eps w`` to the current in turn; sympy orders
the terms of the potential's update), so their potentials differ by rounding only: the test
measures that difference (below :data:`ROUNDING`, about 1e-13 here). A spike could still differ if
a potential landed within that rounding of the threshold. Weights, biases and inputs are drawn from
continuous distributions, so that has a chance of order 1e-13 per neuron and step; the test does not
rely on chance: it recomputes every potential before the threshold from the emulator's record and
asserts that none comes within :data:`MARGIN` (1e-9, 10,000 times the rounding) of it.
"""
import numpy as np
import pytest

from emulator.backends.base import Nudge
from emulator.backends.snn import SnnBackend
from emulator.backends.snn.brian import to_brian2
from emulator.backends.snn.neurons import SpikingNet, relax_spiking
from emulator.backends.spiking import input_train
from emulator.chip import load_chip
from emulator.network import init_network
from emulator.workload import GeometricStepSize

pytest.importorskip("brian2")
#: Brian2 2.9 parses its equations with pyparsing names that pyparsing 3.3 deprecates
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

ROUNDING = 1e-11
MARGIN = 1e-9

STRUCTURES = {"feed-forward": [8, 6], "recurrent": [6, 8, 5], "deep recurrent": [5, 7, 6, 4]}
NEURONS = {"if, subtract": dict(clip=True, leak=0.0, subtract=True),
           "lif, subtract": dict(clip=False, leak=0.1, subtract=True),
           "lif, reset to 0": dict(clip=False, leak=0.05, subtract=False)}


def random_net(rng, layers, *, clip, leak, subtract, vth=1.0):
    down = tuple(rng.normal(0.1, 0.7, (layers[k + 1], layers[k])) for k in range(len(layers) - 1))
    bias = tuple(rng.uniform(-0.2, 0.4, n) for n in layers[1:])
    return SpikingNet(down=down, bias=bias, vth=vth, leak=leak, subtract=subtract, clip=clip)


def closest_approach(net, state, eps):
    """The smallest distance of a potential before the threshold test to the threshold, over all neurons and steps
    (recomputed from the record with the kernel's arithmetic)."""
    closest = np.inf
    for k, (u, v, _) in enumerate(state.record):
        before = np.vstack([np.zeros((1,) + v.shape[1:]), v[:-1]])
        drive = u + state.bias[k]
        pre = before + np.clip(drive, 0, net.vth) if net.clip else before - net.leak * before + drive
        closest = min(closest, np.abs(pre - net.vth).min())
    return closest


def assert_same_as_brian2(net, x, eps, bias=None):
    train = input_train(x[None], 0, len(eps))
    state = relax_spiking(net, train, eps, window=len(eps), bias=None if bias is None else [b[None] for b in bias],
                          record=True)
    assert closest_approach(net, state, eps) > MARGIN, "a potential is within rounding of the threshold: draw again"
    brian = to_brian2(net, train[:, 0], eps, bias=bias, record=True)
    brian.run()
    fired = 0
    for k, (spikes, (u, v)) in enumerate(zip(brian.spikes(), brian.states()), start=1):
        my_u, my_v, my_spikes = (r[:, 0] for r in state.record[k - 1])
        np.testing.assert_array_equal(spikes, my_spikes.astype(bool), err_msg=f"layer {k}: spikes differ")
        np.testing.assert_allclose(v, my_v, rtol=0, atol=ROUNDING, err_msg=f"layer {k}: potentials")
        np.testing.assert_allclose(u[:-1], my_u[1:], rtol=0, atol=ROUNDING, err_msg=f"layer {k}: currents")
        fired += int(spikes.sum())
    assert fired > len(eps)  # the network is active, so the comparison means something


@pytest.mark.parametrize("structure, neuron", [("feed-forward", "if, subtract"), ("recurrent", "lif, subtract"),
                                               ("deep recurrent", "lif, reset to 0"), ("recurrent", "if, subtract")])
def test_spike_trains_equal_brian2_step_for_step(structure, neuron):
    rng = np.random.default_rng(len(structure) + len(neuron))
    layers = STRUCTURES[structure]
    net = random_net(rng, layers, **NEURONS[neuron])
    assert_same_as_brian2(net, rng.random(layers[0]), np.full(60, 0.3))


def test_an_annealed_step_size_and_another_threshold_equal_brian2():
    rng = np.random.default_rng(5)
    net = random_net(rng, STRUCTURES["recurrent"], **NEURONS["lif, subtract"], vth=0.7)
    assert_same_as_brian2(net, rng.random(6), np.geomspace(0.8, 0.05, 50))


def test_the_chips_nudged_network_equals_brian2():
    """A compiled program of the snn chip (float64), with the outputs' bias currents nudged."""
    rng = np.random.default_rng(6)
    backend = SnnBackend()
    chip = load_chip("chips/snn-lif.yaml", ["parameters.precision=float64"])
    program = backend.compile(init_network([6, 9, 3], rng, gain=2.0), chip)
    x = rng.random((1, 6))
    free, _ = backend.relax(program, x, max_steps=40)
    current = Nudge(0.5, np.eye(3)[[1]]).beta * (np.eye(3)[1] - free.output[0])
    bias = list(program.net.bias)
    bias[-1] = bias[-1] + current
    assert_same_as_brian2(program.net, x[0], np.full(40, program.du), bias=bias)


def test_a_geometric_schedule_reaches_the_kernel_as_brian2_gets_it():
    from emulator.backends.spiking import step_sizes

    class Settings:
        window, step_size = None, GeometricStepSize(final=0.05)

    eps = step_sizes(Settings, 0.5, 30)
    assert eps[0] == 0.5 and np.isclose(eps[-1], 0.05)
    rng = np.random.default_rng(8)
    assert_same_as_brian2(random_net(rng, STRUCTURES["recurrent"], **NEURONS["if, subtract"]), rng.random(6), eps)
