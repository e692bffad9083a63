"""Integration error of the oscillator kernels on a Fashion-MNIST-sized network, against solve_ivp.

Relaxes ``--samples`` Fashion-MNIST test images on the 784-500-10 network of ``fashion_mnist_snn``
mapped onto ``oim-cmos`` (the workload's initial network, or the weights of a run with
``--run DIR``) with the chip's integration settings (step and settle tolerances, largest phase
step) and ``theta = 0``, where the lazy coupling is the continuous gradient flow. Both the
numba kernels (:func:`~emulator.backends.oim.oscillators.relax_phases`) and the numpy reference
stop at each of ``--times`` (a run stopped at ``T`` takes the same steps as a longer one up to
its last, shortened step) or where they settle first; the phases there are compared with
``scipy.integrate.solve_ivp`` (DOP853, relative and absolute tolerance 1e-10) at the same time.

Prints, per stop time, the largest phase error there over the samples (radians; a sample that
settled before counts with its error where it settled) of each integrator,
and where the samples settled: their settling times against each other, so that a change of
the kernels' step sequence shows in the emulated settling time too.

    python -m benchmarks.checks.oim_integration_error [--run DIR] [--samples 4]
"""
from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import numpy as np
from scipy.integrate import solve_ivp

from benchmarks._machine import print_machine
from emulator.backends.oim.backend import OimBackend, input_field
from emulator.backends.oim.oscillators import gradient, relax_phases
from emulator.backends.oim.oscillators_numpy import relax_phases_numpy
from emulator.chip import load_chip
from emulator.datasets import load_dataset
from emulator.network import init_network
from emulator.tasks.checkpoint import read_checkpoint
from emulator.workload import load_workload

ROOT = Path(__file__).resolve().parents[2]
INTEGRATORS = {"numba kernels": relax_phases, "numpy reference": relax_phases_numpy}


def problem(run: Path | None, samples: int):
    """The program (``theta = 0``) and the complex biases of ``samples`` test images, (samples, n)."""
    w = load_workload(ROOT / "workloads" / "fashion_mnist_snn.yaml")
    net = init_network(w.network.layers, np.random.default_rng(w.training.seed), theta=0.0,
                       damping=w.eqprop.damping, gain=w.network.init_gain)
    if run:
        saved = read_checkpoint(run, "--run", "give a run folder of fashion_mnist_snn on oim-cmos")
        net = net.with_parameters(saved.weights, saved.biases)
    program = OimBackend().compile(net, load_chip(ROOT / "chips" / "oim-cmos.yaml"))
    x = load_dataset("fashion_mnist", n_test=samples).x_test[:samples]
    bias = np.broadcast_to(program.bias, (samples, program.n)).astype(np.complex128)
    bias[:, :program.layers[1]] += input_field(program, x)
    return program, bias


def exact(program, bias: np.ndarray, times: list[float]) -> np.ndarray:
    """The continuous flow from phases 0 at ``times``, (len(times), n), by solve_ivp."""
    flow = solve_ivp(lambda t, phi: -gradient(program.couplings, bias[None], 0.0, phi[None])[0],
                     (0.0, max(times)), np.zeros(program.n), t_eval=sorted(times), method="DOP853",
                     rtol=1e-10, atol=1e-10)
    return flow.y.T


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", type=Path, help="a run of fashion_mnist_snn on oim-cmos (its checkpoint's weights)")
    p.add_argument("--samples", type=int, default=4)
    p.add_argument("--times", default="0.5,2,5,10,20,40,75", help="stop times, time units")
    args = p.parse_args()
    print_machine()
    program, bias = problem(args.run, args.samples)
    times = [float(t) for t in args.times.split(",")]
    errors = {name: np.zeros(len(times)) for name in INTEGRATORS}
    settled = {name: np.full(args.samples, np.nan) for name in INTEGRATORS}
    for b in range(args.samples):
        stops = {}
        for name, relax in INTEGRATORS.items():
            for i, t_max in enumerate(times):
                state = relax(program.couplings, bias[b:b + 1], np.zeros((1, program.n)),
                              replace(program.settings, t_max=t_max, n_bins=0))
                stops[name, i] = state.t[0], state.phi[0]
                if state.settled[0]:
                    settled[name][b] = state.t[0]
                    break
        reference = dict(zip(sorted({t for t, _ in stops.values()}),
                             exact(program, bias[b], sorted({t for t, _ in stops.values()}))))
        for name in INTEGRATORS:
            for i in range(len(times)):  # a settled sample counts with its error where it settled
                t, phi = stops[name, min(i, max(j for n, j in stops if n == name))]
                errors[name][i] = max(errors[name][i], np.abs(phi - reference[t]).max())
    print(f"{args.samples} Fashion-MNIST test images, {'network of ' + str(args.run) if args.run else 'initial network'}, "
          f"theta 0, step tolerance {program.settings.step_tolerance:g} rad, largest phase step "
          f"{program.settings.max_phase_step:g} rad, settle tolerance {program.settings.settle_tolerance:g}\n")
    print("| stop time (or settled) | " + " | ".join(f"{name}: largest error there, rad" for name in INTEGRATORS) + " |")
    print("|---:|" + "---:|" * len(INTEGRATORS))
    for i, t in enumerate(times):
        print(f"| {t:g} | " + " | ".join(f"{errors[name][i]:.2e}" for name in INTEGRATORS) + " |")
    for name, t in settled.items():
        print(f"\n{name}: settled at " + ", ".join("-" if np.isnan(v) else f"{v:.2f}" for v in t))


if __name__ == "__main__":
    main()
