"""Speed of the oscillator integrator: numba kernels against the numpy reference.

Loads, each run with both integrators on the same inputs:

- ``digits``: EqProp batches of ``digits_snn`` on ``oim-cmos`` (free phase, then nudged +beta
  and -beta from it), from the workload's initial network, ``--batches`` batches of 20;
- with ``--trained RUN_DIR``: the same on the trained network of a finished run (its workload's
  training images; a trained network relaxes longer than an initial one);
- ``maxcut``: ``--runs`` anneals of ``maxcut_rand800`` (800 oscillators, 19,355 couplings).

The numpy reference is swapped into the back-end for its timing (the same back-end code
otherwise). Prints one Markdown row per load and integrator (wall and CPU seconds: the numba
kernels spread a batch's samples over numba's threads), and the largest phase difference
between the two where there is no noise.

    OMP_NUM_THREADS=1 python -m benchmarks.speed.bench_oim [--batches 5] [--runs 2] [--trained RUN_DIR]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path
from unittest import mock

import numpy as np

from benchmarks._machine import print_machine
from emulator.backends.oim import backend as oim
from emulator.backends.oim.oscillators import relax_phases
from emulator.backends.oim.oscillators_numpy import relax_phases_numpy
from emulator.chip import load_chip
from emulator.datasets import load_dataset
from emulator.graphs import read_gset
from emulator.network import init_network
from emulator.tasks.checkpoint import load_trained
from emulator.tasks.classification import load_data, phases_of
from emulator.training.eqprop import eqprop_gradient, one_hot
from emulator.workload import load_workload

ROOT = Path(__file__).resolve().parents[2]
ENGINES = {"numpy": relax_phases_numpy, "numba": relax_phases}


def eqprop_batches(engine, workload, network, data, batches: int):
    """Wall and CPU seconds per EqProp batch of ``workload`` on oim-cmos, and the last free phases."""
    chip, backend = load_chip(ROOT / "chips" / "oim-cmos.yaml"), oim.OimBackend()
    program = backend.compile(network, chip)
    targets = one_hot(data.y_train, data.n_classes)
    size = workload.training.batch_size
    with mock.patch.object(oim, "relax_phases", engine):
        wall, cpu = time.perf_counter(), time.process_time()
        for b in range(batches):
            idx = slice(b * size, (b + 1) * size)
            *_, free, _ = eqprop_gradient(backend, program, data.x_train[idx], targets[idx], phases_of(workload))
        return (time.perf_counter() - wall) / batches, (time.process_time() - cpu) / batches, free.phases


def initial_digits():
    """digits_snn, its initial network and its data."""
    w = load_workload(ROOT / "workloads" / "digits_snn.yaml")
    net = init_network(w.network.layers, np.random.default_rng(w.training.seed), theta=w.eqprop.theta,
                       damping=w.eqprop.damping, gain=w.network.init_gain)
    return "digits_snn, initial network", w, net, load_dataset("digits", preprocessing=w.dataset.preprocessing)


def trained(run_dir: Path):
    """The workload, trained network and data of a finished run."""
    run = load_trained(run_dir, "bench_oim.py --trained")
    return f"{run.workload.name}, trained {run.epochs} epochs on {run.chip.name}", run.workload, run.network, \
        load_data(run.workload)


def maxcut(engine, runs: int):
    """Wall and CPU seconds per anneal of maxcut_rand800, and the cuts."""
    w = load_workload(ROOT / "workloads" / "maxcut_rand800.yaml")
    chip, backend = load_chip(ROOT / "chips" / "oim-cmos.yaml"), oim.OimBackend()
    graph = read_gset(w.graph_path())
    program = backend.compile_ising(graph, chip, theta=w.anneal.theta)
    with mock.patch.object(oim, "relax_phases", engine):
        wall, cpu = time.perf_counter(), time.process_time()
        spins, _ = backend.anneal(program, w.anneal, runs=runs, seed=w.anneal.seed)
        return (time.perf_counter() - wall) / runs, (time.process_time() - cpu) / runs, graph.cut(spins)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batches", type=int, default=5)
    p.add_argument("--runs", type=int, default=2)
    p.add_argument("--trained", type=Path, help="also time EqProp batches of this finished run's network")
    args = p.parse_args()
    relax_phases(oim.Couplings.dense(np.zeros((1, 1))), np.zeros((1, 1), complex), np.zeros((1, 1)),
                 oim.Settings(t_max=1.0))  # compile (or load) the kernels before timing
    print_machine()
    print("| load | integrator | wall s | CPU s | unit |\n|---|---|---:|---:|---|")
    for name, workload, network, data in [initial_digits()] + ([trained(args.trained)] if args.trained else []):
        phases = {}
        for engine_name, engine in ENGINES.items():
            wall, cpu, phases[engine_name] = eqprop_batches(engine, workload, network, data, args.batches)
            print(f"| {name}: EqProp batch ({workload.training.batch_size} samples, free + 2 nudged) | "
                  f"{engine_name} | {wall:.3f} | {cpu:.3f} | batch |", flush=True)
        print(f"largest free-phase difference numba - numpy: {np.abs(phases['numba'] - phases['numpy']).max():.2e} rad")
    for name, engine in ENGINES.items():
        wall, cpu, cuts = maxcut(engine, args.runs)
        print(f"| maxcut_rand800 anneal (100 time units) | {name} | {wall:.3f} | {cpu:.3f} | run | cuts "
              f"{cuts.tolist()}", flush=True)


if __name__ == "__main__":
    main()
