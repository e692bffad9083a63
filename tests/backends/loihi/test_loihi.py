"""The Loihi back-end: quantisation, mapping onto cores, exact counts, errors, and training on the chip."""
import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.backends.loihi import LoihiBackend
from emulator.chip import load_chip
from emulator.backends.base import Nudge
from emulator.errors import CapacityError
from emulator.backends.loihi.mapping import map_network
from emulator.network import Network, contrastive_update
from emulator.backends.loihi.quantise import as_stored, mantissas, quantise_weights, weight_grid
from emulator.backends.loihi.sigma_delta import FixedNet, host_values, relax_fixed

LOIHI2 = "chips/loihi2.yaml"


def chip_with(tmp_path, parameters=(), time=None):
    """chips/loihi2.yaml with some parameters and times replaced."""
    spec = yaml.safe_load(open(LOIHI2))
    spec["parameters"].update(dict(parameters))
    for op, ns in (time or {}).items():
        spec["time"][op] = {"value": ns, "unit": "ns", "source": "test"}
    path = tmp_path / "chip.yaml"
    path.write_text(yaml.safe_dump(spec))
    return load_chip(path)


# -- quantisation ----------------------------------------------------------------------------

def test_mixed_sign_weights_are_even_8_bit_values_like_lavas_dense():
    assert as_stored(np.array([[5, -3, 300, -300]])).tolist() == [[4, -4, 254, -256]]
    assert as_stored(np.array([[5, 3, 300]])).tolist() == [[5, 3, 255]]  # one sign: all 8 bits
    assert as_stored(np.array([[-5, -3, -300]])).tolist() == [[-5, -3, -255]]


@settings(max_examples=40, deadline=None, derandomize=True)
@given(sign=st.sampled_from([-1, 0, 1]), bits=st.integers(1, 8), pair=st.booleans(), seed=st.integers(0, 2 ** 16))
def test_the_int8_mantissa_layout_relaxes_exactly_as_the_stored_int16_weights(sign, bits, pair, seed):
    """The event loop reads a coupling as int8 mantissas with a shift and a zero point (the payload sum times the
    zero point added back): every state after a 30-step relaxation is what the int16 weights themselves give."""
    rng = np.random.default_rng(seed)
    layers = (7, 9, 4)
    raw = [rng.integers(-300, 300, (layers[k + 1], layers[k])) for k in range(2)]
    down = tuple(np.maximum(as_stored(np.abs(w) * sign if sign else w, bits), -254) for w in raw)
    net = FixedNet(down=down, weight_exp=(-3, -2), bias=(rng.integers(-40, 80, 9), rng.integers(-40, 80, 4)),
                   vth=3, act_max=256, pair=pair)
    wide = FixedNet(down=down, weight_exp=net.weight_exp, bias=net.bias, vth=3, act_max=256, pair=pair)
    wide.__dict__["fan_out"] = (wide.up, wide.down, np.zeros(2, np.int64), np.zeros(2, np.int64))
    assert all(w.dtype == np.int8 for w in net.fan_out[0])
    x = rng.integers(0, 256, (3, 7))
    ran, reference = (relax_fixed(n, x, max_steps=30) for n in (net, wide))
    for mine, theirs in zip((ran.sigma, ran.act, ran.residue, ran.fired), (reference.sigma, reference.act,
                                                                         reference.residue, reference.fired)):
        assert all(np.array_equal(a, b) for a, b in zip(mine, theirs))


def test_integers_that_span_more_than_8_bits_keep_their_width():
    """[-200, 201] has no int8 form: the loop reads the int16 weights; the unit hears -200 + 201 = 1."""
    assert mantissas(np.array([[-200, 201]])) is None
    q, shift, zero = mantissas(np.array([[0, 255, 4]]))
    assert (q.dtype, shift, zero) == (np.int8, 0, 128) and ((q.astype(int) + zero) << shift).tolist() == [[0, 255, 4]]
    net = FixedNet(down=(np.array([[-200, 201]]),), weight_exp=(0,), bias=(np.zeros(1, np.int64),), vth=1, act_max=256)
    assert net.fan_out[1][0].dtype == np.int16
    assert relax_fixed(net, np.array([[1, 1]]), max_steps=3).sigma[0].tolist() == [[1]]


def test_quantised_weights_use_the_finest_exponent_that_clips_little():
    rng = np.random.default_rng(0)
    w = rng.normal(0, 3.0, (50, 40))
    w_int, q = quantise_weights(w, state_exp=0, max_clipped=1e-3)
    step, low, high = weight_grid(w)
    assert q.clipped_fraction <= 1e-3 and q.weight_exp > -8
    finer = w * 2.0 ** (-(q.weight_exp - 1))
    assert np.mean((finer > high) | (finer < low)) > 1e-3  # one exponent finer would clip too much
    unclipped = (w * 2.0 ** -q.weight_exp >= low) & (w * 2.0 ** -q.weight_exp <= high)
    error = np.abs(w_int * 2.0 ** q.weight_exp - w)[unclipped]
    assert error.max() <= step / 2 * 2.0 ** q.weight_exp + 1e-12
    assert (as_stored(w_int) == w_int).all()  # already what Lava will store


def _finest_exponent_by_scan(w, state_exp, weight_bits, max_clipped, symmetric):
    """The specification of quantise_weights's exponent: the first, from the finest, that clips at most max_clipped."""
    step, low, high = weight_grid(w, weight_bits)
    low = max(low, -high) if symmetric else low
    for exp in range(-8, 8):
        scaled = w * 2.0 ** (state_exp - exp)
        if np.mean((scaled > high) | (scaled < low)) <= max_clipped:
            return exp
    return None


@settings(max_examples=150, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2 ** 16), scale=st.floats(1e-4, 1e3), offset=st.sampled_from([-1.0, -0.5, 0.0, 0.5, 1.0]),
       state_exp=st.integers(0, 8), bits=st.integers(1, 8), max_clipped=st.sampled_from([0.0, 1e-3, 0.05, 0.3]),
       symmetric=st.booleans(), heavy=st.booleans())
def test_the_exponent_search_finds_what_a_scan_from_the_finest_finds(seed, scale, offset, state_exp, bits, max_clipped,
                                                                     symmetric, heavy):
    rng = np.random.default_rng(seed)
    w = scale * ((rng.standard_t(1.5, (30, 20)) if heavy else rng.normal(size=(30, 20))) + offset)
    expected = _finest_exponent_by_scan(w, state_exp, bits, max_clipped, symmetric)
    if expected is None:
        with pytest.raises(CapacityError):
            quantise_weights(w, state_exp=state_exp, weight_bits=bits, max_clipped=max_clipped, symmetric=symmetric)
        return
    w_int, q = quantise_weights(w, state_exp=state_exp, weight_bits=bits, max_clipped=max_clipped, symmetric=symmetric)
    assert q.weight_exp == expected
    step, low, high = weight_grid(w, bits)
    scaled = w * 2.0 ** (state_exp - expected)
    low = max(low, -high) if symmetric else low
    assert q.clipped_fraction == np.mean((scaled > high) | (scaled < low))
    np.testing.assert_array_equal(w_int, np.clip(np.round(scaled / step) * step, low, high))
    assert q.range_used == np.abs(w_int).max() / max(-low, high)
    np.testing.assert_array_equal(as_stored(w_int, bits), w_int)  # programmed as they are: what Lava stores


def _stored_by_specification(w, bits, mode):
    """Lava's Dense on its first step, written out: clip by sign mode, drop the low bits (of the magnitudes, for an
    inhibitory matrix)."""
    w = np.asarray(w, np.int64)
    if mode == "inhibitory":
        return -_stored_by_specification(-w, bits, "excitatory")
    shift = 8 - bits + int(mode == "mixed")
    w = np.clip(w, -256 if mode == "mixed" else 0, 255)
    return (w >> shift) << shift


@settings(max_examples=150, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2 ** 16), span=st.sampled_from([3, 200, 300, 2 ** 20]), offset=st.integers(-400, 400),
       bits=st.integers(1, 8), mode=st.sampled_from([None, "excitatory", "inhibitory", "mixed"]),
       dtype=st.sampled_from([np.int16, np.int32, np.int64]))
def test_stored_weights_are_lavas_clip_and_truncation(seed, span, offset, bits, mode, dtype):
    w = (np.random.default_rng(seed).integers(-span, span + 1, (7, 9)) + offset).clip(-30000, 30000).astype(dtype)
    inferred = "excitatory" if w.min() >= 0 else "inhibitory" if w.max() <= 0 else "mixed"
    stored = as_stored(w, bits, mode)
    assert stored.dtype == np.int32
    np.testing.assert_array_equal(stored, _stored_by_specification(w, bits, mode or inferred))


def test_biases_beyond_the_16_bit_register_are_clipped_and_reported():
    chip = load_chip(LOIHI2)  # 14 activation bits: 2**14 is a saturated unit
    net = Network((np.full((2, 2), 0.1), np.full((1, 2), 0.1)), (np.array([0.5, 3.0]), np.array([-1.5])), theta=0.01)
    program = LoihiBackend().compile(net, chip)
    assert [q.bias_clipped_fraction for q in program.quantisation] == [0.5, 1.0]
    # a pair's B neuron holds b - 2**14, which must fit 16 bits too: biases span [-1, 2)
    assert program.net.bias[0].tolist() == [8192, 32764] and program.net.bias[1].tolist() == [-16384]


def test_lava_on_the_wrong_python_is_one_clear_error(monkeypatch):
    from emulator.backends.loihi.lava import LavaUnavailable, require_lava

    monkeypatch.setattr("sys.version_info", (3, 11, 0))
    with pytest.raises(LavaUnavailable, match="needs Python 3.10 and this is Python 3.11"):
        require_lava()


def test_weights_too_large_for_any_exponent_are_a_capacity_error():
    with pytest.raises(CapacityError, match="cannot be stored in 8-bit weights"):
        quantise_weights(np.full((3, 3), 1e6), state_exp=0)


# -- mapping ---------------------------------------------------------------------------------

def test_fashion_network_maps_on_six_cores_of_one_chip():
    p = LoihiBackend().parameters_of(load_chip(LOIHI2))
    m = map_network((784, 500, 10), p.limits())
    # a hidden neuron stores 784 + 10 one-byte synapses: 131072 // 794 = 165 per core -> 4 cores of 125
    assert [c for _, c in m.layer_cores] == [1, 4, 1] and m.core_size.tolist() == [784, 125, 125, 125, 125, 10]
    assert m.core_synapses.tolist() == [0] + [125 * 794] * 4 + [10 * 500]
    assert m.messages.tolist() == [4, 1, 1, 1, 1, 4]
    # cores sit in a row on the 8-wide mesh: input core 0 reaches hidden cores 1..4 in 1+2+3+4 hops
    assert m.hops.tolist() == [10, 4, 3, 2, 1, 10] and m.n_chips == 1


def test_a_network_too_large_for_one_chip_spans_several(tmp_path):
    chip = chip_with(tmp_path, {"cores_per_chip": 2, "neurons_per_core": 4})
    m = map_network((8, 8, 4), LoihiBackend().parameters_of(chip).limits())
    assert m.n_cores == 5 and m.n_chips == 3 and m.chip_messages.sum() > 0


@pytest.mark.parametrize("parameters, layers, limit", [
    ({"axons_in_per_core": 100}, (200, 50, 10), "parameters.axons_in_per_core"),
    ({"synapse_bytes_per_core": 100}, (150, 50, 10), "parameters.synapse_bytes_per_core"),
    ({"max_chips": 1, "cores_per_chip": 2}, (784, 500, 10), "parameters.max_chips"),
    ({"axons_out_per_core": 3, "neurons_per_core": 8}, (8, 8, 8), "parameters.axons_out_per_core"),
])
def test_a_network_that_does_not_fit_names_the_limit(tmp_path, parameters, layers, limit):
    chip = chip_with(tmp_path, parameters)
    network = Network(tuple(np.zeros((b, a)) for a, b in zip(layers, layers[1:])),
                      tuple(np.zeros(n) for n in layers[1:]), theta=0.01)
    with pytest.raises(CapacityError, match=limit.replace(".", r"\.")):
        LoihiBackend().compile(network, chip)


# -- exact counts ----------------------------------------------------------------------------

CHAIN_TIMES = {"neuron_updates_active": 3, "neuron_updates_idle": 1, "synaptic_ops": 2, "spikes": 0, "messages": 1,
               "hops": 5, "barrier_syncs": 10, "chip_messages": 100}


def test_counts_and_latency_of_a_hand_checked_chain(tmp_path):
    """x -> h -> o with W0 = 0.5, W1 = 0.25, 4-bit activations, vth = 1 LSB, x = 1, clipped neurons.

    Stored: W0 = 128, W1 = 64, both with exponent -8; x sends 16 at step 1.
    step 1: input fires 16; h, o idle.      step 2: h gets 128*16 >> 8 = 8, fires 8.
    step 3: o gets 64*8 >> 8 = 2, fires 2.  step 4: h gets 64*2 >> 8 = 0: nothing fires, quiescent.
    """
    chip = chip_with(tmp_path, {"act_bits": 4, "state_exp": 0, "neuron": "clipped"}, time=CHAIN_TIMES)
    backend = LoihiBackend()
    net = Network((np.array([[0.5]]), np.array([[0.25]])), (np.zeros(1), np.zeros(1)), theta=0.0)
    program = backend.compile(net, chip)
    assert [w.tolist() for w in program.net.down] == [[[128]], [[64]]] and program.net.weight_exp == (-8, -8)
    eq, c = backend.relax(program, np.array([[1.0]]), max_steps=10)
    assert eq.steps.tolist() == [4] and eq.quiescent.tolist() == [True]
    assert [s.tolist() for s in eq.states[1:]] == [[[0.5]], [[0.125]]]
    assert c.totals() == {"barrier_syncs": 4, "spikes": 3, "synaptic_ops": 3, "messages": 3, "hops": 3,
                          "chip_messages": 0, "neuron_updates_active": 2, "neuron_updates_idle": 6,
                          "critical_path_s": pytest.approx(67e-9)}
    # per core (input, hidden, output)
    assert c["spikes_per_core"].tolist() == [1, 1, 1]
    assert c["synaptic_ops_per_core"].tolist() == [0, 2, 1]
    assert c["neuron_updates_active_per_core"].tolist() == [0, 1, 1]
    assert c["neuron_updates_idle_per_core"].tolist() == [0, 3, 3]


def test_pairs_of_relu_neurons_double_the_receivers_of_the_same_chain(tmp_path):
    """The chain above with each unit a pair A, B (bias b - 16): B stays at 0 and never fires, so the
    same 3 spikes go out, but each reaches both neurons of the receiving unit.

    Per step (cores: input, hidden pair, output pair), with the test times:
    1: hidden 2 idle + 2 synops = 6 (slowest) + route 5 + barrier 10 = 21;
    2: hidden 2 active + 1 spike (1 message) = 7 + 5 + 10 = 22;   3: output likewise, 22;
    4: 2 idle per core + barrier = 12.  Total 77 ns.
    """
    chip = chip_with(tmp_path, {"act_bits": 4, "state_exp": 0, "neuron": "relu_pair"}, time=CHAIN_TIMES)
    backend = LoihiBackend()
    net = Network((np.array([[0.5]]), np.array([[0.25]])), (np.zeros(1), np.zeros(1)), theta=0.0)
    eq, c = backend.relax(backend.compile(net, chip), np.array([[1.0]]), max_steps=10)
    assert eq.steps.tolist() == [4] and [s.tolist() for s in eq.states[1:]] == [[[0.5]], [[0.125]]]
    assert c.totals() == {"barrier_syncs": 4, "spikes": 3, "synaptic_ops": 6, "messages": 3, "hops": 3,
                          "chip_messages": 0, "neuron_updates_active": 4, "neuron_updates_idle": 12,
                          "critical_path_s": pytest.approx(77e-9)}


def test_reprogramming_writes_only_changed_synapses():
    chip = load_chip(LOIHI2)
    backend = LoihiBackend()
    rng = np.random.default_rng(1)
    net = Network((rng.normal(0, 0.3, (4, 3)), rng.normal(0, 0.3, (2, 4))), (np.zeros(4), np.zeros(2)), theta=0.01)
    first = backend.compile(net, chip)
    # units are neuron pairs: W0 is stored in both hidden neurons of a unit (hidden cores only); W1 for
    # both senders in both receivers, in the output cores and, as feedback, the hidden ones; 2 biases a unit
    assert first.programming["weight_writes"] == 2 * 12 + 8 * 8 + 2 * 6
    w0 = net.weights[0].copy()
    w0[0, 0] += 0.2
    second = backend.compile(net.with_parameters((w0, net.weights[1]), net.biases), chip, previous=first)
    changed = int((second.net.down[0] != first.net.down[0]).sum())
    assert changed >= 1 and second.programming["weight_writes"] == 2 * changed


def test_nudge_is_a_bias_on_the_output_towards_the_target():
    chip = load_chip(LOIHI2)
    backend = LoihiBackend()
    rng = np.random.default_rng(2)
    net = Network((rng.normal(0, 0.5, (6, 5)), rng.normal(0, 0.5, (3, 6))),
                  (np.full(6, 0.2), np.full(3, 0.3)), theta=0.001)
    x = rng.random((4, 5))
    program = backend.compile(net, chip)
    free, _ = backend.relax(program, x, max_steps=60)
    target = np.eye(3)[[0, 1, 2, 0]]
    with pytest.raises(ValueError, match="pass init"):
        backend.relax(program, x, max_steps=10, nudge=Nudge(0.5, target))
    plus, _ = backend.relax(program, x, max_steps=60, nudge=Nudge(0.5, target), init=free)
    moved = (plus.output - free.output) * np.sign(target - free.output)
    assert (moved >= -1 / 2 ** 12).all() and moved.sum() > 0


@pytest.mark.parametrize("pair", [False, True])
def test_the_host_view_of_a_relaxation_is_its_definition(pair):
    """States (a pair's ``A - B``), heard values (activation less residue) and drives (the ``A`` neuron's sigma plus
    bias) over ``act_max``, as numpy computes them."""
    rng = np.random.default_rng(4)
    down = tuple(np.maximum(as_stored(rng.integers(-200, 200, shape)), -254) for shape in ((30, 20), (10, 30)))
    net = FixedNet(down=down, weight_exp=(0, 0), bias=(rng.integers(-500, 500, 30), rng.integers(-500, 500, 10)),
                   vth=64, act_max=2 ** 14, state_exp=2, pair=pair)
    state = relax_fixed(net, rng.integers(0, 4096, (7, 20)), max_steps=25)
    states, heard, drive = host_values(net, state)
    for k, n in enumerate(net.layers[1:]):
        np.testing.assert_array_equal(states[k], net.unit_values(state.act[k]) / net.act_max)
        np.testing.assert_array_equal(heard[k], net.unit_values(state.act[k] - state.residue[k]) / net.act_max)
        np.testing.assert_array_equal(drive[k], (state.sigma[k] + state.bias[k])[:, :n] / net.act_max)
        assert np.abs(states[k]).max() > 0


def test_the_update_between_sigma_delta_equilibria_is_the_layered_rule_bit_for_bit():
    """The first coupling's one-product form gives the layered rule's very bits on pixel inputs."""
    chip = load_chip(LOIHI2)
    backend = LoihiBackend()
    rng = np.random.default_rng(3)
    net = Network((rng.normal(0, 0.3, (40, 64)), rng.normal(0, 0.3, (10, 40))), (np.full(40, 0.1), np.zeros(10)),
                  theta=0.001)
    x = (rng.integers(0, 256, (20, 64)) / 255).astype(np.float32)
    program = backend.compile(net, chip)
    free, _ = backend.relax(program, x, max_steps=30)
    target = np.eye(10)[rng.integers(0, 10, 20)]
    plus, _ = backend.relax(program, x, max_steps=10, nudge=Nudge(0.5, target), init=free)
    minus, _ = backend.relax(program, x, max_steps=10, nudge=Nudge(-0.5, target), init=free)
    got, expected = backend.contrastive_update(plus, minus, 1.0), contrastive_update(plus.states, minus.states, 1.0)
    assert np.abs(got[0][0]).max() > 0
    for a, b in zip(got[0] + got[1], expected[0] + expected[1]):
        np.testing.assert_array_equal(a, b)


def loihi2_within_one_point_of_digital(trained):
    (loihi, _), (digital, _) = trained("loihi2"), trained("digital")
    assert loihi.metrics.test_accuracy >= digital.metrics.test_accuracy - 0.01
    assert loihi.program["cores"] == 3 and loihi.counters["training"]["weight_writes"] > 0


@pytest.mark.slow
def test_digits_on_loihi2_within_one_point_of_digital(trained_digits):
    """Training on the fixed-point chip loses at most one point of test accuracy."""
    loihi2_within_one_point_of_digital(trained_digits)


def test_digits_briefly_trained_on_loihi2_within_one_point_of_digital(briefly_trained_digits):
    """The same on 5 epochs of 800 training samples, tested on the whole test set."""
    loihi2_within_one_point_of_digital(briefly_trained_digits)


def test_report_lists_weights_per_layer_and_every_core(tmp_path, capsys):
    from emulator.cli import main

    out = tmp_path / "run"
    assert main(["run", "digits_snn", "--chip", "loihi2", "--quiet", "--out", str(out), "--set", "training.epochs=1",
                 "--set", "dataset.n_train=100", "--set", "dataset.n_test=50"]) == 0
    md = (out / "report.md").read_text()
    weights = md[md.index("### `weights` per layer"):md.index("### Cores")]
    assert weights.count("\n| 0 |") == 1 and weights.count("\n| 1 |") == 1 and "clipped_fraction" in weights
    cores = md[md.index("### Cores"):md.index("## Figures")]
    # input, hidden and output cores, each with its neurons (two per unit) and synapses (fan-in weights)
    assert "\n| 0 | 64 | 0 |" in cores and "\n| 1 | 512 | 43,008 |" in cores and "\n| 2 | 20 | 10,240 |" in cores


def test_compare_puts_loihi2_beside_digital(tmp_path, capsys):
    from emulator.cli import main

    assert main(["compare", "digits_snn", "--chips", "digital,loihi2", "--quiet", "--out", str(tmp_path / "cmp"),
                 "--set", "training.epochs=1", "--set", "dataset.n_train=100", "--set", "dataset.n_test=50"]) == 0
    table = (tmp_path / "cmp" / "comparison.md").read_text()
    assert "| [digital](digital/report.md) | digital |" in table and "| [loihi2](loihi2/report.md) | loihi |" in table


def test_a_program_or_equilibrium_without_its_chip_state_is_refused():
    from emulator.backends.loihi.backend import LoihiEquilibrium, LoihiProgram
    with pytest.raises(TypeError, match="missing 4 required keyword-only arguments: 'net', 'mapping', "
                                        "'quantisation', and 'time_s'"):
        LoihiProgram()
    with pytest.raises(TypeError, match="missing 1 required keyword-only argument: 'fixed'"):
        LoihiEquilibrium([], [], [], np.zeros(0), np.zeros(0), np.zeros(0))
