"""The generic spiking chip against Brian2 on a trained network: the same spikes, and how long each takes.

For each chip (``snn``: IF neurons, ``snn-lif``: LIF), trains ``digits_snn`` on it in float64 (Brian2's
number format), then relaxes the first ``--samples`` test digits for the workload's free phase in the
emulator (one batch) and in Brian2 (:func:`emulator.backends.snn.brian.program_to_brian2`, one network per
digit, Euler steps) and prints a Markdown table: digits whose every neuron fired at the same steps in
both, digits read out as the same class (output spike counts over the spike window), and the wall time
per digit of each (Brian2's with and without building its network; the emulator's batch relaxation
after numba's compilation)::

    python -m benchmarks.experiments.snn_vs_brian2 [--chips snn,snn-lif] [--epochs 20] [--samples 50]
        [--targets numpy,cython]
"""
from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np

from benchmarks._machine import print_machine
from emulator.backends.snn.brian import chip_spikes, program_to_brian2
from emulator.backends.spiking import window_of
from emulator.catalog import resolve
from emulator.chip import load_chip
from emulator.tasks.classification import Run
from emulator.workload import load_workload


def agreement(run, samples: int, target: str) -> dict:
    """Spikes and read-outs of the chip and of Brian2 on the first ``samples`` test digits, and wall times."""
    steps = run.workload.eqprop.free_steps
    window = window_of(run.workload.spiking, steps)
    x = run.data.x_test[:samples]
    run.backend.relax(run.program, x[:1], max_steps=steps)  # numba's compilation
    start = time.perf_counter()
    mine, _ = run.backend.relax(run.program, x, max_steps=steps)
    emulator_s = time.perf_counter() - start
    same_spikes = same_class = 0
    build_s = run_s = 0.0
    for i, sample in enumerate(x):
        start = time.perf_counter()
        brian = program_to_brian2(run.program, sample, steps=steps, target=target)
        middle = time.perf_counter()
        brian.run()
        build_s, run_s = build_s + middle - start, run_s + time.perf_counter() - middle
        theirs = brian.spikes()
        same_spikes += all(np.array_equal(a, b) for a, b in zip(theirs, chip_spikes(run.program, sample, steps=steps)))
        same_class += int(theirs[-1][steps - window:].sum(0).argmax() == mine.output[i].argmax())
    return {"samples": samples, "steps": steps, "same_spikes": same_spikes, "same_class": same_class,
            "emulator_s": emulator_s / samples, "brian2_run_s": run_s / samples,
            "brian2_total_s": (build_s + run_s) / samples}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chips", default="snn,snn-lif")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--targets", default="numpy", help="Brian2 code targets (cython needs a C++ compiler)")
    args = parser.parse_args(argv)
    print_machine()
    workload = load_workload(resolve("workloads", "digits_snn"), [f"training.epochs={args.epochs}"])
    rows = []
    for name in args.chips.split(","):
        chip = load_chip(resolve("chips", name), ["parameters.precision=float64"])
        with tempfile.TemporaryDirectory() as out:
            run = Run(workload, chip, out)
            run.train(progress=False)
        accuracy = run.history[-1].test_accuracy
        for target in args.targets.split(","):
            r = agreement(run, args.samples, target)
            rows.append((name, accuracy, target, r))
            print(f"{name} ({target}): {r}", flush=True)
    print(f"\ndigits_snn trained {args.epochs} epochs on each chip in float64; free phase of {rows[0][3]['steps']} "
          f"steps on the first {args.samples} test digits\n")
    print("| chip | test accuracy | Brian2 target | same spikes, every neuron and step | same class | emulator s / digit "
          "| Brian2 run s / digit | Brian2 build + run s / digit | Brian2 run / emulator |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, accuracy, target, r in rows:
        print(f"| {name} | {accuracy:.2%} | {target} | {r['same_spikes']} / {r['samples']} | "
              f"{r['same_class']} / {r['samples']} | {r['emulator_s']:.2e} | {r['brian2_run_s']:.3f} | "
              f"{r['brian2_total_s']:.3f} | {r['brian2_run_s'] / r['emulator_s']:,.0f}x |")


if __name__ == "__main__":
    main()
