"""The rows of a sweep, grouped as its tables and figures show them: the seeds of one setting
together, as a mean and a spread."""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from emulator.report.format import json_text

#: a varied key: the option that sets it (``set`` for workload keys, ``chip_set`` for chip keys) and its key path
Key = tuple[str, str]


class Spread(NamedTuple):
    """A metric over the seeds of one setting: their mean, standard deviation (0 for one seed) and count."""

    mean: float
    std: float
    n: int


def done(rows: Sequence[dict]) -> list[dict]:
    """The rows of the points that finished."""
    return [row for row in rows if row["status"] == "done"]


def key_label(key: Key) -> str:
    """``eqprop.theta`` for a workload key, ``chip: parameters.forward.adc_bits`` for a chip key."""
    option, path = key
    return path if option == "set" else f"chip: {path}"


def setting_text(value: Any) -> str:
    """A varied value, short: ``0.01``, ``null``, ``true``, ``constant std=0.1`` for ``{model: constant, std: 0.1}``."""
    if isinstance(value, dict):
        parts = [setting_text(value["model"])] if "model" in value else []
        return " ".join(parts + [f"{k}={setting_text(v)}" for k, v in value.items() if k != "model"])
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return "[" + ", ".join(setting_text(v) for v in value) + "]"
    return json_text(value).strip('"')


def line_label(row: dict, leave_out: Key | None = None) -> str:
    """The chip (and ``naive`` for a naive deployment) and the varied values of ``row`` but ``leave_out``."""
    parts = [row["chip"] + (" naive" if row["deployment"] == "naive" else "")]
    parts += [f"{path}={setting_text(value)}" for option in ("set", "chip_set")
              for path, value in row[option].items() if (option, path) != leave_out]
    return ", ".join(parts)


def spread(values: Sequence[float | None]) -> Spread | None:
    """Mean and standard deviation (ddof 1) of the values that are numbers; None if none is."""
    numbers = [float(v) for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not numbers:
        return None
    return Spread(float(np.mean(numbers)), float(np.std(numbers, ddof=1)) if len(numbers) > 1 else 0.0, len(numbers))


def by_setting(rows: Sequence[dict]) -> dict[str, list[dict]]:
    """Rows grouped by everything but the seed (workload, chip, deployment, varied values), in first-seen order."""
    groups: dict[str, list[dict]] = {}
    for row in rows:
        identity = {k: row[k] for k in ("workload", "chip", "deployment", "set", "chip_set")}
        groups.setdefault(json_text(identity), []).append(row)
    return groups


def is_numeric(values: Sequence[Any]) -> bool:
    """Whether values can go on a numeric axis (numbers, not booleans)."""
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
