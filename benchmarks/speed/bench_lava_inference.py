"""Test-set inference throughput of a trained network: the emulator's bit-exact relaxation against Lava's.

Reads a finished run trained on a Loihi chip (``python -m emulator run WORKLOAD --chip loihi2 --out RUN``), and
runs the first ``--samples`` test samples through

- the emulator: :meth:`LoihiBackend.relax <emulator.backends.loihi.LoihiBackend.relax>` on the whole batch, the
  free phase as ``evaluate`` runs it (counters included), best of 3;
- Lava 0.10: the ``deploy --to lava`` bundle, which builds each sample's network from Lava processes and runs it
  with ``Loihi2SimCfg(select_tag='fixed_pt')`` (its ``lava_wall_s``: building, compiling and running every sample,
  what running a test set in Lava costs), in a process of its own.

Both must give the same classes and final output states (the bundle checks it). The table gives inferences per
second of each and their ratio; and, as Lava's figure is mostly building and compiling each sample's network,
the ratio against Lava's stepping alone (the steps of ``--stepping`` samples after their compile and first
step, :func:`benchmarks.speed.bench_lava.timed_lava`), which no test set run in Lava 0.10 reaches (its
networks cannot be reset to rest between samples).

Usage: python -m benchmarks.speed.bench_lava_inference RUN [--samples 200]
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from benchmarks._machine import print_machine
from benchmarks.speed.bench_lava import time_lava
from emulator.backends.loihi.deploy import deploy_to_lava
from emulator.chip import get_backend
from emulator.tasks.checkpoint import load_trained
from emulator.tasks.classification import load_data


def time_emulator(backend, program, x, steps: int, repeats: int = 3):
    backend.relax(program, x[:2], max_steps=steps)  # numba compilation
    best, eq = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        eq, _ = backend.relax(program, x, max_steps=steps)
        best = min(best, time.perf_counter() - start)
    return best, eq.output.argmax(axis=1)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a finished run trained on a loihi chip")
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--stepping", type=int, default=5, help="samples whose Lava stepping alone is timed")
    args = parser.parse_args(argv)
    print_machine()
    trained = load_trained(args.run, "bench_lava_inference", chip="loihi2")
    backend = get_backend(trained.chip.backend)
    data = load_data(trained.workload)
    steps = trained.workload.eqprop.free_steps
    program = backend.compile(trained.network, trained.chip)
    x = data.x_test[:args.samples]
    t_emu, classes = time_emulator(backend, program, x, steps)
    with tempfile.TemporaryDirectory() as folder:
        deployed = deploy_to_lava(backend, trained, data, Path(folder) / "bundle", samples=args.samples)
        check = json.loads((Path(folder) / "bundle" / "lava_check.json").read_text())
    t_lava = check["lava_wall_s"]
    t_step = sum(time_lava(program.net, spikes, steps)[0]
                 for spikes in program.spikes_of(x[:args.stepping])) / args.stepping
    same = check["classes_equal"] and check["states_equal"] and classes.tolist() == check["lava_class"]
    header = ("run", "chip", "samples", "steps", "emulator s", "Lava s", "emulator inferences/s", "Lava inferences/s",
              "speed-up", "Lava stepping s / inference", "speed-up against stepping", "same classes and states",
              "accuracy")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    row = (args.run.name, trained.chip.name, args.samples, steps, f"{t_emu:.3f}", f"{t_lava:.1f}",
           f"{args.samples / t_emu:,.0f}", f"{args.samples / t_lava:.2f}", f"{t_lava / t_emu:,.0f}x", f"{t_step:.3f}",
           f"{t_step * args.samples / t_emu:,.0f}x", "yes" if same and deployed.passed else "NO",
           f"{check['lava_accuracy']:.1%}")
    print("| " + " | ".join(str(c) for c in row) + " |")


if __name__ == "__main__":
    main()
