"""Where a training epoch goes on each chip: wall time inside its relaxations, update rule, SGD step and
re-programming, and inside the family's kernel and input read where it has them.

Each part is timed by a wrapper around the function that does it, over one epoch of the workload (its training
and the per-epoch evaluation the workload asks for) after a warm-up epoch that compiles the kernels. The parts
are nested as the code is: a relaxation contains its kernel and its input read; the rest of the epoch is what no
part covers (the host's loop, the evaluation's bookkeeping). One BLAS thread, as in ``bench_training``.

    python -m benchmarks.speed.epoch_parts fashion_mnist_snn --chips digital,crossbar-pcm
    python -m benchmarks.speed.epoch_parts fashion_mnist_snn --chips crossbar-rram --n-train 10000
"""
from __future__ import annotations

import argparse
import importlib
import tempfile
import time
from collections import defaultdict
from contextlib import ExitStack, contextmanager

from threadpoolctl import threadpool_limits

from benchmarks._machine import print_machine
from emulator.catalog import resolve
from emulator.chip import load_chip
from emulator.tasks.classification import Run
from emulator.workload import load_workload

#: the parts every chip has: (label, module, function); module None: a method of the chip's back-end class
PARTS = (("relaxations", None, "relax"), ("update rule", None, "contrastive_update"),
         ("SGD step", "emulator.tasks.classification", "sgd_step"), ("re-programming", None, "compile"))
#: the parts inside a relaxation, by back-end family
INNER = {"crossbar": (("kernel", "emulator.backends.crossbar.tiled", "_relax"),
                      ("input read", "emulator.backends.crossbar.tiled", "_input_read")),
         "digital": (("kernel", "emulator.backends.digital.relax", "relax_batch"),)}


@contextmanager
def timed(owner, name: str, label: str, seconds: dict):
    """``owner.name`` replaced, while the block runs, by a wrapper adding its wall time to ``seconds[label]``."""
    original, own = getattr(owner, name), name in vars(owner)  # a method may be the base class's

    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            seconds[label] += time.perf_counter() - start
    setattr(owner, name, wrapper)
    try:
        yield
    finally:
        if own:
            setattr(owner, name, original)
        else:
            delattr(owner, name)


def epoch_parts(workload_name: str, chip_name: str, overrides: list[str]) -> tuple[float, dict]:
    """The wall time of one epoch on ``chip_name`` (after a warm-up epoch) and of each part within it."""
    workload = load_workload(resolve("workloads", workload_name), overrides)
    seconds = defaultdict(float)
    with tempfile.TemporaryDirectory() as out:
        run = Run(workload, load_chip(resolve("chips", chip_name)), out)
        run.train_epoch(progress=False)
        parts = [(label, importlib.import_module(module) if module else type(run.backend), name)
                 for label, module, name in PARTS + INNER.get(run.backend.family, ())]
        with ExitStack() as stack:
            for label, owner, name in parts:
                stack.enter_context(timed(owner, name, label, seconds))
            start = time.perf_counter()
            run.train_epoch(progress=False)
            total = time.perf_counter() - start
    return total, dict(seconds)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("workload")
    p.add_argument("--chips", default="digital,crossbar-pcm")
    p.add_argument("--n-train", type=int, help="training samples (default: the workload's)")
    args = p.parse_args(argv)
    overrides = ["training.epochs=2"] + ([f"dataset.n_train={args.n_train}"] if args.n_train else [])
    print_machine()
    chips = args.chips.split(",")
    results = {}
    with threadpool_limits(1):
        for chip in chips:
            results[chip] = epoch_parts(args.workload, chip, overrides)
    outer = [label for label, _, _ in PARTS]
    inner = list(dict.fromkeys(label for family in INNER.values() for label, _, _ in family))
    rows = ([(outer[0], outer[0])] + [(f"of which {label}", label) for label in inner]
            + [(part, part) for part in outer[1:]])
    print(f"\n{args.workload}, one epoch after a warm-up one, wall seconds:\n")
    print("| part | " + " | ".join(chips) + " |")
    print("|---|" + "---:|" * len(chips))
    for row, label in rows:
        cells = [f"{results[chip][1][label]:.2f}" if label in results[chip][1] else "-" for chip in chips]
        print(f"| {row} | " + " | ".join(cells) + " |")
    rest = [total - sum(seconds.get(part, 0.0) for part in outer) for total, seconds in map(results.get, chips)]
    print("| rest | " + " | ".join(f"{value:.2f}" for value in rest) + " |")
    print("| epoch | " + " | ".join(f"{results[chip][0]:.2f}" for chip in chips) + " |")


if __name__ == "__main__":
    main()
