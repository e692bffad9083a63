"""The emulator's LIF relaxation equals Lava 0.10's fixed-point LIF with binary Dense, step for step.

Each case builds a random network (feed-forward, or layered with feedback: every coupling above the
input has a forward and a transposed feedback ``Dense``), runs it in Lava with
``Loihi2SimCfg(select_tag='fixed_pt')`` (``PyLifModelBitAcc``, ``PyDenseModelBitAcc`` with
``num_message_bits=0``) and in :func:`emulator.backends.loihi.lif.relax_lif`, and compares every
neuron's current, voltage and spike at every step.
"""
import numpy as np
import pytest

from emulator.backends.loihi.lava import LavaUnavailable, require_lava

try:
    require_lava()
except LavaUnavailable as exc:
    pytest.skip(str(exc), allow_module_level=True)

from emulator.backends.loihi.lava.network import LavaLifNetwork  # noqa: E402
from emulator.backends.loihi.lif import LifNet, relax_lif  # noqa: E402
from emulator.backends.loihi.quantise import as_stored  # noqa: E402
from emulator.backends.spiking import input_train  # noqa: E402


def random_net(rng, layers, *, weights, exps, bias, bias_exp, du, dv, vth, sign=0, density=1.0):
    down = []
    for k in range(len(layers) - 1):
        w = rng.integers(*weights, (layers[k + 1], layers[k])) * (rng.random((layers[k + 1], layers[k])) < density)
        down.append(as_stored(np.abs(w) * sign if sign else w))
    mantissas = tuple(rng.integers(*bias, n) for n in layers[1:])
    return LifNet(down=tuple(down), weight_exp=tuple(exps), bias_mant=mantissas, bias_exp=(bias_exp,) * len(mantissas),
                  du=du, dv=dv, vth=vth)


def lava_trace(net, train, steps, bias_mant=None):
    lava = LavaLifNetwork(net, train, steps, bias_mant=bias_mant, probe=True)
    try:
        lava.run(steps)
        return lava.trace()
    finally:
        lava.stop()


def assert_same(trace, state, offset=0):
    for k, recorded in enumerate(state.record, start=1):
        for name, mine in zip(("u", "v", "s_out"), recorded):
            theirs = trace[k][name].astype(np.int64)
            for t in range(len(theirs)):
                np.testing.assert_array_equal(theirs[t], mine[t, 0], err_msg=f"step {offset + t + 1}, layer {k}, {name}")


CASES = {
    # name: (layers, net options)
    "feed-forward": ([8, 6], dict(weights=(-100, 250), exps=(2,), bias=(-300, 1500), bias_exp=3, du=500, dv=200,
                                  vth=300)),
    "recurrent, mixed weights": ([6, 5, 4], dict(weights=(-200, 250), exps=(2, 1), bias=(-500, 3000), bias_exp=3,
                                                 du=300, dv=100, vth=200)),
    "deep, leak and bias": ([5, 7, 6, 3], dict(weights=(-150, 255), exps=(3, 1, 2), bias=(0, 4000), bias_exp=4, du=800,
                                               dv=400, vth=1024)),
    "inhibitory": ([6, 6, 4], dict(weights=(0, 256), exps=(1, 1), bias=(1000, 4000), bias_exp=4, du=200, dv=50, vth=400,
                                   sign=-1)),
    "excitatory, sparse": ([40, 30, 20], dict(weights=(0, 256), exps=(3, 0), bias=(-2000, 500), bias_exp=2, du=1000,
                                              dv=0, vth=500, sign=1, density=0.1)),
    "24-bit wrap and clip": ([6, 5, 4], dict(weights=(150, 256), exps=(7, 7), bias=(3000, 4095), bias_exp=7, du=0,
                                             dv=0, vth=131071, sign=1)),
}


#: cases left to the slow run (each Lava run starts a runtime of several processes)
SLOW = {"deep, leak and bias", "excitatory, sparse", "24-bit wrap and clip"}


@pytest.mark.parametrize("name", [pytest.param(name, marks=pytest.mark.slow) if name in SLOW else name
                                  for name in CASES])
def test_lif_relaxation_equals_lava(name):
    layers, options = CASES[name]
    rng = np.random.default_rng(len(name))
    net = random_net(rng, layers, **options)
    steps = 30
    train = input_train(rng.random((1, layers[0])), 0, steps)
    state = relax_lif(net, train, window=steps, record=True)
    assert_same(lava_trace(net, train[:, 0], steps), state)
    spikes = sum(int(s.sum()) for _, _, s in state.record)
    assert spikes > 0 if name != "inhibitory" else True
    if name == "24-bit wrap and clip":  # the current wrapped past 2**23 and the voltage hit its clip
        assert any((np.abs(u) > 2 ** 22).any() and (np.diff(np.sign(u[:, 0]), axis=0) != 0).any()
                   for u, _, _ in state.record)
        assert any((np.abs(v) == 2 ** 23 - 1).any() for _, v, _ in state.record)


def test_a_voltage_exactly_at_the_threshold_does_not_fire_in_either():
    """No current memory (du = 4095), no leak, weight 5 (excitatory, stored as is), the input firing every step:
    the voltage is 320, 640 (= vth << 6: no spike, Lava's ``>``), 960 (fires, back to 0), 320, 640, ..."""
    net = LifNet(down=(np.array([[5]]),), weight_exp=(0,), bias_mant=(np.array([0]),), bias_exp=(0,), du=4095, dv=0,
                 vth=10)
    steps = 8
    train = np.ones((steps, 1, 1), bool)
    state = relax_lif(net, train, window=steps, record=True)
    _, v, s = state.record[0]
    np.testing.assert_array_equal(v[:, 0, 0], [0, 320, 640, 0, 320, 640, 0, 320])
    np.testing.assert_array_equal(s[:, 0, 0], [0, 0, 0, 1, 0, 0, 1, 0])
    assert_same(lava_trace(net, train[:, 0], steps), state)


def test_a_nudged_phase_continues_like_lava():
    """A second phase with new output bias mantissas, started from the first's state, equals Lava's continued run."""
    rng = np.random.default_rng(7)
    layers, options = CASES["recurrent, mixed weights"]
    net = random_net(rng, layers, **options)
    free_steps, nudged_steps = 20, 15
    x = rng.random((1, layers[0]))
    free = relax_lif(net, input_train(x, 0, free_steps), window=10)
    mantissas = list(net.bias_mant)
    mantissas[-1] = mantissas[-1] + rng.integers(-1000, 1000, layers[-1])
    bias = [np.asarray(m, np.int64)[None] << e for m, e in zip(mantissas, net.bias_exp)]
    nudged = relax_lif(net, input_train(x, free_steps, nudged_steps), window=10, bias=bias, init=free, record=True)
    train = input_train(x, 0, free_steps + nudged_steps)[:, 0]
    lava = LavaLifNetwork(net, train, free_steps + nudged_steps, probe=True)
    try:
        lava.run(free_steps)
        lava.set_bias_mant(len(layers) - 1, mantissas[-1])
        lava.run(nudged_steps)
        trace = lava.trace()
    finally:
        lava.stop()
    assert_same({k: {n: v[free_steps:] for n, v in layer.items()} for k, layer in trace.items()}, nudged,
                offset=free_steps)
