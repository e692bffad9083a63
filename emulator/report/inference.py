"""The report of a spiking inference run (``kind: snn_inference``): Markdown sections and the energy figure."""
from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure

from emulator.report.figures import FIGSIZE, barh_log, save
from emulator.report.format import format_count, format_percent, format_si, format_value, ordered_union, table
from emulator.report.sections import phase_counters, phase_energy, program_section, run_info, title
from emulator.results import InferenceResult


def plot_inference_energy(result: InferenceResult, path: Path) -> Path:
    """Save log-scale bars of the energy of one inference per op to ``path``."""
    inference = result.energy.inference
    n = result.metrics.samples
    per_inference = {op: j / n for op, j in inference.breakdown_j.items()}
    fig = Figure(figsize=FIGSIZE)
    barh_log(fig.subplots(), per_inference, ordered_union(result.energy.per_op_j, per_inference),
             f"per inference (total {format_si(inference.per_sample_j, 'J')})", "tab:blue")
    fig.suptitle(f"{title(result)}: energy per inference")
    return save(fig, path)


#: the figures of the report: (key in write_report's answer, file name, plotting function)
FIGURES = (("energy", "energy_per_inference.png", plot_inference_energy),)


def _summary(result: InferenceResult) -> str:
    m, d = result.metrics, result.data
    return (f"The `{result.workload}` network (`{result.network['file']}`) on the **{result.chip}** chip (backend "
            f"`{result.backend}`) classified {format_count(m.samples)} {d['dataset']} test samples, each presented "
            f"for {d['steps']} steps as {d['encoding']}-coded spikes: accuracy **{format_percent(m.accuracy)}**, "
            f"**{format_si(result.energy.inference.per_sample_j, 'J')}** and "
            f"**{format_si(result.time.emulated_s_per_inference, 's')}** per inference (emulated). The run took "
            f"{format_si(result.time.wall_s, 's')} of wall-clock time on the host.")


def _results(result: InferenceResult) -> str:
    m = result.metrics
    rows = [("accuracy", format_percent(m.accuracy)), ("samples", format_count(m.samples)),
            ("steps per inference on the chip", format_count(m.steps)),
            ("spikes per inference", format_value(m.spikes_per_inference)),
            ("synaptic ops per inference", format_value(m.synaptic_ops_per_inference)),
            ("energy per inference", format_si(result.energy.inference.per_sample_j, "J")),
            ("emulated latency per inference", format_si(result.time.emulated_s_per_inference, "s")),
            ("programming energy (once)", format_si(result.energy.programming.total_j, "J"))]
    return "## Results\n\n" + table(["metric", "value"], rows, "lr")


def _network(result: InferenceResult) -> str:
    net = result.network
    rows = [(name, p["model"], format_count(p["size"])) for name, p in net["populations"].items()]
    return (f"## Network\n\n`{net['file']}`, time step {format_si(net['dt_s'], 's')}; inputs "
            + ", ".join(f"`{k}` ({v})" for k, v in net["inputs"].items()) + "; outputs "
            + ", ".join(f"`{k}` ({v})" for k, v in net["outputs"].items()) + ".\n\n"
            + table(["population", "model", "neurons"], rows, "llr"))


def _quantisation(result: InferenceResult) -> str:
    q = result.quantisation
    text = ("## Quantisation\n\nWhat the chip's integer formats changed of the network (relative errors are of the "
            "float NIR values).\n\n")
    for group in ("populations", "links"):
        records = q.get(group, {})
        if records:
            header = list(ordered_union(*records.values()))
            rows = [[f"`{name}`", *(format_value(r.get(h)) for h in header)] for name, r in records.items()]
            text += f"### {group.capitalize()}\n\n" + table([group[:-1], *header], rows) + "\n\n"
    return text + (f"Links one step later than in NIR (no Delay on their path): {q.get('added_delays', 0)}; an input "
                   f"reaches the outputs {q.get('latency_steps', 0)} steps later than in NIR.")


def render_markdown(result: InferenceResult) -> str:
    """The Markdown report of a spiking inference run.

    Sections: title, run line, summary, network, data, results, quantisation (on integer chips), operation
    counters, energy, program summary with the per-core counts, and the figure link.
    """
    data = [(k, format_value(v)) for k, v in result.data.items()]
    sections = [f"# {title(result)}", run_info(result), _summary(result), _network(result),
                "## Data\n\n" + table(["setting", "value"], data, "lr"), _results(result)]
    if result.quantisation:
        sections.append(_quantisation(result))
    sections += [phase_counters(result.counters, "inference", result.metrics.samples, "per inference"),
                 phase_energy(result.energy, result.energy.inference, "inference J (all)", "energy per inference")]
    if result.program:
        sections.append(program_section(result.program, result.per_core, result.metrics.samples))
    sections.append("## Figures\n\n![Energy per inference](energy_per_inference.png)")
    return "\n\n".join(sections) + "\n"
