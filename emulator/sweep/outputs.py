"""What a person reads of a sweep: ``sweep.md`` and the figures, from the rows of ``sweep.json``."""
from __future__ import annotations

import re
from pathlib import Path

from emulator.files import write_text
from emulator.report.format import format_si, table
from emulator.sweep.figures import (
    plot_accuracy_against_energy,
    plot_lipschitz,
    plot_metric_against_key,
)
from emulator.sweep.folder import SWEEP, SweepFolder
from emulator.sweep.metrics import LIPSCHITZ, METRICS
from emulator.sweep.summary import Key, by_setting, key_label, setting_text, spread

MARKDOWN = "sweep.md"
PARETO = "accuracy_vs_energy.png"
LIPSCHITZ_FIGURE = "lipschitz.png"


def figure_name(metric: str, key: Key) -> str:
    """``test_accuracy_vs_eqprop.theta.png``; chip keys get ``chip.`` before their path."""
    option, path = key
    return re.sub(r"[^A-Za-z0-9._-]+", "_", f"{metric}_vs_{'' if option == 'set' else 'chip.'}{path}") + ".png"


def write_outputs(folder: SweepFolder) -> dict[str, Path]:
    """Write the sweep's figures and ``sweep.md`` into its folder; returns ``{name: path}``."""
    content = folder.content()
    rows, plot = content["points"], content["plot"]
    keys = [tuple(k) for k in content["keys"]]
    scalars = [m for m in plot if m != LIPSCHITZ]
    files = {}
    for metric in scalars:
        for key in keys:
            name = figure_name(metric, key)
            files[name] = plot_metric_against_key(rows, metric, key, folder.path / name)
    files[PARETO] = plot_accuracy_against_energy(rows, folder.path / PARETO)
    if LIPSCHITZ in plot:
        files[LIPSCHITZ_FIGURE] = plot_lipschitz(rows, folder.path / LIPSCHITZ_FIGURE)
    text = render_markdown(content, [name for name in files])
    files[MARKDOWN] = write_text(folder.path / MARKDOWN, text)
    return files


def render_markdown(content: dict, figures: list[str]) -> str:
    """``sweep.md``: counts, fixed settings, a table of each setting (mean and standard deviation over
    its seeds), the figures, every point with a link to its report, and the errors of failed points."""
    rows = content["points"]
    counts = {s: sum(r["status"] == s for r in rows) for s in ("done", "failed", "missing")}
    keys = [tuple(k) for k in content["keys"]]
    metrics = list(dict.fromkeys(["test_accuracy"] + [m for m in content["plot"] if m != LIPSCHITZ]))
    parts = [f"# Sweep {content['name']}", content["description"],
             f"{len(rows)} points: {counts['done']} done, {counts['failed']} failed, {counts['missing']} missing "
             f"(`{SWEEP}` holds every number). Mean ± standard deviation over the seeds done of each setting.",
             _fixed(content["fixed"])]
    header = ["workload", "chip", "deployment"] + [key_label(k) for k in keys] + ["seeds"] + \
             [METRICS[m].label for m in metrics]
    lines = []
    for group in by_setting([r for r in rows if r["status"] == "done"]).values():
        first = group[0]
        cells = [first["workload"], first["chip"], first["deployment"]]
        cells += [setting_text(first[o][k]) if k in first[o] else "" for o, k in keys]
        cells.append(str(len(group)))
        for m in metrics:
            s = spread([r["metrics"][m] for r in group])
            spread_text = f" ± {METRICS[m].show(s.std)}" if s is not None and s.n > 1 else ""
            op = f" {first['metrics'].get('costliest_op')}" if m == "costliest_ops_per_inference" else ""
            cells.append("" if s is None else METRICS[m].show(s.mean) + spread_text + op)
        lines.append(cells)
    parts += ["## Results", table(header, lines, "lll" + "l" * len(keys) + "r" * (1 + len(metrics)))
              if lines else "No point has finished yet."]
    parts += ["## Figures"] + [f"![{name}]({name})" for name in figures if name.endswith(".png")]
    point_rows = [[f"[{r['folder']}]({r['folder']}/report.md)" if r["status"] == "done" else r["folder"],
                   r["status"], str(r["seed"]),
                   METRICS["test_accuracy"].show(r["metrics"]["test_accuracy"]) if r["metrics"] else "",
                   format_si(r["wall_s"], "s") if r["wall_s"] is not None else ""] for r in rows]
    parts += ["## Points", table(["point", "status", "seed", "test accuracy", "wall time"], point_rows, "llrrr")]
    failed = [f"- `{r['folder']}`: {r['error']}" for r in rows if r["status"] == "failed"]
    if failed:
        parts += ["## Failed points", "\n".join(failed)]
    return "\n\n".join(p for p in parts if p) + "\n"


def _fixed(fixed: dict) -> str:
    """The settings every point shares, in the order they apply (a later one wins)."""
    items = [f"- `{option}` {key}: `{setting_text(value)}`" for option in ("set", "chip_set")
             for key, value in fixed[option].items()]
    for key, entry, option in (("workloads", "workload", "set"), ("chips", "chip", "chip_set")):
        items += [f"- {e[entry]}: `{option}` {k}: `{setting_text(v)}`" for e in fixed[key] for k, v in e[option].items()]
    items += [f"- `--{option.replace('_', '-')} {item}` (command line)" for option in ("set", "chip_set")
              for item in fixed["command_line"][option]]
    if fixed["naive_from"]:
        items.append(f"- naive points deploy networks trained on {fixed['naive_from']}")
    return ("Settings of every point, in the order they apply (a later one wins):\n\n" + "\n".join(items)
            if items else "")
