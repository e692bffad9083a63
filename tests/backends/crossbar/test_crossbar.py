"""The analog crossbar back-end: ideal equivalence, device statistics, exact counts, bad input."""
import json
from dataclasses import replace

import numpy as np
import pytest

from emulator.backends.crossbar import CrossbarBackend
from emulator.chip import load_chip
from emulator.backends.base import Nudge
from emulator.reference import relax_dense
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
    free, _ = BACKEND.relax(program, x, max_steps=2000)
    expected = relax_dense(net, x, steps=2000)
    assert free.quiescent.all()
    interior = np.concatenate([s.ravel() for s in expected[1:]])
    assert ((interior > 0.05) & (interior < 0.95)).mean() > 0.2  # not a trivially saturated network
    for got, want in zip(free.states, expected):
        np.testing.assert_allclose(got, want, atol=1e-9)
    nudged, _ = BACKEND.relax(program, x, max_steps=2000, nudge=Nudge(0.5, y), init=free)
    want = relax_dense(net, x, steps=2000, nudge=Nudge(0.5, y), init=expected)
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
    g_plus = program.arrays[0].conductance[0]
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


def test_counts_follow_every_driven_line_not_only_the_moved_ones():
    """1 -> 2 -> 1 units, one tile per array, dt = tau, theta = 0.05; W_0 = [0.5, 0.8], W_1 = [0.6, 0].

    init: x drives array 0 (1 DAC; 1 driven line x 2 sensed: 2 MACs, 2 ADC; 2 hidden units x 2
    partial sums: 4 adds). step 1: hidden -> (0.5, 0.8), both re-driven (2 DAC), array 1 read
    forward (2 MACs, 1 ADC, 1 add). step 2: output -> 0.3 (1 DAC; backward read: 1 line x 2 sensed,
    2 ADC, 4 adds). step 3: hidden 1 -> 0.68 re-driven (1 DAC); hidden 2 did not move but still
    drives its row: the forward read costs 2 MACs (1 ADC, 1 add). step 4: output -> 0.408 (as
    step 2). step 5: hidden 1 -> 0.7448 (as step 3). step 6: output -> 0.44688, moved 0.039 <
    theta. step 7: settled.
    """
    net = Network(weights=(np.array([[0.5], [0.8]]), np.array([[0.6, 0.0]])), biases=(np.zeros(2), np.zeros(1)),
                  theta=0.05)
    c = chip(**IDEAL, tile_rows=4, tile_cols=4, tau_s=1e-7, dt_s=1e-7, tolerance=1e-6)
    eq, counters = BACKEND.relax(BACKEND.compile(net, c), np.ones((1, 1)), max_steps=20)
    assert counters == {"dac_conversions": 7, "array_macs": 12, "adc_conversions": 9, "digital_adds": 15,
                        "integration_time": pytest.approx(7e-7)}
    assert eq.steps.tolist() == [7] and eq.quiescent.all()
    assert eq.trace[:7].tolist() == [2, 1, 1, 1, 1, 0, 0]
    np.testing.assert_allclose([*eq.states[1][0], eq.states[2][0, 0]], [0.7448, 0.8, 0.44688])


@pytest.mark.parametrize("noise", ["none", "constant"])
def test_the_held_line_sums_equal_a_full_read_of_what_the_dacs_drive(noise):
    """The host adds only the moved lines' changes; the sums must equal reading every driven line."""
    net, rng = random_network([30, 40, 20, 10], theta=0.02)
    c = chip(**{**IDEAL, "read_noise": noise}, read_noise_constant=0.05, tile_rows=16, tile_cols=12)
    program = BACKEND.compile(net, c)
    eq, _ = BACKEND.relax(program, rng.random((5, 30)), max_steps=60)
    for k, array in enumerate(program.arrays):
        out_fwd, out_bwd, sum_fwd, sum_bwd, var_fwd, var_bwd = eq.partials[k]
        for i, rows in enumerate(array.tiling.rows):
            np.testing.assert_allclose(sum_fwd[i], eq.heard[k][:, rows] @ array.fwd[rows], atol=1e-12)
            if noise == "constant":
                np.testing.assert_allclose(var_fwd[i], eq.heard[k][:, rows] ** 2 @ array.var_fwd[rows], atol=1e-12)
            else:
                np.testing.assert_array_equal(out_fwd[i], sum_fwd[i])  # exact ADC, no noise: the sum itself
        if k >= 1:  # nothing reads array 0 backward
            for i, cols in enumerate(array.tiling.cols):
                np.testing.assert_allclose(sum_bwd[i], eq.heard[k + 1][:, cols] @ array.bwd[cols], atol=1e-12)


def test_cells_are_rewritten_only_past_the_write_threshold():
    net = Network(weights=(np.array([[0.5, -0.25]]),), biases=(np.zeros(1),))
    c = chip(**IDEAL, write_threshold=0.05, weight_headroom=1.0)  # w_scale 0.5: 5 % of the range is 0.025
    first = BACKEND.compile(net, c)
    small = BACKEND.compile(net.with_parameters((np.array([[0.49, -0.26]]),), net.biases), c, previous=first)
    assert small.programming["cell_writes"] == 0
    np.testing.assert_array_equal(small.arrays[0].fwd, first.arrays[0].fwd)
    # the host's weights keep the small steps: a second one takes the G- cell past the threshold
    more = BACKEND.compile(net.with_parameters((np.array([[0.49, -0.28]]),), net.biases), c, previous=small)
    assert more.programming["cell_writes"] == 1
    np.testing.assert_allclose(more.arrays[0].fwd.ravel(), [0.5, -0.28])


def test_adc_clips_at_its_range_in_full_scale_weights():
    c = chip(**{**IDEAL, "adc_bits": 16}, weight_headroom=2.0, adc_range=0.2)  # w_scale = 2 x 0.5 = 1: clips at 0.2
    program = BACKEND.compile(constant_network(1, 3), c)
    eq, _ = BACKEND.relax(program, np.ones((1, 1)), max_steps=0)
    np.testing.assert_allclose(eq.partials[0][0][0], [[0.2, 0.2, 0.2]])
    c = chip(**{**IDEAL, "adc_bits": 3}, weight_headroom=2.0, adc_range=0.9)  # levels at multiples of 0.3
    eq, _ = BACKEND.relax(BACKEND.compile(constant_network(1, 3), c), np.ones((1, 1)), max_steps=0)
    np.testing.assert_allclose(eq.partials[0][0][0], [[0.6] * 3])  # 0.5 read as the nearest level


def test_digits_trained_on_the_pcm_array_is_within_one_point_of_digital(trained_digits):
    """Chip-in-the-loop EqProp: free and nudged phases on the noisy array, updates written with noise."""
    (pcm, _), (digital, _) = trained_digits("crossbar-pcm"), trained_digits("digital")
    assert pcm.metrics.test_accuracy >= digital.metrics.test_accuracy - 0.01
    assert pcm.counters["training"]["cell_writes"] > 0
    assert pcm.energy.inference.breakdown_j["adc_conversions"] > 0


def test_naive_deployment_of_a_digital_run_onto_the_array(trained_digits, tmp_path, capsys):
    from emulator.cli import main

    digital, folder = trained_digits("digital")
    assert main(["evaluate", str(folder), "--chip", "crossbar-pcm", "--out", str(tmp_path / "a"),
                 "--quiet"]) == 0
    report = json.loads((tmp_path / "a" / "report.json").read_text())
    assert report["deployed"] == {"from": str(folder), "trained_on": "digital", "epochs": 20}
    assert report["counters"]["training"]["cell_writes"] == 2 * (64 * 256 + 256 * 10)  # programmed once
    assert abs(report["metrics"]["test_accuracy"] - digital.metrics.test_accuracy) < 0.02
    assert "trained on **digital** for 20 epochs" in (tmp_path / "a" / "report.md").read_text()
    assert "deployed from 20 epochs on digital;" in capsys.readouterr().out
    # a 2-bit ADC ruins the deployed network; the option is checked like the chip file
    assert main(["evaluate", str(folder), "--chip", "crossbar-pcm", "--chip-set", "parameters.adc_bits=2",
                 "--out", str(tmp_path / "b"), "--quiet"]) == 0
    assert json.loads((tmp_path / "b" / "report.json").read_text())["metrics"]["test_accuracy"] < 0.5
    assert main(["evaluate", str(folder), "--chip", "crossbar-pcm", "--chip-set", "parameters.adc_bits=40",
                 "--out", str(tmp_path / "c")]) == 2
    assert capsys.readouterr().err.strip() == ("error: --chip-set parameters.adc_bits=40: parameters.adc_bits: must "
                                               "be <= 16 (ADC resolution in bits; null: exact), got 40")


def test_a_resumed_run_keeps_the_arrays_scales(tmp_path):
    """The full-scale weights are fixed at the first programming; a resumed run must not rescale them
    to its trained weights (it would no longer see the clipping and ADC range it was trained with)."""
    from emulator.tasks.classification import Run
    from emulator.workload import load_workload

    workload = load_workload("workloads/digits_snn.yaml", ["training.epochs=2", "dataset.n_train=200"])
    c = chip(weight_headroom=1.0)  # training grows the largest weights past the initial scale
    whole = Run(workload, c, tmp_path / "whole")
    whole.train(progress=False)
    first = Run(load_workload("workloads/digits_snn.yaml", ["training.epochs=1", "dataset.n_train=200"]), c,
                tmp_path / "part")
    first.train(progress=False)
    resumed = Run(workload, c, tmp_path / "part")
    resumed.restore()
    assert max(np.abs(w).max() for w in resumed.network.weights) > min(a.w_scale for a in resumed.program.arrays)
    assert [a.w_scale for a in resumed.program.arrays] == [a.w_scale for a in whole.program.arrays]


def test_backward_reads_have_their_own_adc_range():
    """1 -> 1 -> 1 chain (W_1 = 0.2, full-scale weight 0.3): the backward read senses 0.2 x s_2, which an
    ADC range of 0.05 full-scale weights (0.015) clips; the forward reads keep the +-10 range."""
    net = Network(weights=(np.array([[0.5]]), np.array([[0.2]])), biases=(np.zeros(1), np.zeros(1)))
    c = chip(**{**IDEAL, "adc_bits": 16}, adc_range_backward=0.05, tau_s=1e-7, dt_s=1e-7, tolerance=1e-9)
    eq, _ = BACKEND.relax(BACKEND.compile(net, c), np.ones((1, 1)), max_steps=50)
    backward = eq.partials[1][1][0, 0, 0]
    forward = eq.partials[1][0][0, 0, 0]
    assert backward == pytest.approx(0.015, rel=1e-3) and backward < 0.2 * eq.states[2][0, 0]
    assert forward == pytest.approx(0.2 * eq.states[1][0, 0], rel=1e-3)
    assert eq.states[1][0, 0] == pytest.approx(0.515, rel=1e-3)  # 0.5 + the clipped feedback
