"""The figures of a sweep: each metric against each varied key, accuracy against energy with each
chip's Pareto front, and the layers' Lipschitz constants over training.

One panel per workload; the seeds of a setting are one point, their mean, with their standard
deviation as error bars. Figures are :class:`matplotlib.figure.Figure` objects saved with the
report package's atomic :func:`~emulator.report.figures.save`.
"""
from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from emulator.report.figures import FIGSIZE, no_data, save
from emulator.report.format import json_text
from emulator.sweep.metrics import LIPSCHITZ, METRICS
from emulator.sweep.summary import (
    Key,
    by_setting,
    done,
    is_numeric,
    key_label,
    line_label,
    setting_text,
    spread,
)

#: the metrics drawn on a log axis (they span decades across chips and settings)
LOG_METRICS = ("energy_per_inference_j", "latency_per_inference_s", "synaptic_ops_per_inference",
               "costliest_ops_per_inference", "messages_per_inference", "spikes_per_inference",
               "training_energy_per_sample_j")
#: percent metrics, drawn as percentages
PERCENT_METRICS = ("test_accuracy", "train_accuracy", "best_test_accuracy")
LEGEND = dict(fontsize=7, frameon=False)
#: characters per line of a tick label that names a value which is not a number
TICK_WIDTH = 20


def _panels(n: int, rows: int = 1) -> tuple[Figure, np.ndarray]:
    """A figure of ``rows`` x ``n`` panels, each of the usual report size."""
    fig = Figure(figsize=(FIGSIZE[0] * n, FIGSIZE[1] * rows))
    return fig, np.atleast_2d(fig.subplots(rows, n, squeeze=False))


def _by_workload(rows: Sequence[dict]) -> dict[str, list[dict]]:
    workloads: dict[str, list[dict]] = {}
    for row in rows:
        workloads.setdefault(row["workload"], []).append(row)
    return workloads


def _scale(metric: str) -> float:
    return 100.0 if metric in PERCENT_METRICS else 1.0


def _axis_label(metric: str) -> str:
    return METRICS[metric].label.replace("accuracy", "accuracy (%)") if metric in PERCENT_METRICS \
        else METRICS[metric].label


def plot_metric_against_key(rows: Sequence[dict], metric: str, key: Key, path: Path) -> Path:
    """Save ``metric`` against the values of ``key``: one line per chip (and per value of the other
    varied keys), the mean over seeds with their standard deviation as error bars."""
    option, name = key
    rows = [row for row in done(rows) if name in row[option] and row["metrics"].get(metric) is not None]
    workloads = _by_workload(rows) or {"": []}
    fig, axes = _panels(len(workloads))
    for ax, (workload, w_rows) in zip(axes[0], workloads.items()):
        values = list({json_text(r[option][name]): r[option][name] for r in w_rows}.values())
        numeric = is_numeric(values)
        order = sorted(values) if numeric else values
        lines: dict[str, dict] = {}
        for group in by_setting(w_rows).values():
            s = spread([r["metrics"][metric] for r in group])
            x = group[0][option][name]
            label = line_label(group[0], key)
            if metric == "costliest_ops_per_inference":  # which op the line counts
                label += f" ({group[0]['metrics'].get('costliest_op')})"
            lines.setdefault(label, {})[x if numeric else order.index(x)] = s
        for label, points in lines.items():
            xs = sorted(points)
            ax.errorbar(xs, [points[x].mean * _scale(metric) for x in xs],
                        yerr=[points[x].std * _scale(metric) for x in xs], marker="o", capsize=3, label=label)
        if not lines:
            no_data(ax)
            continue
        if not numeric:  # long values (a noise model's section) wrapped under their tick
            ax.set_xticks(range(len(order)), ["\n".join(textwrap.wrap(setting_text(v), TICK_WIDTH)) for v in order],
                          fontsize=7)
        if metric in LOG_METRICS and all(p.mean > 0 for pts in lines.values() for p in pts.values()):
            ax.set_yscale("log")
        ax.set_xlabel(key_label(key))
        ax.set_ylabel(_axis_label(metric))
        ax.grid(True, alpha=0.3)
        ax.legend(**LEGEND)
        ax.set_title(workload, fontsize=10)
    fig.suptitle("mean over seeds; bars: standard deviation", fontsize=8)
    return save(fig, path)


def pareto_front(points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """The points no other beats on both counts, ``(energy, accuracy)`` pairs with less energy and more
    accuracy being better, by increasing energy."""
    front: list[tuple[float, float]] = []
    for energy, accuracy in sorted(points, key=lambda p: (p[0], -p[1])):
        if not front or accuracy > front[-1][1]:
            front.append((energy, accuracy))
    return front


def plot_accuracy_against_energy(rows: Sequence[dict], path: Path) -> Path:
    """Save test accuracy against energy per inference for every finished point (log energy axis),
    one colour per chip, with each chip's Pareto front as a step line."""
    rows = [row for row in done(rows) if row["metrics"]["energy_per_inference_j"]]
    workloads = _by_workload(rows) or {"": []}
    fig, axes = _panels(len(workloads))
    for ax, (workload, w_rows) in zip(axes[0], workloads.items()):
        chips: dict[str, list[tuple[float, float]]] = {}
        for row in w_rows:
            label = row["chip"] + (" naive" if row["deployment"] == "naive" else "")
            chips.setdefault(label, []).append((row["metrics"]["energy_per_inference_j"],
                                                100 * row["metrics"]["test_accuracy"]))
        for label, points in chips.items():
            line = ax.plot(*zip(*points), linestyle="none", marker="o", alpha=0.5, label=label)[0]
            front = pareto_front(points)
            ax.step(*zip(*front), where="post", color=line.get_color(), linewidth=1.5)
            ax.plot(*zip(*front), linestyle="none", marker="o", markerfacecolor="none", markersize=10,
                    color=line.get_color())
        if not chips:
            no_data(ax)
            continue
        ax.set_xscale("log")
        ax.set_xlabel(METRICS["energy_per_inference_j"].label + ", log scale")
        ax.set_ylabel("test accuracy (%)")
        ax.grid(True, alpha=0.3)
        ax.legend(**LEGEND)
        ax.set_title(f"{workload}: every point; lines and circles: each chip's Pareto front", fontsize=10)
    return save(fig, path)


def plot_lipschitz(rows: Sequence[dict], path: Path) -> Path:
    """Save each layer's Lipschitz constant (spectral norm) after each epoch, one panel per workload
    and layer, one line per setting (mean over seeds), with 1 dashed."""
    rows = [row for row in done(rows) if row["metrics"][LIPSCHITZ]]
    workloads = _by_workload(rows) or {"": []}
    n_layers = max((len(r["metrics"][LIPSCHITZ][0]) for r in rows), default=1)
    fig, axes = _panels(n_layers, len(workloads))
    for panel_row, (workload, w_rows) in zip(axes, workloads.items()):
        for layer, ax in enumerate(panel_row):
            for group in by_setting(w_rows).values():
                curves = [r["metrics"][LIPSCHITZ] for r in group if len(r["metrics"][LIPSCHITZ][0]) > layer]
                if not curves:
                    continue
                epochs = min(len(c) for c in curves)
                values = np.array([[c[e][layer] for e in range(epochs)] for c in curves])
                ax.plot(range(1, epochs + 1), values.mean(axis=0), marker=".", label=line_label(group[0]))
            if not ax.lines:
                no_data(ax)
                continue
            ax.axhline(1.0, color="0.3", linestyle="--", linewidth=1)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_xlabel("epoch")
            ax.set_ylabel(f"Lipschitz constant of layer {layer + 1}")
            ax.grid(True, alpha=0.3)
            ax.legend(**LEGEND)
            ax.set_title(f"{workload}: weights {layer} -> {layer + 1}", fontsize=10)
    fig.suptitle("spectral norm of each layer's weights after each epoch, mean over seeds", fontsize=8)
    return save(fig, path)
