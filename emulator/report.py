"""Human-readable reports of a run: JSON, Markdown and PNG figures.

This module only *formats* a run's result dict (built elsewhere); it knows nothing about
chips, backends or training. The dict layout it reads is::

    {"workload", "chip", "backend", "seed", "emulator_version", "created",
     "dataset": {"name", "source", "n_train", "n_test", "n_features", "n_classes", "note"},
     "network": {"layers", "n_units", "n_synapses"},
     "eqprop": {...free-form settings...},
     "metrics": {"test_accuracy", "train_accuracy", "epochs"},
     "history": [{"epoch", "train_accuracy", "test_accuracy", "lipschitz", "wall_s"}, ...],
     "counters": {"inference": {op: total}, "training": {op: total}},
     "relaxation": {"inference": {"mean_steps", "quiescent_fraction", "messages_per_step",
                                  "messages_per_step_theta0"}},
     "energy": {"per_op_j", "time_per_op_s", "static_power_w", "sources",
                "inference": {"total_j", "per_sample_j", "breakdown_j"},
                "training": {"total_j", "per_sample_j", "breakdown_j"}},
     "time": {"emulated_s_per_inference", "emulated_s_training", "wall_s"},
     "program": {...free-form backend summary...}}

Every key except ``workload`` and ``chip`` may be missing; missing sections are omitted
from the Markdown and figures without data say so instead of failing.

A MaxCut run (``"kind": "maxcut"``, built by :mod:`emulator.maxcut`) has instead::

    {"kind", "workload", "chip", "backend", "seed", "emulator_version", "created",
     "graph": {"name", "nodes", "edges", "total_weight", "best_known_cut", "best_known_source"},
     "anneal": {...schedule...},
     "metrics": {"best_cut", "mean_cut", "best_ratio", "mean_ratio", "target_cut", "target_is_best_known",
                 "success_probability", "repetitions_99", "time_to_solution_s", "energy_to_solution_j"},
     "runs": [{"run", "cut", "ratio"}, ...],
     "counters": {"anneal": {op: total}, "programming": {op: total}},
     "energy": {"per_op_j", "time_per_op_s", "static_power_w", "sources",
                "anneal": {"total_j", "per_sample_j", "breakdown_j"}, "programming": {"total_j", "breakdown_j"}},
     "time": {"emulated_s_per_run", "emulated_s_programming", "wall_s"},
     "program": {...}}

and its report is ``report.json``, ``report.md`` and ``cuts.png``.

Public functions: :func:`write_report`, :func:`render_markdown`, :func:`write_comparison`
and the formatting helpers :func:`format_si` and :func:`format_count`.
"""
from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (backend must be chosen first)

__all__ = [
    "write_report",
    "render_markdown",
    "write_comparison",
    "format_si",
    "format_count",
]

FIGSIZE = (6.0, 4.0)
WIDE_FIGSIZE = (8.0, 4.0)
DPI = 120
MISSING = "n/a"

_PREFIXES = {
    -18: "a", -15: "f", -12: "p", -9: "n", -6: "\u00b5", -3: "m",
    0: "", 3: "k", 6: "M", 9: "G", 12: "T", 15: "P",
}
_PHASES = ("inference", "training")


# --------------------------------------------------------------------------- formatting


def format_si(value: float | None, unit: str = "", digits: int = 3) -> str:
    """Format a number with an engineering (SI) prefix, e.g. ``3.2e-9 J -> "3.2 nJ"``.

    Parameters
    ----------
    value : float or None
        The number; numpy scalars are accepted. ``None`` and NaN give ``"n/a"``.
    unit : str, optional
        Unit symbol appended after the prefix (``"J"``, ``"s"``, ``"W"``...).
    digits : int, optional
        Significant digits; trailing zeros are dropped (``1.50 -> "1.5"``).

    Returns
    -------
    str
        ``"<mantissa> <prefix><unit>"`` with the mantissa in ``[1, 1000)``; exponents
        outside atto..peta fall back to scientific notation.

    Examples
    --------
    >>> format_si(4.5e-5, "J")
    '45 µJ'
    >>> format_si(1200, "J")
    '1.2 kJ'
    >>> format_si(-0.7, "s")
    '-700 ms'
    """
    if value is None:
        return MISSING
    v = float(value)
    if math.isnan(v):
        return MISSING
    sep = " " if unit else ""
    if math.isinf(v):
        return f"{'-' if v < 0 else ''}inf{sep}{unit}"
    if v == 0:
        return f"0{sep}{unit}"
    sign = "-" if v < 0 else ""
    mag = abs(v)
    exp3 = 3 * math.floor(math.log10(mag) / 3)
    mantissa = float(f"{mag / 10.0 ** exp3:.{digits}g}")
    if mantissa >= 1000:  # rounding (or log10 imprecision) pushed it to the next prefix
        exp3 += 3
        mantissa = float(f"{mag / 10.0 ** exp3:.{digits}g}")
    if exp3 not in _PREFIXES:
        return f"{sign}{mag:.{digits - 1}e}{sep}{unit}"
    return f"{sign}{mantissa:.{digits}g}{sep}{_PREFIXES[exp3]}{unit}"


def format_count(value: float | None) -> str:
    """Format an operation count with thousands separators.

    Integral values print exactly (``18944 -> "18,944"``); fractional ones, such as
    per-sample averages, keep one decimal above 10 and three significant digits below.

    Parameters
    ----------
    value : float or None
        The count; numpy scalars are accepted. ``None`` and NaN give ``"n/a"``.

    Returns
    -------
    str
    """
    if value is None:
        return MISSING
    v = float(value)
    if math.isnan(v):
        return MISSING
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if v.is_integer():
        return f"{int(v):,}"
    if abs(v) >= 10:
        return f"{v:,.1f}"
    return f"{v:.3g}"


def format_percent(fraction: float | None, decimals: int = 1) -> str:
    """Format a fraction in [0, 1] as a percentage: ``0.9712 -> "97.1 %"``."""
    if fraction is None or math.isnan(float(fraction)):
        return MISSING
    return f"{100.0 * float(fraction):.{decimals}f} %"


def _format_number(value: Any) -> str:
    """Format a free-form value (settings, program summary) for a table cell."""
    if value is None:
        return MISSING
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value)).lower()
    if isinstance(value, (int, np.integer)):
        return format_count(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return format_count(v) if v.is_integer() and abs(v) < 1e15 else f"{v:.4g}"
    if isinstance(value, (Mapping, list, tuple, np.ndarray)):
        return "`" + json.dumps(value, default=_json_default) + "`"
    return str(value)


def _format_cut(value: Any) -> str:
    """A cut value (a sum of edge weights, or a mean of them) to two decimals at most, with thousands separators."""
    if value is None:
        return MISSING
    return f"{float(value):,.2f}".rstrip("0").rstrip(".")


def _cell(text: Any) -> str:
    """Make text safe for a Markdown table cell (no pipes, no line breaks)."""
    return str(text).replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]], align: str | None = None) -> str:
    """Render a Markdown table; ``align`` is one char per column (``l`` / ``r``)."""
    align = align or "l" + "r" * (len(header) - 1)
    rule = ["---:" if a == "r" else ":---" for a in align]
    lines = ["| " + " | ".join(_cell(h) for h in header) + " |", "| " + " | ".join(rule) + " |"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


# --------------------------------------------------------------------------- reading


def _json_default(obj: Any) -> Any:
    """``json.dump`` hook: numpy scalars/arrays and paths to plain Python."""
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def _get(d: Any, *keys: str, default: Any = None) -> Any:
    """Nested ``dict.get``: ``_get(r, "energy", "inference", "total_j")``."""
    for key in keys:
        if not isinstance(d, Mapping) or key not in d or d[key] is None:
            return default
        d = d[key]
    return d


def _num(value: Any) -> float | None:
    """A finite float, or None for missing / non-numeric / NaN values."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


def _seq(value: Any) -> list:
    """A list from a list, tuple or numpy array; ``[]`` for None or a scalar."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    return list(value) if isinstance(value, (list, tuple)) else []


def _title(result: Mapping) -> str:
    return f"{result.get('workload', 'run')} on {result.get('chip', '?')}"


def _sample_count(result: Mapping, phase: str) -> float | None:
    """How many samples the ``phase`` counters and energy totals cover.

    Taken from the energy section when it has both a total and a per-sample value
    (so per-sample counters agree with per-sample energy); otherwise ``n_test`` for
    inference and ``n_train * epochs`` for training.
    """
    total = _num(_get(result, "energy", phase, "total_j"))
    per_sample = _num(_get(result, "energy", phase, "per_sample_j"))
    if total and per_sample and total > 0 and per_sample > 0:
        return float(round(total / per_sample))
    if phase == "inference":
        return _num(_get(result, "dataset", "n_test"))
    n_train = _num(_get(result, "dataset", "n_train"))
    epochs = _num(_get(result, "metrics", "epochs"))
    if epochs is None and result.get("history"):
        epochs = float(len(result["history"]))
    return n_train * epochs if n_train is not None and epochs else None


def _ratio(total: Any, n: float | None) -> float | None:
    """``total / n``, or None when either is missing or ``n`` is zero."""
    t = _num(total)
    return t / n if t is not None and n else None


def _ordered_union(*mappings: Any) -> list[str]:
    """Keys of all mappings, first-seen order."""
    keys: dict[str, None] = {}
    for m in mappings:
        if isinstance(m, Mapping):
            keys.update(dict.fromkeys(m))
    return list(keys)


def summarize(result: Mapping) -> dict[str, Any]:
    """One row of headline numbers for a result (used by :func:`write_comparison`).

    Parameters
    ----------
    result : dict
        A run's result dict.

    Returns
    -------
    dict
        ``chip, backend, workload, dataset, test_accuracy, train_accuracy,
        energy_per_inference_j, latency_per_inference_s, synaptic_ops_per_inference,
        messages_per_inference, training_energy_per_sample_j, training_energy_j,
        emulated_training_s, wall_s``; missing values are None.
    """
    n_inf = _sample_count(result, "inference")
    return {
        "chip": result.get("chip"),
        "backend": result.get("backend"),
        "workload": result.get("workload"),
        "dataset": _get(result, "dataset", "name"),
        "test_accuracy": _num(_get(result, "metrics", "test_accuracy")),
        "train_accuracy": _num(_get(result, "metrics", "train_accuracy")),
        "energy_per_inference_j": _num(_get(result, "energy", "inference", "per_sample_j")),
        "latency_per_inference_s": _num(_get(result, "time", "emulated_s_per_inference")),
        "synaptic_ops_per_inference": _ratio(
            _get(result, "counters", "inference", "synaptic_ops"), n_inf),
        "messages_per_inference": _ratio(_get(result, "counters", "inference", "messages"), n_inf),
        "training_energy_per_sample_j": _num(_get(result, "energy", "training", "per_sample_j")),
        "training_energy_j": _num(_get(result, "energy", "training", "total_j")),
        "emulated_training_s": _num(_get(result, "time", "emulated_s_training")),
        "wall_s": _num(_get(result, "time", "wall_s")),
    }


# --------------------------------------------------------------------------- markdown


def _md_summary(result: Mapping) -> str:
    s = summarize(result)
    metrics = result.get("metrics") or {}
    acc = f"a test accuracy of **{format_percent(s['test_accuracy'])}**"
    extras = []
    if s["train_accuracy"] is not None:
        extras.append(f"train {format_percent(s['train_accuracy'])}")
    if metrics.get("epochs") is not None and not result.get("deployed"):
        extras.append(f"{format_count(metrics['epochs'])} epochs")
    if extras:
        acc += f" ({', '.join(extras)})"
    backend = f" (backend `{result['backend']}`)" if result.get("backend") else ""
    deployed = result.get("deployed")
    if deployed:
        acc += (f", with the network trained on **{deployed['trained_on']}** for {deployed['epochs']} epochs "
                f"(`{deployed['from']}`) and programmed once onto this chip, without training on it")
    return (
        f"The `{result.get('workload', 'run')}` workload on the **{result.get('chip', '?')}** "
        f"chip{backend} reaches {acc}. One inference costs "
        f"**{format_si(s['energy_per_inference_j'], 'J')}** and takes "
        f"**{format_si(s['latency_per_inference_s'], 's')}** of emulated time; "
        f"the whole run took {format_si(s['wall_s'], 's')} of wall-clock time on the host."
    )


def _md_run_info(result: Mapping) -> str:
    fields = [("backend", "backend"), ("seed", "seed"),
              ("emulator_version", "emulator version"), ("created", "created")]
    parts = [f"{label}: `{result[key]}`" for key, label in fields if result.get(key) is not None]
    return " · ".join(parts)


def _md_dataset(dataset: Mapping) -> str:
    rows = [
        ("name", dataset.get("name", MISSING)),
        ("source", dataset.get("source", MISSING)),
        ("training samples", format_count(dataset.get("n_train"))),
        ("test samples", format_count(dataset.get("n_test"))),
        ("features", format_count(dataset.get("n_features"))),
        ("classes", format_count(dataset.get("n_classes"))),
    ]
    text = "## Dataset\n\n" + _table(["item", "value"], rows, "ll")
    note = dataset.get("note")
    if note:
        quoted = "\n> ".join(str(note).splitlines())
        text += f"\n\n> **Warning:** {quoted}"
    return text


def _md_network(result: Mapping) -> str:
    parts = []
    net = result.get("network")
    if net:
        rows = []
        if net.get("layers") is not None:
            rows.append(("layers", " → ".join(format_count(n) for n in net["layers"])))
        rows += [(k.removeprefix("n_").replace("_", " "), _format_number(v))
                 for k, v in net.items() if k != "layers"]
        parts.append("## Network\n\n" + _table(["item", "value"], rows, "lr"))
    eqprop = result.get("eqprop")
    if eqprop:
        rows = [(k, _format_number(v)) for k, v in eqprop.items()]
        parts.append("## Equilibrium Propagation settings\n\n" + _table(["setting", "value"], rows, "lr"))
    return "\n\n".join(parts)


def _md_history(history: Sequence[Mapping]) -> str:
    n_lip = max((len(_seq(h.get("lipschitz"))) for h in history), default=0)
    header = ["epoch", "train acc", "test acc"] + [f"Lipschitz W{i + 1}" for i in range(n_lip)] + ["wall s"]
    rows = []
    for h in history:
        lip = _seq(h.get("lipschitz"))
        lip_cells = [f"{float(x):.3f}" if _num(x) is not None else MISSING for x in lip]
        lip_cells += [MISSING] * (n_lip - len(lip))
        wall = _num(h.get("wall_s"))
        rows.append([format_count(h.get("epoch")), format_percent(h.get("train_accuracy")),
                     format_percent(h.get("test_accuracy")), *lip_cells,
                     f"{wall:.2f}" if wall is not None else MISSING])
    return "## Training history\n\n" + _table(header, rows)


def _md_counters(result: Mapping) -> str:
    counters = result.get("counters") or {}
    inf, tr = counters.get("inference") or {}, counters.get("training") or {}
    n_inf, n_tr = _sample_count(result, "inference"), _sample_count(result, "training")
    rows = []
    for op in _ordered_union(inf, tr):
        rows.append([f"`{op}`",
                     format_count(inf.get(op)), format_count(_ratio(inf.get(op), n_inf)),
                     format_count(tr.get(op)), format_count(_ratio(tr.get(op), n_tr))])
    header = ["op", "inference total", "per inference", "training total", "per training sample"]
    basis = (f"Per-sample values divide by {format_count(n_inf)} inferences and "
             f"{format_count(n_tr)} training sample presentations.")
    return "## Operation counters\n\n" + _table(header, rows) + "\n\n" + basis


def _md_energy(energy: Mapping) -> str:
    per_op = energy.get("per_op_j") or {}
    sources = energy.get("sources") or {}
    inf = _get(energy, "inference", "breakdown_j", default={})
    tr = _get(energy, "training", "breakdown_j", default={})
    inf_total = _num(_get(energy, "inference", "total_j"))
    if inf_total is None and inf:
        inf_total = sum(_num(v) or 0.0 for v in inf.values())
    rows = []
    for op in _ordered_union(per_op, inf, tr):
        share = _ratio(inf.get(op), inf_total)
        j_per_op = format_si(per_op[op], "J") if op in per_op else "—"
        rows.append([f"`{op}`", j_per_op, sources.get(op, ""),
                     format_si(inf.get(op), "J"), format_si(tr.get(op), "J"),
                     f"{100 * share:.1f} %" if share is not None else MISSING])
    rows.append(["**total**", "", "", format_si(_get(energy, "inference", "total_j"), "J"),
                 format_si(_get(energy, "training", "total_j"), "J"), ""])
    header = ["op", "J per op", "source", "inference J", "training J", "share % (inference)"]
    lines = ["## Energy", "", _table(header, rows, "lrlrrr"), ""]
    for phase in _PHASES:
        if _get(energy, phase, "per_sample_j") is not None:
            lines.append(f"- {phase} energy per sample: **{format_si(energy[phase]['per_sample_j'], 'J')}**")
    if energy.get("static_power_w") is not None:
        src = sources.get("static_power_w") or sources.get("static")
        lines.append(f"- static power: **{format_si(energy['static_power_w'], 'W')}**"
                     + (f" ({src})" if src else ""))
    return "\n".join(lines).rstrip()


def _md_time(result: Mapping) -> str:
    t = result.get("time") or {}
    rows = [("emulated time per inference", format_si(t.get("emulated_s_per_inference"), "s")),
            ("emulated training time", format_si(t.get("emulated_s_training"), "s")),
            ("host wall-clock time", format_si(t.get("wall_s"), "s"))]
    text = "## Time\n\n" + _table(["item", "value"], rows, "lr")
    per_op = _get(result, "energy", "time_per_op_s", default={})
    if per_op:
        text += "\n\n" + _table(["op", "time per op"], [(f"`{k}`", format_si(v, "s")) for k, v in per_op.items()])
    return text


def _md_relaxation(relax: Mapping) -> str:
    rows = []
    for phase, r in relax.items():
        if not isinstance(r, Mapping):
            continue
        mps = _seq(r.get("messages_per_step"))
        rows.append([phase, f"{float(r['mean_steps']):.1f}" if _num(r.get("mean_steps")) is not None else MISSING,
                     format_percent(r.get("quiescent_fraction")), format_count(len(mps))])
    if not rows:
        return ""
    header = ["phase", "mean steps to equilibrium", "quiescent fraction", "steps recorded"]
    return "## Relaxation\n\n" + _table(header, rows)


#: cores listed in a report's core table; larger mappings list the first ones and say so
MAX_CORE_ROWS = 64


def _md_program(result: Mapping) -> str:
    """The program summary: its settings, then a table per list of records (e.g. the weights of
    each layer), then one row per core with the per-core counters of an inference."""
    program = result["program"]
    scalars = {k: v for k, v in program.items() if not isinstance(v, (list, tuple))}
    text = "## Program summary\n\n" + _table(["item", "value"],
                                                [(f"`{k}`", _format_number(v)) for k, v in scalars.items()], "lr")
    for key, records in program.items():
        if isinstance(records, (list, tuple)) and records and isinstance(records[0], Mapping):
            header = list(records[0])
            rows = [[str(i)] + [_format_number(r.get(h)) for h in header] for i, r in enumerate(records)]
            text += f"\n\n### `{key}` per layer\n\n" + _table(["layer", *header], rows)
    cores = {k: v for k, v in program.items() if k.endswith("_per_core") and isinstance(v, (list, tuple))}
    n_inf = _sample_count(result, "inference")
    per_inference = {k.removesuffix("_per_core"): v for k, v in
                     (_get(result, "per_core", "inference", default={}) or {}).items()}
    if cores:
        n_cores = len(next(iter(cores.values())))
        header = ["core", *(k.removesuffix("_per_core") for k in cores), *(f"{k} / inference" for k in per_inference)]
        rows = [[str(c), *(format_count(v[c]) for v in cores.values()),
                 *(format_count(_ratio(v[c], n_inf)) for v in per_inference.values())]
                for c in range(min(n_cores, MAX_CORE_ROWS))]
        note = f"\n\nThe first {MAX_CORE_ROWS} of {n_cores} cores." if n_cores > MAX_CORE_ROWS else ""
        text += "\n\n### Cores\n\n" + _table(header, rows) + note
    return text


def _md_figures() -> str:
    return ("## Figures\n\n"
            "![Accuracy per epoch](accuracy.png)\n\n"
            "![Energy breakdown](energy_breakdown.png)\n\n"
            "![Messages per relaxation step](messages_per_step.png)")


def _md_maxcut_summary(result: Mapping) -> str:
    m, g = result.get("metrics") or {}, result.get("graph") or {}
    ratio = (f" ({format_percent(m.get('best_ratio'), 2)} of the best known, "
             f"{_format_cut(g.get('best_known_cut'))})" if m.get("best_ratio") is not None else "")
    target = "the best-known cut" if m.get("target_is_best_known") else "the best cut of these runs"
    tts = m.get("time_to_solution_s")
    solution = (f"Time-to-solution (99 %): **{format_si(tts, 's')}**, energy-to-solution "
                f"**{format_si(m.get('energy_to_solution_j'), 'J')}** (emulated)." if tts is not None
                else f"No run reached {target}: time- and energy-to-solution are undefined.")
    return (f"The `{result.get('workload', 'run')}` MaxCut workload on the **{result.get('chip', '?')}** chip "
            f"(backend `{result.get('backend', '?')}`): best cut **{_format_cut(m.get('best_cut'))}**{ratio}, "
            f"mean {_format_cut(m.get('mean_cut'))} over {format_count(len(_seq(result.get('runs'))))} runs; "
            f"{format_percent(m.get('success_probability'))} of the runs reached {target}. {solution} "
            f"The run took {format_si(_get(result, 'time', 'wall_s'), 's')} of wall-clock time on the host.")


def _md_maxcut(result: Mapping) -> list[str]:
    g, m, t = result.get("graph") or {}, result.get("metrics") or {}, result.get("time") or {}
    sections = [_md_maxcut_summary(result)]
    rows = [(k.replace("_", " "), _format_number(v)) for k, v in g.items()]
    sections.append("## Graph\n\n" + _table(["item", "value"], rows, "ll"))
    rows = [(k, _format_number(v)) for k, v in (result.get("anneal") or {}).items()]
    sections.append("## Anneal\n\n" + _table(["setting", "value"], rows, "lr"))
    rows = [("best cut", _format_cut(m.get("best_cut"))), ("mean cut", _format_cut(m.get("mean_cut"))),
            ("best / best known", _format_number(m.get("best_ratio"))),
            ("mean / best known", _format_number(m.get("mean_ratio"))),
            ("target cut", _format_cut(m.get("target_cut"))),
            ("success probability", format_percent(m.get("success_probability"))),
            ("runs for 99 % success", _format_number(m.get("repetitions_99"))),
            ("emulated time per run", format_si(t.get("emulated_s_per_run"), "s")),
            ("time-to-solution (99 %)", format_si(m.get("time_to_solution_s"), "s")),
            ("energy-to-solution (99 %)", format_si(m.get("energy_to_solution_j"), "J")),
            ("programming time (once)", format_si(t.get("emulated_s_programming"), "s")),
            ("host wall-clock time", format_si(t.get("wall_s"), "s"))]
    sections.append("## Results\n\n" + _table(["metric", "value"], rows, "lr"))
    runs = _seq(result.get("runs"))
    rows = [(r.get("run"), _format_number(r.get("cut")), _format_number(r.get("ratio"))) for r in runs]
    sections.append("## Runs\n\n" + _table(["run", "cut", "cut / best known"], rows))
    counters = result.get("counters") or {}
    ops = _ordered_union(*counters.values())
    n_runs = len(runs) or None
    rows = [[f"`{op}`", format_count(_get(counters, "anneal", op)),
             format_count(_ratio(_get(counters, "anneal", op), n_runs)),
             format_count(_get(counters, "programming", op))] for op in ops]
    sections.append("## Operation counters\n\n" + _table(["op", "anneal total", "per run", "programming"], rows))
    energy = result.get("energy") or {}
    sources = energy.get("sources") or {}
    per_op = energy.get("per_op_j") or {}
    rows = [[f"`{op}`", format_si(per_op.get(op), "J"), sources.get(op, ""),
             format_si(_get(energy, "anneal", "breakdown_j", op), "J"),
             format_si(_get(energy, "programming", "breakdown_j", op), "J")]
            for op in _ordered_union(per_op, _get(energy, "anneal", "breakdown_j"))]
    rows.append(["**total**", "", "", format_si(_get(energy, "anneal", "total_j"), "J"),
                 format_si(_get(energy, "programming", "total_j"), "J")])
    sections.append("## Energy\n\n" + _table(["op", "J per op", "source", "anneal J (all runs)", "programming J"],
                                                 rows, "lrlrr")
                    + f"\n\n- energy per run: **{format_si(_get(energy, 'anneal', 'per_sample_j'), 'J')}**")
    if result.get("program"):
        sections.append(_md_program(result))
    sections.append("## Figures\n\n![Cut per run](cuts.png)")
    return sections


def render_markdown(result: dict) -> str:
    """Render a result dict as a Markdown report.

    Sections: title, summary paragraph, dataset (with the dataset note as a warning
    blockquote), network, EqProp settings, per-epoch history, relaxation, operation
    counters, energy (with static power), time, program summary and figure links.
    Sections whose data is missing are left out.

    Parameters
    ----------
    result : dict
        A run's result dict (see the module docstring).

    Returns
    -------
    str
        The Markdown text, ending with a newline. The figure links are relative and
        resolve when the text is saved next to the figures, as :func:`write_report` does.
    """
    if result.get("kind") == "maxcut":
        sections = [f"# {_title(result)}", _md_run_info(result), *_md_maxcut(result)]
        return "\n\n".join(s for s in sections if s) + "\n"
    sections = [f"# {_title(result)}", _md_run_info(result), _md_summary(result)]
    if result.get("dataset"):
        sections.append(_md_dataset(result["dataset"]))
    sections.append(_md_network(result))
    if result.get("history"):
        sections.append(_md_history(result["history"]))
    if result.get("relaxation"):
        sections.append(_md_relaxation(result["relaxation"]))
    if result.get("counters"):
        sections.append(_md_counters(result))
    if result.get("energy"):
        sections.append(_md_energy(result["energy"]))
    if result.get("time") or _get(result, "energy", "time_per_op_s"):
        sections.append(_md_time(result))
    if result.get("program"):
        sections.append(_md_program(result))
    sections.append(_md_figures())
    return "\n\n".join(s for s in sections if s) + "\n"


# --------------------------------------------------------------------------- figures


def _no_data(ax: Any, text: str = "no data") -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes,
            fontsize=12, color="0.45")
    ax.set_xticks([])
    ax.set_yticks([])


def _save(fig: Any, path: Path) -> Path:
    try:
        fig.tight_layout()
        fig.savefig(path, dpi=DPI)
    finally:
        plt.close(fig)
    return path


def plot_accuracy(result: Mapping, path: str | Path) -> Path:
    """Save train/test accuracy per epoch (lines with markers) to ``path``."""
    history = _seq(result.get("history"))
    fig, ax = plt.subplots(figsize=FIGSIZE)
    epochs = [h.get("epoch", i + 1) for i, h in enumerate(history)]
    plotted = False
    for key, label, marker in (("train_accuracy", "train", "o"), ("test_accuracy", "test", "s")):
        pts = [(e, 100 * _num(h.get(key))) for e, h in zip(epochs, history) if _num(h.get(key)) is not None]
        if pts:
            x, y = zip(*pts)
            ax.plot(x, y, marker=marker, label=label)
            plotted = True
    if plotted:
        ax.set_xlabel("epoch")
        ax.set_ylabel("accuracy (%)")
        ax.grid(True, alpha=0.3)
        ax.legend()
        if len(set(epochs)) <= 12:
            ax.set_xticks(sorted(set(epochs)))
    else:
        final = _num(_get(result, "metrics", "test_accuracy"))
        _no_data(ax, "no per-epoch history" + (f"\nfinal test accuracy {format_percent(final)}" if final is not None else ""))
    ax.set_title(f"{_title(result)}: accuracy per epoch")
    return _save(fig, Path(path))


def _barh_log(ax: Any, breakdown: Mapping, ops: list[str], title: str, color: str) -> None:
    values = [_num(breakdown.get(op)) or 0.0 for op in ops]
    positive = [v for v in values if v > 0]
    if not positive:
        _no_data(ax)
        ax.set_title(title)
        return
    floor = 10 ** math.floor(math.log10(min(positive)) - 1)
    y = np.arange(len(ops))
    widths = [v - floor if v > floor else 0.0 for v in values]
    ax.barh(y, widths, left=floor, color=color)
    ax.set_xscale("log")
    ax.set_xlim(floor, max(positive) * 30)
    ax.set_yticks(y, ops)
    ax.invert_yaxis()
    for yi, v in zip(y, values):
        ax.text(max(v, floor) * 1.15, yi, format_si(v, "J") if v > 0 else "0", va="center", fontsize=8)
    ax.set_xlabel("energy (J, log scale)")
    ax.grid(True, axis="x", alpha=0.3)
    ax.set_title(title)


def plot_energy_breakdown(result: Mapping, path: str | Path) -> Path:
    """Save horizontal log-scale bars of ``breakdown_j`` per op, inference and training."""
    energy = result.get("energy") or {}
    breakdowns = {phase: _get(energy, phase, "breakdown_j", default={}) for phase in _PHASES}
    ops = _ordered_union(energy.get("per_op_j"), *breakdowns.values())
    ops = [op for op in ops if any(op in b for b in breakdowns.values())]
    fig, axes = plt.subplots(1, 2, figsize=WIDE_FIGSIZE)
    for ax, phase, color in zip(axes, _PHASES, ("tab:blue", "tab:orange")):
        total = _get(energy, phase, "total_j")
        title = f"{phase} (total {format_si(total, 'J')})" if total is not None else phase
        _barh_log(ax, breakdowns[phase], ops, title, color)
    if any(_num(v) for v in breakdowns["inference"].values()):
        axes[1].tick_params(labelleft=False)  # same op order as the left panel
    fig.suptitle(f"{_title(result)}: energy breakdown")
    return _save(fig, Path(path))


def plot_messages_per_step(result: Mapping, path: str | Path) -> Path:
    """Save mean messages per sample vs relaxation step (theta = 0 dashed if present)."""
    relax = _get(result, "relaxation", "inference", default={})
    theta = _get(result, "eqprop", "theta")
    curves = []
    lazy = [_num(v) or 0.0 for v in _seq(relax.get("messages_per_step"))]
    dense = [_num(v) or 0.0 for v in _seq(relax.get("messages_per_step_theta0"))]
    if lazy:
        curves.append((lazy, f"θ = {theta:g}" if _num(theta) is not None else "thresholded", "-", "o"))
    if dense:
        curves.append((dense, "θ = 0 (no threshold)", "--", None))
    fig, ax = plt.subplots(figsize=FIGSIZE)
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
        _no_data(ax)
    ax.set_title(f"{_title(result)}: messages per relaxation step")
    return _save(fig, Path(path))


def plot_cuts(result: Mapping, path: str | Path) -> Path:
    """Save the cut of each run as bars, with the best-known cut as a line."""
    cuts = [_num(r.get("cut")) for r in _seq(result.get("runs"))]
    best_known = _num(_get(result, "graph", "best_known_cut"))
    fig, ax = plt.subplots(figsize=FIGSIZE)
    if cuts:
        ax.bar(range(len(cuts)), cuts, color="tab:blue", label="cut of the run")
        if best_known is not None:
            ax.axhline(best_known, color="tab:red", linestyle="--", label=f"best known ({best_known:g})")
        low = min(c for c in cuts + [best_known] if c is not None)
        high = max(c for c in cuts + [best_known] if c is not None)
        ax.set_ylim(low - 0.1 * (high - low + 1), high + 0.1 * (high - low + 1))
        ax.set_xlabel("run")
        ax.set_ylabel("cut")
        ax.legend(fontsize=8)
        ax.grid(True, axis="y", alpha=0.3)
    else:
        _no_data(ax)
    ax.set_title(f"{_title(result)}: cut per run")
    return _save(fig, Path(path))


def plot_comparison(summaries: Sequence[Mapping], path: str | Path, title: str = "") -> Path:
    """Save grouped bars per chip: energy per inference (left, log) and test accuracy (right)."""
    fig, ax_e = plt.subplots(figsize=WIDE_FIGSIZE)
    chips = [str(s.get("chip")) for s in summaries]
    energy = [s.get("energy_per_inference_j") for s in summaries]
    acc = [s.get("test_accuracy") for s in summaries]
    if not summaries:
        _no_data(ax_e)
        return _save(fig, Path(path))
    x = np.arange(len(chips))
    w = 0.38
    ax_a = ax_e.twinx()
    e_vals = [e if e and e > 0 else np.nan for e in energy]
    bars_e = ax_e.bar(x - w / 2, e_vals, w, color="tab:blue", label="energy per inference (J)")
    a_vals = [100 * a if a is not None else np.nan for a in acc]
    bars_a = ax_a.bar(x + w / 2, a_vals, w, color="tab:green", label="test accuracy (%)")
    if any(np.isfinite(e_vals)):
        ax_e.set_yscale("log")
        lo, hi = np.nanmin(e_vals), np.nanmax(e_vals)
        ax_e.set_ylim(lo / 10, hi * 100)  # headroom for the value labels and the legend
    for xi, e in zip(x, e_vals):
        if np.isfinite(e):
            ax_e.text(xi - w / 2, e * 1.1, format_si(e, "J"), ha="center", va="bottom", fontsize=8)
    for xi, a in zip(x, a_vals):
        if np.isfinite(a):
            ax_a.text(xi + w / 2, a + 1, f"{a:.1f} %", ha="center", va="bottom", fontsize=8)
    ax_a.set_ylim(0, 125)
    ax_e.set_xticks(x, chips)
    ax_e.set_ylabel("energy per inference (J, log scale)")
    ax_a.set_ylabel("test accuracy (%)")
    ax_e.legend(handles=[bars_e, bars_a], loc="upper center", ncol=2, fontsize=8, frameon=False)
    ax_e.set_title(title or "chip comparison")
    return _save(fig, Path(path))


# --------------------------------------------------------------------------- writers


def _dump_json(obj: Any, path: Path) -> Path:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, sort_keys=False, default=_json_default)
    return path


def write_report(result: dict, out_dir: str | Path) -> dict[str, Path]:
    """Write a run's report files into ``out_dir`` (created if needed).

    Parameters
    ----------
    result : dict
        A run's result dict (see the module docstring). It is not modified.
    out_dir : str or Path
        Destination folder.

    Returns
    -------
    dict of str to Path
        ``{"json": report.json, "markdown": report.md, "accuracy": accuracy.png,
        "energy": energy_breakdown.png, "messages": messages_per_step.png}``; for a MaxCut run
        ``{"json", "markdown", "cuts": cuts.png}``.
        ``report.json`` is ``result`` itself, with numpy values converted to plain Python.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    md_path = out / "report.md"
    md_path.write_text(render_markdown(result), encoding="utf-8")
    if result.get("kind") == "maxcut":
        return {"json": _dump_json(result, out / "report.json"), "markdown": md_path,
                "cuts": plot_cuts(result, out / "cuts.png")}
    return {
        "json": _dump_json(result, out / "report.json"),
        "markdown": md_path,
        "accuracy": plot_accuracy(result, out / "accuracy.png"),
        "energy": plot_energy_breakdown(result, out / "energy_breakdown.png"),
        "messages": plot_messages_per_step(result, out / "messages_per_step.png"),
    }


def _folder_names(chips: Sequence[Any]) -> list[str]:
    """File-system-safe, unique folder names for the chips, in order."""
    names: list[str] = []
    for chip in chips:
        base = re.sub(r"[^A-Za-z0-9._-]+", "_", str(chip)).strip("._") or "chip"
        name, k = base, 2
        while name in names:
            name, k = f"{base}_{k}", k + 1
        names.append(name)
    return names


def _dataset_line(result: Mapping) -> str:
    d = result.get("dataset") or {}
    if not d:
        return MISSING
    line = (f"{d.get('name', MISSING)} ({format_count(d.get('n_train'))} train / "
            f"{format_count(d.get('n_test'))} test, {format_count(d.get('n_features'))} features, "
            f"{format_count(d.get('n_classes'))} classes)")
    return line + (f" — {d['note']}" if d.get("note") else "")


def render_comparison_markdown(results: Sequence[Mapping], folders: Sequence[str] | None = None) -> str:
    """Render the side-by-side Markdown table of several results (rows in given order).

    Parameters
    ----------
    results : sequence of dict
        Result dicts, one per chip.
    folders : sequence of str, optional
        Per-chip report folders (relative); when given, chip names link to their report.

    Returns
    -------
    str
    """
    workloads = list(dict.fromkeys(str(r.get("workload", "run")) for r in results))
    rows = []
    for i, r in enumerate(results):
        s = summarize(r)
        chip = f"[{s['chip']}]({folders[i]}/report.md)" if folders else str(s["chip"])
        rows.append([chip, s["backend"] or MISSING, format_percent(s["test_accuracy"]),
                     format_si(s["energy_per_inference_j"], "J"), format_si(s["latency_per_inference_s"], "s"),
                     format_count(s["synaptic_ops_per_inference"]), format_count(s["messages_per_inference"]),
                     format_si(s["training_energy_per_sample_j"], "J")])
    header = ["chip", "backend", "test accuracy", "energy / inference", "emulated latency / inference",
              "synaptic ops / inference", "messages / inference", "training energy / sample"]
    datasets = list(dict.fromkeys(_dataset_line(r) for r in results))
    if len(datasets) == 1:
        ds = f"Dataset: {datasets[0]}."
    else:
        ds = "Datasets: " + "; ".join(f"{r.get('chip')}: {_dataset_line(r)}" for r in results) + "."
    return (f"# {' / '.join(workloads)}: chip comparison\n\n{ds}\n\n"
            + _table(header, rows, "llrrrrrr") + "\n\n![Comparison](comparison.png)\n")


def write_comparison(results: list[dict], out_dir: str | Path) -> dict[str, Path]:
    """Write per-chip reports and a side-by-side comparison of several results.

    Parameters
    ----------
    results : list of dict
        Result dicts, one per chip; order is kept in every table and figure.
    out_dir : str or Path
        Destination folder (created if needed). Each result is reported into
        ``out_dir/<chip>/`` (name made file-system safe, suffixed ``_2``... if repeated).

    Returns
    -------
    dict of str to Path
        ``{"json": comparison.json, "markdown": comparison.md, "figure": comparison.png,
        "chip:<folder>": that chip's report folder, ...}``. ``comparison.json`` holds
        ``workload`` (the common workload name, or a list when they differ), ``chips``,
        ``summary`` (see :func:`summarize`) and the full ``results``.
    """
    if not results:
        raise ValueError("write_comparison needs at least one result")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    folders = _folder_names([r.get("chip") for r in results])
    paths: dict[str, Path] = {}
    for folder, r in zip(folders, results):
        write_report(r, out / folder)
        paths[f"chip:{folder}"] = out / folder
    summaries = [summarize(r) for r in results]
    workloads = list(dict.fromkeys(r.get("workload") for r in results))
    payload = {"workload": workloads[0] if len(workloads) == 1 else workloads,
               "chips": [r.get("chip") for r in results],
               "summary": summaries,
               "results": results}
    md_path = out / "comparison.md"
    md_path.write_text(render_comparison_markdown(results, folders), encoding="utf-8")
    title = f"{' / '.join(str(w) for w in workloads)}: chip comparison"
    return {"json": _dump_json(payload, out / "comparison.json"),
            "markdown": md_path,
            "figure": plot_comparison(summaries, out / "comparison.png", title),
            **paths}
