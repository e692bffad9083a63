"""MaxCut workloads: anneal a graph on an Ising machine from several seeded starts, and score it.

A run compiles the graph onto the chip once (``backend.compile_ising``), anneals it
``anneal.runs`` times (``backend.anneal``), reads the cut of each run and builds the
:class:`~emulator.results.MaxCutResult` that :mod:`emulator.report` renders. Figures of merit
(as in the Ising-machine literature, e.g. Hamerly et al., Science Advances 2019):

- best cut, mean cut, and their ratio to the best-known cut of the workload;
- success probability ``p``: the fraction of runs reaching the target (the best-known cut, or
  the best cut of these runs when none is given), to within :data:`ROUNDING` of the total
  absolute weight;
- time-to-solution ``TTS = t_run * R99`` with ``R99 = ln(0.01) / ln(1 - p)`` (1 if ``p = 1``):
  the expected time to reach the target at least once with 99 % probability by repeating
  runs; energy-to-solution likewise from the energy of a run. Both are undefined (None) when
  no run reached the target. Programming the couplings is reported apart, paid once.

**The weights' scale does not matter.** The chip is programmed with the graph's weights divided
by their mean magnitude ``w_bar`` (:meth:`~emulator.graphs.Graph.weight_scale`, reported as
``anneal.weight_scale``), so the schedule (``shil``, ``noise``, ``duration``, ``shil_ramp``) is
relative to the mean coupling. Why: the phases follow
``dphi_i/dt = -sum_j J_ij sin(phi_i - phi_j) - S sin(2 phi_i) + sigma xi_i(t)``; with every
coupling ``J`` times ``c``, in the time ``t' = c t`` this is the same equation with ``S/c`` and,
as white noise's amplitude grows with the square root of time, ``sigma/sqrt(c)``. Scaling every
weight by ``c`` thus leaves a trajectory unchanged exactly when ``S`` scales by ``c``, ``sigma`` by
``sqrt(c)`` and the durations by ``1/c``; dividing the weights by ``w_bar`` is that rescaling,
done once for every schedule. Graphs whose weights all have one magnitude (unit and +-1 weights)
become couplings of exactly +-1, so scaling their weights changes no bit of a run. The emulated
time and energy do not depend on the weights' scale either: the chip's couplings span a fixed
range whatever the units of the weights (programming the weights as they are would anneal a graph
with weights x100 a hundred times faster, which a chip with bounded coupling cells cannot do).
Cuts are of the graph as given.
"""
from __future__ import annotations

import math
import time
from dataclasses import replace
from datetime import datetime, timezone

import numpy as np

import emulator
from emulator.chip import Chip, get_backend
from emulator.energy import account, chip_constants
from emulator.errors import ConfigError, GraphFormatError
from emulator.files import DAMAGED_ARRAYS
from emulator.graphs import PARTITION_ENCODING, Graph, from_matrix, partition_text, random_graph, read_gset
from emulator.results import (AnnealEnergy, AnnealRun, AnnealTime, EnergyReport, GraphSummary, MaxCutMetrics,
                              MaxCutResult, Partition, ProgrammingEnergy)
from emulator.workload import MaxCutWorkload

#: confidence of the time- and energy-to-solution
CONFIDENCE = 0.99
#: rounding allowed in comparing cuts, relative to the total absolute weight of the graph's edges
ROUNDING = 1e-9
#: isolated nodes a report's warning lists by number
LISTED_NODES = 5


def load_graph(workload: MaxCutWorkload) -> Graph:
    """The workload's graph: its file (G-set text, or a ``.npy`` weight matrix) or a generated one."""
    spec = workload.graph
    if spec.random is not None:
        r = spec.random
        return random_graph(r.nodes, r.density, r.weights, r.seed)
    path = workload.graph_path()
    if path.suffix == ".npy":
        try:
            # mapped before it is read: a header that announces more data than the file holds (a damaged or
            # cut-short file) is refused here, not allocated
            matrix = np.array(np.load(path, mmap_mode="r", allow_pickle=False))
        except OSError as exc:
            raise GraphFormatError(f"{workload.where('graph', 'file')}: cannot read {path} as a .npy "
                                   f"matrix: {exc}") from None
        except DAMAGED_ARRAYS as exc:
            raise GraphFormatError(f"{workload.where('graph', 'file')}: cannot read {path} as a .npy "
                                   f"matrix ({exc}); save the matrix again with numpy.save") from None
        return from_matrix(matrix, str(path))
    return read_gset(path)


def check_best_known(workload: MaxCutWorkload, graph: Graph):
    """:class:`ConfigError` if ``best_known.cut`` is above the sum of the graph's positive weights,
    which no cut exceeds (the schema refuses a negative one)."""
    if workload.best_known is None:
        return
    bound = math.fsum(graph.weights[graph.weights > 0])
    cut = workload.best_known.cut
    if cut > bound + ROUNDING * graph.abs_weight():
        raise ConfigError(f"{workload.where('best_known', 'cut')}: best_known.cut is {cut:g} but no cut of "
                          f"{graph.name} exceeds {bound:g}, the sum of its positive edge weights; correct "
                          "best_known.cut")


def isolated_note(graph: Graph) -> str | None:
    """A warning naming the graph's nodes in no edge (numbered from 1); None if there is none."""
    nodes = graph.isolated()
    if not nodes.size:
        return None
    listed = ", ".join(str(k + 1) for k in nodes[:LISTED_NODES]) + (", ..." if nodes.size > LISTED_NODES else "")
    return (f"{nodes.size:,} of the {graph.n:,} nodes are in no edge (numbered from 1: {listed}): each runs as an "
            "oscillator, and is counted in oscillator_seconds and the energy, but cannot change the cut; if they "
            "are not meant to be there, lower the node count (the first line of a G-set file)")


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
    check_best_known(workload, graph)
    backend = get_backend(chip.backend)
    a = workload.anneal
    scale = graph.weight_scale()
    program = backend.compile_ising(replace(graph, weights=graph.weights / scale), chip, theta=a.theta)
    spins, counters = backend.anneal(program, a, runs=a.runs, seed=a.seed)
    cuts = graph.cut(spins)
    best = int(np.argmax(cuts))
    best_known = workload.best_known.cut if workload.best_known else None
    target = best_known if best_known is not None else float(cuts.max())
    p = float(np.mean(cuts >= target - ROUNDING * graph.abs_weight()))
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
                           best_known_source=workload.best_known.source if workload.best_known else None,
                           isolated_nodes=int(graph.isolated().size), note=isolated_note(graph)),
        anneal={"runs": a.runs, "seed": a.seed, "duration": a.duration, "noise": a.noise, "shil": a.shil,
                "shil_ramp": a.shil_ramp, "theta": a.theta, "weight_scale": scale},
        metrics=MaxCutMetrics(best_cut=float(cuts.max()), mean_cut=float(cuts.mean()),
                              best_ratio=ratio(float(cuts.max())), mean_ratio=ratio(float(cuts.mean())),
                              target_cut=target, target_is_best_known=best_known is not None,
                              success_probability=p, repetitions_99=reps,
                              time_to_solution_s=t_run * reps if reps else None,
                              energy_to_solution_j=e_run * reps if reps else None),
        partition=Partition(encoding=PARTITION_ENCODING, run=best, cut=float(cuts[best]),
                            spins=partition_text(spins[best])),
        runs=tuple(AnnealRun(run=k, cut=float(c), ratio=ratio(float(c)), spins=partition_text(s))
                   for k, (c, s) in enumerate(zip(cuts, spins))),
        counters={"anneal": counters.totals(), "programming": program.programming.totals()},
        energy=AnnealEnergy(**chip_constants(chip), anneal=EnergyReport.from_dict(anneal),
                            programming=ProgrammingEnergy.from_dict(programming)),
        time=AnnealTime(emulated_s_per_run=t_run, emulated_s_programming=programming["emulated_s"],
                        wall_s=time.perf_counter() - start),
        program=program.summary(),
    )
