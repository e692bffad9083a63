"""Damaged or foreign checkpoints and run folders.

``--resume``, ``evaluate`` and ``deploy`` read a run folder back: a checkpoint that is empty, not
an archive, short of an entry or holding one of the wrong type, shape or range, or a report of
another run beside it, is one ``error:`` line (exit status 2, no traceback) naming the file, the
entry and what to do, never a crash or a truncated network. Each damage is made in a copy of one
tiny run on loihi2 (the chip ``deploy`` takes) and given to the three commands.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from test_cli import TINY, cli, isolated, one_numba_thread, user_error  # noqa: F401 (autouse fixtures)

DAMAGED = "checkpoint.npz is damaged or not a checkpoint of this emulator: "
LAYERS = "the run's network.layers [64, 256, 10]"


def state_with(**changes):
    """A damage: the checkpoint's state with ``changes`` (a key path with dots -> new value, or
    ``...`` to delete it)."""
    def damage(entries):
        state = json.loads(str(entries["state"]))
        for path, value in changes.items():
            *parents, key = path.split(".")
            node = state
            for part in parents:
                node = node[part]
            if value is ...:
                del node[key]
            else:
                node[key] = value
        return entries | {"state": np.array(json.dumps(state))}

    return damage


def without(name):
    return lambda entries: {k: v for k, v in entries.items() if k != name}


def entry(name, change):
    return lambda entries: entries | {name: change(entries[name])}


def nan_at_end(b):
    b = b.copy()
    b[-1] = np.nan
    return b


#: name -> (damage of the entries, or the file's bytes; what the error says after DAMAGED)
DAMAGES = {
    "empty file": (b"", "it is empty (0 bytes)"),
    "text file": (b"not a checkpoint", "it is not a NumPy .npz archive"),
    "broken zip": (b"PK\x03\x04" + bytes(100), "it is not a NumPy .npz archive"),
    "single array": (None, "it holds a single array, not a NumPy .npz archive"),
    "no state": (without("state"), "no entry 'state'"),
    "no w1": (without("w1"), f"no entry 'w1', but {LAYERS} make the entries w0, w1, b0, b1"),
    "extra layer": (lambda e: e | {"w2": np.zeros((10, 10)), "b2": np.zeros(10)},
                    f"an entry 'b2', but {LAYERS} make the entries w0, w1, b0, b1"),
    "integer weights": (entry("w0", lambda w: w.astype(np.int64)),
                        "entry 'w0' holds int64 values, not floating-point parameters"),
    "text weights": (entry("w1", lambda w: np.array(["a"] * w.size).reshape(w.shape)),
                     "entry 'w1' holds <U1 values, not floating-point parameters"),
    "transposed weights": (entry("w0", np.transpose),
                           f"entry 'w0' has shape (64, 256), but {LAYERS} make it (256, 64)"),
    "NaN bias": (entry("b1", nan_at_end), "entry 'b1' holds NaN or infinite values"),
    "huge weight": (entry("w0", lambda w: np.where(np.arange(w.size).reshape(w.shape) == 3, 1e308, w)),
                    "entry 'w0' holds a value of magnitude 1e+308, beyond 1e+06: no training writes such a parameter"),
    "state of numbers": (lambda e: e | {"state": np.arange(3)},
                         "entry 'state' is not text (it holds int64 values of shape (3,))"),
    "state not JSON": (lambda e: e | {"state": np.array("{epoch: 1")}, "entry 'state' is not valid JSON"),
    "state a list": (lambda e: e | {"state": np.array("[1]")},
                     "entry 'state': (top level): must be a mapping with keys identity, epoch, history, training, "
                     "n_trained, got [1]"),
    "negative epoch": (state_with(epoch=-1), "entry 'state': epoch: must be >= 0 (finished epochs), got -1"),
    "epoch 2.5": (state_with(epoch=2.5), "entry 'state': epoch: must be an integer, got 2.5"),
    "epoch as text": (state_with(epoch="1"), "entry 'state': epoch: must be an integer, got '1'"),
    "no identity": (state_with(identity=...), "entry 'state': identity: missing; it must be a mapping with keys "
                                              "workload, chip, chip_parameters"),
    "no n_trained": (state_with(n_trained=...), "entry 'state': n_trained: missing"),
    "history too short": (state_with(epoch=2), "entry 'state': history: has 1 records for 2 finished epochs"),
    "history of another network": (state_with(**{"history": [{"epoch": 1, "train_accuracy": 0.5,
                                                              "test_accuracy": 0.5, "lipschitz": [1.0],
                                                              "train_wall_s": 1.0, "wall_s": 1.0}]}),
                                   "entry 'state': history[0]: is not the record of epoch 1 of a network of 2 "
                                   "weight layers"),
    "negative counter": (state_with(**{"training.synaptic_ops": -5}),
                         "entry 'state': training.synaptic_ops: must be a count >= 0 or a list of counts, got -5"),
    "workload out of range": (state_with(**{"identity.workload.eqprop.theta": -1}),
                              "entry 'state': identity.workload.eqprop.theta: must be >= 0"),
    "layers of another network": (state_with(**{"identity.workload.network.layers": [64, 128, 10]}),
                                  "entry 'w0' has shape (256, 64), but the run's network.layers [64, 128, 10] "
                                  "make it (128, 64)"),
}


def damaged_copy(run: Path, folder: Path, damage) -> Path:
    shutil.copytree(run, folder)
    checkpoint = folder / "checkpoint.npz"
    if isinstance(damage, bytes):
        checkpoint.write_bytes(damage)
    elif damage is None:
        with open(checkpoint, "wb") as f:
            np.save(f, np.zeros(3))
    else:
        with np.load(checkpoint) as f:
            entries = {name: f[name] for name in f.files}
        with open(checkpoint, "wb") as f:
            np.savez(f, **damage(entries))
    return folder


def command(name: str, folder: Path, tmp_path: Path) -> list:
    return {"--resume": ["run", "digits_snn", "--chip", "loihi2", *TINY, "--resume", folder, "--quiet"],
            "evaluate": ["evaluate", folder, "--chip", "digital", "--out", tmp_path / "e", "--quiet"],
            "deploy": ["deploy", folder, "--to", "lava", "--out", tmp_path / "b", "--hw", "--samples", 2]}[name]


TO_DO = {"--resume": "; start a new run with another --out",
         "evaluate": "; train the run again, or give evaluate the folder of a run made with "
                     "`python -m emulator run WORKLOAD --chip CHIP --out DIR`",
         "deploy": "; train the run again, or give deploy the folder of a run made with "
                   "`python -m emulator run WORKLOAD --chip loihi2 --out DIR`"}


@pytest.mark.parametrize("option", ["--resume", "evaluate", "deploy"])
@pytest.mark.parametrize("damage", DAMAGES)
def test_a_damaged_checkpoint_is_one_error(capsys, tmp_path, tiny_run_on, damage, option):
    change, says = DAMAGES[damage]
    folder = damaged_copy(tiny_run_on("loihi2"), tmp_path / "run", change)
    message = user_error(capsys, *command(option, folder, tmp_path))
    assert message.startswith(f"{option} {folder}: {DAMAGED}{says}"), message
    assert message.endswith(TO_DO[option]), message
    assert not (tmp_path / "e").exists() and not (tmp_path / "b").exists()


@pytest.mark.parametrize("option", ["--resume", "evaluate", "deploy"])
def test_a_checkpoint_whose_entry_has_a_damaged_header_is_one_error(capsys, tmp_path, tiny_run_on, option):
    """An entry's header is parsed as a Python literal, before the zip's checksum is reached."""
    folder = tmp_path / "run"
    shutil.copytree(tiny_run_on("loihi2"), folder)
    data = (folder / "checkpoint.npz").read_bytes()
    header = data.index(b"{'descr': '<f8'")  # of w0, the first array
    (folder / "checkpoint.npz").write_bytes(data[:header + 60] + b"{" + data[header + 61:])
    message = user_error(capsys, *command(option, folder, tmp_path))
    assert message.startswith(f"{option} {folder}: {DAMAGED}entry 'w0' cannot be read ("), message
    assert message.endswith(TO_DO[option]), message


@pytest.mark.parametrize("option", ["evaluate", "deploy"])
@pytest.mark.parametrize("key, value, says", [
    ("network", {"layers": [64, 128, 10], "n_units": 138, "n_synapses": 9472},
     "network.layers: [64, 128, 10] in report.json, [64, 256, 10] in checkpoint.npz"),
    ("metrics", {"test_accuracy": 0.5, "train_accuracy": 0.5, "epochs": 3},
     "epochs: 3 in report.json, 1 in checkpoint.npz"),
    ("workload", "mnist_snn", "workload: mnist_snn in report.json, digits_snn in checkpoint.npz")])
def test_a_report_of_another_run_is_refused(capsys, tmp_path, tiny_run_on, option, key, value, says):
    """Not evaluated as a truncated (or padded) network: the report and the checkpoint must agree."""
    folder = tmp_path / "run"
    shutil.copytree(tiny_run_on("loihi2"), folder)
    report = json.loads((folder / "report.json").read_text())
    (folder / "report.json").write_text(json.dumps(report | {key: value}))
    message = user_error(capsys, *command(option, folder, tmp_path))
    assert message.startswith(f"{option} {folder}: report.json and checkpoint.npz are of different runs ({says}); "
                              f"give {option} the folder of a run made with "), message


@pytest.mark.parametrize("option", ["evaluate", "deploy"])
@pytest.mark.parametrize("text", ["", "{}", "[1, 2]", '{"schema_version": 1, "kind": "classification"'])
def test_a_damaged_report_is_one_error(capsys, tmp_path, tiny_run_on, option, text):
    folder = tmp_path / "run"
    shutil.copytree(tiny_run_on("loihi2"), folder)
    (folder / "report.json").write_text(text)
    message = user_error(capsys, *command(option, folder, tmp_path))
    assert message.startswith(f"{option} {folder}: report.json is damaged or not a report of this emulator (")
    assert message.endswith(f"write it again with `python -m emulator run WORKLOAD --chip CHIP --resume {folder}`")


def test_resume_rewrites_a_report_of_another_run(capsys, tmp_path, tiny_run_on):
    """``--resume`` reads only the checkpoint: it writes the report that belongs to it."""
    folder = tmp_path / "run"
    shutil.copytree(tiny_run_on("loihi2"), folder)
    report = json.loads((folder / "report.json").read_text())
    (folder / "report.json").write_text(json.dumps(report | {"network": report["network"] | {"layers": [1, 2]}}))
    assert cli(capsys, *command("--resume", folder, tmp_path))[0] == 0
    assert json.loads((folder / "report.json").read_text())["network"]["layers"] == [64, 256, 10]


def test_a_checkpoint_that_counts_other_samples_is_refused_on_resume(capsys, tmp_path, tiny_run_on):
    folder = damaged_copy(tiny_run_on("loihi2"), tmp_path / "run", state_with(n_trained=150))
    message = user_error(capsys, *command("--resume", folder, tmp_path))
    assert message == (f"--resume {folder}: {DAMAGED}entry 'state': n_trained: 150 samples, not 1 finished epoch of 100; "
                       "start a new run with another --out")


def test_a_chip_the_emulator_does_not_know(capsys, tmp_path, tiny_run_on):
    folder = damaged_copy(tiny_run_on("loihi2"), tmp_path / "run", state_with(**{"identity.chip": "loihi9"}))
    message = user_error(capsys, *command("evaluate", folder, tmp_path))
    assert message.startswith(f"evaluate {folder}: {DAMAGED}entry 'state': identity.chip: the run's chip cannot be "
                              "loaded (unknown chip 'loihi9'")


def test_chip_parameters_the_chip_does_not_take(capsys, tmp_path, tiny_run_on):
    folder = damaged_copy(tiny_run_on("loihi2"), tmp_path / "run",
                          state_with(**{"identity.chip_parameters.weight_bits": "eight"}))
    message = user_error(capsys, *command("deploy", folder, tmp_path))
    assert message.startswith(f"deploy {folder}: {DAMAGED}entry 'state' (identity.chip_parameters): "
                              "parameters.weight_bits: must be an integer, got 'eight'"), message


@pytest.mark.parametrize("trained_on, deployed_on", [("digital", "oim-cmos"), ("oim-cmos", "loihi2")])
def test_evaluate_refuses_a_chip_of_another_model(user_error, tmp_path, tiny_run_on, trained_on, deployed_on):
    message = user_error("evaluate", tiny_run_on(trained_on), "--chip", deployed_on, "--out", tmp_path / "out")
    assert f"cannot be evaluated on {deployed_on}: {trained_on} trains networks for " in message, message
    assert f", but {deployed_on} relaxes " in message, message
    assert message.endswith(f"train on the chip itself (python -m emulator run digits_snn --chip {deployed_on})")
    assert not (tmp_path / "out").exists()
