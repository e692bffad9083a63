"""Tests of ``python -m emulator deploy``: a run trained on the emulated Loihi 2 becomes a bundle
that Lava runs without the emulator, to the emulator's classes and final output activations;
each bad input is one ``error:`` line with exit status 2.

One tiny loihi2 run (one epoch of digits on 100 samples, the session's ``tiny_run_on("loihi2")``)
and one tiny digital run are trained; the tests that run Lava are skipped where it cannot be imported.
"""
from __future__ import annotations

import ast
import io
import json
import shutil
import subprocess
import sys
from contextlib import redirect_stdout
from pathlib import Path

import nir
import numpy as np
import pytest
import yaml

from emulator.cli import main
from emulator.backends.loihi.lava import LavaUnavailable, require_lava
from test_cli import TINY, cli, user_error

try:
    require_lava()
    LAVA_MISSING = None
except LavaUnavailable as exc:
    LAVA_MISSING = str(exc)
needs_lava = pytest.mark.skipif(LAVA_MISSING is not None, reason=LAVA_MISSING or "")

SAMPLES = 3
BUNDLE = ("network.npz", "processes.py", "run_lava.py", "README.md")


def train(base: Path, chip: str, *options) -> Path:
    out = base / chip
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EMULATOR_OFFLINE", "1")
        assert main(["run", "digits_snn", "--chip", chip, *TINY, *options, "--out", str(out), "--quiet"]) == 0
    return out


@pytest.fixture(scope="module")
def loihi_run(tiny_run_on) -> Path:
    """The session's tiny loihi2 run (trained as :func:`train` would); deploying leaves it as it is."""
    return tiny_run_on("loihi2")


@pytest.fixture(scope="module")
def bundle(loihi_run, tmp_path_factory) -> tuple[Path, int, str]:
    """(bundle folder, exit status, stdout) of deploying the loihi2 run with SAMPLES samples."""
    out = tmp_path_factory.mktemp("deploy") / "bundle"
    with redirect_stdout(io.StringIO()) as stdout:
        status = main(["deploy", str(loihi_run), "--to", "lava", "--out", str(out), "--samples", str(SAMPLES)])
    return out, status, stdout.getvalue()


# -- the bundle, checked in Lava -----------------------------------------------------------------
@needs_lava
def test_lava_equals_the_emulator(bundle):
    out, status, stdout = bundle
    assert status == 0
    lines = stdout.splitlines()
    samples = [line.split(":")[0] for line in lines if line.startswith("sample ")]
    assert samples == [f"sample {i}" for i in range(SAMPLES)]
    assert lines[-1] == f"bundle for Lava in {out}; the check is in {out / 'lava_check.json'}"
    check = json.loads((out / "lava_check.json").read_text())
    assert check["samples"] == SAMPLES and check["steps"] == 40
    assert check["classes_equal"] and check["states_equal"] and check["different_samples"] == []
    assert check["config"] == "Loihi2SimCfg(select_tag='fixed_pt')"
    assert check["lava_wall_s"] > 0
    for name in BUNDLE:
        assert (out / name).is_file(), name


@needs_lava
def test_network_file_holds_the_integer_network_and_the_samples(bundle, loihi_run):
    with np.load(bundle[0] / "network.npz") as f:
        net = dict(f)
    layers = [64, 256, 10]
    assert net["layers"].tolist() == layers
    for k in range(2):
        assert net[f"weights_{k}"].shape == (layers[k + 1], layers[k])
        assert np.abs(net[f"weights_{k}"]).max() <= 256
        assert net[f"bias_{k + 1}"].shape == (layers[k + 1],)
    assert net["weight_exp"].shape == (2,) and int(net["free_steps"]) == 40
    assert net["spikes"].shape == (SAMPLES, 64) and net["labels"].shape == (SAMPLES,)
    assert bool(net["pair"])  # loihi2 units are pairs of standard ReLU sigma-delta neurons
    assert net["emulator_act"].shape == (SAMPLES, 20)
    units = net["emulator_act"][:, :10] - net["emulator_act"][:, 10:]
    assert (net["emulator_class"] == units.argmax(axis=1)).all()
    assert str(loihi_run) in str(net["origin"])


@needs_lava
def test_a_network_of_clipped_neurons_deploys_too(tmp_path, monkeypatch, capsys):
    """A chip with ``neuron: clipped`` (a chip file in ./chips/) deploys with ClippedSigmaDelta."""
    spec = yaml.safe_load(open("chips/loihi2.yaml"))
    spec.update(name="loihi2-clipped")
    spec["parameters"]["neuron"] = "clipped"
    (tmp_path / "chips").mkdir()
    (tmp_path / "chips" / "loihi2-clipped.yaml").write_text(yaml.safe_dump(spec))
    monkeypatch.chdir(tmp_path)
    run = train(tmp_path / "runs", "loihi2-clipped")
    status, out, err = cli(capsys, "deploy", run, "--to", "lava", "--out", tmp_path / "bundle", "--samples", 2)
    assert status == 0, (out, err)
    check = json.loads((tmp_path / "bundle" / "lava_check.json").read_text())
    assert status == 0 and check["classes_equal"] and check["states_equal"]
    with np.load(tmp_path / "bundle" / "network.npz") as f:
        assert not bool(f["pair"]) and f["emulator_act"].shape == (2, 10)


@needs_lava
def test_a_network_of_lif_neurons_deploys_too(tmp_path, capsys):
    """loihi2-lif: Lava's LIF and binary Dense, fed the inputs' spike trains; the output spike counts over the
    window and the final output currents and voltages equal the emulator's."""
    run = train(tmp_path / "runs", "loihi2-lif")
    status, out, err = cli(capsys, "deploy", run, "--to", "lava", "--out", tmp_path / "bundle", "--samples", 2)
    assert status == 0, (out, err)
    check = json.loads((tmp_path / "bundle" / "lava_check.json").read_text())
    assert check["classes_equal"] and check["states_equal"] and check["steps"] == 40
    with np.load(tmp_path / "bundle" / "network.npz") as f:
        assert str(f["neuron"]) == "lif" and f["trains"].shape == (2, 40, 64)
        assert f["emulator_counts"].shape == (2, 10) and int(f["window"]) == 20
        assert f["emulator_counts"].sum() > 0  # the outputs fired: the comparison means something


@needs_lava
def test_bundle_runs_on_its_own(bundle, tmp_path):
    """From another folder, with no emulator import: the script's only imports are the stdlib,
    numpy, Lava and the bundle's processes.py."""
    out = bundle[0]
    for script in ("run_lava.py", "processes.py"):
        tree = ast.parse((out / script).read_text())
        imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                    for alias in node.names}
        imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        assert imported <= {"argparse", "json", "sys", "time", "pathlib", "numpy", "lava", "processes"}, imported
    result = subprocess.run([sys.executable, str(out / "run_lava.py")], cwd=tmp_path, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert sum(line.startswith("sample ") and line.endswith("equal") for line in lines) == SAMPLES
    assert "classes equal: True; final output states equal: True" in lines[-1]


@needs_lava
def test_the_check_finds_a_difference(bundle, tmp_path):
    """A bundle whose emulator activations are off by one in one sample fails its check there."""
    out = tmp_path / "bundle"
    shutil.copytree(bundle[0], out)
    with np.load(out / "network.npz") as f:
        arrays = dict(f)
    arrays["emulator_act"][1, 0] += 1
    np.savez(out / "network.npz", **arrays)
    result = subprocess.run([sys.executable, str(out / "run_lava.py")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr
    check = json.loads((out / "lava_check.json").read_text())
    assert check["classes_equal"] and not check["states_equal"] and check["different_samples"] == [1]
    assert "sample 1:" in result.stdout and "DIFFERENT" in result.stdout


def test_hardware_bundle_replaces_a_previous_one_and_is_not_run(capsys, loihi_run, tmp_path, monkeypatch):
    """--hw needs no Lava here: it writes a bundle that defaults to Loihi2HwCfg, and says it was not checked."""
    out = tmp_path / "bundle"
    out.mkdir()
    for name in ("network.npz", "run_lava.py", "lava_check.json"):  # a previous bundle
        (out / name).write_text("old")

    def no_lava():
        raise AssertionError("--hw must not need Lava here")

    monkeypatch.setattr("emulator.backends.loihi.lava.require_lava", no_lava)
    status, stdout, _ = cli(capsys, "deploy", loihi_run, "--to", "lava", "--out", out, "--hw", "--samples", 2)
    assert status == 0
    assert "not checked" in stdout and "lava-loihi" in stdout
    assert not (out / "lava_check.json").exists()
    for name in BUNDLE:
        assert (out / name).is_file(), name
    script = (out / "run_lava.py").read_text()
    assert "\nHARDWARE = True\n" in script and "Loihi2HwCfg()" in script
    with np.load(out / "network.npz") as f:
        assert f["spikes"].shape == (2, 64)


# -- bad input -----------------------------------------------------------------------------------
def test_a_run_for_another_chip_family(capsys, tmp_path):
    run = train(tmp_path, "digital", "--set", "eqprop.free_steps=5")
    capsys.readouterr()  # the training's progress
    message = user_error(capsys, "deploy", run, "--to", "lava", "--out", tmp_path / "b")
    assert message.startswith(f"{run} was trained for chip 'digital' (digital back-end)")
    assert "--chip loihi2" in message
    assert not (tmp_path / "b").exists()


def test_a_missing_run_folder(capsys, tmp_path):
    message = user_error(capsys, "deploy", tmp_path / "nope", "--to", "lava", "--out", tmp_path / "b")
    assert message.startswith(f"{tmp_path / 'nope'}: no such folder") and "--chip loihi2" in message


def test_a_folder_without_checkpoint(capsys, tmp_path):
    message = user_error(capsys, "deploy", tmp_path, "--to", "lava", "--out", tmp_path / "b")
    assert message.startswith(f"{tmp_path} holds no checkpoint.npz")


def test_an_unknown_target(capsys, loihi_run, tmp_path):
    message = user_error(capsys, "deploy", loihi_run, "--to", "onnx", "--out", tmp_path / "b")
    assert message == "--to onnx: unknown target; deploy knows: lava, nir"


def test_a_target_of_another_family(capsys, tiny_run_on, tmp_path):
    snn_run = tiny_run_on("snn")
    message = user_error(capsys, "deploy", snn_run, "--to", "lava", "--out", tmp_path / "b")
    assert message.startswith(f"{snn_run} was trained for chip 'snn' (snn back-end), which deploys to nir; "
                              "--to lava takes runs of the loihi back-end")
    assert not (tmp_path / "b").exists()


def test_a_sigma_delta_run_exports_its_spiking_relative_and_says_what_is_lost(briefly_trained_digits, tmp_path,
                                                                             capsys):
    """NIR has no sigma-delta neuron: the network goes out as IF neurons with the chip's weights, the losses named in
    the bundle; on 50 test digits of a briefly trained loihi2 network its class is the chip's on 49 (measured)."""
    _, run = briefly_trained_digits("loihi2")
    assert main(["deploy", str(run), "--to", "nir", "--out", str(tmp_path / "b"), "--samples", "50"]) == 0
    out = capsys.readouterr().out
    assert "NIR cannot express the sigma-delta network of chip 'loihi2' (graded spikes, the hard sigmoid, the " \
           "input" in out
    check = json.loads((tmp_path / "b" / "nir_check.json").read_text())
    assert not check["exact"] and check["same_class_fraction"] >= 0.9
    assert "## What NIR cannot express" in (tmp_path / "b" / "README.md").read_text()
    graph = nir.read(tmp_path / "b" / "network.nir")
    assert {type(n).__name__ for n in graph.nodes.values()} == {"IF", "Affine", "Linear", "Delay", "Input", "Output"}


def test_a_lif_run_exported_to_nir_comes_back_bit_exact(tiny_run_on, tmp_path, capsys):
    """Written as CubaLIF in NIR volts and read back quantised for the chip: the chip's spikes, step for step; run
    in NIR's floats, the same classes here (the check reports how many spikes move)."""
    assert main(["deploy", str(tiny_run_on("loihi2-lif")), "--to", "nir", "--out", str(tmp_path / "b"),
                 "--samples", "4"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-1] == "read back and quantised for the chip, it fires the chip's spikes on 4 samples"
    check = json.loads((tmp_path / "b" / "nir_check.json").read_text())
    assert check["quantised_equal"] and check["quantised_different_spikes"] == 0 and check["chip_spikes"] > 1000
    assert check["nir_spikes"] > 0.8 * check["chip_spikes"]
    types = {type(n).__name__ for n in nir.read(tmp_path / "b" / "network.nir").nodes.values()}
    assert {"CubaLIF", "Linear", "Delay", "Input", "Output"} == types


def test_an_out_folder_with_other_files(capsys, loihi_run, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    message = user_error(capsys, "deploy", loihi_run, "--to", "lava", "--out", tmp_path)
    assert message.startswith(f"--out {tmp_path} is not empty and holds no bundle")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_too_many_samples(capsys, loihi_run, tmp_path):
    message = user_error(capsys, "deploy", loihi_run, "--to", "lava", "--out", tmp_path / "b", "--hw",
                         "--samples", 51)
    assert message == "--samples 51: the run's test split has only 50 samples"


def test_without_lava(capsys, loihi_run, tmp_path, monkeypatch):
    def no_lava():
        raise LavaUnavailable("Lava is not installed (no module named 'lava')")

    monkeypatch.setattr("emulator.backends.loihi.lava.require_lava", no_lava)
    message = user_error(capsys, "deploy", loihi_run, "--to", "lava", "--out", tmp_path / "b")
    assert message.startswith("Lava is not installed")
    assert not (tmp_path / "b").exists()
