"""The emulator's fixed-point relaxation equals Lava 0.10's fixed-point simulation, step for step.

Each case builds a random layered network with feedback (every coupling has a forward and a
transposed feedback ``Dense``), runs it in Lava with ``Loihi2SimCfg(select_tag='fixed_pt')``
and in :func:`emulator.backends.loihi.sigma_delta.relax_fixed`, and compares every neuron's sigma,
activation and graded spike at every step. After the emulator stops at quiescence, Lava's
remaining steps must equal the final state with no spikes.
"""
import numpy as np
import pytest

from emulator.backends.loihi.lava import LavaUnavailable, require_lava  # noqa: E402

try:
    require_lava()
except LavaUnavailable as exc:
    pytest.skip(str(exc), allow_module_level=True)

from emulator.backends.loihi.sigma_delta import FixedNet, relax_fixed  # noqa: E402
from emulator.backends.loihi.lava.network import LavaNetwork  # noqa: E402
from emulator.backends.loihi.quantise import as_stored  # noqa: E402


def random_net(rng, layers, *, weight_range, exps, bias_range, vth, act_max, state_exp=0, sign=0, density=1.0,
               pair=False):
    unit = 2 ** state_exp
    down = []
    for k in range(len(layers) - 1):
        w = rng.integers(*weight_range, (layers[k + 1], layers[k])) * (rng.random((layers[k + 1], layers[k])) < density)
        w = as_stored(np.abs(w) * sign if sign else w)
        down.append(np.maximum(w, -254) if pair else w)  # -W must be storable too
    bias = tuple(rng.integers(*bias_range, n) * unit for n in layers[1:])
    return FixedNet(down=tuple(down), weight_exp=tuple(exps), bias=bias, vth=vth * unit, act_max=act_max,
                    state_exp=state_exp, pair=pair)


def recorded(state, steps):
    """Per-step ``{layer k: (sigma, act, spikes)}`` of sample 0 for ``steps`` steps; after the
    relaxation stopped, the final state and no spikes (what the chip then does forever)."""
    ran = int(state.steps[0])
    out = []
    for t in range(steps):
        last = min(t, ran - 1)
        out.append({k: (sigma[last, 0], act[last, 0], spikes[t, 0] if t < ran else 0 * spikes[0, 0])
                    for k, (sigma, act, spikes) in enumerate(state.record, start=1)})
    return out


def lava_trace(net, x_spikes, steps):
    """Every step of Lava's fixed-point run from rest."""
    lava = LavaNetwork(net, x_spikes, steps, probe=True)
    try:
        lava.run(steps)
        return lava.trace()
    finally:
        lava.stop()


def assert_same(lava_trace, state, steps, offset=0):
    for t, layers in enumerate(recorded(state, steps)):
        for k, (sigma, act, spikes) in layers.items():
            got = lava_trace[k]
            for name, mine in (("sigma", sigma), ("act", act), ("s_out", spikes)):
                np.testing.assert_array_equal(got[name][t], mine, err_msg=f"step {offset + t + 1}, layer {k}, {name}")


CASES = {
    # name: (layers, net options, input range)
    "two layers, mixed weights": ([6, 5, 4], dict(weight_range=(-300, 300), exps=(-3, -2), bias_range=(-50, 200),
                                                  vth=8, act_max=256), (0, 64)),
    "deep, saturating": ([5, 7, 6, 3], dict(weight_range=(-256, 256), exps=(0, -1, 1), bias_range=(-20, 80),
                                             vth=3, act_max=64), (0, 64)),
    "threshold edges": ([8, 6, 5], dict(weight_range=(-6, 6), exps=(0, 0), bias_range=(-4, 6), vth=2, act_max=16),
                        (0, 4)),
    "state_exp drops low bits": ([6, 6, 4], dict(weight_range=(-200, 200), exps=(-2, -3), bias_range=(-10, 40),
                                                 vth=2, act_max=1024, state_exp=3), (0, 128)),
    "inhibitory feedback": ([5, 6, 3], dict(weight_range=(0, 300), exps=(-2, -2), bias_range=(20, 120), vth=5,
                                            act_max=256, sign=-1), (0, 64)),
    "sparse connectivity": ([40, 30, 20], dict(weight_range=(-256, 256), exps=(-3, -3), bias_range=(-20, 100),
                                               vth=4, act_max=1024, density=0.1), (0, 512)),
    "quiescent early": ([10, 8, 4], dict(weight_range=(-40, 40), exps=(-4, -4), bias_range=(0, 60), vth=16,
                                         act_max=4096), (0, 2048)),
}


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("seed, pair", [(0, False), (1, False), (2, True)])
def test_free_relaxation_equals_lava(name, seed, pair):
    """Clipped neurons (two seeds) and pairs of Lava's standard ReLU sigma-delta neurons (one seed)."""
    layers, options, x_range = CASES[name]
    rng = np.random.default_rng(seed)
    net = random_net(rng, layers, **options, pair=pair)
    x = rng.integers(*x_range, layers[0])
    steps = 30
    state = relax_fixed(net, x[None], max_steps=steps, record=True)
    assert_same(lava_trace(net, x, steps), state, steps)
    if name == "quiescent early":
        assert state.quiescent[0] and state.steps[0] < steps
    if name == "threshold edges":  # some neuron fired with |delta| exactly at the threshold
        assert any((np.abs(spikes) == net.vth).any() for _, _, spikes in state.record)
    if name == "deep, saturating":  # units at both ends of the clip
        acts = np.concatenate([net.unit_values(act).ravel() for _, act, _ in state.record])
        assert (acts == net.act_max).any() and (acts == 0).any()


@pytest.mark.parametrize("pair", [False, True])
def test_nudged_phase_continues_like_lava(pair):
    """A second phase with a new output bias, started from the first's state, equals Lava's continued run."""
    rng = np.random.default_rng(7)
    layers, options, x_range = CASES["two layers, mixed weights"]
    net = random_net(rng, layers, **options, pair=pair)
    x = rng.integers(*x_range, layers[0])
    free_steps, nudged_steps = 20, 15
    free = relax_fixed(net, x[None], max_steps=free_steps)
    nudged_bias = list(net.bias)
    nudged_bias[-1] = net.bias[-1] + rng.integers(-40, 40, layers[-1])
    nudged = relax_fixed(net, x[None], max_steps=nudged_steps, bias=[b[None] for b in nudged_bias], init=free,
                         record=True)
    lava = LavaNetwork(net, x, free_steps + nudged_steps, probe=True)
    try:
        lava.run(free_steps)
        lava.set_bias(len(layers) - 1, nudged_bias[-1])
        lava.run(nudged_steps)
        trace = lava.trace()
    finally:
        lava.stop()
    after_free = {k: {name: v[free_steps:] for name, v in layer.items()} for k, layer in trace.items()}
    assert_same(after_free, nudged, nudged_steps, offset=free_steps)


def test_input_spike_train_equals_lava():
    """An input that sends new graded spikes at every step (as in the speed benchmark)."""
    rng = np.random.default_rng(3)
    layers, options, _ = CASES["deep, saturating"]
    net = random_net(rng, layers, **options)
    steps = 20
    train = rng.integers(-30, 30, (12, layers[0])) * (rng.random((12, layers[0])) < 0.3)
    state = relax_fixed(net, train[:, None, :], max_steps=steps, record=True)
    assert_same(lava_trace(net, train, steps), state, steps)
