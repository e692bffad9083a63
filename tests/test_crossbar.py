"""The analog crossbar back-end: ideal equivalence, device statistics, exact counts, bad input."""
from dataclasses import replace

import numpy as np
import pytest

from emulator.backends.crossbar import CrossbarBackend
from emulator.chip import load_chip
from emulator.engine import LayeredNet, Nudge, relax_dense
from emulator.errors import CapacityError, ConfigError
from emulator.network import Network, init_network

BACKEND = CrossbarBackend()
IDEAL = {"programming_noise": False, "read_noise": "none", "drift": False, "device_variation": 0.0,
         "ir_drop": 0.0, "dac_bits": None, "adc_bits": None}


def chip(name="crossbar-pcm", **parameters):
    c = load_chip(f"chips/{name}.yaml")
    return replace(c, parameters={**c.parameters, **parameters})


def random_network(layers, seed=0, theta=0.0):
    rng = np.random.default_rng(seed)
    net = init_network(layers, rng, theta=theta, damping=0.5)
    return net.with_parameters(net.weights, tuple(rng.uniform(-0.5, 0.5, b.shape) for b in net.biases)), rng


@pytest.mark.parametrize("tile", [256, 7])  # one tile per array, and many (partial sums added digitally)
def test_ideal_crossbar_reaches_the_digital_equilibria(tile):
    net, rng = random_network([20, 30, 25, 10])
    c = chip(**IDEAL, tile_rows=tile, tile_cols=tile + 2, tolerance=1e-12)  # dt/tau = 0.5 = 1 - damping
    program = BACKEND.compile(net, c)
    x = rng.random((6, 20))
    y = np.eye(10)[rng.integers(0, 10, 6)]
    reference = LayeredNet.from_parameters(net.weights, net.biases, 0.0, 0.5, np.float64)
    free, _ = BACKEND.relax(program, x, max_steps=2000)
    expected = relax_dense(reference, x, steps=2000)
    assert free.quiescent.all()
    interior = np.concatenate([s.ravel() for s in expected[1:]])
    assert ((interior > 0.05) & (interior < 0.95)).mean() > 0.2  # not a trivially saturated network
    for got, want in zip(free.states, expected):
        np.testing.assert_allclose(got, want, atol=1e-9)
    nudged, _ = BACKEND.relax(program, x, max_steps=2000, nudge=Nudge(0.5, y), init=free)
    want = relax_dense(reference, x, steps=2000, nudge=Nudge(0.5, y), init=expected)
    for got, w in zip(nudged.states, want):
        np.testing.assert_allclose(got, w, atol=1e-9)


def constant_network(n_in, n_out, w=0.5):
    """One array whose weights all equal ``w`` (its G+ cells share one target, its G- cells sit at g_min)."""
    return Network(weights=(np.full((n_out, n_in), w),), biases=(np.zeros(n_out),))


# the anchor models, written out from the published coefficients (g in uS)
def pcm_programming_sigma(g, g_max=25.0):
    x = g / g_max
    return 0.26348 + 1.9650 * x - 1.1731 * x ** 2


def rram_programming_sigma(g, g_max=40.0):
    x = g / g_max
    return 0.348 + 16.030 * x - 43.853 * x ** 2 + 45.393 * x ** 3 - 16.815 * x ** 4


@pytest.mark.parametrize("name, sigma, g_max", [("crossbar-pcm", pcm_programming_sigma, 25.0),
                                                ("crossbar-rram", rram_programming_sigma, 40.0)])
@pytest.mark.parametrize("level", [0.3, 0.8])
def test_programming_noise_has_the_anchor_std(name, sigma, g_max, level):
    c = chip(name, **{**IDEAL, "programming_noise": True}, weight_headroom=1.0 / level, n_tiles=4)
    program = BACKEND.compile(constant_network(300, 300), c)  # 90,000 devices at level * g_max
    g_plus = program.arrays[0].programmed[0]
    assert np.std(g_plus) == pytest.approx(sigma(level * g_max), rel=0.05)
    assert np.mean(g_plus) == pytest.approx(level * g_max, rel=0.01)


def sensed_reads(c, n_out=300, batch=200):
    """Many reads of one row of cells at ``g_max / 2`` driven at full scale: (batch, n_out) outputs."""
    program = BACKEND.compile(constant_network(1, n_out), c)
    eq, counters = BACKEND.relax(program, np.ones((batch, 1)), max_steps=0)
    return eq.partials[0][0][0], program.arrays[0]


def test_pcm_read_noise_has_the_anchor_std():
    c = chip("crossbar-pcm", **{**IDEAL, "read_noise": "1/f"}, weight_headroom=2.0, read_time_s=60.0)
    reads, array = sensed_reads(c)
    g, t, t_read = 12.5, 60.0, 250e-9
    q_s = min(0.0088 / (g / 25.0) ** 0.65, 0.2)
    sigma_us = g * q_s * np.sqrt(np.log((t + t_read) / (2 * t_read)))  # G- = 0 uS reads without noise
    sigma_w = sigma_us * array.w_scale / 25.0
    assert np.std(reads - array.fwd[0]) == pytest.approx(sigma_w, rel=0.05)


def test_rram_read_noise_has_the_anchor_std():
    c = chip("crossbar-rram", **{**IDEAL, "read_noise": "constant"}, read_noise_constant=0.01)
    reads, array = sensed_reads(c)
    assert np.std(reads - array.fwd[0]) == pytest.approx(0.01 * array.w_scale, rel=0.05)


def test_counts_on_a_hand_checked_chain():
    """1 -> 1 -> 1 units, one 1 x 1 tile per array, dt = tau, theta = 0.05.

    init: the input's DAC converts (1), array 0 is read forward (1 MAC, 1 ADC) and the hidden
    unit sums its 2 partial sums (its forward one and array 1's backward one; bias included): 2 adds.
    step 1: hidden -> 0.5, re-driven into array 1 (1 DAC), read forward (1 MAC, 1 ADC), output
    re-summed (1 add). step 2: output -> 0.1, re-driven backward (1 DAC, 1 MAC, 1 ADC), hidden
    re-summed (2 adds). step 3: hidden -> 0.52, moved 0.02 < theta: no DAC. step 4: settled.
    """
    net = Network(weights=(np.array([[0.5]]), np.array([[0.2]])), biases=(np.zeros(1), np.zeros(1)),
                  theta=0.05)
    c = chip(**IDEAL, tile_rows=1, tile_cols=1, tau_s=1e-7, dt_s=1e-7, tolerance=1e-6)
    program = BACKEND.compile(net, c)
    assert program.programming == {"cell_writes": 4}  # 2 weights x (G+, G-)
    eq, counters = BACKEND.relax(program, np.ones((1, 1)), max_steps=10)
    assert counters == {"dac_conversions": 3, "array_macs": 3, "adc_conversions": 3, "digital_adds": 5,
                        "integration_time": pytest.approx(4e-7)}
    assert eq.steps.tolist() == [4] and eq.quiescent.all()
    assert eq.trace[:4].tolist() == [1, 1, 0, 0]
    np.testing.assert_allclose([eq.states[1][0, 0], eq.states[2][0, 0]], [0.52, 0.1])


def test_reprogramming_writes_only_changed_cells():
    net = Network(weights=(np.array([[0.5, -0.25]]),), biases=(np.zeros(1),))
    c = chip(**IDEAL)
    first = BACKEND.compile(net, c)
    again = BACKEND.compile(net.with_parameters((np.array([[0.5, -0.3]]),), net.biases), c, previous=first)
    assert first.programming["cell_writes"] == 4 and again.programming["cell_writes"] == 1


def test_same_seed_same_counts_and_states():
    net, rng = random_network([16, 20, 5], theta=0.01)
    x = rng.random((4, 16))
    runs = []
    for _ in range(2):
        program = BACKEND.compile(net, chip())
        runs.append(BACKEND.relax(program, x, max_steps=30))
    (a, ca), (b, cb) = runs
    assert ca == cb
    np.testing.assert_array_equal(a.output, b.output)


@pytest.mark.parametrize("parameters, message", [
    ({"g_max_us": 5.0, "g_min_us": 5.0}, "conductance range"),
    ({"adc_bits": 17}, "adc_bits"),
    ({"adc_bits": 0}, "adc_bits"),
    ({"tile_rows": 8192}, "tile_rows"),
])
def test_bad_chip_parameters_are_one_clear_error(parameters, message):
    net, _ = random_network([4, 3])
    with pytest.raises(ConfigError, match=message):
        BACKEND.compile(net, chip(**parameters))


def test_a_network_needing_more_tiles_than_the_chip_has():
    net, _ = random_network([40, 30, 10])
    with pytest.raises(CapacityError, match="n_tiles"):
        BACKEND.compile(net, chip(tile_rows=8, tile_cols=8, n_tiles=4))
