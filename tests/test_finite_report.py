"""A report refuses a figure that is not a finite number, naming it and the chip constant to blame:
the energy accounting checks what it computes, and a typed result checks every figure when it is
built (or read back), so no ``report.json`` holds NaN or infinity."""
from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import pytest

from emulator import chip as chip_module
from emulator.backends.digital import DigitalBackend
from emulator.backends.oim import OimBackend
from emulator.chip import Constant, load_chip
from emulator.counters import Counters
from emulator.energy import account
from emulator.errors import EmulatorError, ReportError
from emulator.results import RunResult, from_dict, non_finite

ROOT = Path(__file__).resolve().parents[1]
OLD_REPORT = ROOT / "tests" / "data" / "old_classification_report.json"


def with_constant(chip, table: str, op: str, value: float, unit: str):
    constants = dict(getattr(chip, table))
    constants[op] = Constant(value=value, unit=unit, source="a test")
    return replace(chip, **{table: constants})


def test_an_infinite_energy_names_the_figure_and_the_constant():
    chip = with_constant(load_chip(ROOT / "chips" / "digital.yaml"), "energy", "synaptic_ops", 1e308, "J")
    with pytest.raises(EmulatorError) as info:
        account(Counters(synaptic_ops=100, steps=3), chip, DigitalBackend(), 10, phase="inference")
    assert str(info.value) == (f"energy.inference.total_j is inf: {chip.where('energy', 'synaptic_ops', 'value')} "
                               "energy.synaptic_ops (1e+308 J) x 100 is too large")


def test_an_infinite_time_on_a_chip_without_static_power_names_the_time_constant():
    chip = with_constant(load_chip(ROOT / "chips" / "oim-cmos.yaml"), "time", "phase_readouts", 1e308, "s")
    counters = Counters(oscillator_seconds=1e-6, coupling_events=10, coupling_ops=40, phase_readouts=7,
                        weight_writes=0, settle_s=1e-7)
    with pytest.raises(EmulatorError) as info:
        account(counters, chip, OimBackend(), 1, phase="training")
    assert str(info.value) == ("energy.training.total_j is nan: "  # 0 W of static power times infinite seconds
                               f"{chip.where('time', 'phase_readouts', 'value')} time.phase_readouts (1e+308 s) x 7 is too "
                               "large")


def test_a_finite_account_passes():
    chip = load_chip(ROOT / "chips" / "digital.yaml")
    figures = account(Counters(synaptic_ops=100, steps=3), chip, DigitalBackend(), 10, phase="inference")
    assert math.isfinite(figures["total_j"]) and figures["per_sample_j"] == figures["total_j"] / 10


def test_a_result_with_a_nan_figure_is_refused_with_its_key():
    report = json.loads(OLD_REPORT.read_text())
    result = from_dict(report)
    assert non_finite(result) is None
    report["energy"]["inference"]["breakdown_j"]["messages"] = float("nan")
    with pytest.raises(ReportError) as info:
        from_dict(report)
    assert "energy.inference.breakdown_j.messages is nan, not a finite number; no report is written" in str(info.value)
    assert isinstance(info.value, ValueError)  # from_dict's contract: a malformed report is a ValueError
    with pytest.raises(ReportError, match=r"history\.0\.lipschitz\.1 is inf"):
        replace(result, history=(replace(result.history[0], lipschitz=(1.0, math.inf)),) + result.history[1:])
    assert isinstance(result, RunResult)


def test_the_command_line_refuses_a_report_with_an_infinite_figure(user_error, monkeypatch, tmp_path):
    """With the ceiling of the energies lifted, an energy of 1e308 J reaches the report, which refuses it."""
    monkeypatch.setitem(chip_module.CEILINGS, "energy", (math.inf, "lifted for this test"))
    message = user_error("run", "digits_snn", "--chip", "digital", "--chip-set", "energy.synaptic_ops.value=1e308",
                         "--chip-set", "energy.synaptic_ops.unit=J", "--set", "training.epochs=0",
                         "--set", "dataset.n_test=20", "--set", "eqprop.free_steps=2", "--out", tmp_path / "r")
    assert message.startswith("energy.inference.total_j is inf: --chip-set energy.synaptic_ops.value=1e308 "
                              "energy.synaptic_ops (1e+308 J) x "), message
    assert message.endswith(" is too large") and not (tmp_path / "r" / "report.json").exists()
