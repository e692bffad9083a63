"""Chip files (``chips/*.yaml``) and the registry of back-ends that run them.

A chip is data: the back-end family that emulates it, that family's parameters, and an energy
and time table with one entry per operation the back-end counts, each with its ``source``.
A variant says ``extends: other-chip`` and states only what differs (see :func:`read_chip_file`).
A back-end is code, found by family name among the built-ins and the ``emulator.backends``
entry-point group (how a third-party package plugs in a new family).
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path

from emulator import catalog
from emulator.errors import ConfigError
from emulator.schema import (LINE_CHARS, NAME_CHARS, OverriddenSource, Source, apply_overrides, build, extend, fail,
                             load_yaml, shown, spec)

ENTRY_POINT_GROUP = "emulator.backends"
BUILTIN_BACKENDS = {"digital": "emulator.backends.digital:DigitalBackend",
                    "loihi": "emulator.backends.loihi:LoihiBackend",
                    "crossbar": "emulator.backends.crossbar:CrossbarBackend",
                    "oim": "emulator.backends.oim:OimBackend",
                    "snn": "emulator.backends.snn:SnnBackend"}

UNITS = {
    "energy": {"fJ": 1e-15, "pJ": 1e-12, "nJ": 1e-9, "uJ": 1e-6, "µJ": 1e-6, "mJ": 1e-3, "J": 1.0},
    "time": {"ps": 1e-12, "ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0},
    "power": {"nW": 1e-9, "uW": 1e-6, "µW": 1e-6, "mW": 1e-3, "W": 1.0},
}
#: largest constant of each kind, in the SI unit of :data:`UNITS` (the one of factor 1), and why no chip
#: comes near it: the energies and times of an operation, the static power
CEILINGS = {
    "energy": (10.0, "ten joules per operation are ten billion DRAM accesses of about 1 nJ"),
    "time": (10.0, "ten seconds per operation are ten million PCM cell writes of about 1 us"),
    "power": (1e3, "a kilowatt is a rack of chips"),
}


@dataclass(frozen=True, kw_only=True)
class Constant:
    """A physical constant with its unit and where it comes from."""

    value: float = spec("the number, in `unit`", ge=0)
    unit: str = spec("unit of value")
    source: str = spec("paper, year and table; or 'assumed: why' or 'derived: how'", max_len=2000)

    def si(self, kind: str) -> float:
        return self.value * UNITS[kind][self.unit]


@dataclass(frozen=True, kw_only=True)
class Chip:
    name: str = spec("chip name used on the command line, in reports and run folders", min_len=1,
                     max_len=NAME_CHARS)
    backend: str = spec("back-end family that emulates it")
    energy: dict[str, Constant] = spec("energy per counted operation")
    time: dict[str, Constant] = spec("time per counted operation")
    static_power: Constant = spec("static (leakage) power while the workload runs")
    description: str = spec("one line shown by `emulator chips`", default="", max_len=LINE_CHARS)
    parameters: dict = spec("back-end parameters", default={})
    origin: Source | None = field(default=None, compare=False, repr=False, metadata={"internal": True})

    def where(self, *path) -> str:
        return self.origin.where(tuple(path)) if self.origin else self.name

    def energy_per_op(self) -> dict[str, float]:
        """Joules per operation."""
        return {op: c.si("energy") for op, c in self.energy.items()}

    def time_per_op(self) -> dict[str, float]:
        """Seconds per operation."""
        return {op: c.si("time") for op, c in self.time.items()}


def load_chip(path: str | Path, overrides: list[str] = ()) -> Chip:
    """Load a chip file, with ``key.path=value`` overrides (``--chip-set``) applied; check its units
    and that its tables cover exactly what its back-end counts."""
    data, source = read_chip_file(Path(path))
    if overrides:
        data, origin = apply_overrides(data, list(overrides), option="--chip-set")
        source = OverriddenSource(source, origin)
    chip = build(Chip, data, source)
    object.__setattr__(chip, "origin", source)
    backend = get_backend(chip.backend, where=f"{source.where(('backend',))}: backend")
    for table, kind in (("energy", "energy"), ("time", "time")):
        entries = getattr(chip, table)
        for op, constant in entries.items():
            if op not in backend.ops:
                fail(source, (table, op), f"back-end {chip.backend!r} counts no such operation; "
                                          f"it counts: {', '.join(backend.ops)}")
            _check_constant(constant, kind, source, (table, op))
        for op in backend.ops:
            if op not in entries:
                fail(source, (table,), f"no entry for {op!r}, which back-end {chip.backend!r} counts; "
                                       f"add it with value, unit and source (it counts: {', '.join(backend.ops)})")
    _check_constant(chip.static_power, "power", source, ("static_power",))
    backend.parameters_of(chip)  # validates the back-end parameters now, with file and line
    return chip


def read_chip_file(path: Path, extended_by: tuple[Path, ...] = ()) -> tuple[dict, Source]:
    """A chip file's mapping, merged over the chip it ``extends:`` (recursively), and its source.

    ``extends`` names a chip as ``--chip`` does (:func:`emulator.catalog.resolve`), or, ending in
    ``.yaml``, a file relative to the extending one. The child is deep-merged over the parent
    (:func:`emulator.schema.extend`); an error names the file and line each key came from.
    ``extended_by``: the files below this one in the chain, to report a cycle.
    """
    data, source = load_yaml(path)
    if "extends" not in data:
        return data, source
    name = data.pop("extends")
    if not isinstance(name, str):
        fail(source, ("extends",), f"must be a chip name or a path to a YAML file, got {shown(name)}")
    if "name" not in data:
        fail(source, (), f"a chip that extends {name!r} needs its own name; add `name: {path.stem}`")
    try:
        parent = catalog.resolve("chips", str(path.parent / name) if name.endswith((".yaml", ".yml")) else name)
    except ConfigError as exc:
        fail(source, ("extends",), str(exc))
    chain = (*extended_by, path)
    if parent.resolve() in [p.resolve() for p in chain]:
        cycle = [str(p) for p in chain[[p.resolve() for p in chain].index(parent.resolve()):]] + [str(parent)]
        fail(source, ("extends",), f"the chip files extend each other in a cycle: {' -> '.join(cycle)}; "
                                   "let one of them state its parameters instead")
    return extend(*read_chip_file(parent, chain), data, source)


def _check_constant(constant: Constant, kind: str, source: Source, path):
    """A known unit of ``kind``, a value below its ceiling (:data:`CEILINGS`), a source."""
    if constant.unit not in UNITS[kind]:
        fail(source, path + ("unit",), f"unknown {kind} unit {shown(constant.unit)}; use one of "
                                       f"{', '.join(UNITS[kind])}")
    ceiling, reason = CEILINGS[kind]
    if constant.si(kind) > ceiling:
        si_unit = next(unit for unit, factor in UNITS[kind].items() if factor == 1.0)
        fail(source, path + ("value",), f"{constant.value:g} {constant.unit} is more than {ceiling:g} {si_unit} "
                                        f"({reason}); check the value and its unit")
    if not constant.source.strip():
        fail(source, path + ("source",), "must say where the number comes from")


def backend_names() -> dict[str, str]:
    """Back-end family name -> 'module:Class', built-ins first, then plug-ins."""
    names = dict(BUILTIN_BACKENDS)
    names.update({ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)})
    return names


def get_backend(family: str, where: str = ""):
    """An instance of the back-end of ``family``; ConfigError listing the known families otherwise."""
    names = backend_names()
    if family not in names:
        prefix = f"{where}: " if where else ""
        raise ConfigError(f"{prefix}unknown back-end family {shown(family)}; known: {', '.join(sorted(names))} "
                          f"(a plug-in registers one in the {ENTRY_POINT_GROUP!r} entry-point group)")
    module, _, attr = names[family].partition(":")
    return getattr(importlib.import_module(module), attr)()


def model_mismatch(trained_on: Chip, chip: Chip) -> str | None:
    """Why a network trained on ``trained_on`` means something else on ``chip`` (their families relax
    different models: ``Backend.model``), in words; None if it means the same."""
    there, here = get_backend(trained_on.backend).model, get_backend(chip.backend).model
    if there == here:
        return None
    return f"{trained_on.name} trains networks for {there}, but {chip.name} relaxes {here}"


def deploy_targets() -> dict[str, list[str]]:
    """Deploy target -> the back-end families whose trained networks deploy to it."""
    targets: dict[str, list[str]] = {}
    for family in backend_names():
        for target in get_backend(family).deploy_targets:
            targets.setdefault(target, []).append(family)
    return targets
