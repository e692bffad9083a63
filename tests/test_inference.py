"""Spiking inference workloads: a NIR network run on the chips from the command line, reports, compare, errors."""
import json
import shutil
from pathlib import Path

import nir
import numpy as np
import pytest

from emulator.cli import main
from emulator.chip import load_chip
from emulator.report import render_markdown
from emulator.results import from_dict
from emulator.tasks.inference import encode, run_inference
from emulator.workload import load_workload

ROOT = Path(__file__).resolve().parents[1]
WORKLOAD = ROOT / "workloads" / "digits_lif.yaml"
SAMPLES = ["--set", "data.samples=40"]


def _report(folder: Path):
    return from_dict(json.loads((folder / "report.json").read_text()))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """digits_lif on 40 test digits on each chip family that runs NIR graphs."""
    out = tmp_path_factory.mktemp("inference")
    for chip in ("digital", "snn", "loihi2"):
        assert main(["run", str(WORKLOAD), "--chip", chip, "--out", str(out / chip), "--quiet", *SAMPLES]) == 0
    return {chip: _report(out / chip) for chip in ("digital", "snn", "loihi2")} | {"folder": out}


def test_the_shipped_network_classifies_on_every_chip_and_reports_energy(runs):
    for chip in ("digital", "snn", "loihi2"):
        r = runs[chip]
        assert r.metrics.samples == 40 and r.metrics.accuracy >= 0.9  # measured: 95-98 % on these 40
        assert r.energy.inference.per_sample_j > 0 and r.time.emulated_s_per_inference > 0
        assert (runs["folder"] / chip / "energy_per_inference.png").stat().st_size > 0
        assert render_markdown(r) == (runs["folder"] / chip / "report.md").read_text()
    # the float chips run the same NIR semantics: the same spikes, counted in their own names
    digital, snn = runs["digital"].counters["inference"], runs["snn"].counters["inference"]
    assert digital["messages"] == snn["spikes"] and digital["synaptic_ops"] == snn["synaptic_ops"]
    assert runs["digital"].metrics.accuracy == runs["snn"].metrics.accuracy
    loihi = runs["loihi2"]
    assert loihi.metrics.steps == 52 and loihi.quantisation["latency_steps"] == 2
    assert len(loihi.per_core["spikes_per_core"]) == loihi.program["cores"]


def test_the_spikes_of_a_sample_do_not_depend_on_the_batch():
    x = np.random.default_rng(0).random((6, 4))
    whole = encode(x, 0, 20, seed=3)
    assert np.array_equal(np.concatenate([encode(x[:2], 0, 20, 3), encode(x[2:], 2, 20, 3)], axis=1), whole)
    workload = load_workload(WORKLOAD, ["data.samples=12", "data.batch=5"])
    chip = load_chip(ROOT / "chips" / "loihi2.yaml")
    a = run_inference(workload, chip, progress=False)
    b = run_inference(load_workload(WORKLOAD, ["data.samples=12"]), chip, progress=False)
    assert a.metrics == b.metrics
    exact = lambda c: {op: n for op, n in c["inference"].items() if op != "critical_path_s"}  # noqa: E731
    assert exact(a.counters) == exact(b.counters)  # the critical path is a float sum: its last bits may differ
    assert a.counters["inference"]["critical_path_s"] == pytest.approx(b.counters["inference"]["critical_path_s"])


def test_compare_puts_the_chips_side_by_side(tmp_path, capsys):
    out = tmp_path / "cmp"
    assert main(["compare", str(WORKLOAD), "--chips", "snn,loihi2", "--out", str(out), "--quiet", *SAMPLES]) == 0
    summary = json.loads((out / "comparison.json").read_text())["summary"]
    assert [s["chip"] for s in summary] == ["snn", "loihi2"] and all(s["test_accuracy"] >= 0.9 for s in summary)
    text = (out / "comparison.md").read_text()
    assert "[snn](snn/report.md)" in text and "[loihi2](loihi2/report.md)" in text
    assert (out / "comparison.png").stat().st_size > 0


def _workload(tmp_path, network: str, **data) -> Path:
    settings = {"dataset": "digits", "samples": 4, **data}
    path = tmp_path / f"{Path(network).stem}-{len(list(tmp_path.glob('*.yaml')))}.yaml"
    path.write_text("name: w\nkind: snn_inference\nnetwork:\n  file: " + network + "\ndata:\n"
                    + "".join(f"  {k}: {v}\n" for k, v in settings.items()))
    return path


def test_inference_errors_are_one_clear_message(tmp_path, capsys):
    shutil.copy(ROOT / "workloads" / "networks" / "digits_lif.nir", tmp_path / "net.nir")
    graph = nir.NIRGraph(nodes={"input": nir.Input(input_type=np.array([5])),
                                "w": nir.Linear(weight=np.ones((10, 5))),
                                "lif": nir.IF(r=np.ones(10), v_threshold=np.ones(10), v_reset=np.zeros(10)),
                                "output": nir.Output(output_type=np.array([10]))},
                         edges=[("input", "w"), ("w", "lif"), ("lif", "output")], metadata={"dt": 1e-3})
    nir.write(tmp_path / "small.nir", graph)
    cases = [(["--chip", "crossbar-pcm"], _workload(tmp_path, "net.nir"),
              "does not run NIR graphs; the families that do: digital, loihi, snn"),
             (["--chip", "snn"], _workload(tmp_path, "missing.nir"), "missing.nir"),
             (["--chip", "snn"], _workload(tmp_path, "small.nir"),
              "Input 'input' has 5 values but dataset digits has 64 features"),
             (["--chip", "snn", "--resume", str(tmp_path / "r")], _workload(tmp_path, "net.nir"),
              "snn_inference workload, which has no epochs to resume")]
    for options, workload, message in cases:
        assert main(["run", str(workload), *options, "--out", str(tmp_path / "o"), "--quiet"]) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, err


def test_current_encoding_sends_the_pixels_themselves():
    """``data.encoding: current``: every step carries the pixel values (no randomness), on Loihi as graded payloads."""
    x = np.array([[0.0, 0.5, 1.0]])
    assert np.array_equal(encode(x, 0, 3, seed=0, encoding="current"), np.repeat(x[None], 3, axis=0))
    for chip in ("snn", "loihi2"):
        workload = load_workload(WORKLOAD, ["data.samples=20", "data.encoding=current"])
        result = run_inference(workload, load_chip(ROOT / "chips" / f"{chip}.yaml"), progress=False)
        assert result.metrics.accuracy >= 0.9 and result.data["encoding"] == "current"  # measured 96.7 % on all 360
