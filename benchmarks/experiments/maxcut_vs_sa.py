"""MaxCut on the oscillator Ising machine against simulated annealing (dwave-samplers) on the shipped graphs.

For each workload: the OIM's anneals as ``python -m emulator run WORKLOAD --chip oim-cmos`` does them
(emulated time and energy on the chip, wall time of the emulation on the host), and as many
simulated-annealing runs (``SimulatedAnnealingSampler``, its default geometric schedule) of each
``--sweeps`` on the host CPU. Prints one Markdown row per solver: best and mean cut, their ratio to
the best-known cut, the fraction of runs reaching it, and the times.

    OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 python -m benchmarks.experiments.maxcut_vs_sa [--sweeps 100,1000]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from benchmarks._machine import print_machine
from emulator.chip import load_chip
from emulator.report import format_si
from emulator.tasks.maxcut import load_graph, repetitions, run_maxcut
from emulator.workload import load_workload

ROOT = Path(__file__).resolve().parents[2]
WORKLOADS = ("maxcut_rand20", "maxcut_rand100", "maxcut_rand800")


def simulated_annealing(graph, runs: int, sweeps: int, seed: int) -> tuple[np.ndarray, float]:
    """Cuts of ``runs`` SA runs of ``sweeps`` sweeps, and the host seconds per run."""
    from dwave.samplers import SimulatedAnnealingSampler

    couplings = {(int(i), int(j)): float(w) for (i, j), w in zip(graph.edges, graph.weights)}
    start = time.perf_counter()
    result = SimulatedAnnealingSampler().sample_ising({}, couplings, num_reads=runs, num_sweeps=sweeps, seed=seed)
    seconds = (time.perf_counter() - start) / runs
    spins = np.array([[s[i] for i in range(graph.n)] for s in result.record.sample])
    return graph.cut(spins), seconds


def row(solver, cuts, best_known, per_run, time_note):
    p = float(np.mean(cuts >= best_known))
    reps = repetitions(p)
    tts = format_si(per_run * reps, "s") if reps else "not reached"
    return (f"| {solver} | {cuts.max():g} | {cuts.max() / best_known:.4f} | {cuts.mean():.1f} | "
            f"{cuts.mean() / best_known:.4f} | {100 * p:.0f} % | {format_si(per_run, 's')} {time_note} | {tts} |")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workloads", default=",".join(WORKLOADS))
    p.add_argument("--sweeps", default="100,1000", help="comma-separated SA sweep counts")
    args = p.parse_args()
    chip = load_chip(ROOT / "chips" / "oim-cmos.yaml")
    print_machine()
    for name in args.workloads.split(","):
        workload = load_workload(ROOT / "workloads" / f"{name}.yaml")
        graph, best_known, runs = load_graph(workload), workload.best_known.cut, workload.anneal.runs
        print(f"\n### {name}: {graph.n} nodes, {graph.m} edges, best known {best_known:g} ({runs} runs each)\n")
        print("| solver | best cut | best / known | mean cut | mean / known | runs at best known | time per run "
              "| time to solution (99 %) |\n|---|---:|---:|---:|---:|---:|---|---|")
        result = run_maxcut(workload, chip)
        cuts = np.array([r.cut for r in result.runs])
        emulated = result.time.emulated_s_per_run
        print(row(f"OIM oim-cmos, {workload.anneal.duration:g} time units", cuts, best_known, emulated,
                  f"emulated ({format_si(result.energy.anneal.per_sample_j, 'J')} per run; host "
                  f"{format_si(result.time.wall_s / runs, 's')})"), flush=True)
        for sweeps in map(int, args.sweeps.split(",")):
            cuts, seconds = simulated_annealing(graph, runs, sweeps, seed=workload.anneal.seed)
            print(row(f"SA dwave-samplers, {sweeps} sweeps", cuts, best_known, seconds, "host CPU"), flush=True)


if __name__ == "__main__":
    main()
