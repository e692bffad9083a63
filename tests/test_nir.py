"""NIR exchange: reading NIR graphs (emulator.exchange.nir_graph), running them with NIR's float equations
(emulator.exchange.nir_sim) against scalar loops written here, the one clear error of every malformed or
unsupported graph, and ``deploy --to nir`` of the snn chip with its round trip."""
from __future__ import annotations

import io
import json
from contextlib import redirect_stdout

import h5py
import nir
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from emulator.backends.snn import SnnBackend
from emulator.backends.snn.nir import check, losses, to_nir
from emulator.chip import load_chip
from emulator.cli import main
from emulator.errors import NirError
from emulator.exchange.nir_graph import read_nir, write_nir
from emulator.exchange.nir_sim import simulate
from emulator.network import init_network

DT = 1e-3


def graph(nodes: dict, edges: list, **metadata) -> nir.NIRGraph:
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={"dt": DT} | metadata, type_check=False)


def population_graph(node, n: int) -> nir.NIRGraph:
    """Input -> node -> Output, ``n`` wide."""
    return graph({"in": nir.Input(np.array([n])), "pop": node, "out": nir.Output(np.array([n]))},
                 [("in", "pop"), ("pop", "out")])


def reference(model: str, p: dict, currents: np.ndarray, dt: float = DT) -> np.ndarray:
    """NIR's equations one neuron at a time in Python floats: ``currents`` (T, n) -> outputs (T, n) (spikes, or the
    potential of LI and CubaLI)."""
    steps, n = currents.shape
    out = np.zeros((steps, n))
    for j in range(n):
        q = {name: float(np.ravel(value)[j]) for name, value in p.items()}
        v = i = 0.0
        for t in range(steps):
            current = float(currents[t, j])
            if model == "Threshold":
                out[t, j] = float(current > q["threshold"])
                continue
            if model == "IF":
                v = v + dt * q["r"] * current
            else:
                if model.startswith("Cuba"):
                    i = i + dt / q["tau_syn"] * (-i + q["w_in"] * current)
                    current = i
                tau = q["tau"] if "tau" in q else q["tau_mem"]
                v = v + dt / tau * ((q["v_leak"] - v) + q["r"] * current)
            if model in ("LI", "CubaLI"):
                out[t, j] = v
            elif v > q["v_threshold"]:
                out[t, j], v = 1.0, q["v_reset"]
    return out


a3 = lambda *values: np.array(values, float)  # noqa: E731
PARAMETERS = {
    "IF": dict(r=a3(300, 500, 1000), v_threshold=a3(1, 1, 0.5), v_reset=a3(0, -0.2, 0.1)),
    "LIF": dict(tau=a3(2e-3, 5e-3, 1e-2), r=a3(1, 2, 0.5), v_leak=a3(0, 0.1, -0.1), v_threshold=a3(0.7, 0.5, 0.3),
                v_reset=a3(0, 0, 0.05)),
    "LI": dict(tau=a3(2e-3, 5e-3, 1e-2), r=a3(1, 2, 0.5), v_leak=a3(0, 0.3, -0.1)),
    "CubaLI": dict(tau_syn=a3(2e-3, 4e-3, 1e-3), tau_mem=a3(5e-3, 1e-2, 2e-3), r=a3(1, 2, 3), v_leak=a3(0, 0.1, 0),
                   w_in=a3(1, 0.5, 2)),
    "CubaLIF": dict(tau_syn=a3(2e-3, 4e-3, 1e-3), tau_mem=a3(5e-3, 1e-2, 2e-3), r=a3(1, 2, 3), v_leak=a3(0, 0.1, 0),
                    v_threshold=a3(0.2, 0.3, 0.5), v_reset=a3(0, 0, -0.1), w_in=a3(1, 0.5, 2)),
    "Threshold": dict(threshold=a3(0.2, 0.5, -0.1)),
}


# -- every supported node against the scalar loops ------------------------------------------------------------
@pytest.mark.parametrize("model", sorted(PARAMETERS))
def test_every_neuron_model_follows_nir_equations(model):
    currents = np.random.default_rng(3).uniform(-0.5, 2.0, (30, 4, 3))
    ran = simulate(read_nir(population_graph(getattr(nir, model)(**PARAMETERS[model]), 3)), currents)
    for b in range(4):
        np.testing.assert_allclose(ran.values["pop"][:, b], reference(model, PARAMETERS[model], currents[:, b]),
                                   rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(ran.values["out"], ran.values["pop"])


def test_a_lif_neuron_by_hand():
    """tau 2 ms at dt 1 ms (half the way per step), r 1, current 1, threshold 0.7, reset 0:
    v = 0.5, 0.75 -> fires, 0.5, 0.75 -> fires: spikes at steps 1, 3, 5."""
    lif = nir.LIF(tau=a3(2e-3), r=a3(1), v_leak=a3(0), v_threshold=a3(0.7))
    ran = simulate(read_nir(population_graph(lif, 1)), np.ones((6, 1, 1)))
    assert np.flatnonzero(ran.values["pop"][:, 0, 0]).tolist() == [1, 3, 5]


def test_maps_flatten_affine_scale_and_delay():
    """(2, 3) input -> Flatten -> Affine (6 -> 2) -> Scale -> Delay of 2 steps (3 ms at dt 1.5 ms) -> Output."""
    rng = np.random.default_rng(0)
    w, b, s = rng.normal(size=(2, 6)), rng.normal(size=2), a3(2.0, -0.5)
    g = graph({"in": nir.Input(np.array([2, 3])), "flat": nir.Flatten({"input": np.array([2, 3])}, start_dim=0),
               "aff": nir.Affine(w, b), "scale": nir.Scale(s), "late": nir.Delay(a3(3e-3, 3e-3)),
               "out": nir.Output(np.array([2]))},
              [("in", "flat"), ("flat", "aff"), ("aff", "scale"), ("scale", "late"), ("late", "out")], dt=1.5e-3)
    x = rng.normal(size=(5, 4, 2, 3))
    ran = simulate(read_nir(g), x)
    expected = (x.reshape(5, 4, 6) @ w.T + b) * s
    np.testing.assert_allclose(ran.values["scale"], expected, rtol=1e-12)
    np.testing.assert_allclose(ran.values["out"][2:], expected[:-2], rtol=1e-12)
    assert not ran.values["out"][:2].any()


def test_linear_and_fan_in_add_up():
    """Two edges into one node add: out = W1 x + W2 x."""
    w1, w2 = np.eye(2), np.array([[0.0, 2.0], [1.0, 0.0]])
    g = graph({"in": nir.Input(np.array([2])), "a": nir.Linear(w1), "b": nir.Linear(w2),
               "out": nir.Output(np.array([2]))}, [("in", "a"), ("in", "b"), ("a", "out"), ("b", "out")])
    x = np.arange(12.0).reshape(3, 2, 2)
    np.testing.assert_allclose(simulate(read_nir(g), x).values["out"], x @ (w1 + w2).T)


# -- recurrence and nesting -----------------------------------------------------------------------------------
def rnn_nodes(w_rec):
    return {"lif": nir.LIF(tau=a3(4e-3, 4e-3), r=a3(1, 1), v_leak=a3(0, 0), v_threshold=a3(0.5, 0.5)),
            "w_rec": nir.Linear(w_rec)}


W_IN, W_REC = np.array([[1.0, 0.0], [0.5, 0.5]]), np.array([[0.0, -1.0], [2.0, 0.0]])


def flat_rnn() -> nir.NIRGraph:
    return graph({"in": nir.Input(np.array([2])), "w_in": nir.Affine(W_IN, a3(0.1, 0)), **rnn_nodes(W_REC),
                  "out": nir.Output(np.array([2]))},
                 [("in", "w_in"), ("w_in", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "out")])


def nested_rnn() -> nir.NIRGraph:
    """snnTorch's recurrent layer: a sub-graph {input -> lif -> output, lif -> w_rec -> lif}."""
    rnn = nir.NIRGraph(nodes={"input": nir.Input(np.array([2])), **rnn_nodes(W_REC), "output": nir.Output(np.array([2]))},
                       edges=[("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")],
                       type_check=False)
    return graph({"in": nir.Input(np.array([2])), "w_in": nir.Affine(W_IN, a3(0.1, 0)), "rnn": rnn,
                  "out": nir.Output(np.array([2]))}, [("in", "w_in"), ("w_in", "rnn"), ("rnn", "out")])


def test_a_recurrent_edge_carries_the_previous_step():
    """The LIF hears W_in x_t + b at step t and W_rec z_{t-1}: the loop closed by hand, one neuron pair."""
    x = np.random.default_rng(1).uniform(0, 1, (40, 3, 2))
    ran = simulate(read_nir(flat_rnn()), x)
    p = {"tau": 4e-3, "v_leak": 0.0, "r": 1.0, "v_threshold": 0.5}
    for b in range(3):
        v, z = np.zeros(2), np.zeros(2)
        for t in range(40):
            current = W_IN @ x[t, b] + np.array([0.1, 0]) + W_REC @ z
            v = v + DT / p["tau"] * ((p["v_leak"] - v) + p["r"] * current)
            z = (v > p["v_threshold"]).astype(float)
            v = np.where(z > 0, 0.0, v)
            np.testing.assert_array_equal(ran.values["lif"][t, b], z)
    assert ran.values["lif"].sum() > 10  # it fires, and the recurrence matters
    assert ran.counts["spikes"] == int(ran.values["lif"].sum() + np.count_nonzero(x))


def test_a_nested_graph_runs_as_the_flat_one(tmp_path):
    x = np.random.default_rng(2).uniform(0, 1, (25, 2, 2))
    nested = read_nir(nested_rnn())
    assert set(nested.populations) == {"rnn.lif"} and ("rnn.w_rec", "rnn.lif") in nested.edges
    write_nir(tmp_path / "nested.nir", nested_rnn())
    flat, from_file = simulate(read_nir(flat_rnn()), x), simulate(read_nir(tmp_path / "nested.nir"), x)
    np.testing.assert_array_equal(flat.values["lif"], from_file.values["rnn.lif"])
    np.testing.assert_array_equal(flat.values["out"], from_file.values["out"])
    assert flat.counts == from_file.counts


def test_counts_by_hand():
    """Input (2) -> Linear [[1, 0], [1, 1]] -> IF (2) -> Output: input 0 reaches both neurons, input 1 one;
    each neuron's spikes reach nothing (an Output is no synapse)."""
    g = graph({"in": nir.Input(np.array([2])), "w": nir.Linear(np.array([[1.0, 0.0], [1.0, 1.0]])),
               "if": nir.IF(r=a3(1000, 1000), v_threshold=a3(0.5, 0.5)), "out": nir.Output(np.array([2]))},
              [("in", "w"), ("w", "if"), ("if", "out")])
    x = np.zeros((4, 1, 2))
    x[:, 0, 0] = 1  # input 0 fires at every step, input 1 never
    ran = simulate(read_nir(g), x)
    assert ran.fan_out["in"].tolist() == [2, 1] and ran.fan_out["if"].tolist() == [0, 0]
    fired = int(ran.values["if"].sum())  # both neurons get 1 per step: v = 1 > 0.5 at every step
    assert fired == 8
    assert ran.counts == {"spikes": 4 + fired, "messages": 0, "synaptic_ops": 4 * 2, "neuron_updates": 8, "steps": 4}


@settings(max_examples=25, deadline=None)
@given(scale=st.floats(1e-3, 1e3), shift=st.floats(-1e2, 1e2), seed=st.integers(0, 2**16))
def test_a_cuba_lif_follows_the_scalar_loop_whatever_its_input(scale, shift, seed):
    """Inputs of any size and sign (tiny, huge, negative): the vectorised run is the scalar loop's, bit for bit."""
    currents = np.random.default_rng(seed).normal(shift, scale, (12, 2, 3))
    ran = simulate(read_nir(population_graph(nir.CubaLIF(**PARAMETERS["CubaLIF"]), 3)), currents)
    for b in range(2):
        np.testing.assert_array_equal(ran.values["pop"][:, b], reference("CubaLIF", PARAMETERS["CubaLIF"],
                                                                         currents[:, b]))


def test_dt_comes_from_the_graph_else_the_argument():
    lif = nir.LIF(tau=a3(2e-3), r=a3(1), v_leak=a3(0), v_threshold=a3(0.7))
    bare = nir.NIRGraph(nodes={"in": nir.Input(np.array([1])), "pop": lif, "out": nir.Output(np.array([1]))},
                        edges=[("in", "pop"), ("pop", "out")], type_check=False)
    x = np.ones((6, 1, 1))
    assert simulate(read_nir(bare), x, dt=DT).dt == DT
    assert simulate(read_nir(population_graph(lif, 1)), x).dt == DT
    with pytest.raises(NirError, match="states no time step .*pass dt"):
        simulate(read_nir(bare), x)
    with pytest.raises(NirError, match="contradicts the graph's own time step"):
        simulate(read_nir(population_graph(lif, 1)), x, dt=2e-3)


# -- one clear error per malformed or unsupported graph -----------------------------------------------------------
def conv_graph():
    conv = nir.Conv2d(input_shape=(4, 4), weight=np.ones((1, 1, 2, 2)), stride=1, padding=0, dilation=1, groups=1,
                      bias=np.zeros(1))
    return graph({"in": nir.Input(np.array([1, 4, 4])), "conv": conv, "out": nir.Output(np.array([1, 3, 3]))},
                 [("in", "conv"), ("conv", "out")])


def lif3(**changes):
    return nir.LIF(**(PARAMETERS["LIF"] | changes))


@pytest.mark.parametrize("make, message", [
    (conv_graph, r"node 'conv' is a NIR Conv2d node, which the emulator does not run; flatten convolutions to "
                 r"Affine first"),
    (lambda: graph({"in": nir.Input(np.array([2])), "sub": graph({"i": nir.Input(np.array([2])),
                    "integ": nir.I(r=a3(1, 1)), "o": nir.Output(np.array([2]))}, [("i", "integ"), ("integ", "o")]),
                    "out": nir.Output(np.array([2]))}, [("in", "sub"), ("sub", "out")]),
     r"node 'sub.integ' is a NIR I node, which the emulator does not run; write the integrator as IF"),
    (lambda: graph({"in": nir.Input(np.array([3])), "pop": lif3(), "out": nir.Output(np.array([3]))},
                   [("in", "pop"), ("pop", "outt")]),
     r"edge \('pop', 'outt'\) names node 'outt', which the graph does not have \(it has in, out, pop\)"),
    (lambda: graph({"in": nir.Input(np.array([2])), "pop": lif3(), "out": nir.Output(np.array([3]))},
                   [("in", "pop"), ("pop", "out")]),
     r"edge \('in', 'pop'\) joins an output of shape \(2,\) to an input of shape \(3,\)"),
    (lambda: population_graph(lif3(tau=a3(2e-3, np.nan, 1e-2)), 3),
     r"node 'pop' \(LIF\): parameter tau holds NaN or infinite values"),
    (lambda: population_graph(lif3(tau=a3(2e-3, 0, 1e-2)), 3), r"node 'pop' \(LIF\): time constant tau must be "
                                                                r"positive"),
    (lambda: graph({"pop": lif3(), "out": nir.Output(np.array([3]))}, [("pop", "out")]),
     r"needs at least one Input and one Output node, got 0 and 1"),
    (lambda: graph({"in": nir.Input(np.array([2])), "sub": graph({"a": nir.Input(np.array([2])),
                    "b": nir.Input(np.array([2])), "o": nir.Output(np.array([2]))}, [("a", "o"), ("b", "o")]),
                    "out": nir.Output(np.array([2]))}, [("in", "sub"), ("sub", "out")]),
     r"joins sub-graph 'sub', which has 2 Input nodes \(a, b\); name one as sub.NODE"),
    (lambda: graph({"in": nir.Input(np.array([3])), "pop": lif3(), "out": nir.Output(np.array([3]))},
                   [("in", "pop"), ("pop", "out")], dt="soon"),
     r"metadata dt = 'soon' is not a positive time step"),
])
def test_a_malformed_or_unsupported_graph_is_one_clear_error(make, message):
    with pytest.raises(NirError, match=message):
        read_nir(make())


def test_a_delay_that_is_not_whole_steps_is_one_clear_error():
    g = graph({"in": nir.Input(np.array([1])), "d": nir.Delay(a3(1.5e-3)), "out": nir.Output(np.array([1]))},
              [("in", "d"), ("d", "out")])
    with pytest.raises(NirError, match=r"Delay node 'd': delays \[0.0015\] s are not whole numbers of steps of "
                                       r"dt = 0.001 s"):
        simulate(read_nir(g), np.ones((3, 1, 1)))


def test_files_that_are_not_nir_are_one_clear_error(tmp_path):
    with pytest.raises(NirError, match="no such file; give the path of a NIR file"):
        read_nir(tmp_path / "missing.nir")
    (tmp_path / "text.nir").write_text("not hdf5\n")
    with pytest.raises(NirError, match=r"text.nir is not a NIR graph that nir 1\.\d+\.\d+ can read"):
        read_nir(tmp_path / "text.nir")
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f.create_dataset("data", data=np.ones(3))
    with pytest.raises(NirError, match="other.h5 is not a NIR graph"):
        read_nir(tmp_path / "other.h5")
    write_nir(tmp_path / "conv.nir", conv_graph())
    with pytest.raises(NirError, match="node 'conv' is a NIR Conv2d node"):
        read_nir(tmp_path / "conv.nir")


def test_an_unreadable_file_is_one_clear_error(tmp_path, monkeypatch):
    write_nir(tmp_path / "net.nir", flat_rnn())

    def refused(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("pathlib.Path.open", refused)  # chmod cannot refuse root, who runs the tests here
    with pytest.raises(NirError, match=r"cannot read .*net.nir: Permission denied; make it readable"):
        read_nir(tmp_path / "net.nir")


# -- export of the snn chip and its round trip --------------------------------------------------------------------
#: chip settings NIR expresses exactly, by the nodes that write them
EXACT = {
    "CubaLIF": ["parameters.neuron=lif", "parameters.dv=0.05"],
    "LIF": ["parameters.neuron=lif", "parameters.dv=0.1", "parameters.du=1"],
    "LI+IF": ["parameters.neuron=lif"],
    "IF": ["parameters.neuron=lif", "parameters.du=1"],
}


def program_on(overrides, layers=(6, 8, 7, 3)):
    backend = SnnBackend()
    net = init_network(list(layers), np.random.default_rng(0), gain=2.0)
    biases = tuple(np.random.default_rng(1).uniform(-0.2, 0.5, b.shape) for b in net.biases)
    return backend.compile(net.with_parameters(net.weights, biases), load_chip("chips/snn.yaml", overrides))


@pytest.mark.parametrize("case", sorted(EXACT))
def test_the_round_trip_fires_the_chips_spikes_where_nir_expresses_it(case, tmp_path):
    program = program_on(EXACT[case] + ["parameters.reset=zero", "parameters.precision=float64"])
    assert losses(program, 60) == {}
    graph_ = to_nir(program)
    types = {type(node).__name__ for node in graph_.nodes.values()}
    assert set(case.split("+")) <= types and {"Delay", "Linear"} <= types
    assert ("delay_2", "w_1_T") in graph_.edges  # the feedback: a recurrent graph
    write_nir(tmp_path / "net.nir", graph_)
    nir.read(tmp_path / "net.nir")  # NIR's own reader and type check take it
    x = np.random.default_rng(2).uniform(0, 1, (5, 6))
    result = check(program, x, 60, tmp_path / "net.nir")
    assert result["exact"] and result["spikes_equal"] and result["different_spikes"] == 0
    assert result["chip_spikes"] > 500 and result["classes_equal"]
    if case != "LI+IF":  # the synaptic current as its own LI population costs updates and messages of its own
        assert result["nir_counts"] == result["chip_counts"] | {"messages": 0}


def test_what_nir_cannot_express_is_named_and_measured(tmp_path):
    program = program_on([])  # the snn chip: if neurons (clip), reset by subtraction, float32
    assert sorted(losses(program, 60)) == ["reset by subtraction", "the if neuron's clip"]
    write_nir(tmp_path / "net.nir", to_nir(program, lost=losses(program, 60)))
    result = check(program, np.random.default_rng(2).uniform(0, 1, (4, 6)), 60, tmp_path / "net.nir")
    assert not result["exact"] and len(result["lost"]) == 2 and result["different_spikes"] > 0
    assert read_nir(tmp_path / "net.nir").metadata["lost"].startswith("the if neuron's clip")


def deploy(run, out, *extra) -> tuple[int, str]:
    with redirect_stdout(io.StringIO()) as stdout:
        status = main(["deploy", str(run), "--to", "nir", "--out", str(out), "--samples", "3", *extra])
    return status, stdout.getvalue()


def test_deploy_writes_the_graph_its_readme_and_the_check(tiny_run_on, tmp_path):
    status, stdout = deploy(tiny_run_on("snn"), tmp_path / "bundle")
    assert status == 0
    lines = stdout.splitlines()
    assert [line.split(":")[0] for line in lines[:3]] == ["sample 0", "sample 1", "sample 2"]
    assert lines[3] == (f"NIR graph in {tmp_path / 'bundle' / 'network.nir'} (one chip step = dt = 1 ms); the check "
                        f"is in {tmp_path / 'bundle' / 'nir_check.json'}")
    assert lines[4].startswith("NIR cannot express 2 feature(s) of chip 'snn' (the if neuron's clip, reset by "
                               "subtraction; see")
    check_ = json.loads((tmp_path / "bundle" / "nir_check.json").read_text())
    assert check_["samples"] == 3 and check_["steps"] == 40 and not check_["exact"]
    readme = (tmp_path / "bundle" / "README.md").read_text()
    assert "## What NIR cannot express" in readme and "dt = 0.001 s" in readme
    network = read_nir(tmp_path / "bundle" / "network.nir")
    assert list(network.inputs) == ["input"] and network.populations["layer_1"].shape == (256,)


def test_deploy_of_a_network_nir_expresses_passes(tmp_path):
    run = tmp_path / "run"
    with redirect_stdout(io.StringIO()):
        assert main(["run", "digits_snn", "--chip", "snn", "--chip-set", "parameters.neuron=lif", "--chip-set",
                     "parameters.dv=0.05", "--chip-set", "parameters.reset=zero", "--chip-set",
                     "parameters.precision=float64", "--set", "training.epochs=1", "--set", "dataset.n_train=60",
                     "--set", "dataset.n_test=20", "--out", str(run), "--quiet"]) == 0
    status, stdout = deploy(run, tmp_path / "bundle")
    assert status == 0, stdout
    assert stdout.splitlines()[-1] == "read back and run with NIR's semantics, it fires the chip's spikes on 3 samples"
    assert "Nothing of the free phase" in (tmp_path / "bundle" / "README.md").read_text()


def test_deploy_errors_are_one_line(tiny_run_on, tmp_path, user_error):
    run = tiny_run_on("snn")
    assert "--hw: a NIR file targets no one machine" in user_error("deploy", run, "--to", "nir", "--out",
                                                                   tmp_path / "a", "--hw")
    assert "the run's test split has only 50 samples" in user_error("deploy", run, "--to", "nir", "--out",
                                                                    tmp_path / "b", "--samples", "51")
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "notes.txt").write_text("mine\n")
    assert "is not empty and holds no bundle" in user_error("deploy", run, "--to", "nir", "--out", tmp_path / "c")
