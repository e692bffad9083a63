"""MaxCut workloads: the G-set parser and its errors, exact cuts, the OIM anneal, its counters, the CLI."""
import json
import tracemalloc
import warnings
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from emulator.backends.oim import OimBackend
from emulator.chip import load_chip
from emulator.cli import main
from emulator.errors import CapacityError, ConfigError, GraphFormatError
from emulator.graphs import Graph, brute_force_maxcut, from_matrix, random_graph, read_gset
from emulator.tasks.maxcut import repetitions, run_maxcut
from emulator.report import render_markdown
from emulator.results import MaxCutResult
from emulator.workload import load_workload

ROOT = Path(__file__).resolve().parents[1]
OIM = ROOT / "chips" / "oim-cmos.yaml"


def write(tmp_path, text, name="g.txt") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def graph(n, edges, weights=None) -> Graph:
    edges = np.array(edges, np.int64)
    return Graph(n, edges, np.ones(len(edges)) if weights is None else np.array(weights, float))


# -- the format ---------------------------------------------------------------------------------

@pytest.mark.parametrize("weights", ["unit", "pm1"])
def test_gset_round_trip(tmp_path, weights):
    g = random_graph(30, 0.3, weights, seed=4)
    back = read_gset(write(tmp_path, g.to_gset()))
    assert back.n == g.n and np.array_equal(back.edges, g.edges) and np.array_equal(back.weights, g.weights)


def test_gset_reads_one_based_edges_in_any_order_with_real_weights(tmp_path):
    g = read_gset(write(tmp_path, "4 3\n2 1 1.5\n4 3 -2\n\n1 4 3\n"))
    assert g.n == 4
    assert g.edges.tolist() == [[0, 1], [0, 3], [2, 3]]
    assert g.weights.tolist() == [1.5, 3.0, -2.0]
    assert g.adjacency()[3, 0] == 3.0 and g.degrees().tolist() == [2, 1, 1, 2]


@pytest.mark.parametrize("text, line, words", [
    ("3 2\n1 2 1\n2 4 1\n", 3, "names node 4 but the graph has 3 nodes"),
    ("3 2\n0 2 1\n2 3 1\n", 2, "names node 0 but the graph has 3 nodes"),
    ("-3 0\n", 1, "node count n must be at least 1, got -3"),
    ("3 -1\n", 1, "edge count m must be at least 0"),
    ("3 3\n1 2 1\n2 3 1\n", 3, "announces 3 edges but the file has 2"),
    ("3 1\n1 2 1\n2 3 1\n", 3, "announces 1 edges but the file has 2"),
    ("3 2\n1 2 1\n2 three 1\n", 3, "expected an edge `i j w`"),
    ("3 2\n1 2 1\n2 3\n", 3, "expected an edge `i j w`"),
    ("3 1\n1 2 nan\n", 2, "expected an edge `i j w`"),
    ("3\n", 1, "expected `n m`"),
    ("", 1, "empty"),
    ("3 2\n1 2 1\n2 2 1\n", 3, "self-loop on node 2"),
    ("3 2\n1 2 1\n2 1 5\n", 3, "edge 2-1 is given again (first on line 2)"),
])
def test_a_malformed_graph_file_is_one_error_naming_file_and_line(tmp_path, text, line, words):
    path = write(tmp_path, text)
    with pytest.raises(GraphFormatError) as info:
        read_gset(path)
    message = str(info.value)
    assert message.startswith(f"{path}:{line}: "), message
    assert words in message
    assert isinstance(info.value, ConfigError)


def test_a_missing_graph_file_is_an_error(tmp_path):
    with pytest.raises(GraphFormatError, match="cannot read graph file"):
        read_gset(tmp_path / "nowhere.txt")


def test_a_coupling_matrix_must_be_symmetric_with_zero_diagonal():
    w = np.array([[0, 1, 0], [1, 0, 2], [0, 3, 0]], float)
    with pytest.raises(GraphFormatError, match=r"m.npy: the coupling matrix is not symmetric: entry \[1, 2\] is 2 "
                                                r"but \[2, 1\] is 3"):
        from_matrix(w, "m.npy")
    with pytest.raises(GraphFormatError, match=r"diagonal entry \[1, 1\] is 4"):
        from_matrix(np.diag([0.0, 4.0, 0.0]), "m.npy")
    with pytest.raises(GraphFormatError, match="must be square"):
        from_matrix(np.zeros((2, 3)), "m.npy")
    g = from_matrix(np.array([[0, 1, 0], [1, 0, 2], [0, 2, 0]], float), "m.npy")
    assert g.edges.tolist() == [[0, 1], [1, 2]] and g.weights.tolist() == [1.0, 2.0]


# -- cuts -----------------------------------------------------------------------------------------

def test_cut_values_and_exact_maxima_by_hand():
    square = graph(4, [(0, 1), (1, 2), (2, 3), (0, 3)])
    assert square.cut(np.array([1, -1, 1, -1])) == 4  # alternating: every edge cut
    assert square.cut(np.array([1, 1, -1, -1])) == 2
    assert square.cut(np.array([[1, 1, 1, 1], [1, -1, 1, 1]])).tolist() == [0, 2]
    assert brute_force_maxcut(square)[0] == 4
    triangle = graph(3, [(0, 1), (1, 2), (0, 2)])
    best, spins = brute_force_maxcut(triangle)
    assert best == 2 and triangle.cut(spins) == 2  # an odd cycle: one edge always uncut
    # a negative edge prefers its ends together: path a -(+1)- b -(-1)- c, best puts c with b
    assert brute_force_maxcut(graph(3, [(0, 1), (1, 2)], [1, -1]))[0] == 1


def test_brute_force_agrees_with_enumeration_by_hand():
    g = random_graph(9, 0.5, "pm1", seed=1)
    every = np.array(np.meshgrid(*[[-1, 1]] * 9)).reshape(9, -1).T
    assert brute_force_maxcut(g, chunk=7)[0] == g.cut(every).max()


def test_repetitions_for_99_percent():
    assert repetitions(1.0) == 1.0 and repetitions(0.0) is None
    assert repetitions(0.5) == pytest.approx(np.log(0.01) / np.log(0.5))
    assert repetitions(0.999) == 1.0  # never below one run


# -- the anneal on oscillators -----------------------------------------------------------------------

def test_the_shipped_small_graph_has_the_recorded_exact_optimum_and_the_oim_finds_it():
    workload = load_workload(ROOT / "workloads" / "maxcut_rand20.yaml")
    best, _ = brute_force_maxcut(read_gset(workload.graph_path()))
    assert best == workload.best_known.cut == 26
    result = run_maxcut(workload, load_chip(OIM))
    assert result.metrics.best_cut == 26 and result.metrics.best_ratio == 1.0
    assert result.metrics.success_probability > 0.5
    assert result.runs == run_maxcut(workload, load_chip(OIM)).runs


def test_anneal_counters_by_hand():
    """Path 1-2-3 (degrees 1, 2, 1), 2 runs of 0.2 time units, no noise, theta 1 rad: no phase
    moves faster than its couplings plus S (3 rad per time unit), so none moves 1 rad and the only
    broadcasts are the first phases (one per oscillator per run)."""
    chip = load_chip(OIM)
    backend = OimBackend()
    program = backend.compile_ising(graph(3, [(0, 1), (1, 2)]), chip, theta=1.0)
    assert program.programming == {"weight_writes": 2}
    schedule = SimpleNamespace(duration=0.2, noise=0.0, shil=1.0, shil_ramp=0.0)
    spins, counters = backend.anneal(program, schedule, runs=2, seed=3)
    rate = chip.parameters["coupling_rate"]
    assert spins.shape == (2, 3) and set(np.unique(spins)) <= {-1, 1}
    assert counters["coupling_events"] == 6
    assert counters["coupling_ops"] == 2 * (1 + 2 + 1)
    assert counters["phase_readouts"] == 6
    assert counters["oscillator_seconds"] == pytest.approx(3 * 2 * 0.2 / rate, rel=1e-12)
    assert counters["settle_s"] == pytest.approx(2 * 0.2 / rate, rel=1e-12)


def test_a_long_anneal_cuts_a_single_edge_and_a_square():
    backend, chip = OimBackend(), load_chip(OIM)
    schedule = SimpleNamespace(duration=30.0, noise=0.3, shil=1.0, shil_ramp=30.0)
    for g, best in ((graph(2, [(0, 1)]), 1), (graph(4, [(0, 1), (1, 2), (2, 3), (0, 3)]), 4)):
        spins, _ = backend.anneal(backend.compile_ising(g, chip), schedule, runs=4, seed=0)
        assert (g.cut(spins) == best).all()


def test_a_graph_too_large_for_the_chip_names_the_limit(tmp_path):
    import yaml

    spec = yaml.safe_load(OIM.read_text())
    spec["parameters"]["max_oscillators"] = 10
    chip = load_chip(write(tmp_path, yaml.safe_dump(spec), "chip.yaml"))
    with pytest.raises(CapacityError, match=r"needs 20 oscillators \(one per node\) but chip 'oim-cmos' has 10"):
        OimBackend().compile_ising(random_graph(20, 0.5, "unit", 0), chip)


# -- workloads and the command line ------------------------------------------------------------------

def test_run_writes_a_maxcut_report(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", str(ROOT / "workloads" / "maxcut_rand20.yaml"), "--chip", str(OIM), "--out", str(out),
                 "--set", "anneal.runs=4"]) == 0
    line = capsys.readouterr().out
    assert line.startswith("maxcut_rand20 on oim-cmos: best cut 26 (1.0000 of the best known)")
    report = json.loads((out / "report.json").read_text())
    assert report["kind"] == "maxcut" and len(report["runs"]) == 4
    assert report["counters"]["anneal"]["phase_readouts"] == 4 * 20
    assert report["counters"]["programming"] == {"weight_writes": 105}
    md = (out / "report.md").read_text()
    assert "## Results" in md and "time-to-solution (99 %)" in md and (out / "cuts.png").stat().st_size > 0


def test_the_report_gives_cuts_with_thousands_separators(tmp_path):
    out = tmp_path / "run"
    assert main(["run", str(ROOT / "workloads" / "maxcut_rand20.yaml"), "--chip", str(OIM), "--out", str(out),
                 "--set", "anneal.runs=2"]) == 0
    result = MaxCutResult.from_dict(json.loads((out / "report.json").read_text()))
    md = render_markdown(replace(result, metrics=replace(result.metrics, best_cut=11674.0, mean_cut=11657.6)))
    assert "best cut **11,674**" in md and "mean 11,657.6 over 2 runs" in md
    assert "| mean cut | 11,657.6 |" in md


@pytest.mark.parametrize("name, n, density, weights, seed", [("rand20_pm1.txt", 20, 0.5, "pm1", 20),
                                                              ("rand100.txt", 100, 0.1, "unit", 100)])
def test_a_random_graph_is_the_one_its_seed_made_before(name, n, density, weights, seed):
    """The shipped graphs were generated with the seeds the graphs' README gives: they still are, bit for bit."""
    assert random_graph(n, density, weights, seed).to_gset() == (ROOT / "workloads" / "graphs" / name).read_text()


def test_a_sparse_random_graph_takes_the_memory_of_its_edges_not_of_its_pairs():
    tracemalloc.start()
    try:
        graph = random_graph(4000, 0.0005, "pm1", 0)  # 8 million pairs: 200 MB as arrays of pairs
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert 3000 < graph.m < 5000 and peak < 5e6


def test_a_random_graph_of_too_many_edges_is_refused_before_it_is_generated(tmp_path, user_error):
    path = write(tmp_path, "name: r\nkind: maxcut\ngraph:\n  random: {nodes: 20000, density: 1}\n"
                           "anneal: {runs: 2, duration: 5, shil: 1}\n", "w.yaml")
    message = user_error("run", path, "--chip", OIM, "--out", tmp_path / "out")
    assert message == (f"{path}:4: graph.random.density: 20,000 nodes at density 1 make about 199,990,000 edges, more "
                       "than the 10,000,000 a generated graph may have; lower graph.random.density or "
                       "graph.random.nodes")


def test_a_random_graph_workload(tmp_path):
    path = write(tmp_path, "name: r\nkind: maxcut\ngraph:\n  random: {nodes: 12, density: 0.5, seed: 3}\n"
                           "anneal: {runs: 3, duration: 20, noise: 0.3, shil: 1.0, shil_ramp: 20}\n", "w.yaml")
    result = run_maxcut(load_workload(path), load_chip(OIM))
    exact, _ = brute_force_maxcut(random_graph(12, 0.5, "unit", 3))
    assert result.metrics.best_ratio is None and result.metrics.best_cut <= exact
    assert result.metrics.target_is_best_known is False
    assert MaxCutResult.from_dict(json.loads(json.dumps(result.to_dict()))) == result


@pytest.mark.parametrize("text, words", [
    ("name: r\nkind: maxcut\ngraph: {}\nanneal: {duration: 1, shil: 1}\n",
     "w.yaml:3: graph: give exactly one of `file`"),
    ("name: r\nkind: knapsack\n",
     "w.yaml:2: kind: must be one of 'classification', 'maxcut', 'snn_inference', got 'knapsack'"),
    ("name: r\nkind: maxcut\ngraph: {file: g.txt}\nanneal: {duration: -1, shil: 1}\n",
     "w.yaml:4: anneal.duration: must be > 0"),
])
def test_maxcut_workload_errors(tmp_path, text, words):
    with pytest.raises(ConfigError) as info:
        load_workload(write(tmp_path, text, "w.yaml"))
    assert str(info.value).startswith(str(tmp_path)) and words in str(info.value)


def cli_error(capsys, args) -> str:
    """The one `error:` line of a CLI run that must exit with status 2."""
    assert main([str(a) for a in args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


def test_cli_errors_for_maxcut(tmp_path, capsys):
    write(tmp_path, "2 1\n1 3 1\n")
    workload = write(tmp_path, "name: r\nkind: maxcut\ngraph: {file: g.txt}\nanneal: {duration: 1, shil: 1}\n",
                     "w.yaml")
    cases = [(["run", workload, "--chip", OIM], f"{tmp_path / 'g.txt'}:2: edge 1-3 names node 3"),
             (["run", ROOT / "workloads" / "maxcut_rand20.yaml", "--chip", ROOT / "chips" / "digital.yaml"],
              "does not solve Ising problems"),
             (["compare", ROOT / "workloads" / "maxcut_rand20.yaml"], "compare puts chips side by side")]
    for args, words in cases:
        assert words in cli_error(capsys, args)


# -- bad graphs and best-known cuts ----------------------------------------------------------------------

def maxcut_yaml(tmp_path, graph_file: str, extra: str = "") -> Path:
    return write(tmp_path, f"name: t\nkind: maxcut\ngraph: {{file: {graph_file}}}\n{extra}"
                           "anneal: {runs: 2, duration: 5, shil: 1}\n", "w.yaml")


@pytest.mark.parametrize("matrix, words", [
    (np.array([["0", "1"], ["1", "0"]]), "got strings (dtype <U1)"),
    (np.array([["0", "a"], ["a", "0"]]), "got strings (dtype <U1)"),
    (np.array([[0, 1j], [1j, 0]]), "got complex numbers (dtype complex128)"),
    (np.array([[0, 1 + 0j], [1 + 0j, 0]]), "got complex numbers (dtype complex128)"),
    (np.array([[(0, 1)]], dtype=[("a", "i4"), ("b", "i4")]), "got records"),
])
def test_a_npy_graph_that_does_not_hold_real_numbers_is_one_error_naming_the_file(tmp_path, capsys, matrix, words):
    np.save(tmp_path / "m.npy", matrix)
    line = cli_error(capsys, ["run", maxcut_yaml(tmp_path, "m.npy"), "--chip", OIM, "--out", tmp_path / "out"])
    assert line.startswith(f"error: {tmp_path / 'm.npy'}: a coupling matrix holds real numbers") and words in line


@pytest.mark.parametrize("text, damaged, says", [
    (b"(20, 20)", b"(99999, 99999)", "mmap length is greater than file size"),  # not a 74.5 GiB allocation
    (b"(20, 20)", b"(20, 21)", "mmap length is greater than file size"),
    (b"{'descr'", b"{{descr'", "'EOF in multi-line statement'"),  # its header is parsed as a Python literal
    (b"(20, 20)", b"(2**70,)", "malformed node or string"),
])
def test_a_npy_graph_with_a_damaged_header_is_one_error(tmp_path, user_error, text, damaged, says):
    np.save(tmp_path / "m.npy", np.zeros((20, 20)))
    (tmp_path / "m.npy").write_bytes((tmp_path / "m.npy").read_bytes().replace(text, damaged, 1))
    message = user_error("run", maxcut_yaml(tmp_path, "m.npy"), "--chip", OIM, "--out", tmp_path / "out")
    assert f"cannot read {tmp_path / 'm.npy'} as a .npy matrix (" in message and says in message, message
    assert message.endswith("; save the matrix again with numpy.save"), message


def test_a_boolean_npy_matrix_is_an_unweighted_graph(tmp_path):
    np.save(tmp_path / "m.npy", np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]], bool))
    result = run_maxcut(load_workload(maxcut_yaml(tmp_path, "m.npy")), load_chip(OIM))
    assert result.graph.edges == 2 and result.graph.total_weight == 2.0


def test_weights_whose_sum_overflows_are_one_error(tmp_path):
    with pytest.raises(GraphFormatError, match=r"g.txt: the absolute edge weights sum beyond 1e\+300.*divide every "
                                                r"weight by a common factor"):
        read_gset(write(tmp_path, "3 2\n1 2 1e308\n2 3 1e308\n"))
    with pytest.raises(GraphFormatError, match="beyond 1e\\+300"):  # finite, but the mean of many cuts is not
        read_gset(write(tmp_path, "3 2\n1 2 1e308\n2 3 1\n"))


@pytest.mark.parametrize("best_known, words", [
    ("-5.2", "w.yaml:4: best_known.cut: must be >= 0"),
    ("3", "w.yaml:4: best_known.cut is 3 but no cut of"),  # the positive weights sum to 2
])
def test_an_impossible_best_known_cut_is_refused(tmp_path, capsys, best_known, words):
    write(tmp_path, "3 3\n1 2 1\n2 3 1\n1 3 -4\n")
    workload = maxcut_yaml(tmp_path, "g.txt", f"best_known: {{cut: {best_known}, source: a guess}}\n")
    line = cli_error(capsys, ["run", workload, "--chip", OIM, "--out", tmp_path / "out"])
    assert words in line and "best_known.cut" in line


def test_a_best_known_cut_of_zero_is_the_maximum_of_a_graph_without_positive_weights(tmp_path):
    write(tmp_path, "3 2\n1 2 -1\n2 3 -2\n")
    result = run_maxcut(load_workload(maxcut_yaml(tmp_path, "g.txt", "best_known: {cut: 0, source: by hand}\n")),
                        load_chip(OIM))
    m = result.metrics
    assert m.target_cut == 0 and m.best_ratio is None and m.mean_ratio is None
    assert m.best_cut <= 0 and m.success_probability == float(np.mean([r.cut >= 0 for r in result.runs]))


def test_comments_are_allowed_anywhere_in_a_graph_file(tmp_path):
    g = read_gset(write(tmp_path, "# a triangle\n3 3  # n m\n1 2 1\n# the heavy edge:\n2 3 5 # here\n1 3 1\n"))
    assert g.edges.tolist() == [[0, 1], [0, 2], [1, 2]] and g.weights.tolist() == [1.0, 1.0, 5.0]
    with pytest.raises(GraphFormatError, match=r"g.txt:5: expected an edge `i j w` .* got '2 3'"):
        read_gset(write(tmp_path, "3 2\n1 2 1\n# the next line lost its weight\n\n2 3 # 5\n"))

# -- results a user can check ------------------------------------------------------------------------

def cut_from_file(path: Path, spins: str) -> float:
    """The cut of a partition string, from a G-set file, without the emulator: an independent check."""
    rows = [line.split("#")[0].split() for line in path.read_text().splitlines()]
    rows = [r for r in rows if r]
    (n, m), edges = map(int, rows[0]), rows[1:]
    assert len(spins) == n and len(edges) == m and set(spins) <= {"0", "1"}
    return sum(float(w) for i, j, w in edges if spins[int(i) - 1] != spins[int(j) - 1])


@pytest.mark.parametrize("name, sets", [("maxcut_rand20", []), ("maxcut_rand100", ["anneal.runs=5"]),
                                        ("maxcut_rand800", ["anneal.runs=2", "anneal.duration=10",
                                                            "anneal.shil_ramp=10"])])
def test_every_reported_cut_is_the_cut_of_its_reported_spins_in_the_graph_file(tmp_path, name, sets):
    workload = ROOT / "workloads" / f"{name}.yaml"
    args = ["run", str(workload), "--chip", str(OIM), "--out", str(tmp_path), "--quiet"]
    assert main(args + [a for s in sets for a in ("--set", s)]) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    graph_file = workload.parent / report["graph"]["name"]
    for run in report["runs"]:
        assert cut_from_file(graph_file, run["spins"]) == run["cut"]
    best = report["partition"]
    assert best["cut"] == cut_from_file(graph_file, best["spins"]) == report["metrics"]["best_cut"]
    assert best["spins"] == report["runs"][best["run"]]["spins"]
    assert max(r["cut"] for r in report["runs"]) == best["cut"]
    assert "`partition.spins`" in (tmp_path / "report.md").read_text()


def test_a_report_from_before_partitions_were_recorded_still_reads_and_renders():
    result = MaxCutResult.from_dict(json.loads((ROOT / "tests" / "data" / "old_maxcut_report.json").read_text()))
    assert result.partition is None and result.runs[0].spins is None and result.graph.isolated_nodes is None
    assert "written before partitions were recorded" in render_markdown(result)



def test_isolated_nodes_are_warned_about_in_both_reports_and_on_the_terminal(tmp_path, capsys):
    write(tmp_path, "7 2\n1 2 1\n2 3 1\n")
    out = tmp_path / "out"
    assert main(["run", str(maxcut_yaml(tmp_path, "g.txt")), "--chip", str(OIM), "--out", str(out), "--quiet"]) == 0
    graph = json.loads((out / "report.json").read_text())["graph"]
    assert capsys.readouterr().err == f"warning: {graph['note']}\n"
    assert graph["isolated_nodes"] == 4
    assert graph["note"].startswith("4 of the 7 nodes are in no edge (numbered from 1: 4, 5, 6, 7): each runs as an "
                                    "oscillator, and is counted in oscillator_seconds")
    assert f"> **Warning:** {graph['note']}" in (out / "report.md").read_text()
    shipped = run_maxcut(load_workload(ROOT / "workloads" / "maxcut_rand20.yaml",
                                       ["anneal.runs=1", "anneal.duration=1"]), load_chip(OIM))
    assert shipped.graph.isolated_nodes == 0 and shipped.graph.note is None


# -- the weights' scale --------------------------------------------------------------------------------

def scaled_workload(tmp_path, name: str, factor: float, overrides=()):
    """The shipped workload ``name`` with every weight of its graph file times ``factor``."""
    path = ROOT / "workloads" / f"{name}.yaml"
    workload = load_workload(path)
    g = read_gset(workload.graph_path())
    scaled = write(tmp_path, replace(g, weights=g.weights * factor).to_gset(), f"x{factor:g}.txt")
    return load_workload(path, [f"graph.file={scaled}", f"best_known.cut={workload.best_known.cut * factor!r}",
                                *overrides])


@pytest.mark.parametrize("name", ["maxcut_rand20", "maxcut_rand100"])
def test_scaling_every_weight_of_a_shipped_graph_changes_no_bit_of_the_anneal(tmp_path, name):
    """Unit and +-1 weights become couplings of exactly +-1 whatever their scale: same spins, counters,
    emulated time and energy, and the cuts scale with the weights."""
    chip = load_chip(OIM)
    results = {c: run_maxcut(scaled_workload(tmp_path, name, c), chip) for c in (1.0, 0.1, 100.0)}
    reference = results[1.0]
    for c, r in results.items():
        assert r.anneal["weight_scale"] == c
        assert [run.spins for run in r.runs] == [run.spins for run in reference.runs]
        assert r.metrics.success_probability == reference.metrics.success_probability
        assert r.metrics.mean_ratio == pytest.approx(reference.metrics.mean_ratio, rel=1e-12)
        assert r.metrics.best_cut == pytest.approx(c * reference.metrics.best_cut, rel=1e-12)
        assert (r.counters, r.energy, r.time.emulated_s_per_run) == \
               (reference.counters, reference.energy, reference.time.emulated_s_per_run)


def test_scaling_real_weights_keeps_the_success_rate_within_sampling_noise(tmp_path):
    """Weights of many magnitudes are divided by their mean with rounding, so runs may part; the
    success rate must stay within two standard errors of the difference of two rates."""
    g = random_graph(16, 0.5, "unit", seed=7)
    g = replace(g, weights=np.random.default_rng(1).uniform(0.2, 2.0, g.m))
    best, _ = brute_force_maxcut(g)
    chip, runs, rates = load_chip(OIM), 40, {}
    for c in (1.0, 0.1, 100.0, 1 / 3):
        np.save(tmp_path / "w.npy", c * g.adjacency())
        workload = write(tmp_path, f"name: s\nkind: maxcut\ngraph: {{file: w.npy}}\n"
                                   f"best_known: {{cut: {c * best!r}, source: brute force}}\n"
                                   f"anneal: {{runs: {runs}, duration: 20, noise: 0.5, shil: 1.0, shil_ramp: 20, "
                                   f"theta: 0.05}}\n", "w.yaml")
        rates[c] = run_maxcut(load_workload(workload), chip).metrics.success_probability
    p = rates[1.0]
    assert 0 < p < 1
    for c, rate in rates.items():
        assert abs(rate - p) <= 2 * np.sqrt(2 * p * (1 - p) / runs), (c, rates)


def test_a_graph_of_huge_weights_reports_without_a_warning(tmp_path, capsys):
    """Cuts of 1e20 differ by less than one rounding step: the figure's axis still has a height."""
    write(tmp_path, "3 2\n1 2 1e20\n2 3 1\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert main(["run", str(maxcut_yaml(tmp_path, "g.txt")), "--chip", str(OIM), "--out", str(tmp_path / "out"),
                     "--quiet"]) == 0
    assert (tmp_path / "out" / "cuts.png").stat().st_size > 0
