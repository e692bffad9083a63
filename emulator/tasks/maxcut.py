"""MaxCut workloads: anneal a graph on an Ising machine from several seeded starts, and score it.

A run compiles the graph onto the chip once (``backend.compile_ising``), anneals it
``anneal.runs`` times (``backend.anneal``), reads the cut of each run and builds the
:class:`~emulator.results.MaxCutResult` that :mod:`emulator.report` renders. Figures of merit
(as in the Ising-machine literature, e.g. Hamerly et al., Science Advances 2019):

- best cut, mean cut, and their ratio to the best-known cut of the workload;
- success probability ``p``: the fraction of runs reaching the target (the best-known cut, or
  the best cut of these runs when none is given);
- time-to-solution ``TTS = t_run * R99`` with ``R99 = ln(0.01) / ln(1 - p)`` (1 if ``p = 1``):
  the expected time to reach the target at least once with 99 % probability by repeating
  runs; energy-to-solution likewise from the energy of a run. Both are undefined (None) when
  no run reached the target. Programming the couplings is reported apart, paid once.
"""
from __future__ import annotations

import math
import time
from datetime import datetime, timezone

import numpy as np

import emulator
from emulator.chip import Chip, get_backend
from emulator.energy import account, chip_constants
from emulator.errors import GraphFormatError
from emulator.graphs import Graph, from_matrix, random_graph, read_gset
from emulator.results import (AnnealEnergy, AnnealRun, AnnealTime, EnergyReport, GraphSummary, MaxCutMetrics,
                              MaxCutResult, ProgrammingEnergy)
from emulator.workload import MaxCutWorkload

#: confidence of the time- and energy-to-solution
CONFIDENCE = 0.99


def load_graph(workload: MaxCutWorkload) -> Graph:
    """The workload's graph: its file (G-set text, or a ``.npy`` weight matrix) or a generated one."""
    spec = workload.graph
    if spec.random is not None:
        r = spec.random
        return random_graph(r.nodes, r.density, r.weights, r.seed)
    path = workload.graph_path()
    if path.suffix == ".npy":
        try:
            matrix = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise GraphFormatError(f"{workload.where('graph', 'file')}: cannot read {path} as a .npy "
                                   f"matrix: {exc}") from None
        return from_matrix(matrix, str(path))
    return read_gset(path)


def repetitions(p: float) -> float | None:
    """Runs needed to reach the target at least once with probability :data:`CONFIDENCE`,
    ``ln(1 - c) / ln(1 - p)`` (at least 1); None if ``p = 0``."""
    if p <= 0:
        return None
    if p >= 1:
        return 1.0
    return max(1.0, math.log(1.0 - CONFIDENCE) / math.log(1.0 - p))


def run_maxcut(workload: MaxCutWorkload, chip: Chip) -> MaxCutResult:
    """Anneal ``workload`` on ``chip``; the cuts and their figures of merit, counters and energy."""
    start = time.perf_counter()
    graph = load_graph(workload)
    backend = get_backend(chip.backend)
    a = workload.anneal
    program = backend.compile_ising(graph, chip, theta=a.theta)
    spins, counters = backend.anneal(program, a, runs=a.runs, seed=a.seed)
    cuts = graph.cut(spins)
    best_known = workload.best_known.cut if workload.best_known else None
    target = best_known if best_known is not None else float(cuts.max())
    p = float(np.mean(cuts >= target - 1e-9))
    reps = repetitions(p)
    anneal = account(counters, chip, backend, a.runs, phase="anneal")
    programming = account(program.programming, chip, backend, 1, phase="programming")
    t_run, e_run = anneal["emulated_s_per_sample"], anneal["per_sample_j"]

    def ratio(value):
        return value / best_known if best_known else None

    return MaxCutResult(
        workload=workload.name, chip=chip.name, backend=chip.backend,
        seed=a.seed, emulator_version=emulator.__version__,
        created=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        graph=GraphSummary(name=workload.graph.file or graph.name, nodes=graph.n, edges=graph.m,
                           total_weight=float(graph.weights.sum()), best_known_cut=best_known,
                           best_known_source=workload.best_known.source if workload.best_known else None),
        anneal={"runs": a.runs, "seed": a.seed, "duration": a.duration, "noise": a.noise, "shil": a.shil,
                "shil_ramp": a.shil_ramp, "theta": a.theta},
        metrics=MaxCutMetrics(best_cut=float(cuts.max()), mean_cut=float(cuts.mean()),
                              best_ratio=ratio(float(cuts.max())), mean_ratio=ratio(float(cuts.mean())),
                              target_cut=target, target_is_best_known=best_known is not None,
                              success_probability=p, repetitions_99=reps,
                              time_to_solution_s=t_run * reps if reps else None,
                              energy_to_solution_j=e_run * reps if reps else None),
        runs=tuple(AnnealRun(run=k, cut=float(c), ratio=ratio(float(c))) for k, c in enumerate(cuts)),
        counters={"anneal": counters.totals(), "programming": program.programming.totals()},
        energy=AnnealEnergy(**chip_constants(chip), anneal=EnergyReport.from_dict(anneal),
                            programming=ProgrammingEnergy.from_dict(programming)),
        time=AnnealTime(emulated_s_per_run=t_run, emulated_s_programming=programming["emulated_s"],
                        wall_s=time.perf_counter() - start),
        program=program.summary(),
    )
