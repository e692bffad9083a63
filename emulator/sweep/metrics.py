"""The headline numbers of a sweep point, read from its run's result.

Each metric has a name (a key of a ``sweep.json`` row's ``metrics`` and of a sweep file's
``plot`` list), a label for tables and figure axes, and a way to print it.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from emulator.report.classification import sample_count
from emulator.report.compare import summarize
from emulator.report.format import (
    format_count,
    format_fixed,
    format_percent,
    format_si,
    per,
)
from emulator.results import RunResult


class Metric(NamedTuple):
    """A headline number: its label (with its unit) and how a table prints it."""

    label: str
    show: Callable[[float | None], str]


#: the metrics of a point, in the order tables show them
METRICS = {
    "test_accuracy": Metric("test accuracy", format_percent),
    "train_accuracy": Metric("train accuracy", format_percent),
    "best_test_accuracy": Metric("best test accuracy of an epoch", format_percent),
    "energy_per_inference_j": Metric("energy per inference (J)", lambda v: format_si(v, "J")),
    "latency_per_inference_s": Metric("emulated time per inference (s)", lambda v: format_si(v, "s")),
    "synaptic_ops_per_inference": Metric("synaptic ops per inference", format_count),
    "costliest_ops_per_inference": Metric("costliest op per inference", format_count),
    "messages_per_inference": Metric("messages per inference", format_count),
    "spikes_per_inference": Metric("spikes per inference", format_count),
    "training_energy_per_sample_j": Metric("training energy per sample (J)", lambda v: format_si(v, "J")),
    "max_lipschitz": Metric("largest Lipschitz constant of a layer, any epoch", lambda v: format_fixed(v, 3)),
}
#: what a sweep plots unless its file says otherwise
DEFAULT_PLOT = ("test_accuracy", "energy_per_inference_j", "costliest_ops_per_inference")
#: a ``plot`` entry that is not a number per point: each layer's Lipschitz constant after each epoch
LIPSCHITZ = "lipschitz"


def point_metrics(result: RunResult) -> dict[str, Any]:
    """The :data:`METRICS` of a run (``costliest_ops_per_inference`` is left for
    :func:`with_costliest_op`), with ``lipschitz`` (one list per epoch of each layer's Lipschitz
    constant; empty for a deployed network), and each operation's count and energy per inference
    (``ops_per_inference``, ``op_energy_per_inference_j``; static power aside)."""
    n = sample_count(result, "inference")
    lipschitz = [list(h.lipschitz) for h in result.history]
    values = summarize(result) | {
        "best_test_accuracy": max((h.test_accuracy for h in result.history), default=None),
        "costliest_ops_per_inference": None,
        "max_lipschitz": max((v for epoch in lipschitz for v in epoch), default=None)}
    energy = result.energy.inference.breakdown_j
    return {name: values[name] for name in METRICS} | {
        LIPSCHITZ: lipschitz,
        "ops_per_inference": {op: per(count, n) for op, count in result.counters["inference"].items()},
        "op_energy_per_inference_j": {op: per(j, n) for op, j in energy.items() if op != "static"}}


def with_costliest_op(rows: list[dict]) -> list[dict]:
    """``rows`` with each finished point's ``costliest_op`` and ``costliest_ops_per_inference``: the
    chip's costliest op is the operation that takes the largest share of the inference energy over
    all the finished points of its workload on its chip (static power aside), so that one line of
    a figure counts one operation."""
    totals: dict[tuple[str, str], dict[str, float]] = {}
    for row in rows:
        if row["status"] == "done":
            ops = totals.setdefault((row["workload"], row["chip"]), {})
            for op, j in row["metrics"]["op_energy_per_inference_j"].items():
                ops[op] = ops.get(op, 0.0) + (j or 0.0)
    costliest = {key: max(ops, key=ops.get) for key, ops in totals.items() if any(ops.values())}
    out = []
    for row in rows:
        op = costliest.get((row["workload"], row["chip"])) if row["status"] == "done" else None
        out.append(row if op is None else row | {"metrics": row["metrics"] | {
            "costliest_op": op, "costliest_ops_per_inference": row["metrics"]["ops_per_inference"].get(op)}})
    return out
