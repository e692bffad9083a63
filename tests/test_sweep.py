"""Sweeps (emulator.sweep, ``python -m emulator sweep``): sweep files and their errors, how points
combine, the same ``sweep.json`` in this process and on Dask clusters (a local one, and one started
with Dask's own commands), failed points, ``--resume``, a worker killed mid-point, the figures.

The points are tiny digits runs (a few seconds each); every test runs offline in its own folder."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import emulator.sweep.schedulers as schedulers
from emulator.catalog import available, resolve
from emulator.cli import main
from emulator.errors import ConfigError
from emulator.sweep import load_sweep, plan
from emulator.sweep.spec import Vary, combinations
from emulator.sweep.task import DatasetCache
from emulator.workload import load_workload

ROOT = Path(__file__).resolve().parents[1]
TINY = {"dataset.n_train": 60, "dataset.n_test": 30, "training.epochs": 1}
TINY_SET = [a for k, v in TINY.items() for a in ("--set", f"{k}={v}")]


def quick(thetas: str = "0,0.02") -> list[str]:
    """A command-line sweep of tiny digits runs on the digital chip, one per threshold."""
    return ["digits_snn", "--chips", "digital", "--grid", f"eqprop.theta={thetas}", "--seeds", "1", "--quiet",
            *TINY_SET]


QUICK = quick()


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    """Offline, and a working folder without chips/, workloads/ or sweeps of its own."""
    monkeypatch.setenv("EMULATOR_OFFLINE", "1")
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


def sweep_file(folder: Path, text: str) -> Path:
    path = folder / "tiny.yaml"
    path.write_text(text)
    return path


TINY_FILE = f"""\
name: tiny
workloads: [digits_snn]
chips: [digital]
seeds: [0, 1]
set: {json.dumps(TINY)}
vary:
  set:
    eqprop.theta: [0, 0.02]
"""


def cli(capsys, *args) -> tuple[int, str, str]:
    status = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return status, out, err


def error_line(capsys, *args) -> str:
    """Run the CLI expecting one user error; the line after ``error: ``."""
    status, out, err = cli(capsys, *args)
    lines = err.strip().splitlines()
    assert status == 2 and len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0][len("error: "):]


def rows(folder: Path) -> list[dict]:
    return json.loads((folder / "sweep.json").read_text())["points"]


def without_wall_times(folder: Path) -> dict:
    content = json.loads((folder / "sweep.json").read_text())
    for row in content["points"]:
        row.pop("wall_s")
    return content


# -- sweep files and points -----------------------------------------------------------------------
def test_a_sweep_file_validates_into_its_points(tmp_path):
    points = plan(load_sweep(sweep_file(tmp_path, TINY_FILE)))
    assert [(p.point.workload, p.point.chip, p.point.seed, p.point.set) for p in points.points] == [
        ("digits_snn", "digital", 0, {"eqprop.theta": 0}), ("digits_snn", "digital", 1, {"eqprop.theta": 0}),
        ("digits_snn", "digital", 0, {"eqprop.theta": 0.02}), ("digits_snn", "digital", 1, {"eqprop.theta": 0.02})]
    first = points.points[0]
    assert first.workload.eqprop.theta == 0 and first.workload.training.epochs == 1
    assert len({p.point.folder for p in points.points}) == 4


@pytest.mark.parametrize("block, expected", [
    (dict(combine="grid", set={"a": [1, 2]}, chip_set={"c": ["x", "y"]}),
     [({"a": 1}, {"c": "x"}), ({"a": 1}, {"c": "y"}), ({"a": 2}, {"c": "x"}), ({"a": 2}, {"c": "y"})]),
    (dict(combine="zip", set={"a": [1, 2, 3], "b": [4, 5, 6]}),
     [({"a": 1, "b": 4}, {}), ({"a": 2, "b": 5}, {}), ({"a": 3, "b": 6}, {})]),
])
def test_grid_and_zip_combinations(block, expected):
    assert [(c["set"], c["chip_set"]) for c in combinations(Vary(**block))] == expected


def test_a_random_combination_is_a_seeded_sample_of_the_grid_in_grid_order():
    block = dict(combine="random", set={"a": [1, 2, 3, 4]}, chip_set={"c": [0, 1, 2]}, samples=5)
    grid = combinations(Vary(**(block | {"combine": "grid", "samples": None})))
    drawn = [combinations(Vary(**block, seed=seed)) for seed in (0, 0, 1)]
    assert drawn[0] == drawn[1] != drawn[2]
    for sample in drawn:
        assert len(sample) == 5 and sorted(grid.index(c) for c in sample) == [grid.index(c) for c in sample]


def test_the_shipped_sweep_files_are_valid():
    assert {"theta", "beta", "beta_annealing", "crossbar_robustness"} <= set(available("sweeps"))
    theta = plan(load_sweep(resolve("sweeps", "theta")))
    assert len(theta.points) == 2 * 5 * 6 * 3  # workloads x chips x thresholds x seeds
    robustness = plan(load_sweep(resolve("sweeps", "crossbar_robustness")))
    naive = [p for p in robustness.points if p.point.deployment == "naive"]
    references = {robustness.points[p.reference].point.folder for p in naive}
    assert len(references) == 2 * 3 and all(robustness.points[p.reference].chip.name == "digital" for p in naive)


def line_of(text: str, fragment: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if fragment in line)


@pytest.mark.parametrize("old, new, at, key, message", [
    ("name: tiny", "name: tiny\ncombine: grid", "combine: grid", "combine", "unknown key; allowed keys here: name,"),
    ("[0, 0.02]", "[0, 1.5]", "eqprop.theta", "eqprop.theta",
     "must be < 1 (lazy threshold: a unit sends once its state moved more than theta), got 1.5"),
    ("eqprop.theta: [0, 0.02]", "eqprop.thta: [0, 0.02]", "eqprop.thta", "eqprop.thta",
     "unknown key; allowed keys here: beta, beta_schedule,"),
    ("eqprop.theta: [0, 0.02]", "eqprop.theta: 0.02", "eqprop.theta", "vary[0].set.eqprop.theta",
     "must be a list of the values to run, e.g. [0, 0.01], got 0.02"),
    ("chips: [digital]", "chips: [crossbar-pcm]\nchip_set: {parameters.forward.adc_bitz: 4}",
     "chip_set:", "parameters.forward.adc_bitz", "unknown key"),
    ("vary:\n  set:", "vary:\n  combine: zip\n  set:\n    eqprop.beta: [0.1]", "combine: zip", "vary[0].combine",
     "zip takes the i-th value of every key, so every list needs as many values; they have eqprop.beta: 1, "
     "eqprop.theta: 2"),
    ("vary:\n  set:", "vary:\n  combine: random\n  set:", "vary:", "vary[0].samples",
     "missing; random draws that many of the 2 combinations of the grid"),
    ("chips: [digital]", "chips: [digitl]", "chips:", "chips[0]", "unknown chip 'digitl'"),
    ("seeds: [0, 1]", "seeds: [0, -1]", "seeds:", "seeds[1]", "must be >= 0"),
])
def test_a_bad_sweep_file_is_one_error_naming_file_line_and_key(capsys, tmp_path, isolated, old, new, at, key,
                                                                 message):
    text = TINY_FILE.replace(old, new)
    path = sweep_file(tmp_path, text)
    error = error_line(capsys, "sweep", path, "--scheduler", "none", "--out", "out")
    assert error.startswith(f"{path}:{line_of(text, at)}: {key}: {message}"), error
    assert not (isolated / "out").exists()  # reported before anything ran


@pytest.mark.parametrize("args, message", [
    (["--grid", "eqprop.theta=0,1.5"], "--grid eqprop.theta=0,1.5: eqprop.theta: must be < 1"),
    (["--grid", "eqprop.theta"], "--grid 'eqprop.theta': expected key.path=value,value,..."),
    (["--grid", "eqprop.theta=[0,"], "--grid eqprop.theta=[0,: the values are not a valid YAML list"),
    (["--chip-grid", "parameters.adc_bits=4,6"],
     "--chip-grid parameters.adc_bits=4,6: parameters.adc_bits: this key moved; write it as "
     "parameters.forward.adc_bits"),
    (["--seeds", "0,x"], "--seeds 0,x: seeds[1]: must be"),
    (["--grid", "eqprop.theta=0", "--grid", "eqprop.theta=1"], "--grid eqprop.theta=1: eqprop.theta is given twice"),
])
def test_bad_command_line_grids_are_one_error_naming_the_option(capsys, args, message):
    error = error_line(capsys, "sweep", "digits_snn", "--chips", "crossbar-pcm", *args, "--scheduler", "none")
    assert error.startswith(message), error


def test_a_workload_given_as_a_sweep_says_how_to_sweep_it(capsys):
    assert "--chips" in error_line(capsys, "sweep", "digits_snn")


def test_the_dashboard_needs_bokeh(capsys, monkeypatch):
    real = schedulers.importlib.util.find_spec
    monkeypatch.setattr(schedulers.importlib.util, "find_spec",
                        lambda name, *a: None if name == "bokeh" else real(name, *a))
    assert "bokeh" in error_line(capsys, "sweep", *QUICK, "--dashboard")


def test_a_process_loads_each_dataset_once_and_checks_every_network_against_it():
    cache = DatasetCache()
    workload = load_workload(resolve("workloads", "digits_snn"), ["dataset.n_train=50"])
    assert cache.get(workload) is cache.get(workload)
    nine_classes = load_workload(resolve("workloads", "digits_snn"), ["dataset.n_train=50", "network.layers=[64,16,9]"])
    with pytest.raises(ConfigError, match=r"network.layers\[2\] is 9"):
        cache.get(nine_classes)


# -- running --------------------------------------------------------------------------------------
def test_in_process_and_on_a_two_worker_local_cluster_the_same_sweep_json_and_figures(capsys, isolated):
    assert cli(capsys, "sweep", *QUICK, "--scheduler", "none", "--out", "here")[0] == 0
    status, out, err = cli(capsys, "sweep", *QUICK, "--workers", "2", "--out", "cluster")
    assert status == 0 and "a local Dask cluster of 2 worker processes" in err and "dashboard" not in err
    assert "2 of 2 points done, 0 failed" in out
    assert without_wall_times(isolated / "here") == without_wall_times(isolated / "cluster")
    for row in rows(isolated / "cluster"):
        assert row["status"] == "done" and row["metrics"]["test_accuracy"] > 0
        point = isolated / "cluster" / row["folder"]
        assert {"report.json", "report.md", "checkpoint.npz", "accuracy.png"} <= {p.name for p in point.iterdir()}
    figures = {p.name for p in (isolated / "cluster").glob("*.png")}
    assert figures == {"test_accuracy_vs_eqprop.theta.png", "energy_per_inference_j_vs_eqprop.theta.png",
                       "costliest_ops_per_inference_vs_eqprop.theta.png", "accuracy_vs_energy.png"}
    markdown = (isolated / "cluster" / "sweep.md").read_text()
    assert "2 points: 2 done, 0 failed, 0 missing" in markdown and "![accuracy_vs_energy.png]" in markdown


def test_a_point_that_raises_is_recorded_as_failed_and_the_others_finish(capsys, isolated):
    status, out, err = cli(capsys, "sweep", "digits_snn", "--chips", "digital", "--grid",
                           "network.layers=[64,16,10],[64,16,9]", *TINY_SET, "--scheduler", "none", "--quiet",
                           "--out", "s")
    assert status == 1 and "1 of 2 points done, 1 failed" in out
    done, failed = rows(isolated / "s")
    assert done["status"] == "done" and failed["status"] == "failed" and failed["metrics"] is None
    assert failed["error"].startswith("ConfigError: ") and "network.layers[2] is 9" in failed["error"]
    assert "Traceback" in (isolated / "s" / failed["folder"] / "error.txt").read_text()
    assert failed["error"] in (isolated / "s" / "sweep.md").read_text()


def test_resume_runs_only_the_missing_and_failed_points(capsys, isolated, monkeypatch):
    args = ["sweep", *quick("0,0.01,0.02"), "--scheduler", "none"]
    assert cli(capsys, *args, "--out", "s")[0] == 0
    saved = json.loads((isolated / "s" / "sweep.json").read_text())
    saved["points"][0] |= {"status": "failed", "metrics": None, "error": "RuntimeError: lost"}
    (isolated / "s" / "sweep.json").write_text(json.dumps(saved))
    (isolated / "s" / saved["points"][2]["folder"] / "report.json").unlink()  # a done point whose run went
    ran = []
    real = schedulers.run_point
    monkeypatch.setattr(schedulers, "run_point", lambda task, trained: ran.append(task) or real(task, trained))
    assert cli(capsys, *args, "--resume", "s")[0] == 0
    assert len(ran) == 2 and all(row["status"] == "done" for row in rows(isolated / "s"))
    assert "--resume" in error_line(capsys, *args, "--out", "s")  # a sweep is there already
    assert "other points" in error_line(capsys, "sweep", *quick("0,0.01"), "--scheduler", "none", "--resume", "s")


def test_ctrl_c_stops_and_says_how_to_resume(capsys, isolated, monkeypatch):
    real, calls = schedulers.run_point, []

    def interrupted_second(task, trained):
        calls.append(task)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(task, trained)

    monkeypatch.setattr(schedulers, "run_point", interrupted_second)
    status, out, err = cli(capsys, "sweep", *QUICK, "--scheduler", "none", "--out", "s")
    assert status == 130 and "1 of 2 points are done" in err and "--resume s" in err
    assert [row["status"] for row in rows(isolated / "s")] == ["done", "missing"]


def test_naive_points_deploy_the_network_of_a_reference_trained_on_naive_from(capsys, tmp_path, isolated):
    path = sweep_file(tmp_path, f"""\
name: naive
workloads: [digits_snn]
chips: [crossbar-pcm]
set: {json.dumps(TINY)}
deployment: [naive]
vary:
  chip_set:
    parameters.read_noise: [{{model: none}}, {{model: constant, std: 0.1}}]
""")
    assert cli(capsys, "sweep", path, "--scheduler", "none", "--quiet", "--out", "s")[0] == 0
    points = rows(isolated / "s")
    assert [(r["chip"], r["deployment"]) for r in points] == [
        ("digital", "in_the_loop"), ("crossbar-pcm", "naive"), ("crossbar-pcm", "naive")]
    reference = points[0]["folder"]  # trained once, deployed twice
    for row in points[1:]:
        assert row["trained_in"] == reference and row["status"] == "done"
        report = json.loads((isolated / "s" / row["folder"] / "report.json").read_text())
        assert report["deployed"]["trained_on"] == "digital"
        assert report["deployed"]["from"] == str((isolated / "s" / reference).resolve())


def test_naive_points_on_a_chip_of_another_model_are_refused_before_anything_runs(user_error, tmp_path, isolated):
    path = sweep_file(tmp_path, f"""\
name: naive
workloads: [digits_snn]
chips: [crossbar-pcm, oim-cmos]
set: {json.dumps(TINY)}
deployment: [naive]
naive_from: digital
""")
    message = user_error("sweep", path, "--scheduler", "none", "--out", "s")
    assert message.startswith(f"{path}:6: naive_from: digital trains networks for a layered Hopfield energy"), message
    assert "but oim-cmos relaxes an XY energy of phase oscillators" in message
    assert not (isolated / "s").exists()


# -- a cluster started with Dask's own commands -----------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory):
    """``tcp://127.0.0.1:PORT`` of a scheduler and two single-threaded workers started with the ``dask``
    command, as a user starts them; stopped at the end."""
    dask = Path(sys.executable).with_name("dask")
    if not dask.exists():
        pytest.skip("no dask command beside this Python")
    address = f"tcp://127.0.0.1:{free_port()}"
    env = dict(os.environ, PYTHONPATH=str(ROOT), EMULATOR_OFFLINE="1")
    logs = tmp_path_factory.mktemp("dask-logs")
    commands = [[dask, "scheduler", "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1], "--no-dashboard"]]
    commands += [[dask, "worker", address, "--nthreads", "1", "--host", "127.0.0.1", "--no-dashboard"]] * 2
    processes = []
    try:
        for i, command in enumerate(commands):
            with open(logs / f"{i}.log", "w") as log:
                processes.append(subprocess.Popen([str(c) for c in command], env=env, stdout=log,
                                                  stderr=subprocess.STDOUT, cwd=logs, start_new_session=True))
        from distributed import Client

        with Client(address, timeout=30) as client:
            client.wait_for_workers(2, timeout=60)
        yield address
    finally:
        for process in reversed(processes):
            os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def test_a_sweep_on_a_cluster_started_with_dask_commands(capsys, isolated, dask_cluster):
    status, out, err = cli(capsys, "sweep", *QUICK, "--scheduler", dask_cluster, "--out", "s")
    assert status == 0 and f"the Dask cluster at {dask_cluster}" in err and "2 of 2 points done" in out
    assert all(row["status"] == "done" for row in rows(isolated / "s"))


def test_a_worker_killed_mid_point_has_its_point_run_again(isolated, dask_cluster):
    """The sweep runs in its own process, finding the cluster through Dask's DASK_SCHEDULER_ADDRESS;
    this test kills the worker process the scheduler says runs a point."""
    from distributed import Client

    env = dict(os.environ, PYTHONPATH=str(ROOT), DASK_SCHEDULER_ADDRESS=dask_cluster)
    slow = ["--set", "dataset.n_train=400", "--set", "training.epochs=3"]  # a few seconds per point
    sweep = subprocess.Popen([sys.executable, "-m", "emulator", "sweep", *QUICK, *slow, "--out", "s"], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        with Client(dask_cluster, timeout=30) as client:
            deadline = time.monotonic() + 120
            while not any(client.processing().values()):
                assert time.monotonic() < deadline and sweep.poll() is None, "no point started"
                time.sleep(0.05)
            worker = next(address for address, keys in client.processing().items() if keys)
            os.kill(client.run(os.getpid, workers=[worker])[worker], signal.SIGKILL)
            while not any(client.run_on_scheduler(lambda dask_scheduler: [  # the scheduler runs the point again
                    task.suspicious for task in dask_scheduler.tasks.values() if "run_point" in str(task.key)])):
                assert time.monotonic() < deadline and sweep.poll() is None, "the killed point did not run again"
                time.sleep(0.05)
        out, err = sweep.communicate(timeout=300)
    finally:
        sweep.kill()
    assert sweep.returncode == 0, err
    assert "2 of 2 points done, 0 failed" in out and f"the Dask cluster at {dask_cluster}" in err
    assert all(row["status"] == "done" for row in rows(isolated / "s"))
