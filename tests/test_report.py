"""Tests for emulator.report: JSON / Markdown / PNG reports of a run's typed result."""
from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import matplotlib.figure
import matplotlib.image as mpimg
import numpy as np
import pytest

from emulator.errors import OutputError
from emulator.files import replaced
from emulator.report import format_count, format_si, render_markdown, write_comparison, write_report
from emulator.results import RunResult, from_dict

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
REPORT_FILES = {
    "json": "report.json",
    "markdown": "report.md",
    "accuracy": "accuracy.png",
    "energy": "energy_breakdown.png",
    "messages": "messages_per_step.png",
}
SOURCES = {
    "messages": "Horowitz 2014, 45 nm, 32-bit SRAM read",
    "synaptic_ops": "Horowitz 2014, 45 nm, 8-bit add",
    "unit_updates": "Davies et al. 2018 (Loihi)",
    "static": "vendor datasheet, idle power",
}


def make_dict(chip: str = "digital", *, note: str | None = None, epochs: int = 3,
              energy_scale: float = 1.0, test_accuracy: float = 0.9725) -> dict:
    """A realistic ``report.json`` layout as the run pipeline produces it."""
    n_train, n_test = 1437, 360
    per_op = {"messages": 5e-12, "synaptic_ops": 2.5e-12, "unit_updates": 1e-12}
    per_op = {k: v * energy_scale for k, v in per_op.items()}
    inf_counts = {"messages": 123_456, "synaptic_ops": 4_567_890, "unit_updates": 89_012, "steps": 5_112}
    tr_counts = {"messages": 9_876_543, "synaptic_ops": 345_678_901, "unit_updates": 7_654_321,
                 "steps": 310_000, "weight_writes": 56_832}
    static_w = 0.1

    def breakdown(counts: dict, seconds: float) -> dict:
        b = {op: counts[op] * per_op[op] for op in per_op}
        b["static"] = static_w * seconds
        return b

    inf_b = breakdown(inf_counts, 360 * 1.2e-6)
    tr_b = breakdown(tr_counts, 0.5)
    n_tr_samples = n_train * epochs
    history = [
        {"epoch": e, "train_accuracy": 0.80 + 0.06 * e, "test_accuracy": 0.78 + 0.06 * e,
         "lipschitz": [1.2 - 0.1 * e, 0.8 + 0.01 * e], "train_wall_s": 1.2, "wall_s": 1.5 + 0.1 * e}
        for e in range(1, epochs + 1)
    ]
    steps = np.arange(40)
    mps = (18_944 * np.exp(-steps / 3.0)).round(1).tolist()
    return {
        "workload": "digits_snn", "chip": chip, "backend": "digital", "seed": 0,
        "emulator_version": "0.1.0", "created": "2026-11-25T22:00:00Z",
        "dataset": {"name": "digits", "source": "sklearn.datasets.load_digits", "n_train": n_train,
                    "n_test": n_test, "n_features": 64, "n_classes": 10, "note": note},
        "network": {"layers": [64, 256, 10], "n_units": 266, "n_synapses": 18944},
        "eqprop": {"beta": 0.5, "symmetric": True, "theta": 0.01, "damping": 0.5,
                   "free_steps": 40, "nudged_steps": 15},
        "training": {"epochs": epochs, "batch_size": 20, "seed": 0, "samples_trained": n_tr_samples},
        "metrics": {"test_accuracy": test_accuracy, "train_accuracy": 0.99, "epochs": epochs},
        "history": history,
        "counters": {"inference": inf_counts, "training": tr_counts},
        "per_core": {"inference": {}},
        "relaxation": {"inference": {"mean_steps": 14.2, "quiescent_fraction": 0.98,
                                     "messages_per_step": mps,
                                     "messages_per_step_theta0": [18_944.0] * 40, "theta0_samples": 360}},
        "energy": {
            "per_op_j": per_op,
            "time_per_op_s": {"messages": 1e-9, "synaptic_ops": 2e-9, "unit_updates": 5e-10},
            "static_power_w": static_w,
            "sources": SOURCES,
            "inference": {"total_j": sum(inf_b.values()), "per_sample_j": sum(inf_b.values()) / n_test,
                          "breakdown_j": inf_b},
            "training": {"total_j": sum(tr_b.values()), "per_sample_j": sum(tr_b.values()) / n_tr_samples,
                         "breakdown_j": tr_b},
        },
        "time": {"emulated_s_per_inference": 1.2e-6, "emulated_s_training": 0.5, "wall_s": 12.3},
        "program": {"weight_bytes": 75_776, "sram_bytes": 8_388_608, "cores": 4},
    }


def make_result(chip: str = "digital", **kwargs) -> RunResult:
    """A realistic result as the run pipeline produces it (see :func:`make_dict`)."""
    return RunResult.from_dict(make_dict(chip, **kwargs))


def make_minimal_dict() -> dict:
    """A result with no history, relaxation, program or note."""
    return make_dict() | {"history": [], "relaxation": {}, "program": {}}


def assert_png(path, width_in: float, height_in: float) -> None:
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    img = mpimg.imread(path)
    assert img.ndim >= 2
    h, w = img.shape[:2]
    assert w / h == pytest.approx(width_in / height_in, rel=0.02)
    assert 300 <= h <= 1200


@pytest.fixture
def result() -> RunResult:
    return make_result()


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> tuple[RunResult, dict]:
    """One full report, written once and shared by the read-only tests (figures are slow)."""
    r = make_result()
    return r, write_report(r, tmp_path_factory.mktemp("report") / "run")


# --------------------------------------------------------------------------- format_si


@pytest.mark.parametrize("value, unit, expected", [
    (0, "J", "0 J"),
    (0.0, "s", "0 s"),
    (3.2e-9, "J", "3.2 nJ"),
    (4.5e-5, "J", "45 µJ"),
    (1.1e-3, "J", "1.1 mJ"),
    (1.5, "J", "1.5 J"),
    (1200, "J", "1.2 kJ"),
    (0.7, "s", "700 ms"),
    (12e-6, "s", "12 µs"),
    (1e-15, "J", "1 fJ"),
    (1e3, "J", "1 kJ"),
    (999.96, "J", "1 kJ"),   # rounding carries into the next prefix
    (1e-9, "J", "1 nJ"),
    (123456, "W", "123 kW"),
    (-3.2e-9, "J", "-3.2 nJ"),
    (-1200, "J", "-1.2 kJ"),
    (np.float32(1.5), "J", "1.5 J"),
    (np.int64(1200), "J", "1.2 kJ"),
    (None, "J", "n/a"),
    (float("nan"), "J", "n/a"),
    (3.2e-9, "", "3.2n"),
])
def test_format_si(value, unit, expected):
    assert format_si(value, unit) == expected


def test_format_si_out_of_prefix_range_uses_scientific():
    assert format_si(1e-21, "J") == "1.00e-21 J"


@pytest.mark.parametrize("value, expected", [
    (0, "0"), (18944, "18,944"), (4_567_890, "4,567,890"), (np.int64(1234), "1,234"),
    (12688.58, "12,688.6"), (2.5, "2.5"), (-1234, "-1,234"), (None, "n/a"),
])
def test_format_count(value, expected):
    assert format_count(value) == expected


# --------------------------------------------------------------------------- write_report


def test_write_report_writes_all_files(written):
    _, paths = written
    assert set(paths) == set(REPORT_FILES)
    out_dir = paths["json"].parent
    assert out_dir.name == "run"
    for key, name in REPORT_FILES.items():
        assert paths[key] == out_dir / name
        assert paths[key].is_file() and paths[key].stat().st_size > 0


def test_report_json_roundtrips(written):
    result, paths = written
    assert json.loads(paths["json"].read_text()) == result.to_dict()
    expected = json.dumps(result.to_dict(), indent=2, sort_keys=False)
    assert paths["json"].read_text() == expected
    assert from_dict(json.loads(expected)) == result


def test_report_json_converts_numpy(tmp_path):
    d = make_minimal_dict()  # fewer figures to draw; numpy handling is the point here
    d["relaxation"] = {"inference": {"mean_steps": np.float64(3.5), "quiescent_fraction": np.float32(1.0),
                                     "messages_per_step": np.array([10.5, 2.25, 0.0])}}
    d["seed"] = np.int64(7)
    d["metrics"]["test_accuracy"] = np.float32(0.75)
    d["metrics"]["epochs"] = np.int32(3)
    d["eqprop"]["symmetric"] = np.bool_(True)
    d["network"]["layers"] = np.array([64, 256, 10])
    loaded = json.loads(write_report(RunResult.from_dict(d), tmp_path)["json"].read_text())
    assert loaded["relaxation"]["inference"]["quiescent_fraction"] == 1.0
    assert loaded["seed"] == 7 and type(loaded["seed"]) is int
    assert loaded["metrics"]["test_accuracy"] == 0.75 and type(loaded["metrics"]["test_accuracy"]) is float
    assert loaded["metrics"]["epochs"] == 3 and type(loaded["metrics"]["epochs"]) is int
    assert loaded["eqprop"]["symmetric"] is True
    assert loaded["network"]["layers"] == [64, 256, 10]
    assert loaded["relaxation"]["inference"]["messages_per_step"] == [10.5, 2.25, 0.0]


def test_pngs_are_real_images(written):
    _, paths = written
    assert_png(paths["accuracy"], 6, 4)
    assert_png(paths["energy"], 8, 4)
    assert_png(paths["messages"], 6, 4)


def test_markdown_content(written):
    result, paths = written
    md = paths["markdown"].read_text(encoding="utf-8")
    assert md == render_markdown(result)
    assert md.startswith("# digits_snn on digital (EqProp)\n")
    assert "97.2 %" in md  # test accuracy 0.9725
    energy_per_inference = format_si(result.energy.inference.per_sample_j, "J")
    assert energy_per_inference.endswith(" nJ")
    assert f"**{energy_per_inference}**" in md
    assert "**1.2 µs**" in md  # emulated latency per inference
    assert "12.3 s" in md  # wall time
    for op in list(result.counters["training"]) + ["static"]:
        assert f"`{op}`" in md
    for source in SOURCES.values():
        assert source in md
    assert "4,567,890" in md  # counts with thousands separators
    assert "64 → 256 → 10" in md
    assert "Lipschitz W2" in md
    assert "8,388,608" in md  # program summary
    assert "static power: **100 mW**" in md
    assert "> **Warning:**" not in md


def test_markdown_tables_are_well_formed(result):
    md = render_markdown(result)
    table_lines = [ln for ln in md.splitlines() if ln.startswith("|")]
    assert table_lines
    for ln in table_lines:
        assert ln.endswith("|")
    # each table has a constant number of columns
    blocks, current = [], []
    for ln in md.splitlines() + [""]:
        if ln.startswith("|"):
            current.append(ln.replace("\\|", "").count("|"))
        elif current:
            blocks.append(current)
            current = []
    assert all(len(set(b)) == 1 for b in blocks)


def test_markdown_note_blockquote():
    note = "Small stand-in for MNIST; accuracy is not comparable to published results."
    md = render_markdown(make_result(note=note))
    assert f"> **Warning:** {note}" in md


def test_markdown_counters_per_sample(result):
    md = render_markdown(result)
    # 4,567,890 synaptic ops over 360 inferences
    assert format_count(4_567_890 / 360) in md


def test_minimal_result_still_writes_everything(tmp_path):
    r = RunResult.from_dict(make_minimal_dict())
    paths = write_report(r, tmp_path)
    for key in REPORT_FILES:
        assert paths[key].is_file()
    assert_png(paths["accuracy"], 6, 4)
    assert_png(paths["messages"], 6, 4)
    md = paths["markdown"].read_text(encoding="utf-8")
    assert "Training history" not in md
    assert "Program summary" not in md
    assert "Warning" not in md
    assert json.loads(paths["json"].read_text()) == r.to_dict()


# --------------------------------------------------------------------------- write_comparison


def test_write_comparison(tmp_path):
    # the comparison does not read relaxation curves; skip drawing them
    results = [replace(make_result("loihi2", energy_scale=0.1, test_accuracy=0.95), relaxation={}),
               replace(make_result("digital", test_accuracy=0.9725), relaxation={})]
    paths = write_comparison(results, tmp_path)
    for chip in ("loihi2", "digital"):
        for name in REPORT_FILES.values():
            assert (tmp_path / chip / name).is_file()
    for key, name in (("json", "comparison.json"), ("markdown", "comparison.md"), ("figure", "comparison.png")):
        assert paths[key] == tmp_path / name and paths[key].is_file()
    assert_png(paths["figure"], 8, 4)

    data = json.loads(paths["json"].read_text())
    assert data["workload"] == "digits_snn"
    assert data["chips"] == ["loihi2", "digital"]
    assert [s["chip"] for s in data["summary"]] == ["loihi2", "digital"]
    assert data["results"] == [r.to_dict() for r in results]
    s0 = data["summary"][0]
    assert s0["test_accuracy"] == 0.95
    assert s0["energy_per_inference_j"] == pytest.approx(results[0].energy.inference.per_sample_j)
    assert s0["latency_per_inference_s"] == 1.2e-6
    assert s0["synaptic_ops_per_inference"] == pytest.approx(4_567_890 / 360)

    md = paths["markdown"].read_text(encoding="utf-8")
    rows = [ln for ln in md.splitlines() if ln.startswith("| [")]
    assert len(rows) == 2
    assert "loihi2" in rows[0] and "digital" in rows[1]
    assert "95.0 %" in rows[0] and "97.2 %" in rows[1]
    assert format_si(results[1].energy.inference.per_sample_j, "J") in rows[1]
    assert "Dataset: digits (1,437 train / 360 test" in md


def test_write_comparison_duplicate_chip_names(tmp_path):
    twins = [replace(make_result("digital"), relaxation={})] * 2
    paths = write_comparison(twins, tmp_path)
    assert (tmp_path / "digital" / "report.md").is_file()
    assert (tmp_path / "digital_2" / "report.md").is_file()
    assert paths["chip:digital_2"] == tmp_path / "digital_2"


def test_write_comparison_rejects_empty(tmp_path):
    with pytest.raises(ValueError):
        write_comparison([], tmp_path)


# --------------------------------------------------------------------------- side effects


def test_importing_the_report_leaves_matplotlibs_backend_alone():
    code = ("import sys, matplotlib; before = matplotlib.get_backend(); import emulator.report; "
            "assert matplotlib.get_backend() == before, (before, matplotlib.get_backend()); "
            "assert 'matplotlib.pyplot' not in sys.modules; print(before)")
    env = {"MPLBACKEND": "svg", "PYTHONPATH": str(Path(__file__).parents[1])}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "svg"


def test_report_json_is_written_last_and_a_failure_leaves_no_report_json_nor_temporary_files(tmp_path, monkeypatch):
    (tmp_path / "report.json").write_text("{}")  # an earlier report in the folder

    def fail_while_writing(fig, f, **kwargs):
        f.write(b"half a PNG")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", fail_while_writing)
    with pytest.raises(OutputError) as failed:
        write_report(RunResult.from_dict(make_minimal_dict()), tmp_path)
    assert str(failed.value) == f"cannot write {tmp_path / 'accuracy.png'}: No space left on device; free some space"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.md"]


def test_files_are_replaced_whole_or_not_at_all(tmp_path):
    path = tmp_path / "report.md"
    path.write_text("before")
    with pytest.raises(RuntimeError):
        with replaced(path) as f:
            f.write(b"half")
            raise RuntimeError
    assert path.read_text() == "before" and [p.name for p in tmp_path.iterdir()] == ["report.md"]
    with replaced(path) as f:
        f.write(b"after")
    assert path.read_text() == "after" and [p.name for p in tmp_path.iterdir()] == ["report.md"]


def test_a_chip_that_counts_spikes_shows_them_per_inference_and_per_step():
    data = make_dict("snn")
    data["counters"]["inference"]["spikes"] = 360 * 71  # 71 spikes per inference over 14.2 steps: 5 per step
    result = RunResult.from_dict(data)
    assert "Spikes: **71 per inference**, 5 per step" in render_markdown(result)
    assert "Spikes:" not in render_markdown(make_result())
    from emulator.report.compare import render_comparison_markdown, summarize

    assert summarize(result)["spikes_per_inference"] == 71
    assert summarize(make_result())["spikes_per_inference"] is None
    row = next(ln for ln in render_comparison_markdown([result], ["snn"]).splitlines() if ln.startswith("| ["))
    assert "| 71 |" in row
