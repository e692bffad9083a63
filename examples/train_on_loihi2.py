"""Train a workload on the emulated Loihi 2 from Python, read what the chip did, write the report.

The same as ``python -m emulator run digits_snn --chip loihi2 --out runs/example-loihi2``, step by
step: the run object trains epoch by epoch (checkpointing each), and its result holds the
accuracy, the operation counters, the energy and latency, and the chip program (quantisation per
layer, cores). Run from the repository root::

    python examples/train_on_loihi2.py [--epochs 20] [--out runs/example-loihi2]
"""
import argparse

from emulator.chip import load_chip
from emulator.report import format_si, write_report
from emulator.tasks.classification import Run
from emulator.workload import load_workload


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--out", default="runs/example-loihi2")
    args = parser.parse_args(argv)

    workload = load_workload("workloads/digits_snn.yaml", [f"training.epochs={args.epochs}"])
    run = Run(workload, load_chip("chips/loihi2.yaml"), args.out)
    run.train(progress=False, on_epoch=lambda r: print(f"epoch {r.epoch}: test {r.test_accuracy:.2%}"))
    result = run.result(wall_s=0.0, progress=False)
    write_report(result, args.out)

    program, inference = result.program, result.counters["inference"]
    n_test = result.dataset.n_test
    print(f"test accuracy {result.metrics.test_accuracy:.2%} on {program['cores']} cores")
    for k, layer in enumerate(program["weights"]):
        print(f"  weights {k}: exponent {layer['weight_exp']}, {layer['range_used']:.0%} of the 8-bit range, "
              f"{layer['clipped_fraction']:.2%} clipped")
    print(f"per inference: {inference['synaptic_ops'] / n_test:,.0f} synaptic ops, "
          f"{inference['spikes'] / n_test:,.0f} graded spikes, {inference['barrier_syncs'] / n_test:.1f} steps, "
          f"{format_si(result.energy.inference.per_sample_j, 'J')}, "
          f"{format_si(result.time.emulated_s_per_inference, 's')}")
    print(f"report in {args.out}/report.md; deploy it with: python -m emulator deploy {args.out} --to lava "
          f"--out {args.out}-lava")


if __name__ == "__main__":
    main()
