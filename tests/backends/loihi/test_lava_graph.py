"""General graphs against Lava 0.10 itself: networks built with Lava's own classes through ``from_lava``, random
graphs through ``to_lava``, and (slow) every stored trace recorded again."""
import numpy as np
import pytest

from emulator.backends.loihi.lava import LavaUnavailable, require_lava

try:
    require_lava()
except LavaUnavailable as exc:
    pytest.skip(str(exc), allow_module_level=True)

from lava.proc.dense.process import Dense  # noqa: E402
from lava.proc.io.source import RingBuffer  # noqa: E402
from lava.proc.lif.process import LIF, LIFReset  # noqa: E402
from lava.proc.monitor.process import Monitor  # noqa: E402
from lava.magma.core.run_conditions import RunSteps  # noqa: E402
from lava.magma.core.run_configs import Loihi2SimCfg  # noqa: E402
from lava.proc.sdn.process import ActivationMode, SigmaDelta  # noqa: E402
from random_graphs import SEEDS, STEPS, TRACES, random_graph  # noqa: E402

from emulator.backends.loihi.lava.graph import LavaGraph  # noqa: E402
from emulator.errors import ConfigError  # noqa: E402
from emulator.lava import from_lava, run_graph  # noqa: E402


def _lava_users_network():
    """What a Lava user writes: a graded stream, a sigma-delta layer with its own exponents and cum_error, a LIF
    layer fed by binary spikes, a skip connection and a LIF -> sigma-delta feedback with its own exponent."""
    rng = np.random.default_rng(7)
    source = RingBuffer(data=rng.integers(-30, 60, (4, 6)))
    sd = SigmaDelta(shape=(5,), vth=3, bias=np.array([1, 0, -2, 4, 0]), act_mode=ActivationMode.RELU, cum_error=True,
                    spike_exp=1, state_exp=2, name="sd")
    lif = LIF(shape=(3,), du=700, dv=300, vth=20, bias_mant=np.array([5, -3, 64]), bias_exp=2, name="lif")
    links = [(source, sd, rng.integers(-300, 300, (5, 4)), -3, 24), (sd, lif, rng.integers(-255, 255, (3, 5)), 1, 0),
             (source, lif, rng.integers(0, 300, (3, 4)), -4, 16), (lif, sd, -rng.integers(0, 255, (5, 3)), 2, 0)]
    for k, (a, b, w, exp, bits) in enumerate(links):
        dense = Dense(weights=w, weight_exp=exp, num_message_bits=bits, name=f"dense{k}")
        a.s_out.connect(dense.s_in)
        dense.a_out.connect(b.a_in)
    return source, sd, lif


def test_a_network_built_with_lavas_classes_runs_bit_exactly_through_from_lava():
    source, sd, lif = _lava_users_network()
    graph = from_lava(lif)
    assert [p.name for p in graph.populations] == ["lif", "sd", source.name] and len(graph.connections) == 4
    steps = 20
    monitors = {(p.name, v): Monitor() for p in (sd, lif) for v in graph.populations[graph.index(p.name)].variables}
    for (name, var), monitor in monitors.items():
        monitor.probe(getattr(sd if name == "sd" else lif, var), steps)
    lif.run(condition=RunSteps(num_steps=steps), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
    try:
        lava = {key: np.asarray(m.get_data()[key[0]][key[1]]).reshape(steps, -1) for key, m in monitors.items()}
    finally:
        lif.stop()
    record = run_graph(graph, steps).record
    for (name, var), values in lava.items():
        assert np.array_equal(record[name][var][:, 0], values), f"{name}.{var}"
    assert (record["lif"]["s_out"] != 0).any() and (record["sd"]["s_out"] != 0).any()


def test_a_process_from_lava_cannot_map_is_one_error_naming_it():
    source = RingBuffer(data=np.ones((2, 3)))
    reset = LIFReset(shape=(2,), du=0, dv=0, vth=1, reset_interval=4, name="resetting")
    dense = Dense(weights=np.eye(2))
    source.s_out.connect(dense.s_in)
    dense.a_out.connect(reset.a_in)
    with pytest.raises(ConfigError, match="'resetting' of type lava.proc.lif.process.LIFReset cannot run"):
        from_lava(source)


@pytest.mark.parametrize("seed", SEEDS[:2])
def test_to_lava_runs_a_random_graph_as_the_emulator_does(seed):
    graph = random_graph(seed)
    lava = LavaGraph(graph, STEPS).run()
    record = run_graph(graph, STEPS).record
    for pop, variables in lava.items():
        for var, values in variables.items():
            assert np.array_equal(record[pop][var][:, 0], values), f"{pop}.{var}"


def test_from_lava_of_to_lava_is_the_same_graph():
    graph = random_graph(5)
    again = from_lava(list(LavaGraph(graph, 1).processes.values()))
    assert sorted(p.name for p in again.populations) == sorted(p.name for p in graph.populations)
    for a in graph.connections:
        (b,) = [d for d in again.connections if d.name == a.name]
        assert (b.source, b.target, b.weight_exp, b.num_message_bits, b.num_weight_bits) == \
            (a.source, a.target, a.weight_exp, a.num_message_bits, a.num_weight_bits)
        assert np.array_equal(b.weights, a.weights)


@pytest.mark.slow
def test_lava_records_the_stored_traces_again():
    """The traces the default tests compare with are what Lava records today."""
    with np.load(TRACES) as stored:
        for seed in SEEDS:
            for pop, variables in LavaGraph(random_graph(seed), STEPS).run().items():
                for var, values in variables.items():
                    assert np.array_equal(stored[f"{seed}/{pop}/{var}"], values), (seed, pop, var)


def test_a_nir_network_quantised_for_loihi_runs_in_lava_as_in_the_emulator():
    """The shipped digits LIF classifier, quantised for the chip, on one rate-coded digit: Lava's LIF and Dense fire
    the emulator's spikes at every step."""
    from dataclasses import replace
    from pathlib import Path

    from emulator.backends.loihi.nir import quantise_nir, stream_data
    from emulator.datasets import load_dataset
    from emulator.exchange.encoding import rate_code
    from emulator.exchange.nir_graph import read_nir

    network = read_nir(Path(__file__).parents[3] / "workloads" / "networks" / "digits_lif.nir")
    quantised = quantise_nir(network, 1e-3, vth=1024, weight_bits=8, max_clipped=1e-3)
    steps = 30
    data = stream_data(network, {"input": rate_code(load_dataset("digits", n_test=1).x_test, steps, 0)}, steps, None)
    graph = replace(quantised.graph, populations=tuple(
        replace(p, data=data[p.name][0]) if p.name in data else p for p in quantised.graph.populations))
    lava = LavaGraph(graph, steps).run()
    record = run_graph(graph, steps).record
    for pop in ("lif1", "lif2"):
        for var, values in lava[pop].items():
            assert np.array_equal(record[pop][var][:, 0], values), f"{pop}.{var}"
    assert (record["lif1"]["s_out"] != 0).sum() > 50 and (record["lif2"]["s_out"] != 0).sum() > 0
