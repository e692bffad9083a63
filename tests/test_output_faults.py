"""Output that cannot be written.

The output folder is checked before any work; a write that fails later (a full disk, a file-size
limit) is one ``error:`` line, exit status 2, saying what failed and why, what is kept and where,
and how to go on; it leaves no temporary file. Whatever kills a run, its ``report.json`` is absent
or complete. Faults are injected by making the writes of chosen files fail, and for real where
this machine allows it: a small tmpfs (needs root), ``RLIMIT_FSIZE`` and SIGKILL on a subprocess.
"""
from __future__ import annotations

import errno
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import emulator.files
import emulator.tasks.classification as runner
from emulator.results import from_dict
from emulator.tasks.checkpoint import read_checkpoint
from test_cli import PROGRESS, TINY, cli, isolated, one_numba_thread, run_error, user_error  # noqa: F401 (fixtures)

ROOT = Path(__file__).resolve().parents[1]
RUN = ["run", "digits_snn", "--chip", "digital", "--quiet", *TINY]
TWO_EPOCHS = [*RUN, "--set", "training.epochs=2"]
REPORT_FILES = ("report.md", "accuracy.png", "energy_breakdown.png", "messages_per_step.png", "report.json")


def temporary_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if ".tmp" in p.name)


def disk_full() -> OSError:
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


class FailingFile:
    """A file whose first write writes half its bytes and then raises ``error``."""

    def __init__(self, f, error: BaseException):
        self.f, self.error = f, error

    def write(self, data):
        self.f.write(bytes(data)[:len(data) // 2])
        raise self.error

    def __getattr__(self, name):
        return getattr(self.f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()


def fail_writes(monkeypatch, fails, error: BaseException | None = None):
    """Make the atomic writes of the files whose name ``fails(name)`` accepts raise ``error``
    (by default, the disk is full) half-way."""
    real = open

    def opened(path, mode="r", *args, **kwargs):
        f = real(path, mode, *args, **kwargs)
        target = Path(path).name[1:].rsplit(".", 2)[0]  # the temporary file of NAME is .NAME.<hex>.tmp
        return FailingFile(f, error or disk_full()) if fails(target) else f

    monkeypatch.setattr(emulator.files, "open", opened, raising=False)


def nth_write_of(name: str, n: int):
    """A ``fails`` for :func:`fail_writes`: the ``n``-th write (from 1) of ``name``, and the later ones."""
    count = itertools.count(1)
    return lambda target: target == name and next(count) >= n


def no_training(monkeypatch):
    def train(*args, **kwargs):
        raise AssertionError("nothing should be trained")

    monkeypatch.setattr(runner, "eqprop_gradient", train)


def reported(folder: Path) -> dict:
    return json.loads((folder / "report.json").read_text())


def same_run(a: dict, b: dict):
    for key in ("metrics", "counters", "energy"):
        assert a[key] == b[key], key
    assert [h["test_accuracy"] for h in a["history"]] == [h["test_accuracy"] for h in b["history"]]


@pytest.fixture
def tmpfs(tmp_path):
    """``tmpfs(size, read_only=False)``: a tmpfs of ``size`` bytes mounted in a new folder of
    ``tmp_path`` (unmounted after the test); the test is skipped where mounting is not allowed."""
    mounted = []

    def mount(size: int, read_only: bool = False) -> Path:
        point = tmp_path / f"tmpfs{len(mounted)}"
        point.mkdir()
        options = f"size={size}" + (",ro" if read_only else "")
        try:
            done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)],
                                  capture_output=True, text=True, timeout=30)
        except OSError as exc:
            pytest.skip(f"cannot run mount here: {exc}")
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.strip()}")
        mounted.append(point)
        return point

    yield mount
    for point in reversed(mounted):
        subprocess.run(["umount", str(point)], capture_output=True, timeout=30)


# -- an output folder that cannot be written: refused before any work ----------------------------
def refused_before_work(capsys, monkeypatch, out: Path) -> str:
    def no_run(*args, **kwargs):
        raise AssertionError("nothing should be loaded nor trained")

    monkeypatch.setattr(runner, "Run", no_run)
    return user_error(capsys, *RUN, "--out", out)


def test_an_out_folder_in_sys(capsys, monkeypatch):
    out = Path("/sys/emulator-output")
    try:
        out.mkdir()
    except OSError:
        pass  # as everywhere /sys is
    else:
        out.rmdir()
        pytest.skip("/sys takes new folders here")
    message = refused_before_work(capsys, monkeypatch, out)
    assert message.startswith(f"--out {out}: cannot make the folder {out}: ")
    assert "; choose another folder or " in message
    assert not out.exists()


def test_an_out_folder_on_a_read_only_file_system(capsys, monkeypatch, tmpfs):
    disk = tmpfs(1 << 20, read_only=True)
    out = disk / "runs" / "r"
    message = refused_before_work(capsys, monkeypatch, out)
    assert message == (f"--out {out}: cannot make the folder {disk / 'runs'}: Read-only file system; "
                       f"choose another folder or make the file system of {disk} writable")


def test_an_out_folder_without_write_permission(capsys, monkeypatch, tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root writes into a folder whatever its mode; the read-only file system and /sys cases cover it")
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        message = refused_before_work(capsys, monkeypatch, folder / "r")
    finally:
        folder.chmod(0o755)
    assert message == (f"--out {folder / 'r'}: cannot make the folder {folder / 'r'}: Permission denied; "
                       f"choose another folder or make {folder} writable")


def test_the_check_leaves_no_trace(capsys, tmp_path):
    """A folder that is checked but not written (the run fails on its settings) is not left behind."""
    out = tmp_path / "a" / "b"
    user_error(capsys, *RUN, "--set", "dataset.n_train=5000", "--out", out)
    assert not (tmp_path / "a").exists()


# -- a disk that fills, a file-size limit: what is kept, and how to go on ---------------------------
def test_a_disk_that_fills_at_the_second_checkpoint_keeps_the_first(capsys, monkeypatch, tmp_path, tiny_run_on):
    out = tmp_path / "r"
    fail_writes(monkeypatch, nth_write_of("checkpoint.npz", 2))
    message = run_error(capsys, *TWO_EPOCHS, "--out", out)
    checkpoint = out / "checkpoint.npz"
    assert message == (f"cannot write {checkpoint}: No space left on device; the 1 finished epoch is kept in "
                       f"{checkpoint}; free some space and continue with the same command and --resume {out}")
    assert read_checkpoint(out).epoch == 1
    assert temporary_files(tmp_path) == [] and not (out / "report.json").exists()
    monkeypatch.undo()
    assert cli(capsys, *TWO_EPOCHS, "--resume", out)[0] == 0
    assert reported(out)["metrics"]["epochs"] == 2


def test_a_disk_that_fills_at_the_first_checkpoint(capsys, monkeypatch, tmp_path):
    out = tmp_path / "r"
    fail_writes(monkeypatch, nth_write_of("checkpoint.npz", 1))
    message = run_error(capsys, *RUN, "--out", out)
    assert message == (f"cannot write {out / 'checkpoint.npz'}: No space left on device; nothing was saved; "
                       "free some space and run the same command again")
    assert not (out / "checkpoint.npz").exists() and temporary_files(tmp_path) == []


@pytest.mark.parametrize("name", ["report.md", "energy_breakdown.png", "report.json"])  # first, a figure, last
def test_a_disk_that_fills_while_the_report_is_written(capsys, monkeypatch, tmp_path, tiny_run_on, name):
    """Every epoch is kept; --resume writes the report without training, as the whole run would have."""
    whole, out = reported(tiny_run_on("digital")), tmp_path / "r"
    fail_writes(monkeypatch, nth_write_of(name, 1))
    message = run_error(capsys, *RUN, "--out", out)
    assert message == (f"cannot write {out / name}: No space left on device; the 1 finished epoch is kept in "
                       f"{out / 'checkpoint.npz'}; free some space and continue with the same command and "
                       f"--resume {out}")
    assert not (out / "report.json").exists() and temporary_files(tmp_path) == []
    monkeypatch.undo()
    no_training(monkeypatch)
    assert cli(capsys, *RUN, "--resume", out)[0] == 0
    same_run(reported(out), whole)


@pytest.mark.parametrize("fills", ["checkpoint", "report"])
def test_a_real_full_disk(capsys, tmp_path, tmpfs, tiny_run_on, fills):
    """A tmpfs with room for one checkpoint: the second one (written beside the first, then renamed
    over it), or the report, does not fit."""
    sizes = {p.name: p.stat().st_size for p in tiny_run_on("digital").iterdir()}
    room = sizes["checkpoint.npz"] + (sizes["checkpoint.npz"] if fills == "checkpoint" else
                                      sum(sizes[name] for name in REPORT_FILES)) // 2
    out = tmpfs(room) / "r"
    args = TWO_EPOCHS if fills == "checkpoint" else RUN
    message = run_error(capsys, *args, "--out", out)
    assert message.startswith(f"cannot write {out}/")
    assert message.endswith(f": No space left on device; the 1 finished epoch is kept in {out / 'checkpoint.npz'}; "
                            f"free some space and continue with the same command and --resume {out}")
    assert read_checkpoint(out).epoch == 1
    assert temporary_files(out) == [] and not (out / "report.json").exists()


def run_python(code: str, *args, cwd: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT), EMULATOR_OFFLINE="1", NUMBA_NUM_THREADS="1", MPLBACKEND="Agg")
    return subprocess.Popen([sys.executable, "-c", code, *map(str, args)], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_file_size_limit(tmp_path):
    """Past ``ulimit -f`` a write fails with EFBIG (the CLI ignores SIGXFSZ, which would kill it). The user cache
    is empty (``isolated``), so the digits split the run keeps there (about 900 kB) fails to be written first:
    silently, as a cache."""
    limit = 64 * 1024  # the checkpoint of digits_snn is about 160 kB
    code = ("import resource, sys; resource.setrlimit(resource.RLIMIT_FSIZE, ({0}, {0})); "
            "from emulator.cli import main; sys.exit(main(sys.argv[1:]))").format(limit)
    process = run_python(code, *RUN, "--out", "r", cwd=tmp_path)
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 2, stderr
    assert [line for line in stderr.splitlines() if not PROGRESS.fullmatch(line)] == [
        "error: cannot write r/checkpoint.npz: File too large; nothing was saved; raise the file-size limit "
        "(ulimit -f) and run the same command again"]
    assert temporary_files(tmp_path) == []


# -- Ctrl-C while a checkpoint is written: the message counts the epochs on disk -----------------------
def test_ctrl_c_while_the_second_checkpoint_is_written(capsys, monkeypatch, tmp_path):
    out = tmp_path / "r"
    fail_writes(monkeypatch, nth_write_of("checkpoint.npz", 2), KeyboardInterrupt())
    status, _, err = cli(capsys, *TWO_EPOCHS, "--out", out)
    assert status == 130
    assert err.splitlines()[-1] == (f"interrupted; the 1 finished epoch is kept in {out / 'checkpoint.npz'}; "
                                    f"continue with the same command and --resume {out}")
    assert read_checkpoint(out).epoch == 1 and temporary_files(tmp_path) == []


def test_a_new_run_in_a_finished_runs_folder_removes_its_report_with_its_first_checkpoint(
        capsys, monkeypatch, tmp_path, tiny_run_on):
    """A report.json always belongs to the checkpoint beside it."""
    out = tmp_path / "r"
    shutil.copytree(tiny_run_on("digital"), out)
    real, batches = runner.eqprop_gradient, itertools.count(1)

    def interrupt_in_epoch_two(*args, **kwargs):
        if next(batches) > 5:  # 100 samples in batches of 20
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(runner, "eqprop_gradient", interrupt_in_epoch_two)
    assert cli(capsys, *TWO_EPOCHS, "--set", "training.seed=3", "--out", out)[0] == 130
    assert not (out / "report.json").exists()
    assert read_checkpoint(out).state.identity.workload["training"]["seed"] == 3


# -- killed while the report is written: report.json absent or complete -----------------------------
def check_after_kill(out: Path):
    """``report.json`` is absent, or complete with every other report file beside it."""
    if (out / "report.json").exists():
        result = from_dict(reported(out))
        assert result.metrics.epochs == 1
        for name in REPORT_FILES:
            assert (out / name).stat().st_size > 0, name


def test_sigkill_while_report_json_is_written(tmp_path):
    code = ("import os, signal, sys\n"
            "import emulator.report as report\n"
            "from emulator.files import replaced\n"
            "def write_text(path, text):\n"
            "    with replaced(path) as f:\n"
            "        f.write(text[:len(text) // 2].encode())\n"
            "        f.flush()\n"
            "        if path.name == 'report.json':\n"
            "            os.kill(os.getpid(), signal.SIGKILL)\n"
            "        f.write(text[len(text) // 2:].encode())\n"
            "    return path\n"
            "report.write_text = write_text\n"
            "from emulator.cli import main\n"
            "sys.exit(main(sys.argv[1:]))\n")
    process = run_python(code, *RUN, "--out", "r", cwd=tmp_path)
    process.communicate(timeout=300)
    assert process.returncode == -signal.SIGKILL
    out = tmp_path / "r"
    assert (out / "report.md").exists() and not (out / "report.json").exists()
    assert read_checkpoint(out).epoch == 1


@pytest.mark.parametrize("delays", [(0.3, 1.0, 4.0),
                                    pytest.param((0.0, 0.15, 0.5, 0.8, 1.5, 2.5, 6.0), marks=pytest.mark.slow)])
def test_sigkill_at_several_moments_around_the_end(tmp_path, delays):
    """Runs killed from the moment their checkpoint appears (``delays`` seconds after it) to when
    they would have finished."""
    code = "import sys; from emulator.cli import main; sys.exit(main(sys.argv[1:]))"
    runs = [(tmp_path / f"r{i}", run_python(code, *RUN, "--out", f"r{i}", cwd=tmp_path)) for i in range(len(delays))]
    deadline = time.monotonic() + 300
    for (out, process), delay in zip(runs, delays):
        while not (out / "checkpoint.npz").exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(delay)
        process.kill()
    for out, process in runs:
        process.communicate(timeout=60)
        check_after_kill(out)


# -- evaluate, compare and deploy -------------------------------------------------------------------
def test_evaluate_on_a_full_disk(capsys, monkeypatch, tmp_path, tiny_run_on):
    run, out = tiny_run_on("digital"), tmp_path / "e"
    fail_writes(monkeypatch, nth_write_of("accuracy.png", 1))
    message = run_error(capsys, "evaluate", run, "--chip", "digital", "--out", out, "--quiet")
    assert message == (f"cannot write {out / 'accuracy.png'}: No space left on device; the trained run in {run} is "
                       "untouched; free some space and run evaluate again")
    assert not (out / "report.json").exists() and temporary_files(tmp_path) == []


def test_compare_on_a_full_disk(capsys, monkeypatch, tmp_path):
    out = tmp_path / "c"
    fail_writes(monkeypatch, nth_write_of("comparison.png", 1))
    message = run_error(capsys, "compare", "digits_snn", "--chips", "digital", *TINY, "--out", out, "--quiet")
    assert message == (f"cannot write {out / 'comparison.png'}: No space left on device; each chip's checkpoint is "
                       f"kept in its folder in {out}; free some space and run compare again")
    assert not (out / "comparison.json").exists() and temporary_files(tmp_path) == []
    assert read_checkpoint(out / "digital").epoch == 1


def test_compare_on_a_disk_that_fills_in_a_chips_run(capsys, monkeypatch, tmp_path):
    out = tmp_path / "c"
    fail_writes(monkeypatch, nth_write_of("checkpoint.npz", 1))
    message = run_error(capsys, "compare", "digits_snn", "--chips", "digital", *TINY, "--out", out, "--quiet")
    assert message == (f"cannot write {out / 'digital' / 'checkpoint.npz'}: No space left on device; nothing was "
                       "saved; free some space and run compare again")


def test_deploy_on_a_full_disk(capsys, monkeypatch, tmp_path, tiny_run_on):
    run, out = tiny_run_on("loihi2"), tmp_path / "bundle"
    fail_writes(monkeypatch, nth_write_of("network.npz", 1))
    message = run_error(capsys, "deploy", run, "--to", "lava", "--out", out, "--hw", "--samples", 2)
    assert message == (f"cannot write {out / 'network.npz'}: No space left on device; the bundle in {out} is "
                       f"incomplete (the run in {run} is untouched); free some space and deploy again")
    assert temporary_files(tmp_path) == []
