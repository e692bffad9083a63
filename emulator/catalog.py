"""Finding chips, workloads and sweeps by name.

A name is looked up, first match wins, in:

1. ``chips/``, ``workloads/`` or ``workloads/sweeps/`` of the working directory (a user's own files);
2. the folders plug-in packages declare in the ``emulator.chips``, ``emulator.workloads`` and
   ``emulator.sweeps`` entry-point groups (an entry point names a package whose folder holds the
   YAML files);
3. the files that ship with the emulator: the repository's top-level ``chips/`` and
   ``workloads/`` (sweep files in ``workloads/sweeps/``), installed as ``emulator/data/chips``
   and ``emulator/data/workloads``.

A name may also be a path to a YAML file.
"""
from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from pathlib import Path

from emulator.errors import ConfigError
from emulator.schema import printable, shown

KINDS = ("chips", "workloads", "sweeps")
#: entry-point group of each kind: ``name = package`` whose folder holds that kind's YAML files
ENTRY_POINT_GROUPS = {"chips": "emulator.chips", "workloads": "emulator.workloads", "sweeps": "emulator.sweeps"}
#: the folder of each kind, in a working directory and in the shipped data: sweeps go with the workloads they run
FOLDERS = {"chips": "chips", "workloads": "workloads", "sweeps": "workloads/sweeps"}
#: a kind's name in messages
SINGULAR = {"chips": "chip", "workloads": "workload", "sweeps": "sweep"}
_PACKAGE = Path(__file__).resolve().parent


def shipped_dir(kind: str) -> Path | None:
    """The folder of the ``kind`` files that ship with the emulator: installed package data, or
    the top-level folder of a source checkout (an editable install)."""
    for folder, marker in ((_PACKAGE / "data" / FOLDERS[kind], None),
                           (_PACKAGE.parent / FOLDERS[kind], _PACKAGE.parent / "setup.cfg")):
        if folder.is_dir() and (marker is None or marker.is_file()):
            return folder
    return None


def plugin_dirs(kind: str) -> list[Path]:
    """Folders of ``kind`` files that plug-in packages register; ConfigError naming a broken one."""
    dirs = []
    for ep in entry_points(group=ENTRY_POINT_GROUPS[kind]):
        try:
            module = importlib.import_module(ep.value.partition(":")[0])
        except ImportError as exc:
            raise ConfigError(f"the plug-in entry point {ep.name!r} of group {ENTRY_POINT_GROUPS[kind]!r} names "
                              f"{ep.value!r}, which cannot be imported ({exc}); reinstall or remove that "
                              "plug-in package") from None
        dirs += [Path(p) for p in module.__path__] if hasattr(module, "__path__") else [Path(module.__file__).parent]
    return dirs


def search_dirs(kind: str) -> list[Path]:
    """Folders holding ``kind`` YAML files, in the order names are looked up."""
    dirs = [Path.cwd() / FOLDERS[kind], *plugin_dirs(kind), shipped_dir(kind)]
    return list(dict.fromkeys(d.resolve() for d in dirs if d is not None and d.is_dir()))


def available(kind: str) -> dict[str, Path]:
    """Name -> file of every YAML in the search folders (the first folder wins), sorted by name."""
    found = {}
    for d in reversed(search_dirs(kind)):
        found.update({p.stem: p for p in sorted(d.glob("*.yaml"))})
    return dict(sorted(found.items()))


def resolve(kind: str, name: str) -> Path:
    """A YAML file given as a path or as a name in ``chips/``, ``workloads/`` or ``workloads/sweeps/``."""
    path = Path(name)
    try:
        if path.suffix in (".yaml", ".yml") or path.exists():
            if not path.is_file():
                raise ConfigError(f"{SINGULAR[kind]} file {printable(name, 1000)} " + (
                    "is a folder, not a YAML file" if path.is_dir() else "does not exist"))
            return path
    except OSError as exc:  # e.g. a name longer than a path may be
        raise ConfigError(f"{SINGULAR[kind]} {shown(name)}: {exc.strerror}; give a {SINGULAR[kind]} name or the path to "
                          "its YAML file") from None
    names = available(kind)
    if name not in names:
        raise ConfigError(f"unknown {SINGULAR[kind]} {shown(name)}; known: {', '.join(names) or '(none)'} "
                          f"(or give a path to a YAML file)")
    return names[name]
