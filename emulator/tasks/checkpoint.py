"""Run folders: the checkpoint of finished epochs, and finished runs read back.

A run folder holds ``checkpoint.npz`` (the network after the last finished epoch, and the
identity of the run: workload settings, chip and chip parameters) and, once the run has
finished, ``report.json``. ``evaluate`` and ``deploy`` read a finished run back with
:func:`load_trained`; ``--resume`` continues from :func:`read_checkpoint`.
"""
from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from emulator.catalog import resolve
from emulator.chip import Chip, get_backend, load_chip
from emulator.errors import ConfigError
from emulator.network import Network
from emulator.results import REPORT, RunResult
from emulator.schema import Source, build
from emulator.workload import Workload

CHECKPOINT = "checkpoint.npz"


def read_checkpoint(run_dir: Path, n_layers: int, option: str = "--resume") -> tuple[dict, tuple, tuple]:
    """The saved state, weights and biases of a run folder; ConfigError, naming the command-line
    ``option`` that gave the folder, if the file is damaged."""
    try:
        with np.load(Path(run_dir) / CHECKPOINT) as f:
            state = json.loads(str(f["state"]))
            weights = tuple(f[f"w{k}"] for k in range(n_layers))
            biases = tuple(f[f"b{k}"] for k in range(n_layers))
        if "identity" not in state:
            raise KeyError("identity")
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        raise ConfigError(f"{option} {run_dir}: {CHECKPOINT} is damaged or not a checkpoint of "
                          "this emulator; start a new run with another --out") from None
    return state, weights, biases


def saved_workload(identity: dict, epochs: int, run_dir: Path) -> Workload:
    """The workload of a checkpoint's identity in ``run_dir``, defaults filled in, for ``epochs``
    epochs (the identity leaves them out); ConfigError if this emulator cannot read it."""
    settings = identity["workload"]
    settings = settings | {"training": settings["training"] | {"epochs": epochs}}
    return build(Workload, settings, Source(str(Path(run_dir) / CHECKPOINT)))


@dataclass(frozen=True)
class TrainedRun:
    """A finished run, read back from its folder: what it trained, on which chip, for how long."""

    folder: Path
    workload: Workload
    chip: Chip
    network: Network
    epochs: int

    @property
    def origin(self) -> str:
        return f"{self.workload.name} trained on {self.chip.name} for {self.epochs} epochs, {self.folder.resolve()}"


def load_trained(run_dir: Path, command: str, chip: str = "CHIP") -> TrainedRun:
    """Read the finished run in ``run_dir``; ConfigError, naming ``command`` and how to train one
    (on ``chip``), if there is none.

    The chip is the run's chip file with the parameters the run used (``--chip-set`` included).
    """
    train = f"give {command} the folder of a run made with `python -m emulator run WORKLOAD --chip {chip} --out DIR`"
    if not run_dir.is_dir():
        raise ConfigError(f"{run_dir}: no such folder; {train}")
    if not (run_dir / CHECKPOINT).is_file():
        raise ConfigError(f"{run_dir} holds no {CHECKPOINT}, so no trained network; {train}")
    try:
        layers = RunResult.from_dict(json.loads((run_dir / REPORT).read_text(encoding="utf-8"))).network.layers
    except FileNotFoundError:
        raise ConfigError(f"{run_dir} holds no {REPORT}: the run did not finish; finish it with "
                          f"`python -m emulator run WORKLOAD --chip CHIP --resume {run_dir}`") from None
    except ValueError as exc:
        raise ConfigError(f"{run_dir}: {REPORT} is damaged or not a report of this emulator ({exc})") from None
    state, weights, biases = read_checkpoint(run_dir, len(layers) - 1, option=command)
    workload = saved_workload(state["identity"], state["epoch"], run_dir)
    network = Network(weights, biases, theta=workload.eqprop.theta, damping=workload.eqprop.damping)
    trained_on = load_chip(resolve("chips", state["identity"]["chip"]))
    saved = state["identity"].get("chip_parameters", trained_on.parameters)
    trained_on = replace(trained_on, parameters=get_backend(trained_on.backend).upgrade(saved))
    return TrainedRun(run_dir, workload, trained_on, network, state["epoch"])
