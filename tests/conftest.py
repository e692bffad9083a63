"""Shared test set-up: nothing downloads, and figures render off-screen."""
import io
import os
from contextlib import redirect_stderr

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("EMULATOR_OFFLINE", "1")


def _digits_trainer(tmp_path_factory, name: str, overrides: tuple[str, ...] = ()):
    """``train(chip)``: ``(result, folder)`` of digits_snn with ``overrides`` trained on a chip, with its
    report written, trained once per session."""
    from emulator.chip import load_chip
    from emulator.report import write_report
    from emulator.tasks.classification import Run
    from emulator.workload import load_workload

    results = {}

    def train(chip: str):
        if chip not in results:
            os.environ["EMULATOR_OFFLINE"] = "1"
            folder = tmp_path_factory.mktemp(f"{name}-{chip}")
            run = Run(load_workload("workloads/digits_snn.yaml", list(overrides)), load_chip(f"chips/{chip}.yaml"),
                      folder)
            run.train(progress=False)
            result = run.result(wall_s=0.0, progress=False)
            write_report(result, folder)
            results[chip] = result, folder
        return results[chip]

    return train


@pytest.fixture(scope="session")
def trained_digits(tmp_path_factory):
    """``trained_digits(chip)``: ``(result, folder)``, the result of the shipped digits_snn workload
    (20 epochs on all 1,437 training samples) trained on a chip and its run folder (with the report),
    trained once per session (tests compare chips on it). Only ``slow`` tests use it: the default run
    asks the same of :func:`briefly_trained_digits`."""
    return _digits_trainer(tmp_path_factory, "digits")


#: digits_snn cut to what the default test run can afford: 5 epochs on the first 800 training samples,
#: tested on the whole test set (360 samples). Digital, loihi2 and crossbar-pcm all pass 92 % on it.
BRIEF_DIGITS = ("dataset.n_train=800", "training.epochs=5")


@pytest.fixture(scope="session")
def briefly_trained_digits(tmp_path_factory):
    """``briefly_trained_digits(chip)``: ``(result, folder)`` as :func:`trained_digits`, for digits_snn
    with :data:`BRIEF_DIGITS` (a few seconds per chip)."""
    return _digits_trainer(tmp_path_factory, "brief-digits", BRIEF_DIGITS)


@pytest.fixture(scope="session")
def tiny_run_on(tmp_path_factory):
    """``tiny_run_on(chip)``: the folder of a finished tiny digits_snn run on a chip (one epoch on
    100 training samples, tested on 50), trained once per session; copy it before changing it."""
    from emulator.cli import main

    folders = {}

    def train(chip: str):
        if chip not in folders:
            out = tmp_path_factory.mktemp(f"tiny-{chip}") / "run"
            with pytest.MonkeyPatch.context() as mp, redirect_stderr(io.StringIO()):  # its progress
                mp.setenv("EMULATOR_OFFLINE", "1")
                status = main(["run", "digits_snn", "--chip", chip, "--set", "training.epochs=1", "--set",
                               "dataset.n_train=100", "--set", "dataset.n_test=50", "--out", str(out), "--quiet"])
            assert status == 0
            folders[chip] = out
        return folders[chip]

    return train


@pytest.fixture
def user_error(capsys):
    """``user_error(*args)``: run the command line in-process expecting a user error: exit status 2,
    one ``error: ...`` line on stderr, no traceback. Returns the message after ``error: ``."""
    from emulator.cli import main

    def run(*args) -> str:
        status = main([str(a) for a in args])
        out, err = capsys.readouterr()
        assert "Traceback" not in err + out
        assert status == 2, (status, out, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), f"expected one error line, got: {err!r}"
        return lines[0][len("error: "):]

    return run


def pytest_terminal_summary(terminalreporter):
    """How the fuzz cases of tests/test_fuzz.py ended, if any ran: clean errors and clean successes."""
    import sys

    fuzzing = sys.modules.get("fuzzing")
    if fuzzing is None or not fuzzing.TALLY:
        return
    terminalreporter.section("fuzz cases")
    for kind, outcomes in sorted(fuzzing.TALLY.items()):
        terminalreporter.write_line(f"{kind}: {sum(outcomes.values())} cases, {outcomes['error']} clean errors, "
                                    f"{outcomes['success']} clean successes")
