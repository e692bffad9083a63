"""Synaptic ops per inference and test accuracy against the lazy threshold theta.

Trains and evaluates one workload on one chip for each theta (the shipped value and 0 by
default) and prints a Markdown table: the issue's figure is that the shipped theta cuts
synaptic ops per inference by >= 50 % against theta = 0 for <= 0.5 points of accuracy.

    python -m benchmarks.experiments.theta_sweep digits_snn --chip digital
    python -m benchmarks.experiments.theta_sweep fashion_mnist_snn --thetas 0.01,0 --set training.epochs=10

With ``--trained RUN_DIR`` nothing is trained: the network saved in that run's checkpoint is
evaluated on the test set at each theta (the inference-time effect of the threshold alone).
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

from emulator.catalog import resolve
from emulator.chip import load_chip
from emulator.energy import account
from emulator.report import write_report
from emulator.tasks.checkpoint import read_checkpoint
from emulator.tasks.classification import Run, load_data
from emulator.workload import load_workload


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("workload")
    p.add_argument("--chip", default="digital")
    p.add_argument("--thetas", help="comma-separated thresholds (default: the workload's and 0)")
    p.add_argument("--set", action="append", default=[])
    p.add_argument("--out", default="runs/theta_sweep")
    p.add_argument("--trained", metavar="RUN_DIR", help="evaluate this run's trained network instead of training")
    args = p.parse_args()
    path = resolve("workloads", args.workload)
    base = load_workload(path, args.set)
    thetas = [float(t) for t in args.thetas.split(",")] if args.thetas else [base.eqprop.theta, 0.0]
    chip = load_chip(resolve("chips", args.chip))
    data = load_data(base)
    rows = []
    for theta in thetas:
        if args.trained:
            rows.append(evaluate_trained(Path(args.trained), base, chip, data, theta))
            print(json.dumps(rows[-1]), flush=True)
            continue
        workload = load_workload(path, args.set + [f"eqprop.theta={theta}"])
        out = Path(args.out) / f"{workload.name}-{chip.name}-theta{theta:g}"
        start = time.perf_counter()
        run = Run(workload, chip, out, data=data)
        run.train(progress=True)
        result = run.result(time.perf_counter() - start)
        write_report(result, out)
        rows.append(row(theta, result.metrics.test_accuracy, result.counters["inference"],
                        result.relaxation["inference"].mean_steps,
                        result.energy.inference.per_sample_j, data.n_test, result.time.wall_s))
        print(json.dumps(rows[-1]), flush=True)
    what = f"trained network of {args.trained}, evaluated" if args.trained else "trained and evaluated"
    ref = next((r for r in rows if r["theta"] == 0.0), rows[-1])
    print(f"\n{base.name} on {chip.name} ({data.n_train} train / {data.n_test} test), {what} at each theta\n")
    print("| theta | test accuracy | synaptic ops / inference | vs theta=0 | messages / inference | "
          "mean steps | energy / inference | wall s |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['theta']:g} | {r['test_accuracy']:.4f} | {r['synaptic_ops_per_inference']:,.0f} | "
              f"{r['synaptic_ops_per_inference'] / ref['synaptic_ops_per_inference']:.1%} | "
              f"{r['messages_per_inference']:,.0f} | {r['mean_steps']:.1f} | {r['energy_per_inference_j']:.3e} J | "
              f"{r['wall_s']:.0f} |")


def row(theta, accuracy, counters, mean_steps, energy_per_inference_j, n_test, wall_s) -> dict:
    """One line of the table: test-set figures per inference at one threshold."""
    return {"theta": theta, "test_accuracy": accuracy,
            "synaptic_ops_per_inference": counters["synaptic_ops"] / n_test,
            "messages_per_inference": counters["messages"] / n_test, "mean_steps": mean_steps,
            "energy_per_inference_j": energy_per_inference_j, "wall_s": wall_s}


def evaluate_trained(run_dir: Path, workload, chip, data, theta: float) -> dict:
    """Test-set inference of the network saved in ``run_dir`` with the lazy threshold ``theta``."""
    run = Run(workload, chip, run_dir, data=data)
    checkpoint = read_checkpoint(run_dir)
    network = replace(run.network.with_parameters(checkpoint.weights, checkpoint.biases), theta=theta)
    start = time.perf_counter()
    accuracy, counters, relaxation = run.evaluate("test", program=run.backend.compile(network, chip))
    return row(theta, accuracy, counters, relaxation.mean_steps,
               account(counters, chip, run.backend, data.n_test)["per_sample_j"], data.n_test, time.perf_counter() - start)


if __name__ == "__main__":
    main()
