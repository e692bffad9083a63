"""A sweep's folder: ``sweep.json`` (one row per point), and one run folder per point in ``points/``.

``sweep.json`` is rewritten, atomically, each time a point finishes, so a sweep that is killed
loses only the points in flight; a point's folder is written before its row says ``done``, its
``report.json`` last. A row reads::

    {"folder": "points/digits_snn-digital-seed0-1a2b3c4d", "workload": "digits_snn", "chip": "digital",
     "deployment": "in_the_loop", "seed": 0, "set": {"eqprop.theta": 0.01}, "chip_set": {},
     "trained_in": null, "status": "done", "metrics": {...}, "wall_s": 12.3, "error": null}

``status`` is ``done``, ``failed`` (``error`` holds its line, ``error.txt`` in its folder the
traceback) or ``missing`` (not run yet); ``trained_in`` is the folder of the run a naive point
deploys; ``metrics`` are :func:`~emulator.sweep.metrics.point_metrics` and the chip's costliest
op (:func:`~emulator.sweep.metrics.with_costliest_op`).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from emulator.errors import ConfigError
from emulator.files import replaced
from emulator.report import write_json
from emulator.results import REPORT, RunResult
from emulator.sweep.metrics import point_metrics, with_costliest_op
from emulator.sweep.points import Plan
from emulator.sweep.task import Outcome
from emulator.tasks.checkpoint import CHECKPOINT

SWEEP = "sweep.json"
POINTS = "points"
ERROR = "error.txt"
#: the layout version of sweep.json
SCHEMA_VERSION = 1
STATUSES = ("done", "failed", "missing")


class SweepFolder:
    """The folder of a sweep, and the rows of its ``sweep.json``."""

    def __init__(self, path: Path, plan: Plan):
        self.path, self.plan = Path(path), plan
        self.rows: list[dict[str, Any]] = []

    def start(self, resume: bool):
        """Begin a new sweep here (the folder holds no sweep yet), or, with ``resume``, take up the rows
        of the same sweep's ``sweep.json``; a ``done`` row whose folder lost its ``report.json`` is
        missing again. Nothing is written until :meth:`save`."""
        fresh = [self._row(i) for i in range(len(self.plan.points))]
        saved = self._saved()
        if not resume:
            if saved is not None:
                raise ConfigError(f"--out {self.path}: that folder holds a sweep already; finish it with the same "
                                  f"command and --resume {self.path}, or choose another --out")
            self.rows = fresh
        else:
            if saved is None:
                raise ConfigError(f"--resume {self.path}: no {SWEEP} there; start the sweep with --out {self.path}")
            self._check_same(saved, fresh)
            self.rows = [row if row["status"] != "done" or (self.path / row["folder"] / REPORT).is_file()
                         else row | {"status": "missing"} for row in saved["points"]]

    def todo(self) -> list[int]:
        """The indices of the points to run: those missing or failed."""
        return [i for i, row in enumerate(self.rows) if row["status"] != "done"]

    def reference_of(self, i: int) -> Outcome:
        """The finished reference run of naive point ``i``, read from its folder (its checkpoint)."""
        folder = self.path / self.rows[self.plan.points[i].reference]["folder"]
        return Outcome({CHECKPOINT: (folder / CHECKPOINT).read_bytes()})

    def point_folder(self, i: int) -> Path:
        return (self.path / self.rows[i]["folder"]).resolve()

    def record(self, i: int, outcome: Outcome):
        """Write point ``i``'s files (``report.json`` last) or its error, then its row."""
        folder = self.path / self.rows[i]["folder"]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / REPORT).unlink(missing_ok=True)
        row = self.rows[i] | {"wall_s": outcome.wall_s}
        if outcome.done:
            for name in sorted(outcome.files, key=lambda n: n == REPORT):
                with replaced(folder / name) as f:
                    f.write(outcome.files[name])
            (folder / ERROR).unlink(missing_ok=True)
            result = RunResult.from_dict(json.loads(outcome.files[REPORT]))
            row |= {"status": "done", "metrics": point_metrics(result), "error": None}
        else:
            with replaced(folder / ERROR) as f:
                f.write((outcome.details or outcome.error).encode("utf-8"))
            row |= {"status": "failed", "metrics": None, "error": outcome.error}
        self.rows[i] = row
        self.save()

    def save(self) -> Path:
        """Write ``sweep.json`` atomically."""
        self.path.mkdir(parents=True, exist_ok=True)
        return write_json(self.path / SWEEP, self.content())

    def content(self) -> dict[str, Any]:
        """``sweep.json``: the sweep's name, description, fixed settings and varied keys, the metrics it
        plots, and its rows."""
        spec = self.plan.spec
        return {"schema_version": SCHEMA_VERSION, "name": spec.name, "description": spec.description,
                "fixed": self.plan.fixed, "keys": varied_keys(self.rows), "plot": list(spec.plot),
                "points": with_costliest_op(self.rows)}

    def counts(self) -> dict[str, int]:
        """How many points are done, failed and missing."""
        return {status: sum(row["status"] == status for row in self.rows) for status in STATUSES}

    def _row(self, i: int) -> dict[str, Any]:
        planned = self.plan.points[i]
        reference = self.plan.points[planned.reference].point.folder if planned.reference is not None else None
        return {"folder": f"{POINTS}/{planned.point.folder}", **planned.point.identity(),
                "trained_in": f"{POINTS}/{reference}" if reference else None,
                "status": "missing", "metrics": None, "wall_s": None, "error": None}

    def _saved(self) -> dict | None:
        path = self.path / SWEEP
        if not path.is_file():
            return None
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(saved, dict) or not isinstance(saved.get("points"), list):
                raise ValueError("no list of points")
        except ValueError as exc:
            raise ConfigError(f"{path} is damaged or not a sweep of this emulator ({exc}); "
                              "start the sweep again with another --out") from None
        return saved

    def _check_same(self, saved: dict, fresh: list[dict]):
        """A resumed sweep must have the same fixed settings and points as the one that began."""
        def identity(row):
            return {k: row.get(k) for k in ("folder", "workload", "chip", "deployment", "seed", "set", "chip_set")}

        same_points = [identity(r) for r in saved["points"]] == [identity(r) for r in fresh]
        if saved.get("fixed") != self.plan.fixed or not same_points:
            raise ConfigError(f"--resume {self.path}: that sweep has other points or settings; resume it with the "
                              "same sweep file and options, or start this one with another --out")


def varied_keys(rows: list[dict]) -> list[list[str]]:
    """The keys the rows vary, as ``[option, key]`` pairs (option ``set`` or ``chip_set``), in first-seen order."""
    keys: dict[tuple[str, str], None] = {}
    for row in rows:
        for option in ("set", "chip_set"):
            keys.update(dict.fromkeys((option, key) for key in row[option]))
    return [list(k) for k in keys]
