"""Why oscillator relaxations reach the time limit: settling against time, and what the limit costs.

Relaxes ``--samples`` test samples of ``digits_snn`` on ``oim-cmos`` (free phase, from the
workload's initial network, or from the weights of a finished run with ``--run DIR``) to
``--t-max`` time units, with the read-out also taken at the workload's budget (free_steps x
time_per_step). Prints, per budget: the fraction settled (no phase faster than the chip's
settle_tolerance), the fraction whose class (argmax of the output read-outs) is the one at
``--t-max``, the largest output read-out change, and the slowest oscillators' fields.

    OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 python -m benchmarks.experiments.oim_settling [--run DIR] [--t-max 2000]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from emulator.backends.oim.backend import OimBackend, input_field
from emulator.backends.oim.oscillators import field
from emulator.chip import load_chip
from emulator.datasets import load_dataset
from emulator.network import init_network
from emulator.tasks.checkpoint import read_checkpoint
from emulator.workload import load_workload

ROOT = Path(__file__).resolve().parents[2]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", type=Path, help="a finished digits_snn run on oim-cmos (its checkpoint's weights)")
    p.add_argument("--samples", type=int, default=200)
    p.add_argument("--t-max", type=float, default=2000.0, help="the long budget, time units")
    args = p.parse_args()
    w = load_workload(ROOT / "workloads" / "digits_snn.yaml")
    chip, backend = load_chip(ROOT / "chips" / "oim-cmos.yaml"), OimBackend()
    net = init_network(w.network.layers, np.random.default_rng(w.training.seed), theta=w.eqprop.theta,
                       damping=w.eqprop.damping, gain=w.network.init_gain)
    if args.run:
        checkpoint = read_checkpoint(args.run, "--run", "give --run a finished digits_snn run on oim-cmos")
        net = net.with_parameters(checkpoint.weights, checkpoint.biases)
    program = backend.compile(net, chip)
    data = load_dataset("digits", preprocessing=w.dataset.preprocessing)
    x = data.x_test[:args.samples]
    per_step = program.time_per_step
    budgets = sorted({w.eqprop.free_steps, 4 * w.eqprop.free_steps, int(args.t_max / per_step)})
    results = {steps: backend.relax(program, x, max_steps=steps)[0] for steps in budgets}
    final = results[budgets[-1]]
    print(f"{'budget (time units)':>20} {'settled':>8} {'class as at the end':>20} {'max |d s_out|':>14} "
          f"{'test accuracy':>14}")
    for steps, eq in results.items():
        same = (eq.output.argmax(1) == final.output.argmax(1)).mean()
        print(f"{steps * per_step:>20g} {eq.quiescent.mean():>8.1%} {same:>20.1%} "
              f"{np.abs(eq.output - final.output).max():>14.3f} {(eq.output.argmax(1) == data.y_test[:len(x)]).mean():>14.1%}")
    eq = results[budgets[0]]
    bias = np.broadcast_to(program.bias, eq.phases.shape).astype(np.complex128)
    bias[:, :program.layers[1]] += input_field(program, x)
    speed = np.abs(np.imag(np.exp(1j * eq.phases) * np.conj(field(program.couplings, bias, eq.phases))))
    magnitude = np.abs(field(program.couplings, bias, eq.phases))
    slow = speed > chip.parameters["settle_tolerance"]
    print(f"at {budgets[0] * per_step:g} time units: {slow.mean():.1%} of the oscillators move faster than the "
          f"tolerance; their median field |F| is {np.median(magnitude[slow]):.3f} (all oscillators: "
          f"{np.median(magnitude):.3f}); hidden {slow[:, :program.layers[1]].mean():.1%}, "
          f"output {slow[:, program.layers[1]:].mean():.1%}")


if __name__ == "__main__":
    main()
