"""Train digits on the generic spiking chip, then run the trained network in Brian2 and compare.

The emulator's ``snn`` chip relaxes with integrate-and-fire neurons and binary spikes;
:func:`emulator.backends.snn.brian.program_to_brian2` writes any network compiled for it as Brian2
equations (Euler steps, numpy code target: no compiler needed). This script trains ``digits_snn``
on the chip in float64 (Brian2's number format), relaxes a few test digits in both simulators for
the workload's free phase and prints, per digit, the class each reads out of its output spike counts
and whether every neuron fired at the same steps::

    python examples/spiking_in_brian2.py [--epochs 2] [--samples 5] [--target numpy|cython]
"""
import argparse
import tempfile

import numpy as np

from emulator.backends.snn.brian import chip_spikes, program_to_brian2
from emulator.backends.spiking import window_of
from emulator.chip import load_chip
from emulator.tasks.classification import Run
from emulator.workload import load_workload


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--target", default="numpy", help="Brian2 code target: numpy, or cython (needs a compiler)")
    args = parser.parse_args(argv)
    workload = load_workload("workloads/digits_snn.yaml", [f"training.epochs={args.epochs}"])
    chip = load_chip("chips/snn.yaml", ["parameters.precision=float64"])
    with tempfile.TemporaryDirectory() as out:
        run = Run(workload, chip, out)
        run.train(progress=False)
    print(f"trained {args.epochs} epochs on {chip.name}: test accuracy {run.history[-1].test_accuracy:.1%}")

    steps = workload.eqprop.free_steps
    window = window_of(workload.spiking, steps)
    x, labels = run.data.x_test[:args.samples], run.data.y_test[:args.samples]
    mine, _ = run.backend.relax(run.program, x, max_steps=steps)
    for i, (sample, label) in enumerate(zip(x, labels)):
        brian = program_to_brian2(run.program, sample, steps=steps, target=args.target)
        brian.run()
        theirs = brian.spikes()
        counts = [s[steps - window:].sum(0) for s in theirs]
        same = all(np.array_equal(s, r) for s, r in zip(theirs, chip_spikes(run.program, sample, steps=steps)))
        print(f"digit {i}: label {label}  emulator {mine.output[i].argmax()}  Brian2 {counts[-1].argmax()}  "
              f"output spikes in the last {window} steps {counts[-1].tolist()}  "
              f"{'same spikes at every step' if same else 'DIFFERENT'}")


if __name__ == "__main__":
    main()
