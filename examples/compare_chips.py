"""Compare one workload across chips: accuracy, energy and latency per inference, and where the energy goes.

The same as ``python -m emulator compare digits_snn --chips digital,loihi2``, from Python, with the
energy breakdown per operation printed for each chip. Run from the repository root::

    python examples/compare_chips.py [--epochs 20] [--chips digital,loihi2]
"""
import argparse
import tempfile

from emulator.chip import load_chip
from emulator.report import format_si
from emulator.tasks.classification import Run, load_data
from emulator.workload import load_workload


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--chips", default="digital,loihi2")
    args = parser.parse_args(argv)

    workload = load_workload("workloads/digits_snn.yaml", [f"training.epochs={args.epochs}"])
    data = load_data(workload)  # loaded once, shared by the runs
    for name in args.chips.split(","):
        with tempfile.TemporaryDirectory() as out:
            run = Run(workload, load_chip(f"chips/{name}.yaml"), out, data=data)
            run.train(progress=False)
            result = run.result(wall_s=0.0, progress=False)
        energy = result.energy.inference
        print(f"{name}: test accuracy {result.metrics.test_accuracy:.2%}, "
              f"{format_si(energy.per_sample_j, 'J')} and "
              f"{format_si(result.time.emulated_s_per_inference, 's')} per inference")
        total = energy.total_j
        for op, joules in sorted(energy.breakdown_j.items(), key=lambda item: -item[1]):
            if joules:
                print(f"    {op:<24} {joules / total:6.1%}")


if __name__ == "__main__":
    main()
