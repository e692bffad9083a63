"""The points of a sweep: every workload x chip x combination of the varied keys x deployment x
seed, each loaded and validated before anything runs.

A point's workload is its file with, in this order (a later value wins), the sweep's ``set``, the
workload entry's ``set``, the command line's ``--set``, the varied keys and ``training.seed``;
its chip likewise with ``chip_set``. Values from a sweep file are checked exactly as ``--set``
and ``--chip-set`` values are, and an error names the file and line that gave the value.

A naive point deploys the network of a *reference*: the same workload and seed trained on the
``naive_from`` chip (with its entry's and the sweep's ``chip_set`` if it is one of the sweep's
chips, as its file has it otherwise). References are points too, listed before the first point
that needs them, and shared with the in-the-loop point they coincide with.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emulator.catalog import resolve
from emulator.chip import Chip, load_chip, model_mismatch
from emulator.errors import ConfigError
from emulator.report.format import json_text
from emulator.schema import Override
from emulator.sweep.spec import SweepSpec, combinations
from emulator.workload import Workload, load_workload


@dataclass(frozen=True)
class Point:
    """One run of a sweep, as ``sweep.json`` names it.

    Attributes
    ----------
    workload, chip : str
        The names of the workload and of the chip (for a naive point, the chip it is deployed on).
    deployment : str
        ``in_the_loop`` (trained on ``chip``) or ``naive`` (trained on the reference's chip).
    seed : int
        The workload's ``training.seed``.
    set, chip_set : dict
        The values of the varied workload and chip keys (key path -> value).
    """

    workload: str
    chip: str
    deployment: str
    seed: int
    set: dict = field(default_factory=dict)
    chip_set: dict = field(default_factory=dict)

    def identity(self) -> dict[str, Any]:
        """The point as JSON-ready data: what makes it this point."""
        return {"workload": self.workload, "chip": self.chip, "deployment": self.deployment, "seed": self.seed,
                "set": self.set, "chip_set": self.chip_set}

    @property
    def folder(self) -> str:
        """The point's run folder, below the sweep's ``points/``: ``<workload>-<chip>[-naive]-seed<S>``
        and, if keys are varied, a digest of their values."""
        name = f"{self.workload}-{self.chip}{'-naive' if self.deployment == 'naive' else ''}-seed{self.seed}"
        if self.set or self.chip_set:
            settings = json_text({"set": self.set, "chip_set": self.chip_set}).encode()
            name += "-" + hashlib.sha256(settings).hexdigest()[:8]
        return name


@dataclass(frozen=True)
class PlannedPoint:
    """A point, loaded: its workload and chip as it runs them, and the index of the reference whose
    network a naive point deploys (None for an in-the-loop point)."""

    point: Point
    workload: Workload = field(repr=False)
    chip: Chip = field(repr=False)
    reference: int | None = None


@dataclass(frozen=True)
class Plan:
    """A sweep's points, validated, and what they share."""

    spec: SweepSpec
    points: tuple[PlannedPoint, ...]
    #: the overrides every point shares, for sweep.json (a resumed sweep must have the same)
    fixed: dict[str, Any]


@dataclass(frozen=True)
class _Entry:
    """A workload or chip of the sweep: its file and its fixed overrides, in the order they apply."""

    path: Path
    overrides: list


def plan(sweep: SweepSpec, extra_set: list[str] = (), extra_chip_set: list[str] = ()) -> Plan:
    """Load and check every point of ``sweep``; ``extra_set`` and ``extra_chip_set`` are the command
    line's ``--set`` and ``--chip-set`` options, applied to every point.

    Raises
    ------
    ConfigError
        Naming the sweep file's (or the option's) place of the first value that does not load.
    """
    workloads = [_entry(sweep, "workloads", i, e.workload, e.set, sweep.set, extra_set)
                 for i, e in enumerate(sweep.workloads)]
    chips = [_entry(sweep, "chips", i, e.chip, e.chip_set, sweep.chip_set, extra_chip_set)
             for i, e in enumerate(sweep.chips)]
    reference_chip = _reference_chip(sweep, chips)
    points: list[PlannedPoint] = []
    index: dict[str, int] = {}
    names: dict[tuple[str, str], Path] = {}

    def add(planned: PlannedPoint) -> int:
        folder = planned.point.folder
        if folder not in index:
            index[folder] = len(points)
            points.append(planned)
        return index[folder]

    def named(kind: str, loaded: Workload | Chip, entry: _Entry):
        """``loaded``, once no other entry of the sweep loads with its name (their points would share folders)."""
        other = names.setdefault((kind, loaded.name), entry.path)
        if other != entry.path:
            raise ConfigError(f"{sweep.where(kind)}: {kind}: {other} and {entry.path} are both named "
                              f"{loaded.name!r}; give them different names")
        return loaded

    loaded_chips: dict[tuple[int, str], Chip] = {}  # a chip depends only on its entry and the varied chip keys

    def chip_of(i: int, combo: dict) -> Chip:
        key = (i, json_text(combo["chip_set"]))
        if key not in loaded_chips:
            chip = load_chip(chips[i].path, chips[i].overrides + _overrides(sweep, combo, "chip_set"))
            loaded_chips[key] = named("chips", chip, chips[i])
        return loaded_chips[key]

    for w_entry in workloads:
        for combo in _combinations(sweep):
            on_chips = [chip_of(i, combo) for i in range(len(chips))]
            for seed in sweep.seeds or [None]:
                workload = named("workloads", _load_workload(sweep, w_entry, combo, seed), w_entry)
                for chip in on_chips:
                    for deployment in sweep.deployment:
                        point = Point(workload.name, chip.name, deployment, workload.training.seed,
                                      combo["set"], combo["chip_set"])
                        if deployment == "in_the_loop":
                            add(PlannedPoint(point, workload, chip))
                        elif chip.name != reference_chip.name:  # deploying onto the chip it trained on tests nothing
                            _check_same_model(sweep, reference_chip, chip)
                            ref = Point(workload.name, reference_chip.name, "in_the_loop", workload.training.seed,
                                        combo["set"], {})
                            add(PlannedPoint(point, workload, chip, add(PlannedPoint(ref, workload, reference_chip))))
    fixed = {"set": sweep.set, "chip_set": sweep.chip_set,
             "command_line": {"set": list(extra_set), "chip_set": list(extra_chip_set)},
             "workloads": [{"workload": e.workload, "set": e.set} for e in sweep.workloads],
             "chips": [{"chip": e.chip, "chip_set": e.chip_set} for e in sweep.chips],
             "naive_from": sweep.naive_from if reference_chip else None}
    return Plan(sweep, tuple(points), json.loads(json_text(fixed)))


def _entry(sweep: SweepSpec, kind: str, i: int, name: str, own: dict, common: dict, extra: list[str]) -> _Entry:
    """A workload or chip of the sweep, resolved, with the sweep's, its own and the command line's overrides."""
    option = "set" if kind == "workloads" else "chip_set"
    try:
        path = resolve(kind, name)
    except ConfigError as exc:
        raise ConfigError(f"{sweep.where(kind, i)}: {kind}[{i}]: {exc}") from None
    overrides = ([Override(k, v, sweep.where(option, k)) for k, v in common.items()]
                 + [Override(k, v, sweep.where(kind, i, option, k)) for k, v in own.items()] + list(extra))
    return _Entry(path, overrides)


def _combinations(sweep: SweepSpec) -> list[dict]:
    """Every block's combinations, in order, each once (a block repeating another's is dropped), with
    the index of its ``block``."""
    combos, seen = [], set()
    for i, block in enumerate(sweep.vary):
        for combo in combinations(block):
            text = json_text(combo)
            if text not in seen:
                seen.add(text)
                combos.append(combo | {"block": i})
    return combos or [{"set": {}, "chip_set": {}, "block": None}]


def _overrides(sweep: SweepSpec, combo: dict, option: str) -> list[Override]:
    """The varied values of ``combo`` as overrides naming the line of the sweep that lists each."""
    overrides = []
    for key, value in combo[option].items():
        values = getattr(sweep.vary[combo["block"]], option)[key]
        item = next(j for j, v in enumerate(values) if v is value)  # combinations() hands out the listed objects
        overrides.append(Override(key, value, sweep.where("vary", combo["block"], option, key, item)))
    return overrides


def _load_workload(sweep: SweepSpec, entry: _Entry, combo: dict, seed: int | None) -> Workload:
    seeds = [] if seed is None else [Override("training.seed", seed, sweep.where("seeds", sweep.seeds.index(seed)))]
    workload = load_workload(entry.path, entry.overrides + _overrides(sweep, combo, "set") + seeds)
    if workload.kind != "classification":
        raise ConfigError(f"{entry.path}: {workload.name} is a {workload.kind} workload; sweeps train and "
                          "evaluate classification workloads")
    return workload


def _check_same_model(sweep: SweepSpec, reference: Chip, chip: Chip) -> None:
    """ConfigError, naming ``naive_from``'s line, if ``chip`` relaxes another model than ``reference`` trains for."""
    mismatch = model_mismatch(reference, chip)
    if mismatch:
        raise ConfigError(f"{sweep.where('naive_from')}: naive_from: {mismatch}, so a network deployed there means "
                          f"something else; sweep {chip.name} with deployment in_the_loop only, in a sweep of its own")


def _reference_chip(sweep: SweepSpec, chips: list[_Entry]) -> Chip | None:
    """The chip that trains the networks naive points deploy (None if the sweep has no naive points)."""
    if "naive" not in sweep.deployment:
        return None
    try:
        path = resolve("chips", sweep.naive_from)
    except ConfigError as exc:
        raise ConfigError(f"{sweep.where('naive_from')}: naive_from: {exc}") from None
    listed = next((c for c in chips if c.path.resolve() == path.resolve()), None)
    return load_chip(path, listed.overrides if listed else [])

