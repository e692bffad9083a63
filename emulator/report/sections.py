"""Markdown sections every kind of report has: the title, the run line and the program summary; and the counters
and energy of a run that pays for programming once and then for a phase (anneals, inferences)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from emulator.report.format import format_count, format_si, format_value, ordered_union, per, table
from emulator.results import Result

#: cores listed in a report's core table; larger mappings list the first ones and say so
MAX_CORE_ROWS = 64


#: the training algorithms (``training.algorithm``) as reports name them
ALGORITHM_NAMES = {"eqprop": "EqProp", "backprop": "backprop", "noise_injection": "backprop with noise injection",
                   "implicit": "implicit gradient through a proxy of the chip"}


def trained_with(result: Result) -> str | None:
    """How a classification run's network was trained, in words (``"backprop"``, ``"EqProp on digital,
    deployed"``); None for other kinds of run."""
    algorithm = getattr(result, "algorithm", None)
    if algorithm is None:
        return None
    deployed = getattr(result, "deployed", None)
    return ALGORITHM_NAMES[algorithm] + (f" on {deployed.trained_on}, deployed" if deployed else "")


def title(result: Result) -> str:
    """``"<workload> on <chip>"``, and for a classification run how it was trained: ``"... (backprop)"``."""
    how = trained_with(result)
    return f"{result.workload} on {result.chip}" + (f" ({how})" if how else "")


def run_info(result: Result) -> str:
    """One line: back-end, seed, emulator version and creation time."""
    fields = (("backend", result.backend), ("seed", result.seed),
              ("emulator version", result.emulator_version), ("created", result.created))
    return " · ".join(f"{label}: `{value}`" for label, value in fields)


def program_section(program: Mapping[str, Any], per_core: Mapping[str, list] | None = None,
                    samples: float | None = None) -> str:
    """The chip program's summary: its settings, then a table per list of records (e.g. the weights
    of each layer), then one row per core.

    Parameters
    ----------
    program : dict
        The program's summary; lists named ``<x>_per_core`` hold one value per core.
    per_core : dict of str to list, optional
        Per-core operation counts of the inferences (op -> one count per core), shown per inference.
    samples : float, optional
        Inferences ``per_core`` covers.
    """
    per_core = per_core or {}
    scalars = {k: v for k, v in program.items() if not isinstance(v, (list, tuple))}
    text = "## Program summary\n\n" + table(["item", "value"],
                                            [(f"`{k}`", format_value(v)) for k, v in scalars.items()], "lr")
    for key, records in program.items():
        if isinstance(records, (list, tuple)) and records and isinstance(records[0], Mapping):
            header = list(records[0])
            rows = [[str(i)] + [format_value(r.get(h)) for h in header] for i, r in enumerate(records)]
            text += f"\n\n### `{key}` per layer\n\n" + table(["layer", *header], rows)
    cores = {k: v for k, v in program.items() if k.endswith("_per_core") and isinstance(v, (list, tuple))}
    per_inference = {k.removesuffix("_per_core"): v for k, v in per_core.items()}
    if cores:
        n_cores = len(next(iter(cores.values())))
        header = ["core", *(k.removesuffix("_per_core") for k in cores), *(f"{k} / inference" for k in per_inference)]
        rows = [[str(c), *(format_count(v[c]) for v in cores.values()),
                 *(format_count(per(v[c], samples)) for v in per_inference.values())]
                for c in range(min(n_cores, MAX_CORE_ROWS))]
        note = f"\n\nThe first {MAX_CORE_ROWS} of {n_cores} cores." if n_cores > MAX_CORE_ROWS else ""
        text += "\n\n### Cores\n\n" + table(header, rows) + note
    return text


def phase_counters(counters: Mapping[str, Mapping], phase: str, n: int, per_label: str) -> str:
    """The operation counters of ``phase`` (total, and per one of its ``n`` samples) beside the programming's."""
    main, programming = counters[phase], counters["programming"]
    rows = [[f"`{op}`", format_count(main.get(op)), format_count(per(main.get(op), n or None)),
             format_count(programming.get(op))] for op in ordered_union(*counters.values())]
    return "## Operation counters\n\n" + table(["op", f"{phase} total", per_label, "programming"], rows)


def phase_energy(energy, main, main_label: str, per_label: str) -> str:
    """The chip's price per op with its source, and the energy of each op in the phase (``main``, an
    :class:`~emulator.results.EnergyReport`) and in programming."""
    programming = energy.programming
    rows = [[f"`{op}`", format_si(energy.per_op_j.get(op), "J"), energy.sources.get(op, ""),
             format_si(main.breakdown_j.get(op), "J"), format_si(programming.breakdown_j.get(op), "J")]
            for op in ordered_union(energy.per_op_j, main.breakdown_j)]
    rows.append(["**total**", "", "", format_si(main.total_j, "J"), format_si(programming.total_j, "J")])
    return ("## Energy\n\n" + table(["op", "J per op", "source", main_label, "programming J"], rows, "lrlrr")
            + f"\n\n- {per_label}: **{format_si(main.per_sample_j, 'J')}**")
