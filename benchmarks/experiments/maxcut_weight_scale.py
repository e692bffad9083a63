"""MaxCut on the oscillator Ising machine with every edge weight of a workload's graph multiplied by a factor.

For each factor ``c`` the workload's graph is written with its weights times ``c`` into a temporary
folder and annealed as

    python -m emulator run WORKLOAD --chip oim-cmos --set graph.file=SCALED.txt --set best_known.cut=C_TIMES_BEST

does. Prints one Markdown row per factor: best and mean cut over the best known, the fraction of
runs reaching it, the emulated time and energy of a run, and how many runs read out the same cut as
with the weights as given (factor 1).

    OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 python -m benchmarks.experiments.maxcut_weight_scale \
        [--workload maxcut_rand100] [--factors 0.1,1,100]
"""
from __future__ import annotations

import argparse
import tempfile
from dataclasses import replace
from pathlib import Path

from benchmarks._machine import print_machine
from emulator.chip import load_chip
from emulator.graphs import read_gset
from emulator.report import format_si
from emulator.tasks.maxcut import run_maxcut
from emulator.workload import load_workload

ROOT = Path(__file__).resolve().parents[2]


def scaled_run(workload_path: Path, chip, factor: float, folder: Path):
    """The MaxCut result of the workload with every weight of its graph file times ``factor``."""
    workload = load_workload(workload_path)
    graph = read_gset(workload.graph_path())
    path = folder / f"x{factor:g}.txt"
    path.write_text(replace(graph, weights=graph.weights * factor).to_gset())
    overrides = [f"graph.file={path}", f"best_known.cut={workload.best_known.cut * factor!r}"]
    return run_maxcut(load_workload(workload_path, overrides), chip)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workload", default="maxcut_rand100")
    p.add_argument("--chip", default="oim-cmos")
    p.add_argument("--factors", default="0.1,1,100", help="comma-separated weight factors")
    args = p.parse_args()
    chip = load_chip(ROOT / "chips" / f"{args.chip}.yaml")
    workload_path = ROOT / "workloads" / f"{args.workload}.yaml"
    print_machine()
    print(f"\n{args.workload} on {args.chip}, weights x factor\n")
    print("| factor | best / known | mean / known | runs at best known | time per run | energy per run "
          "| runs with the cut of x1 |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory(prefix="weight-scale-") as tmp:
        reference = [r.ratio for r in scaled_run(workload_path, chip, 1.0, Path(tmp)).runs]
        for factor in map(float, args.factors.split(",")):
            r = scaled_run(workload_path, chip, factor, Path(tmp))
            m, same = r.metrics, sum(abs(a.ratio - b) <= 1e-9 for a, b in zip(r.runs, reference))
            print(f"| {factor:g} | {m.best_ratio:.4f} | {m.mean_ratio:.4f} | {100 * m.success_probability:.0f} % | "
                  f"{format_si(r.time.emulated_s_per_run, 's')} | {format_si(r.energy.anneal.per_sample_j, 'J')} "
                  f"| {same} of {len(reference)} |", flush=True)


if __name__ == "__main__":
    main()
