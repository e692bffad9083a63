"""Run folders: the checkpoint of finished epochs, and finished runs read back.

A run folder holds ``checkpoint.npz`` (the network after the last finished epoch, and the run's
:class:`State`: its identity, i.e. workload settings, chip and chip parameters, and its progress)
and, once the run has finished, ``report.json``. ``--resume`` continues from
:func:`read_checkpoint`; ``evaluate`` and ``deploy`` read a finished run back with
:func:`load_trained`. What is read is checked as a workload file is: the state against its
schema, the arrays against the layers the state names, the report against the checkpoint. A
damaged or foreign file is one error naming the file, the entry and what to do, never a crash or
a truncated network.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from emulator.catalog import resolve
from emulator.chip import Chip, get_backend, load_chip
from emulator.counters import Counters
from emulator.errors import ConfigError
from emulator.files import DAMAGED_ARRAYS, write_arrays
from emulator.network import Network
from emulator.results import REPORT, EpochRecord, RunResult
from emulator.schema import Source, build, fail, spec
from emulator.workload import Workload

CHECKPOINT = "checkpoint.npz"
#: the entry of the checkpoint that holds the :class:`State`, as JSON text
STATE = "state"


@dataclass(frozen=True, kw_only=True)
class Identity:
    """What a checkpoint must match to be resumed."""

    workload: dict = spec("the workload's settings, without its description and training.epochs")
    chip: str = spec("the name of the chip the run trained on")
    chip_parameters: dict | None = spec("the chip's parameters, --chip-set included (absent in early checkpoints)",
                                        default=None)


@dataclass(frozen=True, kw_only=True)
class State:
    """The ``state`` entry of a checkpoint: the run's identity and how far it got."""

    identity: Identity = spec("what the checkpoint must match to be resumed")
    epoch: int = spec("finished epochs", ge=0)
    history: list[dict] = spec("one record per finished epoch")
    training: dict = spec("the training counters so far, by operation")
    n_trained: int = spec("training samples presented so far", ge=0)


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint read back and checked.

    Attributes
    ----------
    state : State
        As saved.
    workload : Workload
        The run's workload, defaults filled in, for ``state.epoch`` epochs.
    history : tuple of EpochRecord
        One per finished epoch, epochs 1 to ``state.epoch``.
    training : Counters
        The training counters so far.
    weights, biases : tuple of ndarray
        The network's parameters, shaped as :class:`~emulator.network.Network`'s for
        ``workload.network.layers``, all finite.
    """

    state: State
    workload: Workload
    history: tuple[EpochRecord, ...]
    training: Counters
    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]

    @property
    def epoch(self) -> int:
        return self.state.epoch


def write_checkpoint(run_dir: Path, state: dict, network: Network) -> Path:
    """Write ``state`` (the JSON-ready :class:`State` of a run) and ``network``'s parameters to
    ``run_dir/checkpoint.npz``, atomically; returns its path."""
    arrays = {f"w{k}": w for k, w in enumerate(network.weights)} | {f"b{k}": b for k, b in enumerate(network.biases)}
    return write_arrays(Path(run_dir) / CHECKPOINT, {STATE: np.array(json.dumps(state))} | arrays)


def read_checkpoint(run_dir: Path, option: str = "--resume",
                    remedy: str = "start a new run with another --out") -> Checkpoint:
    """The checkpoint in ``run_dir``, checked.

    Raises
    ------
    ConfigError
        If it is damaged or not a checkpoint of this emulator: one line naming the command-line
        ``option`` that gave the folder, the file, the entry at fault, and ``remedy``.
    """
    try:
        return _checked(_entries(Path(run_dir) / CHECKPOINT))
    except ConfigError as exc:
        raise damaged(run_dir, option, str(exc), remedy) from None


def damaged(run_dir: Path, option: str, problem: str, remedy: str) -> ConfigError:
    """The error of a checkpoint that cannot be used: the ``option`` and folder, the ``problem``, the ``remedy``."""
    return ConfigError(f"{option} {run_dir}: {CHECKPOINT} is damaged or not a checkpoint of this emulator: "
                       f"{problem}; {remedy}")


def _entries(path: Path) -> dict[str, np.ndarray]:
    """Every entry of the ``.npz`` archive at ``path``; ConfigError saying what is wrong with it.

    The file is opened here, not by ``np.load``, so that it is closed whatever the archive holds."""
    try:
        if path.stat().st_size == 0:
            raise ConfigError("it is empty (0 bytes)")
        with open(path, "rb") as file:
            try:
                archive = np.load(file)
            except DAMAGED_ARRAYS:
                raise ConfigError("it is not a NumPy .npz archive") from None
            if not isinstance(archive, np.lib.npyio.NpzFile):
                raise ConfigError("it holds a single array, not a NumPy .npz archive")
            with archive:
                return {name: _entry(archive, name) for name in archive.files}
    except OSError as exc:
        raise ConfigError(f"it cannot be read ({exc.strerror or exc})") from None


def _entry(archive, name: str) -> np.ndarray:
    try:
        return archive[name]
    except (OSError, *DAMAGED_ARRAYS) as exc:
        raise ConfigError(f"entry {name!r} cannot be read ({exc})") from None


def _checked(entries: dict[str, np.ndarray]) -> Checkpoint:
    """The checkpoint of an archive's ``entries``; ConfigError naming the entry at fault."""
    source = Source(f"entry {STATE!r}")
    state = build(State, _state_data(entries), source)
    workload = saved_workload(state.identity.workload, state.epoch, source)
    history = _history(state, source, len(workload.network.layers) - 1)
    training = _counters(state.training, source)
    weights, biases = _parameters(entries, workload.network.layers)
    return Checkpoint(state, workload, history, training, weights, biases)


def _state_data(entries: dict[str, np.ndarray]):
    if STATE not in entries:
        raise ConfigError(f"no entry {STATE!r}")
    text = entries[STATE]
    if text.ndim != 0 or text.dtype.kind != "U":
        raise ConfigError(f"entry {STATE!r} is not text (it holds {text.dtype} values of shape {text.shape})")
    try:
        return json.loads(str(text))
    except ValueError as exc:
        raise ConfigError(f"entry {STATE!r} is not valid JSON ({exc})") from None


def saved_workload(settings: dict, epochs: int, source: Source) -> Workload:
    """The workload of a checkpoint's ``identity.workload`` settings, defaults filled in, for
    ``epochs`` epochs (the identity leaves them out); ConfigError naming the key (from ``source``)
    if this emulator cannot read it."""
    path = ("identity", "workload")
    training = settings.get("training")
    if not isinstance(training, dict):
        fail(source, path + ("training",), f"must be a mapping, got {training!r}")
    return build(Workload, settings | {"training": training | {"epochs": epochs}}, source, path)


def _history(state: State, source: Source, n_weights: int) -> tuple[EpochRecord, ...]:
    """The epoch records, checked: epochs 1 to ``state.epoch``, accuracies in [0, 1], one norm per layer."""
    if len(state.history) != state.epoch:
        fail(source, ("history",), f"has {len(state.history)} records for {state.epoch} finished epochs")
    records = []
    for i, data in enumerate(state.history):
        try:
            record = EpochRecord.from_dict(data)
        except ValueError as exc:
            fail(source, ("history", i), str(exc))
        accuracies = (record.train_accuracy, record.test_accuracy)
        if (record.epoch != i + 1 or not all(isinstance(a, (int, float)) and 0 <= a <= 1 for a in accuracies)
                or len(record.lipschitz) != n_weights):
            fail(source, ("history", i), f"is not the record of epoch {i + 1} of a network of {n_weights} weight "
                 "layers (epoch, accuracies in [0, 1], one lipschitz value per layer)")
        records.append(record)
    return tuple(records)


def _counters(data: dict, source: Source) -> Counters:
    """The training counters: each a count >= 0 or a list of them (per core)."""
    for op, n in data.items():
        counts = n if isinstance(n, list) else [n]
        if not all(isinstance(c, (int, float)) and not isinstance(c, bool) and c >= 0 for c in counts):
            fail(source, ("training", op), f"must be a count >= 0 or a list of counts, got {n!r}")
    return Counters.from_dict(data)


#: the largest magnitude of a weight or bias read back (a divergence stops a training long before it)
MAX_PARAMETER = 1e6


def _parameters(entries: dict[str, np.ndarray], layers: list[int]) -> tuple[tuple, tuple]:
    """The weights ``w0..`` and biases ``b0..`` of a network of ``layers``; ConfigError naming the
    entry that is missing, extra, not floats, of another shape or not finite."""
    shapes = {f"w{k}": (n_out, n_in) for k, (n_in, n_out) in enumerate(zip(layers[:-1], layers[1:]))}
    shapes |= {f"b{k}": (n_out,) for k, n_out in enumerate(layers[1:])}
    network = f"the run's network.layers {list(layers)}"
    missing = [name for name in shapes if name not in entries]
    extra = sorted(set(entries) - set(shapes) - {STATE})
    if missing or extra:
        entry, what = (missing[0], "no entry") if missing else (extra[0], "an entry")
        raise ConfigError(f"{what} {entry!r}, but {network} make the entries {', '.join(shapes)}")
    for name, shape in shapes.items():
        array = entries[name]
        if array.dtype.kind != "f":
            raise ConfigError(f"entry {name!r} holds {array.dtype} values, not floating-point parameters")
        if array.shape != shape:
            raise ConfigError(f"entry {name!r} has shape {array.shape}, but {network} make it {shape}")
        if not np.isfinite(array).all():
            raise ConfigError(f"entry {name!r} holds NaN or infinite values")
        if array.size and np.abs(array).max() > MAX_PARAMETER:
            raise ConfigError(f"entry {name!r} holds a value of magnitude {np.abs(array).max():.3g}, beyond "
                              f"{MAX_PARAMETER:.0e}: no training writes such a parameter (states are in [0, 1])")
    n = len(layers) - 1
    return tuple(entries[f"w{k}"] for k in range(n)), tuple(entries[f"b{k}"] for k in range(n))


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
    (on ``chip``), if there is none, or if its checkpoint or report is damaged or they disagree.

    The chip is the run's chip file with the parameters the run used (``--chip-set`` included).
    """
    train = f"give {command} the folder of a run made with `python -m emulator run WORKLOAD --chip {chip} --out DIR`"
    if not run_dir.is_dir():
        raise ConfigError(f"{run_dir}: no such folder; {train}")
    if not (run_dir / CHECKPOINT).is_file():
        raise ConfigError(f"{run_dir} holds no {CHECKPOINT}, so no trained network; {train}")
    if not (run_dir / REPORT).is_file():
        raise ConfigError(f"{run_dir} holds no {REPORT}: the run did not finish; finish it with "
                          f"`python -m emulator run WORKLOAD --chip CHIP --resume {run_dir}`")
    remedy = f"train the run again, or {train}"
    checkpoint = read_checkpoint(run_dir, command, remedy)
    _check_report(run_dir, checkpoint, command, train)
    try:
        chip = _trained_on(checkpoint.state.identity)
    except ConfigError as exc:
        raise damaged(run_dir, command, str(exc), remedy) from None
    workload = checkpoint.workload
    network = Network(checkpoint.weights, checkpoint.biases, theta=workload.eqprop.theta,
                      damping=workload.eqprop.damping, spiking=workload.spiking)
    return TrainedRun(run_dir, workload, chip, network, checkpoint.epoch)


def _check_report(run_dir: Path, checkpoint: Checkpoint, command: str, train: str):
    """Refuse a ``report.json`` that is damaged or of another run than the checkpoint beside it."""
    try:
        report = RunResult.from_dict(json.loads((run_dir / REPORT).read_text(encoding="utf-8")))
    except OSError as exc:
        raise ConfigError(f"{command} {run_dir}: {REPORT} cannot be read ({exc.strerror})") from None
    except (ValueError, TypeError, AttributeError) as exc:
        raise ConfigError(f"{command} {run_dir}: {REPORT} is damaged or not a report of this emulator ({exc}); "
                          f"write it again with `python -m emulator run WORKLOAD --chip CHIP --resume {run_dir}`") \
            from None
    saved = {"workload": checkpoint.workload.name, "network.layers": list(checkpoint.workload.network.layers),
             "epochs": checkpoint.epoch}
    reported = {"workload": report.workload, "network.layers": list(report.network.layers),
                "epochs": report.metrics.epochs}
    for key in saved:
        if saved[key] != reported[key]:
            raise ConfigError(f"{command} {run_dir}: {REPORT} and {CHECKPOINT} are of different runs ({key}: "
                              f"{reported[key]} in {REPORT}, {saved[key]} in {CHECKPOINT}); {train}")


def _trained_on(identity: Identity) -> Chip:
    """The chip a run trained on: its chip file, with the parameters the run used, checked;
    ConfigError if the chip is unknown here or the parameters do not fit it."""
    try:
        chip = load_chip(resolve("chips", identity.chip))
    except ConfigError as exc:
        raise ConfigError(f"entry {STATE!r}: identity.chip: the run's chip cannot be loaded ({exc})") from None
    if identity.chip_parameters is None:
        return chip
    backend = get_backend(chip.backend)
    used = replace(chip, parameters=backend.upgrade(identity.chip_parameters))
    backend.parameters_of(replace(used, origin=Source(f"entry {STATE!r} (identity.chip_parameters)")))
    return used


def first_difference(a, b, path: tuple = ()) -> tuple[tuple, object, object] | None:
    """The first place where two JSON-like values (nested dicts, lists, numbers, strings) differ:
    ``(key path, value in a, value in b)``, a missing key as None; None if they are equal."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in dict.fromkeys([*a, *b]):
            found = first_difference(a.get(key), b.get(key), path + (key,))
            if found:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            found = first_difference(x, y, path + (i,))
            if found:
                return found
        return None
    return None if a == b else (path, a, b)
