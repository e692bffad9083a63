"""What a worker does with one point: the run, in a folder of its own, handed back as files.

:func:`run_point` is a pure function of its :class:`Task` (and, for a naive point, of the
reference run's checkpoint): it trains (or deploys) in a fresh temporary folder and returns
the run folder's files, so a worker needs no file system shared with the machine that
collects them, and an attempt killed half-way leaves nothing the next attempt could trip on.
A point that raises returns its error instead; the sweep goes on.

A point runs its matrix products on one BLAS thread, as Dask's worker processes do: how many
threads add up a product changes its last bits, and a sweep's results must not depend on where
its points ran.
"""
from __future__ import annotations

import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from threadpoolctl import threadpool_limits

from emulator.chip import Chip
from emulator.datasets import Dataset
from emulator.network import Network
from emulator.report import write_report
from emulator.tasks.checkpoint import CHECKPOINT, TrainedRun, read_checkpoint
from emulator.tasks.classification import Run, evaluate_trained, load_data
from emulator.workload import DatasetSpec, Workload, check_against_dataset


@dataclass(frozen=True)
class Task:
    """A point as a worker runs it.

    Attributes
    ----------
    workload, chip : Workload, Chip
        Loaded and validated where the sweep was planned, so a worker needs neither file.
    trained_on : Chip or None
        For a naive point, the chip the deployed network was trained on; None for a point that trains.
    trained_folder : str or None
        For a naive point, the reference run's folder, as its report names it.
    """

    workload: Workload = field(repr=False)
    chip: Chip = field(repr=False)
    trained_on: Chip | None = field(default=None, repr=False)
    trained_folder: str | None = None


@dataclass(frozen=True)
class Outcome:
    """What became of a point.

    Attributes
    ----------
    files : dict of str to bytes
        The run folder's files (report.json, report.md, figures, checkpoint.npz); empty if it failed.
    error : str or None
        The error of a failed point, one line.
    details : str or None
        The traceback of a failed point.
    wall_s : float
        Host time the attempt took, s.
    """

    files: dict[str, bytes] = field(repr=False)
    error: str | None = None
    details: str | None = field(default=None, repr=False)
    wall_s: float = 0.0

    @property
    def done(self) -> bool:
        return self.error is None


class DatasetCache:
    """The datasets a process has loaded, by their settings: a worker loads each one once and reuses
    it for every point that asks for it. Holds the last ``size`` (Fashion-MNIST's arrays are large)."""

    def __init__(self, size: int = 2):
        self.size, self.loaded = size, {}

    def get(self, workload: Workload) -> Dataset:
        """The dataset of ``workload``, checked against its network's input and output layers."""
        key: DatasetSpec = workload.dataset
        if key in self.loaded:
            data = self.loaded.pop(key)
            check_against_dataset(workload, data.n_features, data.n_classes, key.name)
        else:
            data = load_data(workload)
        self.loaded[key] = data  # the most recently used last
        while len(self.loaded) > self.size:
            del self.loaded[next(iter(self.loaded))]
        return data


#: this process's datasets (each Dask worker process has its own)
DATASETS = DatasetCache()


def run_point(task: Task, trained: Outcome | None = None) -> Outcome:
    """Run one point in a temporary folder and return the folder's files, or the error it raised.

    Parameters
    ----------
    task : Task
    trained : Outcome, optional
        For a naive point, the reference run (only its checkpoint is read).
    """
    start = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory(prefix="emulator-point-") as tmp, threadpool_limits(1, user_api="blas"):
            folder = Path(tmp) / "run"
            data = DATASETS.get(task.workload)
            if task.trained_on is None:
                run = Run(task.workload, task.chip, folder, data=data)
                run.train(progress=False)
                result = run.result(time.perf_counter() - start, progress=False)
            else:
                network = _trained(task, trained, Path(tmp) / "trained")
                result = evaluate_trained(network, task.chip, folder, progress=False, data=data)
            write_report(result, folder)
            return Outcome({p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()},
                           wall_s=time.perf_counter() - start)
    except Exception as exc:  # noqa: BLE001 - a point's failure is recorded, and the sweep goes on
        line = " ".join(str(exc).split()) or type(exc).__name__
        return Outcome({}, error=f"{type(exc).__name__}: {line}", details=traceback.format_exc(),
                       wall_s=time.perf_counter() - start)


def _trained(task: Task, trained: Outcome | None, folder: Path) -> TrainedRun:
    """The reference run of a naive point, from its checkpoint's bytes."""
    if trained is None or not trained.done:
        why = trained.error if trained is not None else "it did not run"
        raise RuntimeError(f"the network to deploy, trained on {task.trained_on.name}, is missing ({why})")
    folder.mkdir()
    (folder / CHECKPOINT).write_bytes(trained.files[CHECKPOINT])
    checkpoint = read_checkpoint(folder, option="sweep")
    eqprop = task.workload.eqprop
    network = Network(checkpoint.weights, checkpoint.biases, theta=eqprop.theta, damping=eqprop.damping,
                      spiking=task.workload.spiking)
    return TrainedRun(Path(task.trained_folder), task.workload, task.trained_on, network, checkpoint.state.epoch)
