"""Several runs of one workload side by side: headline numbers, the comparison table, figure and JSON.

Classification runs (trained on each chip), or a spiking network's inference runs (:func:`summarize_inference`).
One of the classification runs may be the **baseline** (e.g. backprop on the digital chip): every run's energy
is then also given as a ratio of the baseline's.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from emulator.report.classification import sample_count
from emulator.report.figures import WIDE_FIGSIZE, save
from emulator.report.format import MISSING, format_count, format_percent, format_si, per, table
from emulator.report.sections import ALGORITHM_NAMES
from emulator.results import InferenceResult, RunResult

#: the energies compared with the baseline's: summary key -> the key of their ratio
RATIOS = {"energy_per_inference_j": "energy_per_inference_vs_baseline",
          "training_energy_per_sample_j": "training_energy_per_sample_vs_baseline"}


def run_label(chip: str, algorithm: str) -> str:
    """How a comparison names a run: the chip, and the training algorithm unless it is EqProp (``digital-backprop``)."""
    return chip if algorithm == "eqprop" else f"{chip}-{algorithm}"


def summarize(result: RunResult) -> dict[str, Any]:
    """One row of headline numbers of a run.

    Returns
    -------
    dict
        ``chip, backend, workload, dataset``; ``algorithm`` (``training.algorithm``), ``inference``
        (``relaxation`` or ``feedforward``); ``test_accuracy, train_accuracy`` (fractions);
        ``energy_per_inference_j`` (J), ``latency_per_inference_s`` (emulated, s);
        ``synaptic_ops_per_inference, messages_per_inference, spikes_per_inference`` (None if the
        chip does not count them); ``training_energy_per_sample_j, training_energy_j`` (J);
        ``emulated_training_s, wall_s`` (s).
    """
    n_inf = sample_count(result, "inference")
    inference = result.counters["inference"]
    energy, t = result.energy, result.time
    return {
        "chip": result.chip,
        "backend": result.backend,
        "workload": result.workload,
        "dataset": result.dataset.name,
        "algorithm": result.algorithm,
        "inference": result.inference,
        "test_accuracy": float(result.metrics.test_accuracy),
        "train_accuracy": float(result.metrics.train_accuracy),
        "energy_per_inference_j": float(energy.inference.per_sample_j),
        "latency_per_inference_s": float(t.emulated_s_per_inference),
        "synaptic_ops_per_inference": per(inference.get("synaptic_ops"), n_inf),
        "messages_per_inference": per(inference.get("messages"), n_inf),
        "spikes_per_inference": per(inference.get("spikes"), n_inf),
        "training_energy_per_sample_j": float(energy.training.per_sample_j),
        "training_energy_j": float(energy.training.total_j),
        "emulated_training_s": float(t.emulated_s_training),
        "wall_s": float(t.wall_s),
    }


def summarize_inference(result: InferenceResult) -> dict[str, Any]:
    """One row of headline numbers of a spiking inference run: ``chip, backend, workload, dataset``, ``test_accuracy``
    (fraction), ``energy_per_inference_j`` (J), ``latency_per_inference_s`` (emulated, s),
    ``synaptic_ops_per_inference, spikes_per_inference, messages_per_inference`` (None if the chip does not count
    them), ``steps`` (per inference on the chip) and ``wall_s`` (s)."""
    n, inference = result.metrics.samples, result.counters["inference"]
    return {"chip": result.chip, "backend": result.backend, "workload": result.workload,
            "dataset": result.data["dataset"], "test_accuracy": float(result.metrics.accuracy),
            "energy_per_inference_j": float(result.energy.inference.per_sample_j),
            "latency_per_inference_s": float(result.time.emulated_s_per_inference),
            "synaptic_ops_per_inference": per(inference.get("synaptic_ops"), n),
            "spikes_per_inference": per(inference.get("spikes"), n),
            "messages_per_inference": per(inference.get("messages"), n),
            "steps": result.metrics.steps, "wall_s": float(result.time.wall_s)}


def label(result) -> str:
    """How a comparison names a run (:func:`run_label`; the chip alone for a run that trained nothing)."""
    return run_label(result.chip, getattr(result, "algorithm", "eqprop"))


def _row(result) -> dict[str, Any]:
    return summarize_inference(result) if result.kind == "snn_inference" else summarize(result)


def render_inference_comparison(results: Sequence[InferenceResult], folders: Sequence[str] | None = None) -> str:
    """The side-by-side Markdown table of one spiking network run on several chips, in the given order."""
    rows = []
    for i, s in enumerate(summarize_inference(r) for r in results):
        chip = f"[{s['chip']}]({folders[i]}/report.md)" if folders else s["chip"]
        rows.append([chip, s["backend"], format_percent(s["test_accuracy"]), format_si(s["energy_per_inference_j"], "J"),
                     format_si(s["latency_per_inference_s"], "s"), format_count(s["steps"]),
                     format_count(s["synaptic_ops_per_inference"]), format_count(s["spikes_per_inference"]),
                     format_count(s["messages_per_inference"])])
    header = ["chip", "backend", "test accuracy", "energy / inference", "emulated latency / inference",
              "steps / inference", "synaptic ops / inference", "spikes / inference", "messages / inference"]
    first = results[0]
    return (f"# {heading(results)}\n\nNetwork `{first.network['file']}` on {first.data['samples']:,} "
            f"{first.data['dataset']} test samples, {first.data['steps']} steps of {first.data['encoding']}-coded "
            "spikes each.\n\n" + table(header, rows, "ll" + "r" * (len(header) - 2))
            + "\n\n![Comparison](comparison.png)\n")


def with_ratios(rows: Sequence[dict], baseline: int | None) -> list[dict]:
    """:func:`summarize` rows, each with its :data:`RATIOS` to row ``baseline``'s energies (None without a
    baseline, or where the baseline's is 0)."""
    out = []
    for row in rows:
        ratios = {}
        for key, ratio in RATIOS.items():
            reference = rows[baseline][key] if baseline is not None else 0.0
            ratios[ratio] = row[key] / reference if reference > 0 else None
        out.append(row | ratios)
    return out


def heading(results: Sequence[RunResult]) -> str:
    """``"<workload> / <other workload>: chip comparison"``."""
    return f"{' / '.join(dict.fromkeys(r.workload for r in results))}: chip comparison"


def folder_names(chips: Sequence[str]) -> list[str]:
    """File-system-safe, unique folder names for the chips, in order (``_2``, ``_3``... for repeats)."""
    names: list[str] = []
    for chip in chips:
        base = re.sub(r"[^A-Za-z0-9._-]+", "_", chip).strip("._") or "chip"
        name, k = base, 2
        while name in names:
            name, k = f"{base}_{k}", k + 1
        names.append(name)
    return names


def _dataset_line(result: RunResult) -> str:
    d = result.dataset
    line = (f"{d.name} ({format_count(d.n_train)} train / {format_count(d.n_test)} test, "
            f"{format_count(d.n_features)} features, {format_count(d.n_classes)} classes)")
    return line + (f" — {d.note}" if d.note else "")


def _ratio(value: float | None) -> str:
    return MISSING if value is None else f"{value:.3g}x"


def render_comparison_markdown(results: Sequence[RunResult], folders: Sequence[str] | None = None,
                               baseline: int | None = None) -> str:
    """The side-by-side Markdown table of several runs, in the given order.

    Parameters
    ----------
    results : sequence of RunResult
        One per chip (and training algorithm).
    folders : sequence of str, optional
        Per-run report folders (relative); when given, chip names link to their report.
    baseline : int, optional
        The index of the baseline run: the table adds each run's energies over the baseline's.
    """
    rows = []
    for i, s in enumerate(with_ratios([summarize(r) for r in results], baseline)):
        chip = f"[{s['chip']}]({folders[i]}/report.md)" if folders else s["chip"]
        rows.append([chip, s["backend"], ALGORITHM_NAMES[s["algorithm"]] + (" (baseline)" if i == baseline else ""),
                     format_percent(s["test_accuracy"]),
                     format_si(s["energy_per_inference_j"], "J"), format_si(s["latency_per_inference_s"], "s"),
                     format_count(s["synaptic_ops_per_inference"]), format_count(s["messages_per_inference"]),
                     format_count(s["spikes_per_inference"]), format_si(s["training_energy_per_sample_j"], "J")]
                    + ([_ratio(s[key]) for key in RATIOS.values()] if baseline is not None else []))
    header = ["chip", "backend", "training", "test accuracy", "energy / inference", "emulated latency / inference",
              "synaptic ops / inference", "messages / inference", "spikes / inference", "training energy / sample"]
    if baseline is not None:
        header += ["energy / inference vs baseline", "training energy / sample vs baseline"]
    datasets = list(dict.fromkeys(_dataset_line(r) for r in results))
    if len(datasets) == 1:
        ds = f"Dataset: {datasets[0]}."
    else:
        ds = "Datasets: " + "; ".join(f"{r.chip}: {_dataset_line(r)}" for r in results) + "."
    return (f"# {heading(results)}\n\n{ds}\n\n"
            + table(header, rows, "lll" + "r" * (len(header) - 3)) + "\n\n![Comparison](comparison.png)\n")


def comparison(results: Sequence[RunResult], baseline: int | None = None) -> dict[str, Any]:
    """The content of ``comparison.json``: ``workload`` (the common workload's name, or a list when
    they differ), ``chips``, ``baseline`` (the index of the baseline run, or None), ``summary`` (one
    :func:`summarize` row per run, with its :data:`RATIOS` to the baseline) and the full ``results``."""
    workloads = list(dict.fromkeys(r.workload for r in results))
    return {"workload": workloads[0] if len(workloads) == 1 else workloads,
            "chips": [r.chip for r in results],
            "baseline": baseline,
            "summary": with_ratios([_row(r) for r in results], baseline),
            "results": [r.to_dict() for r in results]}


def plot_comparison(results: Sequence[RunResult], path: Path) -> Path:
    """Save grouped bars per chip, energy per inference (left axis, log) beside test accuracy (right), to ``path``."""
    summaries = [_row(r) for r in results]
    fig = Figure(figsize=WIDE_FIGSIZE)
    ax_e = fig.subplots()
    x = np.arange(len(summaries))
    w = 0.38
    ax_a = ax_e.twinx()
    e_vals = [e if e > 0 else np.nan for e in (s["energy_per_inference_j"] for s in summaries)]
    bars_e = ax_e.bar(x - w / 2, e_vals, w, color="tab:blue", label="energy per inference (J)")
    a_vals = [100 * s["test_accuracy"] for s in summaries]
    bars_a = ax_a.bar(x + w / 2, a_vals, w, color="tab:green", label="test accuracy (%)")
    if any(np.isfinite(e_vals)):
        ax_e.set_yscale("log")
        ax_e.set_ylim(np.nanmin(e_vals) / 10, np.nanmax(e_vals) * 100)  # headroom for the value labels and the legend
    for xi, e in zip(x, e_vals):
        if np.isfinite(e):
            ax_e.text(xi - w / 2, e * 1.1, format_si(e, "J"), ha="center", va="bottom", fontsize=8)
    for xi, a in zip(x, a_vals):
        ax_a.text(xi + w / 2, a + 1, f"{a:.1f} %", ha="center", va="bottom", fontsize=8)
    ax_a.set_ylim(0, 125)
    ax_e.set_xticks(x, [label(r) for r in results])
    ax_e.set_ylabel("energy per inference (J, log scale)")
    ax_a.set_ylabel("test accuracy (%)")
    ax_e.legend(handles=[bars_e, bars_a], loc="upper center", ncol=2, fontsize=8, frameon=False)
    ax_e.set_title(heading(results))
    return save(fig, path)
