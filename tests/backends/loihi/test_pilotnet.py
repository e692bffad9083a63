"""The PilotNet counting model: exact operation counts on a tiny conv + dense network, by hand."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from emulator.backends.loihi import pilotnet as pc
from emulator.chip import load_chip

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def tiny():
    """input 4x4x1 (1 core) -> conv 3x3 stride 1, 2 channels = 2x2x2 (1 column per core: 2 cores)
    -> dense 3 (2 + 1 neurons on 2 cores). Cores 0..4 on one mesh row: input 0, conv 1-2, dense 3-4."""
    layers = [pc.input_layer("in", (4, 4, 1), tile_w=4)]
    layers.append(pc.conv("conv", layers[-1], 2, kernel=(3, 3), stride=(1, 1), tile_w=1))
    layers.append(pc.dense("fc", 3, cores=2))
    return pc.wire(layers, mesh_columns=8)


def tiny_spikes():
    s_in = np.zeros((4, 4, 1))
    s_in[0, 0, 0] = s_in[3, 3, 0] = 1      # corners: each reaches one conv position (x 0 / 1, y 0 / 1)
    s_conv = np.zeros((2, 2, 2))
    s_conv[0, 0, 1] = s_conv[1, 1, 0] = 1  # one neuron on each conv core
    s_fc = np.zeros((3, 1, 1))
    s_fc[0] = 1                            # the last layer's spike goes nowhere
    return [s_in, s_conv, s_fc]


def test_axis_map_stride_and_padding():
    # 7 inputs, kernel 3, stride 2, padding 1 -> 4 outputs reading [2o - 1, 2o + 1]
    b = pc.axis_map(7, pc.conv_out(7, 3, 2, 1), 3, 2, 1)
    assert b.shape == (7, 4)
    assert [np.flatnonzero(row).tolist() for row in b] == [[0], [0, 1], [1], [1, 2], [2], [2, 3], [3]]
    assert b.sum() == 10  # 2 + 3 + 3 + 2 taps inside the input


def test_tiny_network_exact_counts(tiny):
    assert [layer.shape for layer in tiny.layers] == [(4, 4, 1), (2, 2, 2), (3, 1, 1)]
    assert tiny.n_cores == 5
    c = pc.step_counts(tiny, tiny_spikes())
    per_core = {op: c.per_core[op].tolist() for op in pc.OPS}
    # input (0,0) -> conv (0,0) both channels on core 1: 2 ops, 1 message, 1 hop
    # input (3,3) -> conv (1,1) both channels on core 2: 2 ops, 1 message, 2 hops
    # each conv spike -> 3 dense neurons: 2 ops on core 3, 1 on core 4; 2 messages;
    #   hops from core 1: 2 + 3, from core 2: 1 + 2
    assert per_core["synaptic_ops"] == [0, 2, 2, 4, 2]
    assert per_core["spikes"] == [2, 1, 1, 1, 0]
    assert per_core["messages"] == [2, 2, 2, 0, 0]
    assert per_core["hops"] == [3, 5, 3, 0, 0]
    # all 16 input neurons active (bias); conv: positions (0,0) and (1,1) heard a spike, 2 channels each
    # (the two that fired are among them); dense: all 3 heard both conv spikes
    assert per_core["neuron_updates_active"] == [16, 2, 2, 2, 1]
    assert per_core["neuron_updates_idle"] == [0, 2, 2, 0, 0]
    assert per_core["barrier_syncs"] == [1, 0, 0, 0, 0]
    assert per_core["chip_messages"] == [0, 0, 0, 0, 0]
    assert c.route.tolist() == [2, 3, 2, 0, 0]  # longest route each sending core used
    assert c.totals() == {"neuron_updates_active": 23, "neuron_updates_idle": 4, "spikes": 5,
                          "synaptic_ops": 10, "messages": 6, "hops": 11, "chip_messages": 0,
                          "barrier_syncs": 1}


def test_expected_counts_match_exact_at_certain_spikes(tiny):
    ones = [np.ones(layer.shape) for layer in tiny.layers]
    exact = pc.step_counts(tiny, ones).totals()
    assert pc.step_counts(tiny, ones, expected=True).totals() == pytest.approx(exact)
    # every conv neuron hears 9 inputs, every dense one all 8 conv neurons
    assert exact["synaptic_ops"] == 8 * 9 + 3 * 8
    half = pc.step_counts(tiny, [np.full(layer.shape, 0.5) for layer in tiny.layers], expected=True)
    assert half.total("synaptic_ops") == pytest.approx(exact["synaptic_ops"] / 2)
    # a conv neuron is idle only if its 9 inputs and itself are silent: 8 * 0.5**10
    assert half.per_core["neuron_updates_idle"][1:3].sum() == pytest.approx(8 * 0.5 ** 10)


def test_pricing_and_step_time(tiny):
    chip = load_chip(ROOT / "chips" / "loihi2.yaml")
    c = pc.step_counts(tiny, tiny_spikes())
    e, t = chip.energy_per_op(), chip.time_per_op()
    assert pc.dynamic_energy_j(c, e) == pytest.approx(sum(n * e[op] for op, n in c.totals().items()))
    work = pc.core_work_s(c, t)
    # core 0: 16 active updates + 2 spikes sending 2 messages; the slowest core here
    assert work[0] == pytest.approx(16 * t["neuron_updates_active"] + 2 * t["spikes"] + 2 * t["messages"])
    assert work.argmax() == 0
    assert pc.step_time_s(c, t) == pytest.approx(work[0] + 3 * t["hops"] + t["barrier_syncs"])


def test_pilotnet_shapes_and_cores():
    wiring = pc.wire(pc.pilotnet_snn())
    shapes = [layer.shape for layer in wiring.layers]
    assert shapes == [(200, 66, 3), (99, 32, 24), (49, 15, 36), (24, 7, 48), (22, 4, 64), (20, 2, 64),
                      (100, 1, 1), (50, 1, 1), (10, 1, 1), (1, 1, 1)]
    assert [layer.n_cores for layer in wiring.layers] == [13, 25, 13, 3, 3, 2, 12, 1, 1, 1]
    assert wiring.n_cores == pc.MEASURED["cores"] == 74
