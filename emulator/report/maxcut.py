"""The report of a MaxCut run: Markdown sections and the cuts figure."""
from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure

from emulator.report.figures import FIGSIZE, no_data, save
from emulator.report.format import format_count, format_cut, format_percent, format_si, format_value, table
from emulator.report.sections import phase_counters, phase_energy, program_section, run_info, title
from emulator.results import MaxCutResult


def plot_cuts(result: MaxCutResult, path: Path) -> Path:
    """Save the cut of each run as bars, with the best-known cut as a dashed line, to ``path``."""
    cuts = [r.cut for r in result.runs]
    best_known = result.graph.best_known_cut
    fig = Figure(figsize=FIGSIZE)
    ax = fig.subplots()
    if cuts:
        ax.bar(range(len(cuts)), cuts, color="tab:blue", label="cut of the run")
        if best_known is not None:
            ax.axhline(best_known, color="tab:red", linestyle="--", label=f"best known ({best_known:g})")
        shown = cuts + ([] if best_known is None else [best_known])
        low, high = min(shown), max(shown)
        margin = 0.1 * max(high - low, 1.0, 1e-6 * max(abs(low), abs(high)))  # visible at any scale of weights
        ax.set_ylim(low - margin, high + margin)
        ax.set_xlabel("run")
        ax.set_ylabel("cut")
        ax.legend(fontsize=8)
        ax.grid(True, axis="y", alpha=0.3)
    else:
        no_data(ax)
    ax.set_title(f"{title(result)}: cut per run")
    return save(fig, path)


#: the figures of the report: (key in write_report's answer, file name, plotting function)
FIGURES = (("cuts", "cuts.png", plot_cuts),)


def _summary(result: MaxCutResult) -> str:
    m = result.metrics
    ratio = (f" ({format_percent(m.best_ratio, 2)} of the best known, {format_cut(result.graph.best_known_cut)})"
             if m.best_ratio is not None else "")
    target = "the best-known cut" if m.target_is_best_known else "the best cut of these runs"
    solution = (f"Time-to-solution (99 %): **{format_si(m.time_to_solution_s, 's')}**, energy-to-solution "
                f"**{format_si(m.energy_to_solution_j, 'J')}** (emulated)." if m.time_to_solution_s is not None
                else f"No run reached {target}: time- and energy-to-solution are undefined.")
    return (f"The `{result.workload}` MaxCut workload on the **{result.chip}** chip "
            f"(backend `{result.backend}`): best cut **{format_cut(m.best_cut)}**{ratio}, "
            f"mean {format_cut(m.mean_cut)} over {format_count(len(result.runs))} runs; "
            f"{format_percent(m.success_probability)} of the runs reached {target}. {solution} "
            f"The run took {format_si(result.time.wall_s, 's')} of wall-clock time on the host.")


def _results(result: MaxCutResult) -> str:
    m, t = result.metrics, result.time
    rows = [("best cut", format_cut(m.best_cut)), ("mean cut", format_cut(m.mean_cut)),
            ("best / best known", format_value(m.best_ratio)),
            ("mean / best known", format_value(m.mean_ratio)),
            ("target cut", format_cut(m.target_cut)),
            ("success probability", format_percent(m.success_probability)),
            ("runs for 99 % success", format_value(m.repetitions_99)),
            ("emulated time per run", format_si(t.emulated_s_per_run, "s")),
            ("time-to-solution (99 %)", format_si(m.time_to_solution_s, "s")),
            ("energy-to-solution (99 %)", format_si(m.energy_to_solution_j, "J")),
            ("programming time (once)", format_si(t.emulated_s_programming, "s")),
            ("host wall-clock time", format_si(t.wall_s, "s"))]
    return "## Results\n\n" + table(["metric", "value"], rows, "lr")


def _graph(result: MaxCutResult) -> str:
    """The graph's table, then its note as a warning."""
    rows = [(k.replace("_", " "), format_value(v)) for k, v in result.graph.to_dict().items() if k != "note"]
    text = "## Graph\n\n" + table(["item", "value"], rows, "ll")
    if result.graph.note:
        text += f"\n\n> **Warning:** {result.graph.note}"
    return text


def _partition(result: MaxCutResult) -> str:
    """Where the partitions are, to check a cut without the emulator."""
    p = result.partition
    if p is None:
        return "## Partition\n\nThis report was written before partitions were recorded."
    return (f"## Partition\n\nThe best partition (run {p.run}, cut {format_cut(p.cut)}) is `partition.spins` in "
            f"`report.json`, and each run's is `runs[k].spins`: {p.encoding}. The cut is the sum of the weights of "
            "the edges whose two nodes have different characters.")


def render_markdown(result: MaxCutResult) -> str:
    """The Markdown report of a MaxCut run.

    Sections: title, run line, summary paragraph, graph (its note as a warning), anneal schedule,
    results (figures of merit), runs, where the partitions are, operation counters, energy,
    program summary and the figure link.
    """
    anneal = [(k, format_value(v)) for k, v in result.anneal.items()]
    runs = [(r.run, format_value(r.cut), format_value(r.ratio)) for r in result.runs]
    sections = [f"# {title(result)}", run_info(result), _summary(result),
                _graph(result),
                "## Anneal\n\n" + table(["setting", "value"], anneal, "lr"),
                _results(result),
                "## Runs\n\n" + table(["run", "cut", "cut / best known"], runs), _partition(result),
                phase_counters(result.counters, "anneal", len(result.runs), "per run"),
                phase_energy(result.energy, result.energy.anneal, "anneal J (all runs)", "energy per run")]
    if result.program:
        sections.append(program_section(result.program))
    sections.append("## Figures\n\n![Cut per run](cuts.png)")
    return "\n\n".join(sections) + "\n"
