"""The figures of a classification run, and what every report figure shares.

Figures are :class:`matplotlib.figure.Figure` objects saved straight to a file: no pyplot, so no
figure manager and no backend is chosen (importing this module leaves matplotlib's backend as it
was, e.g. in a notebook).
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import NullLocator

from emulator.files import replaced
from emulator.report.format import format_percent, format_si, ordered_union
from emulator.report.sections import title
from emulator.results import RunResult

#: figure sizes, inches
FIGSIZE = (6.0, 4.0)
WIDE_FIGSIZE = (8.0, 4.0)
#: resolution of the saved PNG files, dots per inch
DPI = 120
#: the phases of a classification run, in the order the figures show them
PHASES = ("inference", "training")


def no_data(ax: Axes, text: str = "no data") -> None:
    """Say on ``ax`` that there is nothing to draw."""
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, fontsize=12, color="0.45")
    ax.set_xticks([])
    ax.set_yticks([])


def save(fig: Figure, path: Path) -> Path:
    """Lay ``fig`` out and write it to ``path`` as a PNG, atomically; returns ``path``."""
    fig.tight_layout()
    with replaced(path) as f:
        fig.savefig(f, format="png", dpi=DPI)
    return path


def plot_accuracy(result: RunResult, path: Path) -> Path:
    """Save train and test accuracy per epoch (lines with markers) to ``path``."""
    history = result.history
    fig = Figure(figsize=FIGSIZE)
    ax = fig.subplots()
    if history:
        epochs = [h.epoch for h in history]
        for attr, label, marker in (("train_accuracy", "train", "o"), ("test_accuracy", "test", "s")):
            ax.plot(epochs, [100 * getattr(h, attr) for h in history], marker=marker, label=label)
        ax.set_xlabel("epoch")
        ax.set_ylabel("accuracy (%)")
        ax.grid(True, alpha=0.3)
        ax.legend()
        if len(set(epochs)) <= 12:
            ax.set_xticks(sorted(set(epochs)))
    else:
        no_data(ax, f"no per-epoch history\nfinal test accuracy {format_percent(result.metrics.test_accuracy)}")
    ax.set_title(f"{title(result)}: accuracy per epoch")
    return save(fig, path)


def barh_log(ax: Axes, breakdown: Mapping[str, float], ops: list[str], heading: str, color: str) -> None:
    """Horizontal bars of ``breakdown`` (J per op) on a log axis, in the order of ``ops``, with their values."""
    values = [breakdown.get(op, 0.0) for op in ops]
    positive = [v for v in values if v > 0]
    if not positive:
        no_data(ax)
        ax.set_title(heading)
        return
    floor = 10 ** math.floor(math.log10(min(positive)) - 1)
    y = np.arange(len(ops))
    widths = [v - floor if v > floor else 0.0 for v in values]
    ax.barh(y, widths, left=floor, color=color)
    ax.set_xscale("log")
    ax.xaxis.set_minor_locator(NullLocator())  # decades only: the bars span many, and minor ticks took half the time
    ax.set_xlim(floor, max(positive) * 30)
    ax.set_yticks(y, ops)
    ax.invert_yaxis()
    for yi, v in zip(y, values):
        ax.text(max(v, floor) * 1.15, yi, format_si(v, "J") if v > 0 else "0", va="center", fontsize=8)
    ax.set_xlabel("energy (J, log scale)")
    ax.grid(True, axis="x", alpha=0.3)
    ax.set_title(heading)


def plot_energy_breakdown(result: RunResult, path: Path) -> Path:
    """Save horizontal log-scale bars of the energy per op, inference beside training, to ``path``."""
    energy = result.energy
    reports = {phase: getattr(energy, phase) for phase in PHASES}
    ops = [op for op in ordered_union(energy.per_op_j, *(r.breakdown_j for r in reports.values()))
           if any(op in r.breakdown_j for r in reports.values())]
    fig = Figure(figsize=WIDE_FIGSIZE)
    axes = fig.subplots(1, 2)
    for ax, phase, color in zip(axes, PHASES, ("tab:blue", "tab:orange")):
        report = reports[phase]
        barh_log(ax, report.breakdown_j, ops, f"{phase} (total {format_si(report.total_j, 'J')})", color)
    if any(reports["inference"].breakdown_j.values()):
        axes[1].tick_params(labelleft=False)  # same op order as the left panel
    fig.suptitle(f"{title(result)}: energy breakdown")
    return save(fig, path)


def plot_messages_per_step(result: RunResult, path: Path) -> Path:
    """Save mean messages per sample against the relaxation step, with theta = 0 dashed if recorded, to ``path``."""
    relaxation = result.relaxation.get("inference")
    curves = []
    if relaxation is not None:
        curves.append((relaxation.messages_per_step, f"θ = {result.eqprop['theta']:g}", "-", "o"))
        if relaxation.messages_per_step_theta0 is not None:
            curves.append((relaxation.messages_per_step_theta0, "θ = 0 (no threshold)", "--", None))
    fig = Figure(figsize=FIGSIZE)
    ax = fig.subplots()
    if curves:
        positive = [v for values, *_ in curves for v in values if v > 0]
        log = bool(positive) and max(positive) / min(positive) > 100
        hidden = False
        for values, label, style, marker in curves:
            if log:  # zeros cannot be drawn on a log axis: leave gaps instead of cliffs
                hidden |= any(v <= 0 for v in values)
                values = [v if v > 0 else np.nan for v in values]
            ax.plot(range(len(values)), values, linestyle=style, marker=marker, markersize=3, label=label)
        if log:
            ax.set_yscale("log")
        ax.set_xlabel("relaxation step")
        ax.set_ylabel("mean messages per sample")
        ax.grid(True, alpha=0.3)
        ax.legend(title="steps with 0 messages not drawn" if hidden else None, title_fontsize=8)
    else:
        no_data(ax)
    ax.set_title(f"{title(result)}: messages per relaxation step")
    return save(fig, path)
