"""Write the graphs the MaxCut workloads ship (``workloads/graphs/``) and find their best cuts.

The graphs are Erdos-Renyi G(n, p) from :func:`emulator.graphs.random_graph` with fixed seeds.
The 20-node graph's maximum cut is exact (brute force over 2^19 assignments); for the larger
ones the best-known cut is the best of many long simulated-annealing runs (``dwave-samplers``,
the ``bench`` extra), which is a lower bound on the maximum, not a proof of it.

    python -m benchmarks.data.make_graphs [--reads 100] [--sweeps 20000]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from emulator.graphs import brute_force_maxcut, random_graph

GRAPHS = {  # file -> (nodes, density, weights, seed)
    "rand20_pm1.txt": (20, 0.5, "pm1", 20),
    "rand100.txt": (100, 0.1, "unit", 100),
    "rand800.txt": (800, 0.06, "unit", 800),
}
FOLDER = Path(__file__).resolve().parents[2] / "workloads" / "graphs"


def sa_best_cut(graph, reads: int, sweeps: int, seed: int) -> tuple[float, float]:
    """Best cut of ``reads`` simulated-annealing runs of ``sweeps`` sweeps each, and the wall seconds."""
    from dwave.samplers import SimulatedAnnealingSampler

    couplings = {(int(i), int(j)): float(w) for (i, j), w in zip(graph.edges, graph.weights)}
    start = time.perf_counter()
    result = SimulatedAnnealingSampler().sample_ising({}, couplings, num_reads=reads, num_sweeps=sweeps, seed=seed)
    wall = time.perf_counter() - start
    spins = np.array([[s[i] for i in range(graph.n)] for s in result.record.sample])
    return float(graph.cut(spins).max()), wall


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reads", type=int, default=100, help="simulated-annealing runs per graph")
    p.add_argument("--sweeps", type=int, default=20000, help="sweeps per simulated-annealing run")
    args = p.parse_args()
    FOLDER.mkdir(parents=True, exist_ok=True)
    for name, (n, density, weights, seed) in GRAPHS.items():
        graph = random_graph(n, density, weights, seed)
        (FOLDER / name).write_text(graph.to_gset(), encoding="utf-8")
        if n <= 20:
            best, _ = brute_force_maxcut(graph)
            how = "exact, brute force over 2^19 assignments"
        else:
            best, wall = sa_best_cut(graph, args.reads, args.sweeps, seed=seed)
            how = f"best of {args.reads} SA runs x {args.sweeps} sweeps, {wall:.0f} s"
        print(f"{name}: n={n} m={graph.m} p={density} {weights} seed={seed}: best cut {best:g} ({how})")


if __name__ == "__main__":
    main()
