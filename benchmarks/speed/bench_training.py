"""Training throughput: one epoch of a workload on each chip, beside a plain dense numpy EqProp.

Each chip's epoch (the workload's training samples plus the per-epoch evaluation the workload
asks for: the test set and ``evaluation.train_subset`` training samples) runs in its own
process, so its peak resident memory is its own. The reference is the same network, trained the
same way in plain numpy: free phase of ``free_steps`` steps from rest, two nudged phases of
``nudged_steps`` (``+beta``, ``-beta``) from the free state, damping, hard sigmoid, the symmetric
update with per-layer learning rates, batch ``batch_size``, float32, the clamped input's drive
computed once per batch, every unit recomputed every step (no threshold), one BLAS thread. It
runs in the same invocation, so its time and the chips' are measured under the same load.

    python -m benchmarks.speed.bench_training fashion_mnist_snn
    python -m benchmarks.speed.bench_training fashion_mnist_snn --chips digital,loihi2 --n-train 10000
    python -m benchmarks.speed.bench_training digits_snn --epochs 20 --chips digital   # a whole run

Prints a Markdown table: wall seconds per epoch (training, evaluation), the CPU seconds of all
threads (the measure that shared cores disturb least), test accuracy after the epoch(s), the
ratio to the reference and to digital, and peak resident memory.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np
from threadpoolctl import threadpool_limits

from benchmarks._machine import print_machine
from emulator.catalog import resolve
from emulator.chip import load_chip
from emulator.tasks.classification import Run, load_data, phases_of
from emulator.training.eqprop import eqprop_gradient, one_hot
from emulator.workload import load_workload


def dense_reference(workload, data, epochs: int) -> dict:
    """Train the workload's network with a plain dense numpy EqProp; wall times and accuracy."""
    w, e, t = workload.network, workload.eqprop, workload.training
    rng = np.random.default_rng(t.seed)
    weights, biases = [], []
    for n_in, n_out in zip(w.layers[:-1], w.layers[1:]):
        bound = w.init_gain * np.sqrt(6.0 / (n_in + n_out))
        weights.append(rng.uniform(-bound, bound, (n_out, n_in)).astype(np.float32))
        biases.append(np.zeros(n_out, np.float32))
    x_train, x_test = data.x_train.astype(np.float32), data.x_test.astype(np.float32)
    targets = np.eye(data.n_classes, dtype=np.float32)[data.y_train]
    d = np.float32(e.damping)

    def relax(states, drive_in, steps, beta=0.0, y=None):
        for _ in range(steps):
            new = []
            for k in range(1, len(states)):
                h = (drive_in if k == 1 else states[k - 1] @ weights[k - 1].T + biases[k - 1])
                if k + 1 < len(states):
                    h = h + states[k + 1] @ weights[k]
                if k == len(states) - 1 and beta:
                    h = (h + beta * y) / (1 + beta)
                new.append(d * states[k] + (1 - d) * np.clip(h, 0, 1))
            states = [states[0]] + new
        return states

    def free(x):
        drive_in = x @ weights[0].T + biases[0]
        return relax([x] + [np.zeros((len(x), n), np.float32) for n in w.layers[1:]], drive_in, e.free_steps), drive_in

    def accuracy(x, y, batch):
        return float(np.mean(np.concatenate([free(x[i:i + batch])[0][-1].argmax(1) for i in range(0, len(x), batch)]) == y))

    train_s = eval_s = 0.0
    cpu = time.process_time()
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        order = np.random.default_rng([t.seed, epoch]).permutation(data.n_train)
        rates = [lr * t.lr_decay ** (epoch - 1) for lr in t.learning_rates]
        for first in range(0, data.n_train, t.batch_size):
            idx = order[first:first + t.batch_size]
            x, y = x_train[idx], targets[idx]
            s0, drive_in = free(x)
            plus = relax(s0, drive_in, e.nudged_steps, e.beta, y)
            minus = relax(s0, drive_in, e.nudged_steps, -e.beta, y)
            scale = 1.0 / (2 * e.beta * len(idx))
            for k in range(len(weights)):
                weights[k] += rates[k] * scale * (plus[k + 1].T @ plus[k] - minus[k + 1].T @ minus[k])
                biases[k] += rates[k] * scale * (plus[k + 1] - minus[k + 1]).sum(0)
        middle = time.perf_counter()
        sub = workload.evaluation.train_subset
        accuracy(x_train[:sub], data.y_train[:sub], workload.evaluation.batch_size)
        test = accuracy(x_test, data.y_test, workload.evaluation.batch_size)
        train_s += middle - start
        eval_s += time.perf_counter() - middle
    return {"name": "dense numpy reference", "train_s": train_s, "eval_s": eval_s,
            "cpu_s": time.process_time() - cpu, "test_accuracy": test,
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def chip_epochs(workload_name: str, chip: str, overrides: list[str]) -> dict:
    """Train on ``chip`` in this process (called in a child process); times, accuracy, peak memory."""
    workload = load_workload(resolve("workloads", workload_name), overrides)
    with tempfile.TemporaryDirectory() as out:
        run = Run(workload, load_chip(resolve("chips", chip)), out)
        # numba compiles (or loads its cache) outside the timed epochs
        program = run.backend.compile(run.network, run.chip)
        batch = slice(0, workload.training.batch_size)
        eqprop_gradient(run.backend, program, run.data.x_train[batch],
                        one_hot(run.data.y_train[batch], run.data.n_classes), phases_of(workload))
        run.backend.relax(program, run.data.x_test[batch], max_steps=workload.eqprop.free_steps)
        train_s = eval_s = 0.0
        cpu = time.process_time()
        for _ in range(workload.training.epochs):
            record = run.train_epoch(progress=False)
            train_s += record.train_wall_s
            eval_s += record.wall_s - record.train_wall_s
    return {"name": chip, "train_s": train_s, "eval_s": eval_s, "cpu_s": time.process_time() - cpu,
            "test_accuracy": record.test_accuracy,
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("workload")
    p.add_argument("--chips", default="digital,loihi2,crossbar-pcm,oim-cmos")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--n-train", type=int, help="training samples (default: the workload's)")
    p.add_argument("--no-reference", action="store_true", help="skip the dense numpy reference")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    overrides = [f"training.epochs={args.epochs}"] + ([f"dataset.n_train={args.n_train}"] if args.n_train else [])
    if args.child:
        print(json.dumps(chip_epochs(args.workload, args.child, overrides)))
        return
    print_machine()
    rows = []
    if not args.no_reference:
        workload = load_workload(resolve("workloads", args.workload), overrides)
        with threadpool_limits(1):
            rows.append(dense_reference(workload, load_data(workload), args.epochs))
        print(rows[-1], flush=True)
    for chip in args.chips.split(","):
        done = subprocess.run([sys.executable, "-m", "benchmarks.speed.bench_training", args.workload, "--child", chip,
                               "--epochs", str(args.epochs)] + (["--n-train", str(args.n_train)] if args.n_train else []),
                              capture_output=True, text=True)
        if done.returncode:
            print(f"{chip}: failed: {done.stderr.strip().splitlines()[-1]}", flush=True)
            continue
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(rows[-1], flush=True)
    reference = rows[0] if not args.no_reference else None
    digital = next((r for r in rows if r["name"] == "digital"), None)
    print(f"\n{args.workload}, {args.epochs} epoch(s){f', {args.n_train} training samples' if args.n_train else ''}:\n")
    print("| | training s | evaluation s | total s | CPU s | vs reference | vs digital | test accuracy | peak RSS |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        total = r["train_s"] + r["eval_s"]
        ref = f"{total / (reference['train_s'] + reference['eval_s']):.2f}x" if reference else "-"
        dig = f"{total / (digital['train_s'] + digital['eval_s']):.2f}x" if digital else "-"
        print(f"| {r['name']} | {r['train_s']:.1f} | {r['eval_s']:.1f} | {total:.1f} | {r['cpu_s']:.1f} | {ref} | {dig} | "
              f"{100 * r['test_accuracy']:.1f} % | {r['peak_rss_mib']:.0f} MiB |")


if __name__ == "__main__":
    main()
