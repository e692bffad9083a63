"""General networks on the emulated Loihi: Lava's traces of 20 random graphs, exact counts, errors, the layered
network as a graph. No Lava needed (its traces are stored; ``test_lava_graph.py`` runs Lava itself)."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from random_graphs import SEEDS, STEPS, TRACES, random_graph

from emulator.backends.loihi import LoihiBackend
from emulator.backends.loihi.graph import Dense, Graph, Lif, RingBuffer, SigmaDelta
from emulator.backends.loihi.graph_run import run_graph
from emulator.backends.loihi.layered_graph import layered_graph
from emulator.backends.loihi.lif import LifNet, relax_lif
from emulator.backends.loihi.quantise import as_stored
from emulator.backends.loihi.sigma_delta import FixedNet, relax_fixed
from emulator.chip import load_chip
from emulator.errors import CapacityError, ConfigError, DivergenceError


@pytest.fixture(scope="module")
def lava_traces():
    with np.load(TRACES) as stored:
        return {key: stored[key] for key in stored.files}


@pytest.mark.parametrize("seed", SEEDS)
def test_random_graph_equals_lavas_stored_trace_at_every_step(seed, lava_traces):
    run = run_graph(random_graph(seed), STEPS)
    compared = 0
    for pop, variables in run.record.items():
        for var, values in variables.items():
            lava = lava_traces[f"{seed}/{pop}/{var}"]
            assert np.array_equal(values[:, 0], lava), f"seed {seed}: {pop}.{var} differs from Lava"
            compared += 1
    assert compared == sum(1 for key in lava_traces if key.startswith(f"{seed}/"))


def test_the_random_graphs_cover_every_feature():
    """What the 20 graphs exercise, so the stored traces test it: not every draw hits every case."""
    seen = set()
    for seed in SEEDS:
        graph = random_graph(seed)
        record = run_graph(graph, STEPS).record
        by_name = {p.name: p for p in graph.populations}
        for p in graph.populations:
            r = record[p.name]
            if isinstance(p, SigmaDelta):
                seen |= {p.act_mode, f"cum_error={p.cum_error}", "state_exp>0" * (p.state_exp > 0),
                         "spike_exp>0" * (p.spike_exp > 0)}
                if p.state_exp == 0 and p.vth and (np.abs(r["s_out"]) == p.vth << p.scale).any():
                    seen.add("sigma-delta fired at exactly vth")
            if isinstance(p, Lif) and (r["v"] == p.vth << 6).any():
                seen.add("LIF voltage exactly at the threshold, no spike")
        for d in graph.connections:
            seen.add("graded" if d.num_message_bits else "binary")
            seen |= {"clipped" * bool((np.abs(d.weights) > 255).any()), f"bits={d.num_weight_bits}"}
            if (d.stored % 2 != d.weights % 2).any() and (d.weights < 0).any() and (d.weights > 0).any():
                seen.add("odd mixed-sign weights truncated")
            if (d.weights <= 0).all() and (d.weights < 0).any():
                seen.add("inhibitory")
            i, j = graph.index(d.source), graph.index(d.target)
            seen.add("self" if i == j else "feedback" if j < i else "forward")
            if isinstance(by_name[d.source], SigmaDelta) and d.binary and (record[d.source]["s_out"] < 0).any():
                seen.add("negative payload on a binary Dense")
    assert {"relu", "unit", "cum_error=True", "cum_error=False", "state_exp>0", "spike_exp>0",
            "sigma-delta fired at exactly vth", "LIF voltage exactly at the threshold, no spike", "graded", "binary",
            "clipped", "bits=5", "bits=7", "odd mixed-sign weights truncated", "inhibitory", "self", "feedback",
            "forward", "negative payload on a binary Dense"} <= seen


# -- hand-checked dynamics and counts ------------------------------------------------------------------------------

def _one_shot(payload, steps=5):
    data = np.zeros((1, steps), np.int64)
    data[0, 0] = payload
    return RingBuffer(data=data, name="x")


def test_dense_stores_weights_as_lava_and_binary_messages_add_the_weight_for_any_payload():
    """Raw [301, -3, 5] (mixed): clipped to 255, then the low bit dropped: [254, -4, 4]. A payload of -7 on a
    binary Dense adds +W; on a graded one W * -7, then the exponent's floor shift."""
    w = np.array([[301], [-3], [5]])
    assert Dense("x", "y", w).stored.ravel().tolist() == [254, -4, 4]
    for bits, expected in ((0, [254, -4, 4]), (24, [(254 * -7) >> 1, (-4 * -7) >> 1, (4 * -7) >> 1])):
        sigma = SigmaDelta(size=3, vth=1000, act_mode="unit", name="y")
        graph = Graph((_one_shot(-7), sigma), (Dense("x", "y", w, weight_exp=-1 if bits else 0,
                                                     num_message_bits=bits),))
        assert run_graph(graph, 3).record["y"]["sigma"][1, 0].tolist() == expected


@settings(max_examples=200, deadline=None, derandomize=True)
@given(low=st.integers(-400, 400), span=st.integers(0, 800), bits=st.integers(1, 8),
       sign_mode=st.sampled_from([None, "excitatory", "inhibitory", "mixed"]), seed=st.integers(0, 2 ** 16))
def test_the_kernel_layout_holds_every_stored_weight_exactly(low, span, bits, sign_mode, seed):
    """The kernel keeps a Dense's stored weights as int8 mantissas with a shift and a zero point:
    (mantissa + zero) << shift is every stored weight, for any raw weights, precision and sign mode."""
    w = np.random.default_rng(seed).integers(low, low + span + 1, (3, 5))
    if sign_mode == "excitatory":
        w = np.abs(w)
    elif sign_mode == "inhibitory":
        w = -np.abs(w)
    dense = Dense("x", "y", w, num_weight_bits=bits, sign_mode=sign_mode)
    flat = Graph((RingBuffer(data=np.ones((5, 1), np.int64), name="x"), SigmaDelta(size=3, vth=1, name="y")),
                 (dense,)).flat
    assert flat.fan_out.dtype == np.int8
    rebuilt = (flat.fan_out.astype(np.int64).reshape(5, 3) + flat.zero[0]) << flat.shift[0]
    assert np.array_equal(rebuilt, dense.stored.T)


@pytest.mark.parametrize("weights", ["mixed", "excitatory", "inhibitory"])
@pytest.mark.parametrize("bits", [0, 16])
def test_one_step_of_many_senders_delivers_the_integer_product(weights, bits):
    """43 senders, most of them firing (rows added eight at a time, then one by one), into 7 UNIT neurons whose
    threshold is never reached: after the delivery step, sigma is the int32 product of the stored weights with
    the payloads (binary: with their non-zero pattern), shifted by weight_exp, as numpy computes it."""
    rng = np.random.default_rng(bits)
    raw = {"mixed": rng.integers(-300, 300, (7, 43)), "excitatory": rng.integers(0, 300, (7, 43)),
           "inhibitory": rng.integers(-300, 1, (7, 43))}[weights]
    payload = rng.integers(-3000, 3000, 43) * (rng.random(43) < 0.8)
    stream = RingBuffer(data=np.stack([payload, np.zeros(43, np.int64)], axis=1), name="x")
    dense = Dense("x", "y", raw, weight_exp=-2, num_message_bits=bits)
    graph = Graph((stream, SigmaDelta(size=7, vth=2 ** 20, act_mode="unit", name="y")), (dense,))
    sent = payload != 0 if bits == 0 else payload
    expected = (dense.stored @ sent).astype(np.int32).astype(np.int64) >> 2
    assert np.array_equal(run_graph(graph, 2).record["y"]["sigma"][1, 0], expected)


def test_per_core_logs_follow_any_placement_of_a_population():
    """A population on two cores, its neurons interleaved (cores 0, 1, 0, 1, 1): each step's spikes per core are
    the spikes of that core's neurons."""
    rng = np.random.default_rng(7)
    graph = Graph((RingBuffer(data=rng.integers(0, 2, (4, 12)), name="x"),
                   Lif(size=5, du=4095, dv=100, vth=3, name="y")),
                  (Dense("x", "y", rng.integers(0, 200, (5, 4))),))
    cores = np.array([0, 1, 0, 1, 1])
    run = run_graph(graph, 12, core_of=[np.full(4, 2), cores])
    spikes = run.spikes("y")[:, 0]
    assert run.spikes("y").any()
    for core in (0, 1):
        assert run.fired[:, 0, core].tolist() == spikes[:, cores == core].sum(axis=1).tolist()
    assert run.fired[:, 0, 2].tolist() == (run.record["x"]["s_out"][:, 0] != 0).sum(axis=1).tolist()


def test_sigma_delta_cum_error_fires_on_the_cumulated_error():
    """A UNIT neuron with vth 5 receives 3 once (step 1). Its delta is 3 at step 1, below vth, kept as residue;
    at step 2 the delta is the residue, 3 again. Without cum_error it never fires. With it (Lava: error += delta,
    fire the delta where |error| >= vth, clear the error there) the error is 3, then 6: it fires 3 at step 2."""
    for cum, fired in ((False, [0, 0, 0, 0]), (True, [0, 0, 3, 0])):
        y = SigmaDelta(size=1, vth=5, act_mode="unit", cum_error=cum, name="y")
        graph = Graph((_one_shot(1, 4), y), (Dense("x", "y", np.array([[3]]), num_message_bits=8),))
        assert run_graph(graph, 4).record["y"]["s_out"][:, 0, 0].tolist() == fired


def test_counts_of_a_hand_checked_lif_graph(tmp_path):
    """x (one spike at step 0) -> binary Dense [10, 20] -> two LIF neurons (du 4095: u = a << 6; dv 0; vth 9,
    threshold 576). Step 1: u = v = 640, 1280 > 576: both fire. Step 2: u decays to 0, v stays 0. Steps 3-4: nothing.
    Spikes 1 + 2; synaptic ops 2 (the input's spike reaches both neurons); one message from the input core;
    active updates 2 + 2; idle 2 x 5 - 4; one barrier per step."""
    graph = Graph((_one_shot(1), Lif(size=2, du=4095, dv=0, vth=9, name="y")),
                  (Dense("x", "y", np.array([[10], [20]])),))
    backend, chip = LoihiBackend(), load_chip("chips/loihi2.yaml")
    program = backend.compile_graph(graph, chip)
    run, c = backend.run_graph(program, 5)
    assert run.spikes("y")[:, 0].tolist() == [[False, False], [True, True], [False, False], [False, False],
                                               [False, False]]
    assert {k: c[k] for k in ("spikes", "synaptic_ops", "messages", "neuron_updates_active", "neuron_updates_idle",
                              "barrier_syncs")} == {"spikes": 3, "synaptic_ops": 2, "messages": 1,
                                                    "neuron_updates_active": 4, "neuron_updates_idle": 6,
                                                    "barrier_syncs": 5}
    assert c["spikes_per_core"].tolist() == [1, 2] and program.programming["weight_writes"] == 2
    assert c["critical_path_s"] > 0


def test_a_batch_of_inputs_runs_each_as_its_own_stream():
    graph = Graph((_one_shot(1), Lif(size=2, du=4095, dv=0, vth=9, name="y")),
                  (Dense("x", "y", np.array([[10], [20]])),))
    runs = run_graph(graph, 3, inputs={"x": np.array([[[1, 0, 0]], [[0, 0, 0]]])})
    assert runs.spikes("y")[1].tolist() == [[True, True], [False, False]]


def test_a_graph_too_large_for_the_chip_names_the_population(tmp_path):
    chip = load_chip("chips/loihi2.yaml", ["parameters.axons_in_per_core=4"])
    graph = Graph((RingBuffer(data=np.zeros((5, 1)), name="retina"), Lif(size=2, du=0, dv=0, vth=1, name="v1")),
                  (Dense("retina", "v1", np.ones((2, 5))),))
    with pytest.raises(CapacityError, match="population 'v1' receives from 5 neurons.*axons_in_per_core"):
        LoihiBackend().compile_graph(graph, chip)


@pytest.mark.parametrize("build, message", [
    (lambda: Graph((Lif(size=2, du=0, dv=0, vth=1, name="a"), Lif(size=1, du=0, dv=0, vth=1, name="a"))),
     "names must be unique; 'a' appear"),
    (lambda: Graph((RingBuffer(data=np.zeros((2, 3))),)), "no neuron population"),
    (lambda: Graph((Lif(size=2, du=0, dv=0, vth=1, name="a"),), (Dense("a", "b", np.ones((2, 2))),)),
     "connects 'b', which is not a population"),
    (lambda: Graph((Lif(size=2, du=0, dv=0, vth=1, name="a"),), (Dense("a", "a", np.ones((3, 2))),)),
     r"weights of shape \(3, 2\), but 'a' x 'a' is \(2, 2\)"),
    (lambda: Graph((RingBuffer(data=np.zeros((2, 3)), name="x"), Lif(size=2, du=0, dv=0, vth=1, name="a")),
                   (Dense("a", "x", np.ones((2, 2))),)), "an input stream receives nothing"),
    (lambda: Lif(size=2, du=5000, dv=0, vth=1), r"du must lie in \[0, 4095\]"),
    (lambda: Lif(size=2, du=0, dv=0, vth=1, bias_mant=[1, 2, 3]), "bias_mant has shape"),
    (lambda: Lif(size=2, du=0, dv=0, vth=1, bias_mant=0.5), "bias_mant must be integers"),
    (lambda: SigmaDelta(size=2, vth=1, act_mode="tanh"), "act_mode must be 'relu' or 'unit'"),
    (lambda: SigmaDelta(size=1, vth=1, bias=2 ** 14, state_exp=2), "bias scaled by"),
    (lambda: Dense("a", "b", np.ones((2, 2)), weight_exp=9), r"weight_exp must lie in \[-8, 7\]"),
    (lambda: Dense("a", "b", np.ones(3)), "2-D"),
])
def test_a_malformed_graph_is_one_clear_error(build, message):
    with pytest.raises(ConfigError, match=message):
        build()


def test_registers_leaving_24_bits_are_a_divergence_error_naming_the_population():
    graph = Graph((RingBuffer(data=np.full((1, 1), 100)), SigmaDelta(size=1, vth=0, act_mode="unit", name="acc")),
                  (Dense("input", "acc", np.array([[255]]), weight_exp=7, num_message_bits=24),))
    with pytest.raises(DivergenceError, match="SigmaDelta 'acc'.*24-bit"):
        run_graph(graph, 10)


# -- the layered EqProp network is one instance ---------------------------------------------------------------------

def test_a_layered_pair_network_runs_the_same_as_a_graph():
    rng = np.random.default_rng(3)
    down = tuple(np.maximum(as_stored(rng.integers(-200, 200, shape)), -254) for shape in ((6, 5), (3, 6)))
    net = FixedNet(down=down, weight_exp=(-6, -5), bias=(rng.integers(-8, 8, 6) * 4, rng.integers(-8, 8, 3) * 4),
                   vth=8, act_max=256, state_exp=2, pair=True)
    x = rng.integers(0, 64, 5)
    fast = relax_fixed(net, x[None], max_steps=40, record=True)
    ran = int(fast.steps[0])
    record = run_graph(layered_graph(net, x[None], ran), ran).record
    for k, (sigma, act, spikes) in enumerate(fast.record, start=1):
        for name, values in (("sigma", sigma), ("act", act), ("s_out", spikes)):
            general = np.concatenate([record[f"layer{k}{half}"][name][:, 0] for half in "AB"], axis=1)
            assert np.array_equal(general, values[:ran, 0]), (k, name)


def test_a_layered_lif_network_runs_the_same_as_a_graph():
    rng = np.random.default_rng(4)
    down = tuple(as_stored(rng.integers(-120, 120, shape)) for shape in ((6, 5), (3, 6)))
    net = LifNet(down=down, weight_exp=(0, 0), bias_mant=(rng.integers(-50, 50, 6), rng.integers(-50, 50, 3)),
                 bias_exp=(2, 1), du=400, dv=200, vth=30)
    train = rng.random((30, 1, 5)) < 0.3
    fast = relax_lif(net, train, window=10, record=True)
    record = run_graph(layered_graph(net, train[:, 0], 30), 30).record
    for k, (u, v, spikes) in enumerate(fast.record, start=1):
        for name, values in (("u", u), ("v", v), ("s_out", spikes)):
            assert np.array_equal(record[f"layer{k}"][name][:, 0], values[:, 0]), (k, name)


def test_a_clipped_network_has_no_general_form():
    net = FixedNet(down=(np.ones((2, 2), np.int64),), weight_exp=(0,), bias=(np.zeros(2, np.int64),), vth=1,
                   act_max=16)
    with pytest.raises(ConfigError, match="clipped sigma-delta neuron"):
        layered_graph(net, np.zeros((1, 2)), 5)
