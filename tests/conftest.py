"""Shared test set-up: nothing downloads, and figures render off-screen."""
import os

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("EMULATOR_OFFLINE", "1")


@pytest.fixture(scope="session")
def trained_digits(tmp_path_factory):
    """``trained_digits(chip)``: ``(result, folder)``, the result of the shipped digits_snn workload
    trained on a chip and its run folder (with the report), trained once per session (tests
    compare chips on it)."""
    from emulator.chip import load_chip
    from emulator.report import write_report
    from emulator.tasks.classification import Run
    from emulator.workload import load_workload

    results = {}

    def train(chip: str):
        if chip not in results:
            os.environ["EMULATOR_OFFLINE"] = "1"
            folder = tmp_path_factory.mktemp(f"digits-{chip}")
            run = Run(load_workload("workloads/digits_snn.yaml"), load_chip(f"chips/{chip}.yaml"), folder)
            run.train(progress=False)
            result = run.result(wall_s=0.0, progress=False)
            write_report(result, folder)
            results[chip] = result, folder
        return results[chip]

    return train
