"""Shared test set-up: nothing downloads, and figures render off-screen."""
import os

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("EMULATOR_OFFLINE", "1")
