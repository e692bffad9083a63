"""How close a spiking chip's EqProp update is to the graded one, against the phase lengths and the spike window.

A spiking chip estimates a unit's state as its spike count over the window at the end of a phase, so a rate moves
in steps of ``1 / window``; the nudge moves a hidden unit's rate by much less than that. For one network (a
trained run's, or the workload's initialisation) and one batch of training samples, this compares the update
the spiking chip estimates, at each setting of free steps / nudged steps / window, with the digital chip's
update from long settled phases (the reference), as the cosine similarity per weight matrix and bias, and the
update's norm against the reference's.

    python -m benchmarks.experiments.spiking_update_noise fashion_mnist_snn --chip snn --samples 400 \\
        --settings 30/10/-,40/20/20,60/20/-,100/40/- [--trained RUN_DIR]

A setting ``F/N/W`` is ``eqprop.free_steps``, ``eqprop.nudged_steps`` and ``spiking.window`` (``-``: the
workload's default, the last half of each phase).
"""
from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np

from emulator.catalog import resolve
from emulator.chip import get_backend, load_chip
from emulator.network import init_network
from emulator.tasks.checkpoint import load_trained
from emulator.tasks.classification import load_data
from emulator.training.eqprop import Phases, eqprop_gradient, one_hot
from emulator.workload import load_workload

#: the reference's phases: long enough for the digital chip's float relaxation to settle
REFERENCE_STEPS = (300, 150)


def cosine(a, b) -> float:
    a, b = np.ravel(a), np.ravel(b)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def update(chip_name: str, network, x, y, phases: Phases, overrides=()):
    """EqProp's (dW, db) for the batch on a chip."""
    chip = load_chip(resolve("chips", chip_name), list(overrides))
    backend = get_backend(chip.backend)
    dw, db, _, _ = eqprop_gradient(backend, backend.compile(network, chip), x, y, phases)
    return list(dw) + list(db)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("workload")
    p.add_argument("--chip", default="snn", help="the spiking chip (default snn)")
    p.add_argument("--chip-set", action="append", default=[])
    p.add_argument("--trained", type=Path, help="a run folder whose network to use (default: the initialisation)")
    p.add_argument("--samples", type=int, default=400, help="training samples in the batch (the last ones)")
    p.add_argument("--settings", default="30/10/-,40/20/20,60/20/-,100/40/-", help="F/N/W settings, comma-separated")
    args = p.parse_args(argv)
    if args.trained:
        trained = load_trained(args.trained, "spiking_update_noise")
        workload, network = trained.workload, trained.network
    else:
        workload = load_workload(resolve("workloads", args.workload))
        w = workload
        network = init_network(w.network.layers, np.random.default_rng(w.training.seed), theta=w.eqprop.theta,
                               damping=w.eqprop.damping, gain=w.network.init_gain, spiking=w.spiking)
    data = load_data(workload)
    x, y = data.x_train[-args.samples:], one_hot(data.y_train[-args.samples:], data.n_classes)
    beta, symmetric = workload.eqprop.beta, workload.eqprop.symmetric
    reference = update("digital", dataclasses.replace(network, theta=0.0), x, y,
                       Phases(beta, symmetric, *REFERENCE_STEPS))
    n = len(network.weights)
    names = [f"W{k}" for k in range(n)] + [f"b{k}" for k in range(n)]
    print(f"{workload.name}, {'trained: ' + str(args.trained) if args.trained else 'initialisation'}; "
          f"{len(x)} training samples; reference: digital, theta 0, {REFERENCE_STEPS[0]} / {REFERENCE_STEPS[1]} "
          f"steps\n")
    print("| chip | free / nudged steps | window | " + " | ".join(f"cosine {m}" for m in names)
          + " | norm W0 / reference |")
    print("|---|---|---|" + "---|" * (len(names) + 1))
    rows = [("digital", f"{workload.eqprop.free_steps}/{workload.eqprop.nudged_steps}/-")]
    rows += [(args.chip, s) for s in args.settings.split(",")]
    for chip, setting in rows:
        free, nudged, window = setting.split("/")
        spiking = dataclasses.replace(workload.spiking, window=None if window == "-" else int(window))
        net = dataclasses.replace(network, spiking=spiking)
        got = update(chip, net, x, y, Phases(beta, symmetric, int(free), int(nudged)),
                     args.chip_set if chip == args.chip else ())
        cells = [f"{cosine(a, b):.3f}" for a, b in zip(got, reference)]
        ratio = np.linalg.norm(got[0]) / np.linalg.norm(reference[0])
        print(f"| {chip} | {free} / {nudged} | {window if window != '-' else 'last half'} | " + " | ".join(cells)
              + f" | {ratio:.2f} |", flush=True)


if __name__ == "__main__":
    main()
