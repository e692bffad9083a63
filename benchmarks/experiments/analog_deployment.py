"""The analog-deployment table: how to get a network onto a noisy chip, and what each way costs.

For one workload and one analog chip (with ``--chip-set`` changes), trains or deploys each row and
prints a Markdown table (test accuracy, energy per inference and per training sample, host wall
time per training epoch). Rows:

- ``digital-eqprop``, ``digital-backprop``, ``digital-noise``: trained on the digital chip with
  EqProp, backprop, and backprop with noise injected into every drive (the digital ideal: the
  backprop network runs feed-forward there);
- ``naive-eqprop``, ``naive-backprop``, ``naive-noise``: each of them programmed once onto the chip
  (``evaluate``) and relaxed there;
- ``loop-eqprop``: EqProp with the chip in the loop;
- ``implicit``: the free phase on the chip, the implicit gradient through the proxy with every part;
- ``implicit-no-gains``, ``implicit-no-quantisation``, ``implicit-no-noise``: one part removed;
- ``implicit-mismatched``: a proxy that believes 1 % read noise and no gain variation (for a chip made
  with ``--chip-set`` to have 3 % and 10 %).

Every row's run folder is kept (``--out``; digital rows are shared between chips and tags); a row whose
``report.json`` exists is read, not run again, so a stopped table continues where it stopped (give
another ``--out`` with other ``--set`` values). A row whose training diverges is a line saying so.
The implicit rows need a free phase that settles: ``benchmarks/RESULTS.md`` ran the table with
``--set network.init_gain=0.5``, and again with ``--set training.spectral_norm.enabled=true``.

    python -m benchmarks.experiments.analog_deployment digits_snn --chip crossbar-pcm --tag shipped
    python -m benchmarks.experiments.analog_deployment digits_snn --chip crossbar-pcm --tag mismatch \\
        --chip-set "parameters.read_noise={model: constant, std: 0.03}" --chip-set parameters.device_variation=0.1 \\
        --rows naive-eqprop,naive-backprop,naive-noise,loop-eqprop,implicit,implicit-mismatched
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from emulator.catalog import resolve
from emulator.chip import load_chip
from emulator.errors import DivergenceError
from emulator.report import format_percent, format_si, write_report
from emulator.results import REPORT, RunResult
from emulator.tasks.checkpoint import load_trained
from emulator.tasks.classification import Run, evaluate_trained, load_data
from emulator.workload import load_workload

#: row -> (trained on the analog chip?, workload overrides, the digital row it deploys, or None)
ROWS = {
    "digital-eqprop": (False, [], None),
    "digital-backprop": (False, ["training.algorithm=backprop"], None),
    "digital-noise": (False, ["training.algorithm=noise_injection"], None),
    "naive-eqprop": (True, [], "digital-eqprop"),
    "naive-backprop": (True, [], "digital-backprop"),
    "naive-noise": (True, [], "digital-noise"),
    "loop-eqprop": (True, [], None),
    "implicit": (True, ["training.algorithm=implicit"], None),
    "implicit-no-gains": (True, ["training.algorithm=implicit", "implicit.gains=false"], None),
    "implicit-no-quantisation": (True, ["training.algorithm=implicit", "implicit.quantisation=false"], None),
    "implicit-no-noise": (True, ["training.algorithm=implicit", "implicit.noise=false"], None),
    "implicit-mismatched": (True, ["training.algorithm=implicit", "implicit.gains=false",
                                   "implicit.read_noise_std=0.01"], None),
}


def run_row(row: str, args, data, chips) -> tuple[RunResult, Path]:
    on_chip, overrides, deploys = ROWS[row]
    folder = args.out / (args.tag if on_chip else "digital") / row
    if (folder / REPORT).is_file():
        return RunResult.from_dict(json.loads((folder / REPORT).read_text())), folder
    start = time.perf_counter()
    chip = chips["analog" if on_chip else "digital"]
    if deploys:
        result = evaluate_trained(load_trained(run_row(deploys, args, data, chips)[1], "analog_deployment"), chip,
                                  folder, progress=False, data=data)
    else:
        run = Run(load_workload(resolve("workloads", args.workload), args.set + overrides), chip, folder, data=data)
        run.train(progress=False, on_epoch=lambda r: print(f"  {row} epoch {r.epoch}: test {r.test_accuracy:.4f} "
                                                           f"({r.wall_s:.1f} s)", flush=True))
        result = run.result(time.perf_counter() - start, progress=False)
    write_report(result, folder)
    return result, folder


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("workload")
    p.add_argument("--chip", default="crossbar-pcm")
    p.add_argument("--chip-set", action="append", default=[])
    p.add_argument("--set", action="append", default=[], help="workload overrides of every row")
    p.add_argument("--tag", default="shipped", help="folder of this chip setting's rows")
    p.add_argument("--rows", default=",".join(ROWS))
    p.add_argument("--out", type=Path, default=Path("runs/analog_deployment"))
    args = p.parse_args()
    rows = args.rows.split(",")
    unknown = [r for r in rows if r not in ROWS]
    if unknown:
        p.error(f"unknown rows {unknown}; known: {', '.join(ROWS)}")
    workload = load_workload(resolve("workloads", args.workload), args.set)
    data = load_data(workload)
    chips = {"digital": load_chip(resolve("chips", "digital")),
             "analog": load_chip(resolve("chips", args.chip), args.chip_set)}
    print(f"{workload.name} on {args.chip} {' '.join(args.chip_set)} ({args.tag}); workload --set {args.set}\n")
    lines = ["| row | trained | evaluated on | test accuracy | energy / inference | training energy / sample | "
             "wall s / epoch |", "|---|---|---|---|---|---|---|"]
    for row in rows:
        try:
            result, _ = run_row(row, args, data, chips)
        except DivergenceError as e:
            lines.append(f"| {row} | {str(e).split(';')[0]} | | | | | |")
            print(lines[-1], flush=True)
            continue
        trained = f"{result.algorithm} on {result.deployed.trained_on if result.deployed else result.chip}"
        epochs = [h.train_wall_s for h in result.history]
        wall = f"{sum(epochs) / len(epochs):.1f}" if epochs else "-"
        training = "-" if result.deployed else format_si(result.energy.training.per_sample_j, "J")
        lines.append(f"| {row} | {trained} | {result.chip} ({result.inference}) | "
                     f"{format_percent(result.metrics.test_accuracy)} | "
                     f"{format_si(result.energy.inference.per_sample_j, 'J')} | {training} | {wall} |")
        print(lines[-1], flush=True)
    print("\n" + "\n".join(lines))


if __name__ == "__main__":
    main()
