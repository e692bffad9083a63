"""How closely EqProp's update follows the gradient, per layer, on a trained network.

At the free equilibrium of a trained run's network (relaxed on the digital chip in float64),
compares EqProp's symmetric update at each beta with the implicit gradient of the loss at that
equilibrium (the ideal proxy: recurrent backprop, the gradient EqProp estimates as beta -> 0) and
with the backprop gradient of the same weights evaluated feed-forward (a different model: one pass,
no feedback), as cosine similarities per weight matrix and bias vector. Two relaxations: as the
workload trains (its lazy threshold and step budgets) and converged (no threshold, long phases).

    python -m benchmarks.experiments.gradient_agreement runs/digits-digital --samples 500
"""
from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import numpy as np

from emulator.chip import get_backend, load_chip
from emulator.catalog import resolve
from emulator.tasks.checkpoint import load_trained
from emulator.tasks.classification import load_data
from emulator.training.backprop import backprop_gradient
from emulator.training.eqprop import Phases, eqprop_gradient, one_hot
from emulator.training.implicit import implicit_gradient
from emulator.workload import ImplicitSpec


def cosine(a, b) -> float:
    a, b = np.ravel(a), np.ravel(b)
    norm = np.linalg.norm(a) * np.linalg.norm(b)
    return float(a @ b / norm) if norm > 0 else float("nan")


def cosines(a, b) -> list[float]:
    """Per parameter (W0.., b0..) and over all of them."""
    flat = [np.concatenate([np.ravel(g) for g in grads]) for grads in (a, b)]
    return [cosine(x, y) for x, y in zip(a, b)] + [cosine(*flat)]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_dir", type=Path)
    p.add_argument("--samples", type=int, default=500, help="training samples in the batch (default 500)")
    p.add_argument("--betas", default="", help="comma-separated betas (default: the workload's and 0.01)")
    p.add_argument("--converged-steps", type=int, default=2000, help="phase length of the converged relaxation")
    args = p.parse_args()
    trained = load_trained(args.run_dir, "gradient_agreement")
    w = trained.workload
    data = load_data(w)
    x, y = data.x_train[:args.samples], one_hot(data.y_train[:args.samples], data.n_classes)
    chip = load_chip(resolve("chips", "digital"), ["parameters.precision=float64"])
    backend = get_backend(chip.backend)
    betas = [float(b) for b in args.betas.split(",")] if args.betas else [w.eqprop.beta, 0.01]
    n = len(trained.network.weights)
    names = [f"W{k}" for k in range(n)] + [f"b{k}" for k in range(n)] + ["all"]
    print(f"{trained.origin}; {len(x)} training samples\n")
    print("| relaxation | compared | " + " | ".join(names) + " |")
    print("|---|---|" + "---|" * len(names))
    steps = args.converged_steps
    for label, network, free_steps, nudged_steps in (
            (f"as trained (theta {w.eqprop.theta:g}, {w.eqprop.free_steps} / {w.eqprop.nudged_steps} steps)",
             trained.network, w.eqprop.free_steps, w.eqprop.nudged_steps),
            (f"converged (theta 0, {steps} / {steps} steps)", replace(trained.network, theta=0.0), steps, steps)):
        program = backend.compile(network, chip)
        iw, ib, _ = implicit_gradient(backend, program, network, x, y, free_steps=free_steps, settings=ImplicitSpec())
        bw, bb, _ = backprop_gradient(backend, program, x, y)
        rows = [("implicit vs backprop (feed-forward)", iw + ib, bw + bb)]
        for beta in betas:
            dw, db, _, _ = eqprop_gradient(backend, program, x, y, Phases(beta, True, free_steps, nudged_steps))
            rows += [(f"EqProp beta {beta:g} vs implicit", dw + db, iw + ib),
                     (f"EqProp beta {beta:g} vs backprop (feed-forward)", dw + db, bw + bb)]
        for compared, a, b in rows:
            print(f"| {label} | {compared} | " + " | ".join(f"{c:.3f}" for c in cosines(a, b)) + " |", flush=True)


if __name__ == "__main__":
    main()
