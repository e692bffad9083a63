"""Sweep files: workloads run on chips with some of their keys varied, over several seeds.

A sweep file (in ``workloads/sweeps/``, found by name as workloads and chips are) reads::

    name: theta
    description: accuracy and energy against the lazy threshold
    workloads: [digits_snn, {workload: fashion_mnist_snn, set: {dataset.n_train: 10000}}]
    chips: [digital, {chip: crossbar-pcm, chip_set: {parameters.forward.adc_bits: 6}}]
    seeds: [0, 1, 2]                  # values of each workload's training.seed (default: its own)
    set: {training.epochs: 5}         # workload keys for every point, as --set gives them
    chip_set: {}                      # chip keys for every point, as --chip-set gives them
    vary:                             # a block, or a list of blocks whose points add up
      combine: grid                   # grid, zip, or random (with samples and seed)
      set: {eqprop.theta: [0, 0.01, 0.02]}
      chip_set: {}
    deployment: [in_the_loop]         # and/or naive: trained on naive_from, programmed once
    naive_from: digital
    plot: [test_accuracy, energy_per_inference_j]

:func:`load_sweep` validates a file as workload files are validated, with one error naming
file, line and key; :func:`command_line_sweep` builds the same from ``sweep WORKLOAD --chips
... --grid KEY=V1,V2`` options, whose errors name the option. The workload and chip keys are
checked later, point by point, when :mod:`emulator.sweep.points` loads them.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml

from emulator.errors import ConfigError
from emulator.schema import Path_, Source, build, fail, load_yaml, parse_yaml, spec
from emulator.sweep.metrics import DEFAULT_PLOT, LIPSCHITZ, METRICS

#: how a point is trained: on its own chip, or on ``naive_from`` and programmed once onto its chip
DEPLOYMENTS = ("in_the_loop", "naive")
#: the two kinds of overridden keys, named as the options that set them
OPTIONS = ("set", "chip_set")


@dataclass(frozen=True, kw_only=True)
class WorkloadEntry:
    workload: str = spec("workload name (in workloads/) or YAML path")
    set: dict = spec("key.path: value overrides of this workload, for each of its points", default={})


@dataclass(frozen=True, kw_only=True)
class ChipEntry:
    chip: str = spec("chip name (in chips/) or YAML path")
    chip_set: dict = spec("key.path: value overrides of this chip, for each of its points", default={})


@dataclass(frozen=True, kw_only=True)
class Vary:
    combine: Literal["grid", "zip", "random"] = spec(
        "grid: every combination of the values; zip: the i-th values of every key together; random: "
        "`samples` combinations of the grid drawn with `seed`", default="grid")
    set: dict = spec("workload key.path: the list of its values", default={})
    chip_set: dict = spec("chip key.path: the list of its values", default={})
    samples: int | None = spec("random: how many combinations of the grid to draw", default=None, ge=1)
    seed: int = spec("random: seed of the draw", default=0, ge=0)


@dataclass(frozen=True, kw_only=True)
class SweepSpec:
    name: str = spec("sweep name used in its report")
    description: str = spec("one line: what the sweep measures", default="")
    workloads: list[WorkloadEntry] = spec("the workloads: names, or {workload: NAME, set: {key.path: value}}",
                                          min_len=1)
    chips: list[ChipEntry] = spec("the chips: names, or {chip: NAME, chip_set: {key.path: value}}", min_len=1)
    seeds: list[int] | None = spec("values of each workload's training.seed; null: the workload's own",
                                   default=None, ge=0, min_len=1)
    set: dict = spec("key.path: value overrides of every workload", default={})
    chip_set: dict = spec("key.path: value overrides of every chip", default={})
    vary: list[Vary] = spec("the keys to vary: a block, or a list of blocks whose points add up", default=[])
    deployment: list[Literal[DEPLOYMENTS]] = spec(
        "in_the_loop: train on the point's chip; naive: train on naive_from, program the network once onto "
        "the point's chip and evaluate it there", default=["in_the_loop"], min_len=1)
    naive_from: str = spec("chip that trains the networks of naive points", default="digital")
    plot: list[Literal[(*METRICS, LIPSCHITZ)]] = spec("metrics drawn against each varied key",
                                                      default=list(DEFAULT_PLOT))
    origin: Source | None = field(default=None, compare=False, repr=False, metadata={"internal": True})

    def where(self, *path) -> str:
        """``file:line`` (or the command-line option) of a key path, for error messages."""
        return self.origin.where(tuple(path)) if self.origin else self.name


class OptionSource(Source):
    """Where the parts of a sweep given by command-line options came from: each key path names
    the option that gave it."""

    def __init__(self, options: dict[Path_, str]):
        super().__init__("the command line")
        self.options = options

    def where(self, path: Path_) -> str:
        for n in range(len(path), -1, -1):
            if path[:n] in self.options:
                return self.options[path[:n]]
        return self.name


def load_sweep(path: str | Path) -> SweepSpec:
    """Load and validate a sweep file; one :class:`ConfigError` naming file, line and key otherwise."""
    data, source = load_yaml(path)
    return _built(data, source)


def command_line_sweep(workloads: str, chips: str, grid: list[str] = (), chip_grid: list[str] = (),
                       seeds: str | None = None) -> SweepSpec:
    """The sweep of ``sweep WORKLOAD[,WORKLOAD] --chips A,B --grid KEY=V1,V2 --chip-grid KEY=V1,V2
    --seeds 0,1``: a grid of the ``--grid`` (workload) and ``--chip-grid`` (chip) keys."""
    options: dict[Path_, str] = {(): f"sweep {workloads}", ("chips",): f"--chips {chips}"}
    data: dict[str, Any] = {"name": workloads.replace(",", "+"), "workloads": _names(workloads, "WORKLOAD"),
                            "chips": _names(chips, "--chips")}
    if seeds is not None:
        data["seeds"] = _values(seeds, f"--seeds {seeds}")
        options[("seeds",)] = f"--seeds {seeds}"
    block: dict[str, dict] = {"set": {}, "chip_set": {}}
    for option, items in (("set", grid), ("chip_set", chip_grid)):
        flag = "--grid" if option == "set" else "--chip-grid"
        for item in items:
            key, sep, text = item.partition("=")
            if not sep or not key.strip():
                raise ConfigError(f"{flag} {item!r}: expected key.path=value,value,..., e.g. "
                                  + ("--grid eqprop.theta=0,0.01" if option == "set"
                                     else "--chip-grid parameters.forward.adc_bits=4,6,8"))
            if key.strip() in block[option]:
                raise ConfigError(f"{flag} {item}: {key.strip()} is given twice; give all its values in one {flag}")
            block[option][key.strip()] = _values(text, f"{flag} {item}")
            options[("vary", 0, option, key.strip())] = f"{flag} {item}"
    if block["set"] or block["chip_set"]:
        data["vary"] = [block]
    return _built(data, OptionSource(options))


def _names(text: str, option: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise ConfigError(f"{option} {text!r}: give at least one name")
    return names


def _values(text: str, option: str) -> list:
    """A comma-separated list of YAML values (``0,0.01``, ``null,8``, ``{model: none},{model: constant,
    std: 0.1}``)."""
    try:
        values = parse_yaml(f"[{text}]")
    except yaml.YAMLError:
        raise ConfigError(f"{option}: the values are not a valid YAML list; separate them with commas, "
                          "e.g. 0,0.01,0.02") from None
    if not values:
        raise ConfigError(f"{option}: give at least one value")
    return values


def _built(data: dict, source: Source) -> SweepSpec:
    """The validated sweep of a parsed mapping: short forms expanded, then the schema, then the
    checks a schema cannot state."""
    data = dict(data)
    for key, entry in (("workloads", "workload"), ("chips", "chip")):
        if isinstance(data.get(key), list):
            data[key] = [{entry: item} if isinstance(item, str) else item for item in data[key]]
    if isinstance(data.get("vary"), dict):
        data["vary"] = [data["vary"]]
        source.lines.update({("vary", 0) + path[1:]: line for path, line in list(source.lines.items())
                             if path[:1] == ("vary",)})
    sweep = build(SweepSpec, data, source)
    object.__setattr__(sweep, "origin", source)
    _check(sweep, source)
    return sweep


def _check(sweep: SweepSpec, source: Source):
    for option in OPTIONS:
        _check_keys(getattr(sweep, option), source, (option,))
    for key, entry in (("workloads", "workload"), ("chips", "chip")):
        seen = set()
        for i, item in enumerate(getattr(sweep, key)):
            name = getattr(item, entry)
            if name in seen:
                fail(source, (key, i), f"{name} is listed twice; list it once and vary its keys under vary")
            seen.add(name)
            _check_keys(getattr(item, "set" if entry == "workload" else "chip_set"), source,
                        (key, i, "set" if entry == "workload" else "chip_set"))
    for i, block in enumerate(sweep.vary):
        _check_block(block, source, ("vary", i))
        if sweep.seeds is not None and "training.seed" in block.set:
            fail(source, ("vary", i, "set", "training.seed"), "the seeds are varied by `seeds`; "
                                                               "list the values there")


def _check_keys(overrides: dict, source: Source, path: Path_):
    for key in overrides:
        if not isinstance(key, str) or not key.strip():
            fail(source, path + (str(key),), "must be a key path such as training.epochs")


def _check_block(block: Vary, source: Source, path: Path_):
    lengths = {}
    for option in OPTIONS:
        values = getattr(block, option)
        _check_keys(values, source, path + (option,))
        for key, value in values.items():
            if not isinstance(value, list) or not value:
                fail(source, path + (option, key),
                     f"must be a list of the values to run, e.g. [0, 0.01], got {value!r}")
            lengths[key] = len(value)
    if not lengths:
        fail(source, path, "varies nothing; give the values of at least one key under set or chip_set")
    if block.combine == "zip" and len(set(lengths.values())) > 1:
        fail(source, path + ("combine",), "zip takes the i-th value of every key, so every list needs as many "
             "values; they have " + ", ".join(f"{key}: {n}" for key, n in lengths.items()))
    if block.combine != "random" and block.samples is not None:
        fail(source, path + ("samples",), f"samples is for combine: random; this block combines by {block.combine}")
    if block.combine == "random":
        grid = int(np.prod(list(lengths.values())))
        if block.samples is None:
            fail(source, path + ("samples",), f"missing; random draws that many of the {grid} combinations of the grid")
        if block.samples > grid:
            fail(source, path + ("samples",), f"must be <= {grid}, the combinations of the grid, got {block.samples}")


def combinations(block: Vary) -> list[dict[str, dict]]:
    """The settings of a vary block, in order: ``[{"set": {key: value}, "chip_set": {key: value}}, ...]``.

    ``grid`` varies the last key fastest; ``zip`` takes the i-th value of every key; ``random``
    draws ``samples`` grid combinations without replacement (``numpy.random.default_rng(seed)``)
    and keeps them in grid order.
    """
    keys = [(option, key) for option in OPTIONS for key in getattr(block, option)]
    columns = [getattr(block, option)[key] for option, key in keys]
    rows = list(zip(*columns)) if block.combine == "zip" else list(itertools.product(*columns))
    if block.combine == "random":
        chosen = np.random.default_rng(block.seed).choice(len(rows), size=block.samples, replace=False)
        rows = [rows[i] for i in sorted(chosen)]
    return [{option: {key: value for (o, key), value in zip(keys, row) if o == option} for option in OPTIONS}
            for row in rows]
