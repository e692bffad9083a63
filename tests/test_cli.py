"""Tests of the command line (emulator.cli): a user error prints ONE ``error: ...`` line on
stderr naming what to change and exits with status 2, with no traceback; ``chips`` and
``workloads`` list the shipped files; a tiny run writes its report and can be resumed.

Most cases call ``emulator.cli.main`` in-process (fast); a few run ``python -m emulator`` as a
subprocess to check the real exit status. Every test runs offline in its own working folder."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from emulator.cli import main

ROOT = Path(__file__).resolve().parents[1]
DIGITAL = ROOT / "chips" / "digital.yaml"
TINY = ["--set", "training.epochs=1", "--set", "dataset.n_train=100", "--set", "dataset.n_test=50"]
NO_TRAINING = ["--set", "training.epochs=0", "--set", "dataset.n_train=20", "--set", "dataset.n_test=20",
               "--set", "eqprop.free_steps=1"]  # evaluation relaxes for free_steps steps
PNGS = ("accuracy.png", "energy_breakdown.png", "messages_per_step.png")


@pytest.fixture(scope="module", autouse=True)
def one_numba_thread():
    """The runs here are tiny: one engine thread is faster, and immune to a busy machine."""
    import numba

    before = numba.get_num_threads()
    numba.set_num_threads(1)
    yield
    numba.set_num_threads(before)


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    """Offline, no user data folders, and a working folder without chips/ or workloads/."""
    monkeypatch.setenv("EMULATOR_OFFLINE", "1")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("EMULATOR_DATA", raising=False)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)


def cli(capsys, *args) -> tuple[int, str, str]:
    """Run the CLI in-process; returns (status, stdout, stderr)."""
    status = main([str(a) for a in args])
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "Traceback" not in out
    return status, out, err


def user_error(capsys, *args) -> str:
    """Run the CLI expecting a user error; returns the message after ``error: ``."""
    status, out, err = cli(capsys, *args)
    assert status == 2, (status, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, f"expected one error line, got: {err!r}"
    assert lines[0].startswith("error: "), err
    return lines[0][len("error: "):]


#: what a run prints on stderr besides an error: its progress
PROGRESS = re.compile(r"(epoch \d+: train .* test .*|== .*|resuming .* after epoch \d+)")


def run_error(capsys, *args) -> str:
    """Run the CLI expecting a user error after some work (whose progress lines are let through);
    returns the message after ``error: ``."""
    status, out, err = cli(capsys, *args)
    assert status == 2, (status, out, err)
    errors = [line for line in err.splitlines() if not PROGRESS.fullmatch(line)]
    assert len(errors) == 1 and errors[0].startswith("error: "), f"expected one error line, got: {err!r}"
    return errors[0][len("error: "):]


def run_subprocess(*args, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, EMULATOR_OFFLINE="1", NUMBA_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "emulator", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def key_line(path: Path, *keys) -> int:
    """1-based line of the key at ``keys`` in the YAML file ``path``."""
    node, line = yaml.compose(path.read_text(encoding="utf-8")), None
    for key in keys:
        node, line = next((v, k.start_mark.line + 1) for k, v in node.value if k.value == key)
    return line


def write_chip(folder: Path, name: str, **parameters) -> Path:
    data = yaml.safe_load(DIGITAL.read_text(encoding="utf-8"))
    data["name"] = name
    data["parameters"].update(parameters)
    path = folder / f"{name}.yaml"
    path.write_text(yaml.dump(data, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), sort_keys=False,
                              allow_unicode=True), encoding="utf-8")
    return path


def shipped(kind: str) -> dict[str, dict]:
    return {p.stem: yaml.safe_load(p.read_text(encoding="utf-8"))
            for p in sorted((ROOT / kind).glob("*.yaml"), key=lambda p: p.stem)}


# -- unknown names and missing files -------------------------------------------------------------
def test_unknown_chip_lists_the_known_chips(capsys):
    message = user_error(capsys, "run", "digits_snn", "--chip", "loihi9")
    assert message.startswith("unknown chip 'loihi9'; known: " + ", ".join(shipped("chips")))
    assert "path to a YAML file" in message


def test_unknown_workload_lists_the_known_workloads(capsys):
    message = user_error(capsys, "run", "digitz", "--chip", "digital")
    assert message.startswith("unknown workload 'digitz'; known: ")
    for name in shipped("workloads"):
        assert name in message


@pytest.mark.parametrize("kind", ["workload", "chip"])
def test_missing_file_path(capsys, tmp_path, kind):
    missing = tmp_path / f"no_such_{kind}.yaml"
    args = ["run", missing, "--chip", "digital"] if kind == "workload" else ["run", "digits_snn", "--chip", missing]
    message = user_error(capsys, *args)
    assert message == f"{kind} file {missing} does not exist"


def test_directory_given_as_workload_file(capsys, tmp_path):
    message = user_error(capsys, "run", tmp_path, "--chip", "digital")
    assert message == f"workload file {tmp_path} is a folder, not a YAML file"


def test_compare_with_an_unknown_chip(capsys):
    message = user_error(capsys, "compare", "digits_snn", "--chips", "digital,loihi9")
    assert message.startswith("unknown chip 'loihi9'; known: ")


def test_bad_workload_file_error_names_file_line_and_key(capsys, tmp_path):
    path = tmp_path / "bad.yaml"
    text = (ROOT / "workloads" / "digits_snn.yaml").read_text(encoding="utf-8")
    path.write_text(text.rstrip("\n") + "\nepocs: 3\n", encoding="utf-8")
    message = user_error(capsys, "run", path, "--chip", "digital")
    assert message.startswith(f"{path}:{len(path.read_text().splitlines())}: epocs: unknown key; allowed keys here: ")


def test_bad_set_option(capsys):
    message = user_error(capsys, "run", "digits_snn", "--chip", "digital", "--set", "training.epochs=many")
    assert message == "--set training.epochs=many: training.epochs: must be an integer, got 'many'"


def test_set_option_without_equals(capsys):
    message = user_error(capsys, "run", "digits_snn", "--chip", "digital", "--set", "epochs")
    assert message.startswith("--set 'epochs': expected key.path=value")


# -- a network that does not fit, layers that do not match the data --------------------------------
def test_network_too_large_for_the_chip(capsys, tmp_path):
    chip = write_chip(tmp_path, "tiny", sram_bytes=1000)
    message = user_error(capsys, "run", "digits_snn", "--chip", chip, *NO_TRAINING, "--out", tmp_path / "r")
    assert f"chip 'tiny' has 1,000 ({chip}:{key_line(chip, 'parameters', 'sram_bytes')})" in message
    assert "needs" in message and "bytes of on-chip memory" in message
    assert "network.layers" in message and "parameters.sram_bytes" in message
    assert not (tmp_path / "r" / "report.json").exists()


def test_input_layer_that_does_not_match_the_data(capsys, tmp_path):
    option = "network.layers=[60,32,10]"
    message = user_error(capsys, "run", "digits_snn", "--chip", "digital", "--set", option, *NO_TRAINING,
                         "--out", tmp_path / "r")
    assert message.startswith(f"--set {option}: network.layers[0] is 60 but dataset digits has 64 features")
    assert message.endswith("set it to 64")


def test_output_layer_that_does_not_match_the_data(capsys, tmp_path):
    option = "network.layers=[64,32,9]"
    message = user_error(capsys, "run", "digits_snn", "--chip", "digital", "--set", option, *NO_TRAINING,
                         "--out", tmp_path / "r")
    assert message.startswith(f"--set {option}: network.layers[2] is 9 but dataset digits has 10 classes")
    assert message.endswith("set it to 10")


def workload_with(folder: Path, old: str, new: str) -> Path:
    """The shipped digits_snn workload with ``old`` (once) replaced by ``new``, written to ``folder``."""
    text = (ROOT / "workloads" / "digits_snn.yaml").read_text(encoding="utf-8")
    assert text.count(old) == 1
    path = folder / "work.yaml"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


def test_too_many_samples_names_the_file_and_says_null(capsys, tmp_path):
    path = workload_with(tmp_path, "  name: digits\n", "  name: digits\n  n_train: 5000\n")
    message = user_error(capsys, "run", path, "--chip", "digital", "--set", "training.epochs=0",
                         "--out", tmp_path / "r")
    assert message.startswith(f"{path}:")
    assert message.endswith("n_train=5000 but digits has only 1437 examples in its training split; "
                            "set n_train to at most 1437, or null for all")
    assert not (tmp_path / "r").exists()


def test_too_many_samples_names_the_option_and_key(capsys, tmp_path):
    option = "dataset.n_train=5000"
    message = user_error(capsys, "run", "digits_snn", "--chip", "digital", *NO_TRAINING, "--set", option,
                         "--out", tmp_path / "r")
    assert message.startswith(f"--set {option}: dataset.n_train: ") and "1437" in message


def test_too_many_samples_in_a_file_names_the_line_and_key(capsys, tmp_path):
    path = workload_with(tmp_path, "  name: digits\n", "  name: digits\n  n_train: 5000\n")
    message = user_error(capsys, "run", path, "--chip", "digital", "--set", "training.epochs=0",
                         "--out", tmp_path / "r")
    assert message.startswith(f"{path}:{key_line(path, 'dataset', 'n_train')}: dataset.n_train: "), message


def test_too_many_test_samples_blames_the_right_option(capsys, tmp_path):
    option = "dataset.n_test=5000"  # NO_TRAINING sets dataset.n_train=20 and dataset.n_test=20 before it
    message = user_error(capsys, "run", "digits_snn", "--chip", "digital", *NO_TRAINING, "--set", option,
                         "--out", tmp_path / "r")
    assert "n_test=5000 but digits has only 360 examples" in message
    assert message.startswith(f"--set {option}: "), message


# -- listing -------------------------------------------------------------------------------------
def test_chips_lists_the_shipped_chips_with_their_backend(capsys):
    status, out, err = cli(capsys, "chips")
    assert status == 0 and err == ""
    lines = out.splitlines()
    chips = shipped("chips")
    assert [line.split()[0] for line in lines] == list(chips)
    for line, data in zip(lines, chips.values()):
        family = data["backend"] if "backend" in data else chips[data["extends"]]["backend"]  # a variant: its parent's
        assert line.split()[1] == family
        assert line.rstrip().endswith(data.get("description", "").strip())


def test_workloads_lists_the_shipped_workloads_with_their_dataset_or_graph(capsys):
    status, out, err = cli(capsys, "workloads")
    assert status == 0 and err == ""
    lines = out.splitlines()
    workloads = shipped("workloads")
    assert [line.split()[0] for line in lines] == list(workloads)
    for line, data in zip(lines, workloads.values()):
        assert "(invalid)" not in line
        if data.get("kind") == "maxcut":
            assert line.split()[1:3] == ["maxcut", data["graph"]["file"]]
        elif data.get("kind") == "snn_inference":
            assert line.split()[1:3] == [data["data"]["dataset"], Path(data["network"]["file"]).name]
        else:
            assert line.split()[1] == data["dataset"]["name"]
            assert line.split()[2] == "-".join(map(str, data["network"]["layers"]))


def test_chips_in_the_working_folder_are_listed_too(capsys):
    local = Path("chips")  # in the working folder
    local.mkdir()
    write_chip(local, "local_chip", sram_bytes=4096)
    status, out, _ = cli(capsys, "chips")
    assert status == 0
    assert [line.split()[0] for line in out.splitlines()] == sorted([*shipped("chips"), "local_chip"])


# -- a tiny run, and resuming it -----------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """One epoch of digits on 100 samples; returns (status, report folder)."""
    base = tmp_path_factory.mktemp("tiny_run")
    out = base / "r"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EMULATOR_OFFLINE", "1")
        mp.delenv("EMULATOR_DATA", raising=False)
        mp.chdir(base)
        status = main(["run", "digits_snn", "--chip", "digital", *TINY, "--out", str(out), "--quiet"])
    return status, out


def test_tiny_run_writes_the_report(tiny_run):
    status, out = tiny_run
    assert status == 0
    report = json.loads((out / "report.json").read_text())
    assert report["workload"] == "digits_snn" and report["chip"] == "digital" and report["backend"] == "digital"
    assert report["metrics"]["epochs"] == 1 and len(report["history"]) == 1
    assert report["dataset"]["n_train"] == 100 and report["dataset"]["n_test"] == 50
    assert report["training"]["samples_trained"] == 100
    assert 0 <= report["metrics"]["test_accuracy"] <= 1
    assert report["energy"]["inference"]["per_sample_j"] > 0
    assert (out / "report.md").read_text().strip()
    for png in PNGS:
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png
    assert (out / "checkpoint.npz").exists()


def copy_of(run: Path, tmp_path: Path) -> Path:
    target = tmp_path / "copy"
    shutil.copytree(run, target)
    return target


@pytest.mark.parametrize("where", ["empty", "absent"])
def test_resume_without_a_checkpoint(capsys, tmp_path, where):
    folder = tmp_path / where
    if where == "empty":
        folder.mkdir()
    message = user_error(capsys, "run", "digits_snn", "--chip", "digital", *TINY, "--resume", folder, "--quiet")
    assert message == f"--resume {folder}: no checkpoint.npz there; start a new run instead"


@pytest.mark.parametrize("change, difference", [
    (["--set", "training.seed=1"], "training.seed: 0 in the checkpoint, 1 now"),
    (["--set", "eqprop.theta=0.02"], "eqprop.theta: 0.01 in the checkpoint, 0.02 now"),
    (["--set", "dataset.n_train=80"], "dataset.n_train: 100 in the checkpoint, 80 now"),
    (["--set", "training.learning_rates=[0.1,0.06]"], "training.learning_rates[1]: 0.05 in the checkpoint, 0.06 now"),
    (["--chip-set", "parameters.sram_bytes=4194304"],
     "the chip's parameters.sram_bytes: 8388608 in the checkpoint, 4194304 now")])
def test_resume_with_other_settings_names_the_first_that_differs(capsys, tiny_run, tmp_path, change, difference):
    folder = copy_of(tiny_run[1], tmp_path)
    message = user_error(capsys, "run", "digits_snn", "--chip", "digital", *TINY, *change,
                         "--resume", folder, "--quiet")
    assert message == (f"--resume {folder}: that run used other settings ({difference}); resume it with the same "
                       "workload file, --chip, --set and --chip-set options")


def test_resume_with_fewer_epochs_than_the_checkpoint_holds(capsys, tiny_run, tmp_path):
    folder = copy_of(tiny_run[1], tmp_path)
    message = user_error(capsys, "run", "digits_snn", "--chip", "digital", *TINY, "--set", "training.epochs=0",
                         "--resume", folder, "--quiet")
    assert message == (f"--resume {folder}: the checkpoint holds 1 finished epoch, more than training.epochs = 0 "
                       "(--set training.epochs=0); set training.epochs to 1 or more (--set training.epochs=1) to "
                       "finish that run")


def test_ctrl_c_in_the_first_epoch_says_nothing_was_saved(capsys, tmp_path, monkeypatch):
    import emulator.tasks.classification as runner

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "eqprop_gradient", interrupt)
    status, _, err = cli(capsys, "run", "digits_snn", "--chip", "digital", *TINY, "--out", tmp_path / "r", "--quiet")
    assert status == 130
    assert err.splitlines() == ["interrupted before the first epoch finished; nothing was saved; "
                                "run the same command again"]
    assert not (tmp_path / "r").exists()


def test_a_resumed_report_counts_the_earlier_epochs_wall_time(tiny_run, tmp_path, monkeypatch):
    """A run interrupted after its epochs and reported on resume took the epochs' time too."""
    folder = tmp_path / "r"
    shutil.copytree(tiny_run[1], folder)
    (folder / "report.json").unlink()
    monkeypatch.setenv("EMULATOR_OFFLINE", "1")
    assert main(["run", "digits_snn", "--chip", "digital", *TINY, "--resume", str(folder), "--quiet"]) == 0
    report = json.loads((folder / "report.json").read_text())
    assert report["metrics"]["epochs"] == 1
    assert report["time"]["wall_s"] > report["history"][0]["wall_s"]


def test_resume_on_another_chip(capsys, tiny_run, tmp_path):
    folder = copy_of(tiny_run[1], tmp_path)
    chip = write_chip(tmp_path, "other_chip")
    message = user_error(capsys, "run", "digits_snn", "--chip", chip, *TINY, "--resume", folder, "--quiet")
    assert message.startswith(f"--resume {folder}: that run used other settings (chip: 'digital' in the "
                              "checkpoint, 'other_chip' now)")


def test_resume_from_a_damaged_checkpoint(capsys, tmp_path):
    folder = tmp_path / "damaged"
    folder.mkdir()
    (folder / "checkpoint.npz").write_text("not a checkpoint")
    message = user_error(capsys, "run", "digits_snn", "--chip", "digital", *TINY, "--resume", folder, "--quiet")
    assert message.startswith(f"--resume {folder}: checkpoint.npz is damaged or not a checkpoint")
    assert message.endswith("start a new run with another --out")


def test_resume_from_a_truncated_checkpoint(capsys, tiny_run, tmp_path):
    folder = copy_of(tiny_run[1], tmp_path)
    checkpoint = folder / "checkpoint.npz"
    checkpoint.write_bytes(checkpoint.read_bytes()[:2000])
    message = user_error(capsys, "run", "digits_snn", "--chip", "digital", *TINY, "--resume", folder, "--quiet")
    assert message.startswith(f"--resume {folder}: checkpoint.npz is damaged")


def test_out_that_is_a_file(capsys, tmp_path):
    out = tmp_path / "taken"
    out.write_text("")
    message = user_error(capsys, "run", "digits_snn", "--chip", "digital", *NO_TRAINING, "--out", out, "--quiet")
    assert message == f"--out {out}: {out} is a file; choose a folder name"


def test_compare_out_that_is_a_file(capsys, tmp_path):
    out = tmp_path / "taken"
    out.write_text("")
    message = user_error(capsys, "compare", "digits_snn", "--chips", "digital", *NO_TRAINING, "--out", out,
                         "--quiet")
    assert message == f"--out {out}: {out} is a file; choose a folder name"


def test_out_below_a_file(capsys, tmp_path):
    taken = tmp_path / "taken"
    taken.write_text("")
    message = user_error(capsys, "run", "digits_snn", "--chip", "digital", *NO_TRAINING,
                         "--out", taken / "sub", "--quiet")
    assert str(taken) in message


def test_resume_that_is_a_file(capsys, tmp_path):
    taken = tmp_path / "taken"
    taken.write_text("")
    message = user_error(capsys, "run", "digits_snn", "--chip", "digital", *TINY, "--resume", taken, "--quiet")
    assert message.startswith(f"--resume {taken}: "), message


# -- the real process: exit status and no traceback ----------------------------------------------
def test_subprocess_unknown_chip(tmp_path):
    result = run_subprocess("run", "digits_snn", "--chip", "loihi9", cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "error: unknown chip 'loihi9'; known: " + ", ".join(shipped("chips")) + " (or give a path to a YAML file)"]
    assert result.stdout == ""


def test_subprocess_malformed_workload_yaml(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: broken\nnetwork:\n  layers: [64, 10\ntraining: {}\n")
    result = run_subprocess("run", path, "--chip", "digital", cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}:") and "not valid YAML" in lines[0]


def test_subprocess_bad_set_and_usage_errors(tmp_path):
    result = run_subprocess("run", "digits_snn", "--chip", "digital", "--set", "eqprop.beta=2", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "error: --set eqprop.beta=2: eqprop.beta: must be < 1 (nudging strength), got 2"]
    usage = run_subprocess("run", "digits_snn", cwd=tmp_path)  # --chip is required
    assert usage.returncode == 2 and "Traceback" not in usage.stderr and "--chip" in usage.stderr
