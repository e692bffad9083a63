"""The report of a classification run: Markdown sections and the list of its figures."""
from __future__ import annotations

from emulator.report.figures import PHASES, plot_accuracy, plot_energy_breakdown, plot_messages_per_step
from emulator.report.format import (MISSING, format_count, format_fixed, format_percent, format_si, format_value,
                                    ordered_union, per, table)
from emulator.report.sections import ALGORITHM_NAMES, program_section, run_info, title
from emulator.results import RunResult

#: the figures of the report: (key in write_report's answer, file name, plotting function)
FIGURES = (
    ("accuracy", "accuracy.png", plot_accuracy),
    ("energy", "energy_breakdown.png", plot_energy_breakdown),
    ("messages", "messages_per_step.png", plot_messages_per_step),
)


def sample_count(result: RunResult, phase: str) -> float | None:
    """How many samples the ``phase`` ("inference" or "training") counters and energy totals cover.

    Taken from the energy report when it has a positive total and per-sample value (so that
    per-sample counts agree with per-sample energy); otherwise ``n_test`` for inference and
    ``n_train * epochs`` for training (None without epochs).
    """
    energy = getattr(result.energy, phase)
    if energy.total_j > 0 and energy.per_sample_j > 0:
        return float(round(energy.total_j / energy.per_sample_j))
    if phase == "inference":
        return float(result.dataset.n_test)
    return float(result.dataset.n_train * result.metrics.epochs) if result.metrics.epochs else None


#: how a chip evaluates a network, in words (``RunResult.inference``)
INFERENCE = {"relaxation": "a relaxation to the free equilibrium",
             "feedforward": "one feed-forward pass, no relaxation"}


def _summary(result: RunResult) -> str:
    m, deployed = result.metrics, result.deployed
    extras = [f"train {format_percent(m.train_accuracy)}"] + ([] if deployed else [f"{format_count(m.epochs)} epochs"])
    acc = f"a test accuracy of **{format_percent(m.test_accuracy)}** ({', '.join(extras)})"
    algorithm = ALGORITHM_NAMES[result.algorithm]
    if deployed:
        acc += (f", with the network trained with **{algorithm}** on **{deployed.trained_on}** for {deployed.epochs} "
                f"epochs (`{deployed.trained_folder}`) and programmed once onto this chip, without training on it")
    else:
        acc += f", trained with **{algorithm}**"
    return (
        f"The `{result.workload}` workload on the **{result.chip}** chip (backend `{result.backend}`) "
        f"reaches {acc}; an inference is {INFERENCE[result.inference]}. One inference costs "
        f"**{format_si(result.energy.inference.per_sample_j, 'J')}** and "
        f"takes **{format_si(result.time.emulated_s_per_inference, 's')}** of emulated time; "
        f"the whole run took {format_si(result.time.wall_s, 's')} of wall-clock time on the host."
    )


def _dataset(result: RunResult) -> str:
    d = result.dataset
    rows = [("name", d.name), ("source", d.source), ("training samples", format_count(d.n_train)),
            ("test samples", format_count(d.n_test)), ("features", format_count(d.n_features)),
            ("classes", format_count(d.n_classes))]
    text = "## Dataset\n\n" + table(["item", "value"], rows, "ll")
    if d.note:
        quoted = "\n> ".join(d.note.splitlines())
        text += f"\n\n> **Warning:** {quoted}"
    return text


def _network(result: RunResult) -> str:
    net = result.network
    rows = [("layers", " → ".join(format_count(n) for n in net.layers)),
            ("units", format_value(net.n_units)), ("synapses", format_value(net.n_synapses))]
    text = "## Network\n\n" + table(["item", "value"], rows, "lr")
    rows = [("algorithm", f"`{result.algorithm}` ({ALGORITHM_NAMES[result.algorithm]})"),
            ("inference", INFERENCE[result.inference])]
    settings = result.training.get(result.algorithm)
    rows += [(f"{result.algorithm}.{k}", format_value(v)) for k, v in (settings or {}).items()]
    text += "\n\n## Training algorithm\n\n" + table(["item", "value"], rows, "lr")
    if result.eqprop:
        rows = [(k, format_value(v)) for k, v in result.eqprop.items()]
        heading = "Equilibrium Propagation settings" if result.algorithm == "eqprop" else (
            "Relaxation settings (of the `eqprop` section; this algorithm uses its free phase, or none if it runs "
            "feed-forward, but neither nudged phases nor beta)")
        text += f"\n\n## {heading}\n\n" + table(["setting", "value"], rows, "lr")
    return text


def _history(result: RunResult) -> str:
    n_lip = max(len(h.lipschitz) for h in result.history)
    header = ["epoch", "train acc", "test acc"] + [f"Lipschitz W{i + 1}" for i in range(n_lip)] + ["wall s"]
    rows = [[format_count(h.epoch), format_percent(h.train_accuracy), format_percent(h.test_accuracy),
             *(format_fixed(x, 3) for x in h.lipschitz), *[MISSING] * (n_lip - len(h.lipschitz)),
             format_fixed(h.wall_s, 2)] for h in result.history]
    return "## Training history\n\n" + table(header, rows)


def _relaxation(result: RunResult) -> str:
    rows = [[phase, format_fixed(r.mean_steps, 1), format_percent(r.quiescent_fraction),
             format_count(len(r.messages_per_step))] for phase, r in result.relaxation.items()]
    header = ["phase", "mean steps to equilibrium", "quiescent fraction", "steps recorded"]
    return "## Relaxation\n\n" + table(header, rows) + _spikes(result)


def _spikes(result: RunResult) -> str:
    """Spikes per inference and per step, on a chip that counts them (empty otherwise)."""
    spikes, relaxation = result.counters["inference"].get("spikes"), result.relaxation.get("inference")
    per_inference = per(spikes, sample_count(result, "inference"))
    if per_inference is None or relaxation is None or not relaxation.mean_steps:
        return ""
    return (f"\n\nSpikes: **{format_count(per_inference)} per inference**, "
            f"{format_count(per_inference / relaxation.mean_steps)} per step (the input's included).")


def _counters(result: RunResult) -> str:
    inf, tr = result.counters["inference"], result.counters["training"]
    n_inf, n_tr = sample_count(result, "inference"), sample_count(result, "training")
    rows = [[f"`{op}`", format_count(inf.get(op)), format_count(per(inf.get(op), n_inf)),
             format_count(tr.get(op)), format_count(per(tr.get(op), n_tr))] for op in ordered_union(inf, tr)]
    header = ["op", "inference total", "per inference", "training total", "per training sample"]
    basis = (f"Per-sample values divide by {format_count(n_inf)} inferences and "
             f"{format_count(n_tr)} training sample presentations.")
    return "## Operation counters\n\n" + table(header, rows) + "\n\n" + basis


def _energy(result: RunResult) -> str:
    energy = result.energy
    per_op, sources = energy.per_op_j, energy.sources
    inf, tr = energy.inference.breakdown_j, energy.training.breakdown_j
    rows = [[f"`{op}`", format_si(per_op[op], "J") if op in per_op else "—", sources.get(op, ""),
             format_si(inf.get(op), "J"), format_si(tr.get(op), "J"),
             format_percent(per(inf.get(op), energy.inference.total_j))]
            for op in ordered_union(per_op, inf, tr)]
    rows.append(["**total**", "", "", format_si(energy.inference.total_j, "J"),
                 format_si(energy.training.total_j, "J"), ""])
    header = ["op", "J per op", "source", "inference J", "training J", "share % (inference)"]
    lines = ["## Energy", "", table(header, rows, "lrlrrr"), ""]
    lines += [f"- {phase} energy per sample: **{format_si(getattr(energy, phase).per_sample_j, 'J')}**"
              for phase in PHASES]
    lines.append(f"- static power: **{format_si(energy.static_power_w, 'W')}**")
    return "\n".join(lines)


def _time(result: RunResult) -> str:
    t = result.time
    rows = [("emulated time per inference", format_si(t.emulated_s_per_inference, "s")),
            ("emulated training time", format_si(t.emulated_s_training, "s")),
            ("host wall-clock time", format_si(t.wall_s, "s"))]
    text = "## Time\n\n" + table(["item", "value"], rows, "lr")
    per_op = result.energy.time_per_op_s
    if per_op:
        text += "\n\n" + table(["op", "time per op"], [(f"`{k}`", format_si(v, "s")) for k, v in per_op.items()])
    return text


def _figures() -> str:
    return ("## Figures\n\n"
            "![Accuracy per epoch](accuracy.png)\n\n"
            "![Energy breakdown](energy_breakdown.png)\n\n"
            "![Messages per relaxation step](messages_per_step.png)")


def render_markdown(result: RunResult) -> str:
    """The Markdown report of a classification run.

    Sections: title, run line, summary paragraph, dataset (its note as a warning), network and
    EqProp settings, per-epoch history (if any epochs ran on this chip), relaxation, operation
    counters, energy, time, program summary and figure links.
    """
    sections = [f"# {title(result)}", run_info(result), _summary(result), _dataset(result), _network(result)]
    if result.history:
        sections.append(_history(result))
    if result.relaxation:
        sections.append(_relaxation(result))
    sections += [_counters(result), _energy(result), _time(result)]
    if result.program:
        sections.append(program_section(result.program, result.per_core["inference"],
                                        sample_count(result, "inference")))
    sections.append(_figures())
    return "\n\n".join(sections) + "\n"
