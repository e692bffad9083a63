"""Fuzzing the command line: damaged workload, chip and graph files, ``--set`` and ``--chip-set``
values, damaged checkpoints and run folders, each driven through ``python -m emulator`` in-process.

Every case must end in exit status 2 with one ``error:`` line and no traceback, or in exit status
0 with a report whose every figure is finite and meaningful (:mod:`fuzzing`). Cases are drawn by
hypothesis from the shipped files (:mod:`mutations`), deterministically (``derandomize``), and
kept cheap: the workloads' budgets are cut to one epoch on 40 samples, or two anneals, before the
damage. Each test runs :data:`FAST` cases by default and :data:`SLOW` cases with ``-m slow``.
"""
from __future__ import annotations

import errno
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulator.catalog import available
from emulator.graphs import read_gset
from emulator.tasks.checkpoint import read_checkpoint
from emulator.tasks.maxcut import load_graph
from emulator.workload import load_workload
from fuzzing import check, drive
from mutations import damaged_bytes, damaged_lines, mutated_tree, override_option, render, values
from test_cli import TINY, isolated, one_numba_thread  # noqa: F401 (autouse fixtures)
from test_output_faults import fail_writes, nth_write_of

ROOT = Path(__file__).resolve().parents[1]
CHIPS = ("digital", "loihi2", "crossbar-pcm", "crossbar-rram", "oim-cmos")
#: cases per test: by default, and with ``-m slow``
FAST, SLOW = 8, 400
EXAMPLES = pytest.mark.parametrize("examples", [FAST, pytest.param(SLOW, marks=pytest.mark.slow)])
#: what cuts a workload to a tiny run, by kind
TINY_BUDGETS = {"classification": {"dataset": {"n_train": 40, "n_test": 20}, "training": {"epochs": 1},
                                   "evaluation": {"train_subset": 20}},
                "maxcut": {"anneal": {"runs": 2}}}
GRAPHS = ROOT / "workloads" / "graphs"


def explore(strategy, case, examples: int):
    """Run ``case`` on ``examples`` values drawn from ``strategy``, the same ones on every run."""
    settings(max_examples=examples, derandomize=True, database=None, deadline=None,
             suppress_health_check=list(HealthCheck))(given(strategy)(case))()


def budgeted(tree: dict) -> dict:
    """A workload's tree with the tiny budget of its kind, and its graph file as an absolute path."""
    kind = tree.get("kind", "classification")
    for section, keys in TINY_BUDGETS[kind].items():
        tree[section] = {**tree[section], **keys}
    if kind == "maxcut" and "file" in tree["graph"]:
        tree["graph"]["file"] = str(GRAPHS / Path(tree["graph"]["file"]).name)
    return tree


def shipped(kind: str, name: str) -> dict:
    return yaml.safe_load((ROOT / kind / f"{name}.yaml").read_text(encoding="utf-8"))


#: the workloads cases start from: the shipped ones, budgets cut, and a generated graph
WORKLOADS = {name: budgeted(shipped("workloads", name)) for name in ("digits_snn", "maxcut_rand20", "maxcut_rand100")}
WORKLOADS["maxcut_random"] = {**WORKLOADS["maxcut_rand20"], "name": "maxcut_random", "best_known": None,
                              "graph": {"random": {"nodes": 30, "density": 0.2, "weights": "pm1", "seed": 3}}}
#: the ``--set`` values of a tiny run of each kind
TINY_SETS = {kind: [f"{section}.{key}={value}" for section, keys in budgets.items() for key, value in keys.items()]
             for kind, budgets in TINY_BUDGETS.items()}


def workload_kind(name: str) -> str:
    return WORKLOADS[name].get("kind", "classification")


def chip_for(kind: str):
    """A chip for a workload of ``kind``: any for classification, mostly the Ising machine for MaxCut."""
    return st.sampled_from(CHIPS) if kind == "classification" else st.sampled_from(["oim-cmos"] * 3 + ["digital"])


def written(tree, path: Path, draw) -> Path:
    """Write a tree as YAML, sometimes with lines damaged, to ``path``."""
    text = render(tree)
    if draw(st.integers(0, 7)) == 0:
        text = draw(damaged_lines(text))
    path.write_text(text, encoding="utf-8")
    return path


def options(option: str, values) -> list[str]:
    return [f"{option}={value}" for value in values]


def listed(kind: str, path: Path):
    """Check that ``emulator workloads`` (or ``chips``) lists the file at ``path``, put in the working folder's
    ``workloads/`` (``chips/``), one line per file as for every other file, and exits with status 0."""
    folder = Path.cwd() / kind
    folder.mkdir(exist_ok=True)
    shutil.copy(path, folder / "fuzzed.yaml")
    try:
        outcome = drive(kind)
        check(outcome, f"{kind} listings")
        assert len(outcome.out.splitlines()) == len(available(kind)), f"not one line per file: {outcome.out!r}"
    finally:
        (folder / "fuzzed.yaml").unlink()


def ran(args, kind: str, out: Path, workload: Path | None = None, sets=()):
    """Drive ``args`` and check the outcome; the cuts of a MaxCut report of ``workload`` (with ``--set``
    options ``sets``) are checked against its graph."""
    outcome = drive(*args)
    graph = None
    if outcome.status == 0 and workload is not None:
        run = load_workload(workload, sets)
        graph = load_graph(run) if run.kind == "maxcut" else None
    return check(outcome, kind, out, out / "report.json", graph)


# -- files given to `run` -----------------------------------------------------------------------------

@EXAMPLES
def test_damaged_workload_files(tmp_path, examples):
    @st.composite
    def cases(draw):
        name = draw(st.sampled_from(sorted(WORKLOADS)))
        return name, draw(mutated_tree(WORKLOADS[name])), draw(chip_for(workload_kind(name))), draw(st.data())

    def case(drawn):
        name, tree, chip, data = drawn
        with tempfile.TemporaryDirectory(dir=tmp_path) as folder:
            path = written(tree, Path(folder) / "workload.yaml", data.draw)
            out = Path(folder) / "out"
            ran(["run", path, "--chip", chip, "--out", out, "--quiet"], "workload files", out, path)
            listed("workloads", path)

    explore(cases(), case, examples)


@EXAMPLES
def test_damaged_chip_files(tmp_path, examples):
    @st.composite
    def cases(draw):
        chip = draw(st.sampled_from(CHIPS))
        workload = draw(st.sampled_from(["digits_snn", "maxcut_rand20"] if chip == "oim-cmos" else ["digits_snn"]))
        return workload, draw(mutated_tree(shipped("chips", chip))), draw(st.data())

    def case(drawn):
        workload, tree, data = drawn
        with tempfile.TemporaryDirectory(dir=tmp_path) as folder:
            path = written(tree, Path(folder) / "chip.yaml", data.draw)
            out = Path(folder) / "out"
            ran(["run", workload, "--chip", path, *options("--set", TINY_SETS[workload_kind(workload)]), "--out", out,
                 "--quiet"], "chip files", out)
            listed("chips", path)

    explore(cases(), case, examples)


@EXAMPLES
def test_damaged_set_and_chip_set_values(tmp_path, tiny_run_on, examples):
    """``run`` with ``--set`` and ``--chip-set`` options, and ``evaluate`` with ``--chip-set`` options."""
    trained = tiny_run_on("loihi2")

    @st.composite
    def cases(draw):
        name = draw(st.sampled_from(["digits_snn", "digits_snn", "maxcut_rand20"]))
        chip = draw(chip_for(workload_kind(name)))
        command = draw(st.sampled_from(["run", "run", "evaluate"])) if name == "digits_snn" else "run"
        kinds = [draw(st.sampled_from(["--set", "--chip-set"] if command == "run" else ["--chip-set"]))
                 for _ in range(draw(st.sampled_from([1, 1, 2])))]
        sets = [draw(override_option(WORKLOADS[name])) for kind in kinds if kind == "--set"]
        chip_sets = [draw(override_option(shipped("chips", chip))) for kind in kinds if kind == "--chip-set"]
        return command, name, chip, sets, chip_sets

    def case(drawn):
        command, name, chip, sets, chip_sets = drawn
        with tempfile.TemporaryDirectory(dir=tmp_path) as folder:
            out = Path(folder) / "out"
            if command == "evaluate":
                ran(["evaluate", trained, "--chip", chip, *options("--chip-set", chip_sets), "--out", out, "--quiet"],
                    "--set and --chip-set values", out)
                return
            sets = [*TINY_SETS[workload_kind(name)], *sets]
            ran(["run", name, "--chip", chip, *options("--set", sets), *options("--chip-set", chip_sets), "--out", out,
                 "--quiet"], "--set and --chip-set values", out, ROOT / "workloads" / f"{name}.yaml", sets)

    explore(cases(), case, examples)


# -- graph files --------------------------------------------------------------------------------------

#: words a damaged G-set line may hold instead of one of its numbers
GRAPH_WORDS = ("0", "-1", "21", "1.5", "1e308", "-1e308", "1e-320", "nan", "inf", "99999999999999999999", "", "x",
               "#", "1#2", "0x1", "٣", "1_0")


@st.composite
def damaged_gset(draw) -> bytes:
    """A shipped G-set file with a number replaced, lines damaged, or bytes damaged."""
    text = (GRAPHS / draw(st.sampled_from(["rand20_pm1.txt", "rand100.txt"]))).read_text()
    operation = draw(st.sampled_from(["word", "word", "lines", "bytes"]))
    if operation == "lines":
        return draw(damaged_lines(text)).encode()
    if operation == "bytes":
        return draw(damaged_bytes(text.encode()))
    lines = text.splitlines()
    i = draw(st.sampled_from([0, 0, 1, len(lines) - 1, draw(st.integers(0, len(lines) - 1))]))
    words = lines[i].split()
    words[draw(st.integers(0, len(words) - 1))] = draw(st.sampled_from(GRAPH_WORDS))
    lines[i] = " ".join(words)
    return ("\n".join(lines) + "\n").encode()


def _changed_matrix(draw, w: np.ndarray) -> np.ndarray:
    """``w`` with its type, shape or an entry changed."""
    operation = draw(st.sampled_from(["dtype", "shape", "entry", "pair"]))
    if operation == "dtype":
        return w.astype(draw(st.sampled_from(["bool", "int8", "uint64", "float16", "float32", "complex128", "U3",
                                              "datetime64[s]"])))
    if operation == "shape":
        return draw(st.sampled_from([w.ravel(), w[:, :-1], w[None], w[:0, :0], w[:1, :1], w[:2, :2], np.float64(1)]))
    i, j = draw(st.integers(0, w.shape[0] - 1)), draw(st.integers(0, w.shape[1] - 1))
    value = draw(st.sampled_from([np.nan, np.inf, -np.inf, 1e308, -1e308, 1e-320, 2.0, 0.0, -1.0]))
    w = w.copy()
    w[i, j] = value
    if operation == "pair" and w.shape[0] == w.shape[1]:
        w[j, i] = value
    return w


@st.composite
def damaged_npy(draw) -> bytes:
    """The coupling matrix of a shipped graph as ``.npy`` bytes, changed, with its bytes or the shape its
    header announces damaged, or both."""
    w = read_gset(GRAPHS / "rand20_pm1.txt").adjacency()
    if draw(st.booleans()):
        w = _changed_matrix(draw, w)
    file = __import__("io").BytesIO()
    np.save(file, w)
    data = file.getvalue()
    operation = draw(st.sampled_from(["none", "bytes", "shape"]))
    if operation == "bytes":
        return draw(damaged_bytes(data, headers=(0,)))
    if operation == "shape":
        shape = draw(st.sampled_from(["(99999, 99999)", "(20, 20, 20)", "(-1, 20)", "(0,)", "(2**70,)", "()"]))
        return data.replace(str(w.shape).encode(), shape.encode(), 1)
    return data


@EXAMPLES
def test_damaged_graph_files(tmp_path, examples):
    @st.composite
    def cases(draw):
        npy = draw(st.booleans())
        graph = draw(damaged_npy() if npy else damaged_gset())
        best_known = draw(st.sampled_from([None, {"cut": 26, "source": "the shipped file's"}]))
        return ("graph.npy" if npy else "graph.txt"), graph, best_known

    def case(drawn):
        name, graph, best_known = drawn
        with tempfile.TemporaryDirectory(dir=tmp_path) as folder:
            (Path(folder) / name).write_bytes(graph)
            tree = {**WORKLOADS["maxcut_rand20"], "graph": {"file": name}, "best_known": best_known}
            path = Path(folder) / "workload.yaml"
            path.write_text(render(tree), encoding="utf-8")
            out = Path(folder) / "out"
            ran(["run", path, "--chip", "oim-cmos", "--out", out, "--quiet"], "graph files", out, path)

    explore(cases(), case, examples)


# -- run folders read back: --resume, evaluate, deploy ----------------------------------------------------

def commands(folder: Path, out: Path, chip: str) -> dict[str, list]:
    """The commands that read a run folder, by name; each writes into ``out`` (``--resume``: into the folder)."""
    return {"--resume": ["run", "digits_snn", "--chip", "loihi2", *TINY, "--resume", folder, "--quiet"],
            "evaluate": ["evaluate", folder, "--chip", chip, "--out", out, "--quiet"],
            "deploy": ["deploy", folder, "--to", "lava", "--out", out, "--hw", "--samples", 2]}


def read_back(command: str, folder: Path, out: Path, chip: str, kind: str):
    """Drive ``command`` on the run ``folder`` and check what it wrote: a report, or a deploy bundle."""
    outcome = drive(*commands(folder, out, chip)[command])
    written_to = folder if command == "--resume" else out
    ended = check(outcome, kind, written_to, None if command == "deploy" else written_to / "report.json")
    if ended == "success" and command == "deploy":
        with np.load(out / "network.npz") as bundle:
            assert all(np.isfinite(bundle[name]).all() for name in bundle.files
                       if bundle[name].dtype.kind in "biuf"), f"non-finite numbers in {out / 'network.npz'}"


def entries(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as archive:
        return {name: archive[name] for name in archive.files}


@st.composite
def damaged_checkpoint(draw, path: Path) -> bytes | dict:
    """The checkpoint at ``path`` with bytes damaged, or its entries: the state's tree, or an array
    changed, removed or added."""
    if draw(st.integers(0, 3)) == 0:
        data = path.read_bytes()
        return draw(damaged_bytes(data, headers=tuple(m.start() for m in re.finditer(rb"\{'descr'", data))))
    found = entries(path)
    name = draw(st.sampled_from(sorted(found)))
    if name == "state":
        found["state"] = np.array(json.dumps(draw(mutated_tree(json.loads(str(found["state"]))))))
        return found
    operation = draw(st.sampled_from(["change", "change", "remove", "add"]))
    if operation == "remove":
        del found[name]
    elif operation == "add":
        found[draw(st.sampled_from(["w9", "b2", "x", name.upper()]))] = found[name]
    else:
        found[name] = _changed_matrix(draw, np.atleast_2d(found[name]))
    return found


@EXAMPLES
def test_damaged_checkpoints(tmp_path, tiny_run_on, examples):
    run = tiny_run_on("loihi2")

    @st.composite
    def cases(draw):
        return (draw(damaged_checkpoint(run / "checkpoint.npz")), draw(st.sampled_from(["--resume", "evaluate",
                                                                                      "deploy"])),
                draw(st.sampled_from(CHIPS)))

    def case(drawn):
        damage, command, chip = drawn
        with tempfile.TemporaryDirectory(dir=tmp_path) as folder:
            copy = shutil.copytree(run, Path(folder) / "run")
            if isinstance(damage, bytes):
                (copy / "checkpoint.npz").write_bytes(damage)
            else:
                np.savez(copy / "checkpoint.npz", **damage)
            read_back(command, copy, Path(folder) / "out", chip, "checkpoints")

    explore(cases(), case, examples)


@st.composite
def damaged_folder(draw, run: Path):
    """A change to a copy of the run folder ``run``: its report's tree or bytes damaged, a file removed,
    or a file made a folder."""
    report = run / "report.json"
    operation = draw(st.sampled_from(["tree", "tree", "bytes", "remove", "folder"]))
    if operation == "tree":
        text = json.dumps(draw(mutated_tree(json.loads(report.read_text()))))
        return lambda copy: (copy / "report.json").write_text(text)
    if operation == "bytes":
        data = draw(damaged_bytes(report.read_bytes()))
        return lambda copy: (copy / "report.json").write_bytes(data)
    name = draw(st.sampled_from(sorted(p.name for p in run.iterdir())))
    if operation == "remove":
        return lambda copy: (copy / name).unlink()
    return lambda copy: ((copy / name).unlink(), (copy / name).mkdir())


@EXAMPLES
def test_damaged_run_folders(tmp_path, tiny_run_on, examples):
    run = tiny_run_on("loihi2")

    @st.composite
    def cases(draw):
        return (draw(damaged_folder(run)), draw(st.sampled_from(["--resume", "evaluate", "deploy"])),
                draw(st.sampled_from(CHIPS)))

    def case(drawn):
        damage, command, chip = drawn
        with tempfile.TemporaryDirectory(dir=tmp_path) as folder:
            copy = shutil.copytree(run, Path(folder) / "run")
            damage(copy)
            read_back(command, copy, Path(folder) / "out", chip, "run folders")

    explore(cases(), case, examples)


# -- output that cannot be written --------------------------------------------------------------------------

#: why a write fails
WRITE_ERRORS = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EIO, errno.EACCES, errno.EROFS)
#: the report's files of each kind of run, in the order they are written
REPORTS = {"classification": ("report.md", "accuracy.png", "energy_breakdown.png", "messages_per_step.png",
                              "report.json"),
           "maxcut": ("report.md", "cuts.png", "report.json")}
#: command -> the files it writes (a checkpoint once per epoch)
WRITTEN = {"run": ("checkpoint.npz", *REPORTS["classification"]), "two epochs": ("checkpoint.npz", "checkpoint.npz"),
           "maxcut": REPORTS["maxcut"], "evaluate": REPORTS["classification"]}


@EXAMPLES
def test_write_faults(tmp_path, tiny_run_on, examples):
    """A write that fails (the ``n``-th of a file, and the later ones) is one error that says what is kept,
    and it is there; no report and no temporary file is left."""
    trained = tiny_run_on("loihi2")

    @st.composite
    def cases(draw):
        command = draw(st.sampled_from(sorted(WRITTEN)))
        n = draw(st.integers(0, len(WRITTEN[command]) - 1))
        name = WRITTEN[command][n]
        return command, name, WRITTEN[command][:n + 1].count(name), draw(st.sampled_from(WRITE_ERRORS))

    def case(drawn):
        command, name, n, code = drawn
        with tempfile.TemporaryDirectory(dir=tmp_path) as folder, pytest.MonkeyPatch.context() as patch:
            out = Path(folder) / "out"
            tiny = options("--set", TINY_SETS["classification"])
            args = {"run": ["run", "digits_snn", "--chip", "digital", *tiny],
                    "two epochs": ["run", "digits_snn", "--chip", "digital", *tiny, "--set=training.epochs=2"],
                    "maxcut": ["run", "maxcut_rand20", "--chip", "oim-cmos", *options("--set", TINY_SETS["maxcut"])],
                    "evaluate": ["evaluate", trained, "--chip", "digital"]}[command]
            fail_writes(patch, nth_write_of(name, n), OSError(code, os.strerror(code)))
            outcome = drive(*args, "--out", out, "--quiet")
            patch.undo()
            if check(outcome, "write faults", out, out / "report.json") == "error":
                assert not (out / "report.json").exists(), f"a report.json beside the error: {outcome.err}"
                kept = re.search(r"kept in (\S+checkpoint\.npz)", outcome.err)
                assert kept is None or read_checkpoint(Path(kept[1]).parent).epoch >= 1, outcome.err

    explore(cases(), case, examples)
