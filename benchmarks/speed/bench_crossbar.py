"""Host wall time of the noisy crossbar relaxation against the digital reference, on the same workload.

For each workload, one trained network (``--trained RUN_DIR``, else the workload's initial
network) is compiled for ``digital`` and for each crossbar chip (all their non-idealities on),
and the host times, interleaved and best of ``--reps``:

- **inference**: the free phase over the first ``--samples`` test samples, in the workload's
  evaluation batches;
- **training**: ``--batches`` training batches, each the free and nudged phases and the
  re-programming of the chip with the updated weights (what an epoch repeats).

The issue's target: the crossbar costs at most 2x digital's wall time.

    python -m benchmarks.speed.bench_crossbar digits_snn --trained runs/digits-digital
    python -m benchmarks.speed.bench_crossbar fashion_mnist_snn --samples 2000 --batches 50
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from benchmarks._machine import print_machine
from emulator.catalog import resolve
from emulator.chip import get_backend, load_chip
from emulator.network import init_network
from emulator.tasks.checkpoint import load_trained
from emulator.tasks.classification import evaluate, load_data, phases_of
from emulator.training.eqprop import eqprop_gradient, one_hot, sgd_step
from emulator.workload import load_workload


def inference_s(backend, program, workload, data, samples) -> float:
    start = time.process_time()
    evaluate(backend, program, data.x_test[:samples], data.y_test[:samples], steps=workload.eqprop.free_steps,
             batch_size=workload.evaluation.batch_size)
    return time.process_time() - start


def training_s(backend, chip, network, workload, data, batches) -> float:
    """``batches`` EqProp updates from ``network``, each re-programming the chip."""
    program = backend.compile(network, chip)
    bs, phases = workload.training.batch_size, phases_of(workload)
    targets = one_hot(data.y_train, data.n_classes)
    start = time.process_time()
    for b in range(batches):
        idx = np.arange(b * bs, (b + 1) * bs) % data.n_train
        dw, db, _, _ = eqprop_gradient(backend, program, data.x_train[idx], targets[idx], phases)
        network = sgd_step(network, dw, db, workload.training.learning_rates)
        program = backend.compile(network, chip, previous=program)
    return time.process_time() - start


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("workload")
    p.add_argument("--trained", metavar="RUN_DIR", help="a finished run whose network is timed")
    p.add_argument("--chips", default="crossbar-pcm,crossbar-rram")
    p.add_argument("--samples", type=int, default=1000, help="test samples of the inference timing")
    p.add_argument("--batches", type=int, default=30, help="training batches of the training timing")
    p.add_argument("--reps", type=int, default=3)
    args = p.parse_args()
    workload = load_workload(resolve("workloads", args.workload))
    data = load_data(workload)
    if args.trained:
        network = load_trained(Path(args.trained), "--trained").network
    else:
        w = workload
        network = init_network(w.network.layers, np.random.default_rng(w.training.seed), theta=w.eqprop.theta,
                               damping=w.eqprop.damping, gain=w.network.init_gain)
    chips = [load_chip(resolve("chips", name)) for name in ["digital"] + args.chips.split(",")]
    backends = [get_backend(c.backend) for c in chips]
    programs = [b.compile(network, c) for b, c in zip(backends, chips)]
    for b, c, prog in zip(backends, chips, programs):  # compile the numba kernels before timing
        inference_s(b, prog, workload, data, 8)
        training_s(b, c, network, workload, data, 1)
    best = {c.name: [np.inf, np.inf] for c in chips}
    print_machine()
    print(f"# {workload.name}: {args.samples} test samples, {args.batches} training batches")
    for rep in range(args.reps):
        for b, c, prog in zip(backends, chips, programs):
            t_inf = inference_s(b, prog, workload, data, args.samples)
            t_train = training_s(b, c, network, workload, data, args.batches)
            best[c.name] = [min(best[c.name][0], t_inf), min(best[c.name][1], t_train)]
    base = best["digital"]
    print("\n| chip | inference (s) | x digital | training (s) | x digital |\n|---|---|---|---|---|")
    for name, (t_inf, t_train) in best.items():
        print(f"| {name} | {t_inf:.3f} | {t_inf / base[0]:.2f} | {t_train:.3f} | {t_train / base[1]:.2f} |")
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
