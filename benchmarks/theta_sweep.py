"""Synaptic ops per inference and test accuracy against the lazy threshold theta.

Trains and evaluates one workload on one chip for each theta (the shipped value and 0 by
default) and prints a Markdown table: the issue's figure is that the shipped theta cuts
synaptic ops per inference by >= 50 % against theta = 0 for <= 0.5 points of accuracy.

    python benchmarks/theta_sweep.py digits_snn --chip digital
    python benchmarks/theta_sweep.py fashion_mnist_snn --thetas 0.01,0 --set training.epochs=10
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from emulator.chip import load_chip
from emulator.cli import resolve
from emulator.report import write_report
from emulator.runner import Run, load_data
from emulator.workload import load_workload


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("workload")
    p.add_argument("--chip", default="digital")
    p.add_argument("--thetas", help="comma-separated thresholds (default: the workload's and 0)")
    p.add_argument("--set", action="append", default=[])
    p.add_argument("--out", default="runs/theta_sweep")
    args = p.parse_args()
    path = resolve("workloads", args.workload)
    base = load_workload(path, args.set)
    thetas = [float(t) for t in args.thetas.split(",")] if args.thetas else [base.eqprop.theta, 0.0]
    chip = load_chip(resolve("chips", args.chip))
    data = load_data(base)
    rows = []
    for theta in thetas:
        workload = load_workload(path, args.set + [f"eqprop.theta={theta}"])
        out = Path(args.out) / f"{workload.name}-{chip.name}-theta{theta:g}"
        start = time.perf_counter()
        run = Run(workload, chip, out, data=data)
        run.train(progress=True)
        result = run.result(time.perf_counter() - start)
        write_report(result, out)
        n = result["dataset"]["n_test"]
        rows.append({"theta": theta, "test_accuracy": result["metrics"]["test_accuracy"],
                     "synaptic_ops_per_inference": result["counters"]["inference"]["synaptic_ops"] / n,
                     "messages_per_inference": result["counters"]["inference"]["messages"] / n,
                     "mean_steps": result["relaxation"]["inference"]["mean_steps"],
                     "energy_per_inference_j": result["energy"]["inference"]["per_sample_j"],
                     "wall_s": result["time"]["wall_s"]})
        print(json.dumps(rows[-1]), flush=True)
    ref = next((r for r in rows if r["theta"] == 0.0), rows[-1])
    print(f"\n{base.name} on {chip.name} ({data.n_train} train / {data.n_test} test)\n")
    print("| theta | test accuracy | synaptic ops / inference | vs theta=0 | messages / inference | "
          "mean steps | energy / inference | wall s |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['theta']:g} | {r['test_accuracy']:.4f} | {r['synaptic_ops_per_inference']:,.0f} | "
              f"{r['synaptic_ops_per_inference'] / ref['synaptic_ops_per_inference']:.1%} | "
              f"{r['messages_per_inference']:,.0f} | {r['mean_steps']:.1f} | {r['energy_per_inference_j']:.3e} J | "
              f"{r['wall_s']:.0f} |")


if __name__ == "__main__":
    main()
