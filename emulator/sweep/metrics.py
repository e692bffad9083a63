"""The headline numbers of a sweep point, read from its run's result.

Each metric has a name (a key of a ``sweep.json`` row's ``metrics`` and of a sweep file's
``plot`` list), a label for tables and figure axes, and a way to print it.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from emulator.report.classification import sample_count
from emulator.report.compare import summarize
from emulator.report.format import format_count, format_fixed, format_percent, format_si, per
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
    "training_energy_per_sample_j": Metric("training energy per sample (J)", lambda v: format_si(v, "J")),
    "max_lipschitz": Metric("largest Lipschitz constant of a layer, any epoch", lambda v: format_fixed(v, 3)),
}
#: what a sweep plots unless its file says otherwise
DEFAULT_PLOT = ("test_accuracy", "energy_per_inference_j", "costliest_ops_per_inference")
#: a ``plot`` entry that is not a number per point: each layer's Lipschitz constant after each epoch
LIPSCHITZ = "lipschitz"


def costliest_op(result: RunResult) -> str | None:
    """The operation that takes the largest share of the inference energy (static power aside);
    None if no operation costs energy."""
    breakdown = {op: j for op, j in result.energy.inference.breakdown_j.items() if op != "static" and j > 0}
    return max(breakdown, key=breakdown.get) if breakdown else None


def point_metrics(result: RunResult) -> dict[str, Any]:
    """The :data:`METRICS` of a run, with ``costliest_op`` (the op that
    ``costliest_ops_per_inference`` counts) and ``lipschitz`` (one list per epoch of each
    layer's Lipschitz constant; empty for a deployed network)."""
    op = costliest_op(result)
    lipschitz = [list(h.lipschitz) for h in result.history]
    values = summarize(result) | {
        "best_test_accuracy": max((h.test_accuracy for h in result.history), default=None),
        "costliest_ops_per_inference": per(result.counters["inference"].get(op), sample_count(result, "inference")),
        "max_lipschitz": max((v for epoch in lipschitz for v in epoch), default=None)}
    return {name: values[name] for name in METRICS} | {"costliest_op": op, LIPSCHITZ: lipschitz}
