"""The analog crossbar back-end: ideal equivalence, device statistics, exact counts, bad input."""
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from emulator.backends.crossbar import CrossbarBackend, tiled
from emulator.backends.crossbar.noise import ConstantReadNoise, NoDrift, PolynomialProgrammingNoise
from emulator.backends.crossbar.parameters import CrossbarParameters, Forward, Readout
from emulator.chip import Constant, load_chip
from emulator.backends.base import Nudge
from emulator.reference import relax_dense
from emulator.errors import CapacityError, ConfigError
from emulator.network import Network, init_network

BACKEND = CrossbarBackend()
#: every non-ideality off, exact converters
IDEAL = {"programming_noise": {"model": "none"}, "read_noise": {"model": "none"}, "drift": {"model": "none"},
         "device_variation": 0.0, "ir_drop": 0.0, "forward": {}}


def ideal(*keep) -> dict:
    """:data:`IDEAL` but for the chip's own ``keep`` sections."""
    return {key: value for key, value in IDEAL.items() if key not in keep}


def chip(name="crossbar-pcm", **parameters):
    """A shipped chip with whole ``parameters`` keys (sections included) replaced."""
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
    c = chip(name, **ideal("programming_noise"), weight_headroom=1.0 / level, n_tiles=4)
    program = BACKEND.compile(constant_network(300, 300), c)  # 90,000 devices at level * g_max
    g_plus = program.arrays[0].conductance[0]
    assert np.std(g_plus) == pytest.approx(sigma(level * g_max), rel=0.05)
    assert np.mean(g_plus) == pytest.approx(level * g_max, rel=0.01)


def sensed_reads(c, n_out=300, batch=200):
    """Many reads of one row of cells at ``g_max / 2`` driven at full scale: (batch, n_out) outputs."""
    program = BACKEND.compile(constant_network(1, n_out), c)
    eq, counters = BACKEND.relax(program, np.ones((batch, 1)), max_steps=0)
    return eq.partials[0].out_fwd[0], program.arrays[0]


def test_pcm_read_noise_has_the_anchor_std():
    c = chip("crossbar-pcm", **ideal("read_noise"), weight_headroom=2.0, read_time_s=60.0)
    reads, array = sensed_reads(c)
    g, t, t_read = 12.5, 60.0, 250e-9
    q_s = min(0.0088 / (g / 25.0) ** 0.65, 0.2)
    sigma_us = g * q_s * np.sqrt(np.log((t + t_read) / (2 * t_read)))  # G- = 0 uS reads without noise
    sigma_w = sigma_us * array.w_scale / 25.0
    assert np.std(reads - array.fwd[0]) == pytest.approx(sigma_w, rel=0.05)


def test_rram_read_noise_has_the_anchor_std():
    c = chip("crossbar-rram", **ideal("read_noise"))  # its file's: constant, std 0.01
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


@pytest.mark.parametrize("parameters, message", [
    ({"g_max_us": 5.0, "g_min_us": 5.0}, "conductance range"),
    ({"forward": {"adc_bits": 17}}, "forward.adc_bits"),
    ({"forward": {"adc_bits": 0}}, "forward.adc_bits"),
    ({"backward": {"adc_range": 0}}, "backward.adc_range"),
    ({"drift": {"model": "power_law", "t0_s": 20, "nu_mean": [0, 0], "nu_std": [0, 0, 0, 0]}}, "drift.nu_mean"),
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
    read_noise = {"model": "constant", "std": 0.05} if noise == "constant" else {"model": "none"}
    c = chip(**{**IDEAL, "read_noise": read_noise}, tile_rows=16, tile_cols=12)
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


@settings(deadline=None)  # the first example compiles the kernel
@given(blocks=st.lists(st.tuples(st.integers(1, 3), st.integers(1, 3)), min_size=1, max_size=3),
       batch=st.integers(1, 3), seed=st.integers(0, 2 ** 32 - 1), bad=st.sampled_from([None, np.nan, np.inf]))
def test_drives_are_numpys_sums_of_the_held_partials_bit_for_bit(blocks, batch, seed, bad):
    """The drive of layer k is ``out_fwd.sum(axis=0) + bias + out_bwd.sum(axis=0)`` of the partials around it,
    with numpy's rounding, and a NaN or infinite partial is reported."""
    rng = np.random.default_rng(seed)
    sizes = [int(n) for n in rng.integers(1, 6, len(blocks) + 1)]
    partials = [tiled.Partials(*(rng.standard_normal(shape) * 10.0 ** rng.integers(-3, 4, shape)
                                 for shape in [(row_blocks, batch, n_out), (col_blocks, batch, n_in)] * 3))
                for (row_blocks, col_blocks), n_in, n_out in zip(blocks, sizes, sizes[1:])]
    if bad is not None:
        partials[-1].out_fwd[0, 0, 0] = bad
    bias = [rng.standard_normal(n) for n in sizes[1:]]
    got, finite = tiled.drives(partials, bias)
    depth = len(partials)
    for k in range(1, depth + 1):
        expected = partials[k - 1].out_fwd.sum(axis=0) + bias[k - 1] + (
            partials[k].out_bwd.sum(axis=0) if k < depth else 0.0)
        np.testing.assert_array_equal(got[k - 1], expected)
    assert finite == (bad is None)


def test_the_kernel_refuses_a_noise_pool_without_read_noise_variances_and_the_reverse():
    net, rng = random_network([6, 5, 3])
    for read_noise, pool in [({"model": "none"}, np.zeros(64)), ({"model": "constant", "std": 0.05}, None)]:
        program = BACKEND.compile(net, chip(**{**IDEAL, "read_noise": read_noise}))
        with pytest.raises(ValueError, match="read-noise variances and a noise pool"):
            tiled.relax_tiled(program.kernel_arrays, rng.random((2, 6)), program.periphery, max_steps=3, rng=rng,
                              noise_pool=pool)


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
    c = chip(**{**IDEAL, "forward": {"adc_bits": 16, "adc_range": 0.2}}, weight_headroom=2.0)  # w_scale 1: clips at 0.2
    program = BACKEND.compile(constant_network(1, 3), c)
    eq, _ = BACKEND.relax(program, np.ones((1, 1)), max_steps=0)
    np.testing.assert_allclose(eq.partials[0].out_fwd[0], [[0.2, 0.2, 0.2]])
    c = chip(**{**IDEAL, "forward": {"adc_bits": 3, "adc_range": 0.9}}, weight_headroom=2.0)  # levels: multiples of 0.3
    eq, _ = BACKEND.relax(BACKEND.compile(constant_network(1, 3), c), np.ones((1, 1)), max_steps=0)
    np.testing.assert_allclose(eq.partials[0].out_fwd[0], [[0.6] * 3])  # 0.5 read as the nearest level


def pcm_within_one_point_of_digital(trained):
    (pcm, _), (digital, _) = trained("crossbar-pcm"), trained("digital")
    assert pcm.metrics.test_accuracy >= digital.metrics.test_accuracy - 0.01
    assert pcm.counters["training"]["cell_writes"] > 0
    assert pcm.energy.inference.breakdown_j["adc_conversions"] > 0


@pytest.mark.slow
def test_digits_trained_on_the_pcm_array_is_within_one_point_of_digital(trained_digits):
    """Chip-in-the-loop EqProp: free and nudged phases on the noisy array, updates written with noise."""
    pcm_within_one_point_of_digital(trained_digits)


def test_digits_briefly_trained_on_the_pcm_array_is_within_one_point_of_digital(briefly_trained_digits):
    """The same on 5 epochs of 800 training samples, tested on the whole test set."""
    pcm_within_one_point_of_digital(briefly_trained_digits)


@pytest.mark.parametrize("trained, epochs", [("briefly_trained_digits", 5),
                                             pytest.param("trained_digits", 20, marks=pytest.mark.slow)])
def test_naive_deployment_of_a_digital_run_onto_the_array(trained, epochs, request, tmp_path, capsys):
    from emulator.cli import main

    digital, folder = request.getfixturevalue(trained)("digital")
    assert main(["evaluate", str(folder), "--chip", "crossbar-pcm", "--out", str(tmp_path / "a"),
                 "--quiet"]) == 0
    report = json.loads((tmp_path / "a" / "report.json").read_text())
    assert report["deployed"] == {"from": str(folder), "trained_on": "digital", "epochs": epochs}
    assert report["counters"]["training"]["cell_writes"] == 2 * (64 * 256 + 256 * 10)  # programmed once
    assert abs(report["metrics"]["test_accuracy"] - digital.metrics.test_accuracy) < 0.02
    assert f"trained with **EqProp** on **digital** for {epochs} epochs" in (tmp_path / "a" / "report.md").read_text()
    assert f"deployed from {epochs} epochs on digital;" in capsys.readouterr().out
    # a 2-bit ADC ruins the deployed network; the option is checked like the chip file
    assert main(["evaluate", str(folder), "--chip", "crossbar-pcm", "--chip-set",
                 "parameters.forward.adc_bits=2", "--out", str(tmp_path / "b"), "--quiet"]) == 0
    assert json.loads((tmp_path / "b" / "report.json").read_text())["metrics"]["test_accuracy"] < 0.5
    assert main(["evaluate", str(folder), "--chip", "crossbar-pcm", "--chip-set",
                 "parameters.forward.adc_bits=40", "--out", str(tmp_path / "c")]) == 2
    assert capsys.readouterr().err.strip() == (
        "error: --chip-set parameters.forward.adc_bits=40: parameters.forward.adc_bits: must be <= 16 (ADC resolution "
        "in bits; null: exact), got 40")


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
    c = chip(**{**IDEAL, "forward": {"adc_bits": 16}}, backward={"adc_range": 0.05}, tau_s=1e-7, dt_s=1e-7,
             tolerance=1e-9)  # the backward ADCs keep the forward ones' 16 bits
    eq, _ = BACKEND.relax(BACKEND.compile(net, c), np.ones((1, 1)), max_steps=50)
    backward = eq.partials[1].out_bwd[0, 0, 0]
    forward = eq.partials[1].out_fwd[0, 0, 0]
    assert backward == pytest.approx(0.015, rel=1e-3) and backward < 0.2 * eq.states[2][0, 0]
    assert forward == pytest.approx(0.2 * eq.states[1][0, 0], rel=1e-3)
    assert eq.states[1][0, 0] == pytest.approx(0.515, rel=1e-3)  # 0.5 + the clipped feedback


# -- the chip files and their parameters section --------------------------------------------------
def test_crossbar_rram_extends_crossbar_pcm_and_loads_as_its_full_file_did():
    """The values of the full copy of chips/crossbar-rram.yaml, before it said `extends: crossbar-pcm` and
    the device models and converters had sections: read_noise constant with read_noise_constant 0.01
    (the 1/f keys, unused, at their defaults), drift false (its keys unused), programming_noise true
    with its coefficients, 8-bit DACs and ADCs, adc_range 10, adc_range_backward null."""
    chip = load_chip("chips/crossbar-rram.yaml")
    assert (chip.name, chip.backend, chip.description) == (
        "crossbar-rram", "crossbar", "RRAM crossbar, 256x256 tiles, 8-bit DAC/ADC (NeuRRAM, Wan 2022 noise model)")
    assert BACKEND.parameters_of(chip) == CrossbarParameters(
        tile_rows=256, tile_cols=256, n_tiles=48, g_max_us=40.0, g_min_us=0.0, weight_headroom=1.5,
        write_threshold=0.02, seed=0,
        programming_noise=PolynomialProgrammingNoise(coeffs_us=[0.348, 16.03, -43.853, 45.393, -16.815],
                                                     g_ref_us=40.0),
        read_noise=ConstantReadNoise(std=0.01), drift=NoDrift(), read_time_s=1.0, device_variation=0.0, ir_drop=0.0,
        forward=Forward(dac_bits=8, dac_range=1.0, adc_bits=8, adc_range=10.0),
        backward=Readout(adc_bits=8, adc_range=10.0), tau_s=1e-07, dt_s=5e-08, tolerance=0.0001)
    inside_dt = "assumed: inside the integration step dt (counted by integration_time)"
    assert chip.energy == {
        "array_macs": Constant(value=0.177, unit="pJ", source=(
            "assumed: the PCM chip's derived figure (Le Gallo 2023, 1-phase, minus its ADCs); NeuRRAM's TOPS/W "
            "(Wan et al., Nature 2022) are not given per array MAC")),
        "adc_conversions": Constant(value=7.1, unit="pJ", source=(
            "Murmann ADC survey (ADCsurvey_latest.xlsx, ISSCC 2025 update): median energy per conversion of 7-9 "
            "bit Nyquist ADCs published 2015 or later (n = 38)")),
        "dac_conversions": Constant(value=0.7, unit="pJ", source=(
            "assumed: a tenth of an 8-bit ADC conversion; no published DAC figure found")),
        "digital_adds": Constant(value=0.1, unit="pJ", source="Horowitz, ISSCC 2014 (45 nm): 32-bit integer add"),
        "cell_writes": Constant(value=100.0, unit="pJ", source=(
            "assumed: a few program-and-verify SET/RESET pulses of tens of pJ each per RRAM device; no published "
            "figure found"))}
    assert chip.time == {
        **{op: Constant(value=0.0, unit="ns", source=inside_dt)
           for op in ("array_macs", "adc_conversions", "dac_conversions", "digital_adds")},
        "cell_writes": Constant(value=1.0, unit="ns", source=(
            "assumed: about 256 ns per program-and-verify write of one cell, the 256 cells of a tile row "
            "written in parallel: 1 ns per cell"))}
    assert list(chip.energy) == list(chip.time) == [  # the order of the tables in the reports
        "array_macs", "adc_conversions", "dac_conversions", "digital_adds", "cell_writes"]
    assert chip.static_power == Constant(value=10.0, unit="mW", source=(
        "assumed: order of magnitude of the periphery's leakage; no published figure found"))


@pytest.mark.parametrize("name, models", [
    ("crossbar-pcm", {"programming_noise": True, "read_noise": "1/f", "drift": True}),
    ("crossbar-rram", {"programming_noise": True, "read_noise": "constant", "drift": False}),
])
def test_the_report_names_the_models_as_it_did_before_they_had_sections(name, models):
    summary = BACKEND.compile(random_network([4, 3])[0], chip(name)).summary()
    assert {key: summary[key] for key in models} == models
    assert (summary["dac_bits"], summary["adc_bits"]) == (8, 8)
    assert summary["arrays"][0]["backward_adc_full_scale"] == summary["arrays"][0]["adc_full_scale"]


def old_key_errors(tmp_path, key: str, value: str) -> tuple[str, str, Path]:
    """The errors of ``parameters.<key>: <value>`` in a chip file (line 4) and in a ``--chip-set``."""
    path = tmp_path / "old.yaml"
    path.write_text(f"name: old\nextends: crossbar-pcm\nparameters:\n  {key}: {value}\n")
    messages = []
    for args in ((path,), ("chips/crossbar-pcm.yaml", [f"parameters.{key}={value}"])):
        with pytest.raises(ConfigError) as info:
            load_chip(*args)
        messages.append(str(info.value))
    return messages[0], messages[1], path


@pytest.mark.parametrize("key, value, place", [
    ("adc_bits", "6", "parameters.forward.adc_bits"),
    ("adc_range_backward", "2", "parameters.backward.adc_range"),
    ("read_q", "0.01", "parameters.read_noise.q, with parameters.read_noise.model: pcm_1f"),
    ("read_noise_constant", "0.05", "parameters.read_noise.std, with parameters.read_noise.model: constant"),
    ("prog_g_ref_us", "25", "parameters.programming_noise.g_ref_us, with parameters.programming_noise.model: "
                            "polynomial"),
    ("drift_t0_s", "20", "parameters.drift.t0_s, with parameters.drift.model: power_law"),
])
def test_an_old_flat_key_is_one_error_naming_its_new_place(tmp_path, key, value, place):
    in_file, in_option, path = old_key_errors(tmp_path, key, value)
    assert in_file == f"{path}:4: parameters.{key}: this key moved; write it as {place}"
    assert in_option == f"--chip-set parameters.{key}={value}: parameters.{key}: this key moved; write it as {place}"


def test_every_old_flat_key_names_a_place_that_exists(tmp_path):
    """The message is made by walking the schema along the new key path: a path that does not
    exist would raise something else than this ConfigError."""
    for key, new in CrossbarParameters.MOVED.items():
        in_file, _, _ = old_key_errors(tmp_path, key, "1")
        assert f"this key moved; write it as parameters.{new}" in in_file
    assert len(CrossbarParameters.MOVED) == 15  # every flat key that has a section now


@pytest.mark.parametrize("key, value, models", [
    ("read_noise", "1/f", "{model: none}, {model: pcm_1f, q, q_exp, q_max, t_read_s}, {model: constant, std}"),
    ("programming_noise", "true", "{model: none}, {model: polynomial, coeffs_us, g_ref_us}"),
    ("drift", "false", "{model: none}, {model: power_law, t0_s, nu_mean, nu_std}"),
])
def test_an_old_mode_value_is_one_error_naming_the_models(tmp_path, key, value, models):
    in_file, in_option, path = old_key_errors(tmp_path, key, value)
    got = {"1/f": "'1/f'", "true": "True", "false": "False"}[value]
    assert in_file == f"{path}:4: parameters.{key}: must be one of {models}, got {got}"
    assert in_option == f"--chip-set parameters.{key}={value}: parameters.{key}: must be one of {models}, got {got}"


@pytest.mark.parametrize("option, message", [
    ("parameters.read_noise.model=pcm",
     "parameters.read_noise.model: must be one of 'none', 'pcm_1f', 'constant', got 'pcm'"),
    ("parameters.read_noise={q: 0.01}",
     "parameters.read_noise: missing model; it must be one of 'none', 'pcm_1f', 'constant'"),
    ("parameters.read_noise={model: constant, std: 0.01, q: 0.1}",
     "parameters.read_noise.q: unknown key of model 'constant'; allowed keys here: model, std"),
    ("parameters.read_noise={model: constant}",
     "parameters.read_noise.std: missing; it must be a number (read-noise std of a cell pair's weight"),
    ("parameters.drift={model: power_law, t0_s: 20, nu_mean: [0, 0, 0], nu_std: [0, 0, 0, 0]}",
     "parameters.drift.nu_mean needs 4 numbers [a, b, lo, hi], got 3"),
])
def test_a_device_model_is_checked_against_its_own_keys(option, message):
    with pytest.raises(ConfigError) as info:
        load_chip("chips/crossbar-pcm.yaml", [option])
    assert str(info.value).startswith(f"--chip-set {option}: {message}")


def test_the_backward_adcs_are_the_forward_ones_but_for_what_is_stated():
    p = BACKEND.parameters_of(load_chip("chips/crossbar-pcm.yaml", ["parameters.forward.adc_bits=5",
                                                                     "parameters.backward.adc_range=2"]))
    assert (p.forward, p.backward) == (Forward(dac_bits=8, dac_range=1.0, adc_bits=5, adc_range=10.0),
                                       Readout(adc_bits=5, adc_range=2.0))


#: the parameters of crossbar-pcm as checkpoints written before the device models had sections saved them
FLAT_PCM = {"tile_rows": 256, "tile_cols": 256, "n_tiles": 64, "g_max_us": 25.0, "g_min_us": 0.0,
            "weight_headroom": 1.5, "write_threshold": 0.02, "seed": 0, "programming_noise": True,
            "prog_coeffs_us": [0.26348, 1.9650, -1.1731], "prog_g_ref_us": 25.0, "read_noise": "1/f",
            "read_q": 0.0088, "read_q_exp": 0.65, "read_q_max": 0.2, "t_read_s": 2.5e-7, "drift": True,
            "drift_t0_s": 20.0, "drift_nu_mean": [-0.0155, 0.0244, 0.049, 0.1],
            "drift_nu_std": [-0.0125, -0.0059, 0.008, 0.045], "read_time_s": 60.0, "device_variation": 0.0,
            "ir_drop": 0.0, "dac_bits": 8, "dac_range": 1.0, "adc_bits": 8, "adc_range": 10.0,
            "adc_range_backward": None, "tau_s": 1.0e-7, "dt_s": 5.0e-8, "tolerance": 1.0e-4}


def test_the_flat_layout_of_earlier_checkpoints_upgrades_to_the_shipped_chip():
    pcm = load_chip("chips/crossbar-pcm.yaml")
    flat = BACKEND.upgrade(FLAT_PCM)
    assert BACKEND.parameters_of(replace(pcm, parameters=flat)) == BACKEND.parameters_of(pcm)
    assert BACKEND.upgrade(pcm.parameters) is pcm.parameters  # today's layout is left as it is


def test_a_checkpoint_with_the_flat_layout_resumes_and_evaluates(tmp_path, capsys):
    from emulator.cli import main

    run = tmp_path / "run"
    args = ["run", "digits_snn", "--chip", "crossbar-pcm", "--set", "dataset.n_train=100", "--set",
            "dataset.n_test=50", "--quiet", "--set"]
    assert main(args + ["training.epochs=1", "--out", str(run)]) == 0
    with np.load(run / "checkpoint.npz") as f:  # written by an earlier version: the flat chip parameters
        arrays = dict(f)
    state = json.loads(str(arrays.pop("state")))
    state["identity"]["chip_parameters"] = FLAT_PCM
    np.savez(run / "checkpoint.npz", state=json.dumps(state), **arrays)
    assert main(args + ["training.epochs=2", "--resume", str(run)]) == 0
    assert main(["evaluate", str(run), "--chip", "crossbar-pcm", "--out", str(tmp_path / "naive"), "--quiet"]) == 0
    assert json.loads((run / "report.json").read_text())["metrics"]["epochs"] == 2
