"""Speed of the oscillator integrator: numba kernels against the numpy reference.

Two loads, each run with both integrators on the same inputs:

- ``digits``: EqProp batches of ``digits_snn`` on ``oim-cmos`` (free phase, then nudged +beta
  and -beta from it), from the workload's initial network, ``--batches`` batches of 20;
- ``maxcut``: ``--runs`` anneals of ``maxcut_rand800`` (800 oscillators, 19,355 couplings).

The numpy reference is swapped into the back-end for its timing (the same back-end code
otherwise). Prints one Markdown row per load and integrator, and the largest phase difference
between the two where there is no noise.

    OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 python benchmarks/bench_oim.py [--batches 5] [--runs 2]
"""
from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path
from unittest import mock

import numpy as np

from emulator.backends import oim
from emulator.chip import load_chip
from emulator.datasets import load_dataset
from emulator.engine.oscillators import relax_phases
from emulator.engine.oscillators_numpy import relax_phases_numpy
from emulator.eqprop import eqprop_gradient, one_hot
from emulator.graphs import read_gset
from emulator.network import init_network
from emulator.runner import phases_of
from emulator.workload import load_workload

ROOT = Path(__file__).resolve().parents[1]
ENGINES = {"numpy": relax_phases_numpy, "numba": relax_phases}


def digits(engine, batches: int):
    """Seconds per EqProp batch, and the free phases of the last batch."""
    w = load_workload(ROOT / "workloads" / "digits_snn.yaml")
    chip, backend = load_chip(ROOT / "chips" / "oim-cmos.yaml"), oim.OimBackend()
    net = init_network(w.network.layers, np.random.default_rng(w.training.seed), theta=w.eqprop.theta,
                       damping=w.eqprop.damping, gain=w.network.init_gain)
    program = backend.compile(net, chip)
    data = load_dataset("digits", preprocessing=w.dataset.preprocessing)
    targets = one_hot(data.y_train, data.n_classes)
    size = w.training.batch_size
    with mock.patch.object(oim, "relax_phases", engine):
        start = time.perf_counter()
        for b in range(batches):
            idx = slice(b * size, (b + 1) * size)
            *_, free, _ = eqprop_gradient(backend, program, data.x_train[idx], targets[idx], phases_of(w))
        return (time.perf_counter() - start) / batches, free.phases


def maxcut(engine, runs: int):
    """Seconds per anneal of maxcut_rand800, and the cuts."""
    w = load_workload(ROOT / "workloads" / "maxcut_rand800.yaml")
    chip, backend = load_chip(ROOT / "chips" / "oim-cmos.yaml"), oim.OimBackend()
    graph = read_gset(w.graph_path())
    program = backend.compile_ising(graph, chip, theta=w.anneal.theta)
    with mock.patch.object(oim, "relax_phases", engine):
        start = time.perf_counter()
        spins, _ = backend.anneal(program, w.anneal, runs=runs, seed=w.anneal.seed)
        return (time.perf_counter() - start) / runs, graph.cut(spins)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batches", type=int, default=5)
    p.add_argument("--runs", type=int, default=2)
    args = p.parse_args()
    relax_phases(oim.Couplings.dense(np.zeros((1, 1))), np.zeros((1, 1), complex), np.zeros((1, 1)),
                 oim.Settings(t_max=1.0))  # compile (or load) the kernels before timing
    print(f"machine: {platform.processor() or platform.machine()}, {platform.python_version()}, numpy {np.__version__}")
    print("| load | integrator | wall s per unit | unit |\n|---|---|---:|---|")
    phases = {}
    for name, engine in ENGINES.items():
        seconds, phases[name] = digits(engine, args.batches)
        print(f"| digits_snn EqProp batch (20 samples, free + 2 nudged) | {name} | {seconds:.3f} | batch |", flush=True)
    print(f"largest free-phase difference numba - numpy: {np.abs(phases['numba'] - phases['numpy']).max():.2e} rad")
    for name, engine in ENGINES.items():
        seconds, cuts = maxcut(engine, args.runs)
        print(f"| maxcut_rand800 anneal (100 time units) | {name} | {seconds:.3f} | run | cuts {cuts.tolist()}",
              flush=True)


if __name__ == "__main__":
    main()
