"""Test accuracy of EqProp on an analog crossbar against its non-idealities: naive deployment and
chip-in-the-loop training.

For each setting of one non-ideality (the others as the chip file has them) it reports:

- **naive**: the network trained on the ``digital`` reference, programmed once onto the array
  (with that setting) and evaluated there (``python -m emulator evaluate``);
- **in the loop** (``--in-the-loop``): the network trained on the array itself, free and nudged
  phases on the noisy array, every update written to the devices.

Sweeps (``--sweeps``, comma-separated): ``read_noise`` (constant read noise, std in full-scale
weights), ``programming_noise`` (the chip's programming-noise model scaled), ``adc_bits``,
``device_variation`` (a fixed per-cell gain, relative std). Every run is saved under ``--out``
and reused when the script is run again, so an interrupted sweep loses only the run in progress.

    python -m benchmarks.experiments.crossbar_robustness digits_snn --chip crossbar-pcm --in-the-loop
    python -m benchmarks.experiments.crossbar_robustness fashion_mnist_snn --chip crossbar-pcm --trained runs/fashion-digital
    python -m benchmarks.experiments.crossbar_robustness fashion_mnist_snn --in-the-loop --sweeps read_noise --values 0,0.05,0.1 \\
        --set dataset.n_train=10000 --set training.epochs=3 --out runs/robustness-short

Prints one Markdown table per sweep and writes them, with the settings, to ``<out>/results.json``.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import yaml

from emulator.catalog import resolve
from emulator.chip import load_chip
from emulator.report import write_report
from emulator.results import REPORT, RunResult
from emulator.tasks.checkpoint import load_trained
from emulator.tasks.classification import Run, evaluate_trained, load_data
from emulator.workload import load_workload

#: the settings of each sweep; None stands for "off" (exact ADC)
SWEEPS = {
    "read_noise": [0.0, 0.01, 0.02, 0.05, 0.1, 0.2],
    "programming_noise": [0.0, 0.5, 1.0, 2.0, 4.0],
    "adc_bits": [None, 8, 6, 5, 4, 3],
    "device_variation": [0.0, 0.05, 0.1, 0.2],
}
COLUMNS = {"read_noise": "read-noise std (full-scale weights)", "programming_noise": "programming noise (x the model)",
           "adc_bits": "ADC bits", "device_variation": "device variation (relative std)"}


def overrides(sweep: str, value, chip) -> list[str]:
    """``--chip-set`` strings that set one non-ideality of ``chip``."""
    if sweep == "read_noise":
        model = {"model": "constant", "std": value} if value else {"model": "none"}
        return [f"parameters.read_noise={json.dumps(model)}"]
    if sweep == "programming_noise":  # the chip's polynomial model, its coefficients scaled
        model = chip.parameters["programming_noise"]
        scaled = {**model, "coeffs_us": [c * value for c in model["coeffs_us"]]} if value else {"model": "none"}
        return [f"parameters.programming_noise={json.dumps(scaled)}"]
    if sweep == "adc_bits":  # the backward reads' ADCs follow, unless the chip gives them their own bits
        return [f"parameters.forward.adc_bits={'null' if value is None else value}"]
    return [f"parameters.device_variation={value}"]


def finished(out: Path) -> RunResult | None:
    """The result of the finished run in ``out``; None if it has not finished."""
    path = out / REPORT
    return RunResult.from_dict(json.loads(path.read_text(encoding="utf-8"))) if path.is_file() else None


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("workload")
    p.add_argument("--chip", default="crossbar-pcm")
    p.add_argument("--sweeps", default=",".join(SWEEPS), help=f"comma-separated, of: {', '.join(SWEEPS)}")
    p.add_argument("--values", help="comma-separated settings to run instead of each sweep's own (YAML: null, 8, 0.1)")
    p.add_argument("--in-the-loop", action="store_true", help="also train on the array at every setting")
    p.add_argument("--trained", metavar="RUN_DIR", help="the digital reference run (default: train it under --out)")
    p.add_argument("--set", action="append", default=[], help="workload overrides, as for `emulator run`")
    p.add_argument("--chip-set", action="append", default=[], help="chip overrides for every setting, as for `emulator run`")
    p.add_argument("--out", default="runs/crossbar_robustness")
    args = p.parse_args()
    workload = load_workload(resolve("workloads", args.workload), args.set)
    chip_path = resolve("chips", args.chip)
    base_chip = load_chip(chip_path, args.chip_set)
    data = load_data(workload)
    out = Path(args.out) / workload.name
    reference = Path(args.trained) if args.trained else out / "digital"
    if finished(reference) is None:
        run = Run(workload, load_chip(resolve("chips", "digital")), reference, data=data)
        start = time.perf_counter()
        run.train(progress=True)
        write_report(run.result(time.perf_counter() - start), reference)
    trained = load_trained(reference, "--trained")
    digital = finished(reference).metrics.test_accuracy
    tables = {}
    for sweep in args.sweeps.split(","):
        if sweep not in SWEEPS:
            p.error(f"--sweeps: unknown sweep {sweep!r}; known: {', '.join(SWEEPS)}")
        rows = []
        values = [yaml.safe_load(v) for v in args.values.split(",")] if args.values else SWEEPS[sweep]
        for value in values:
            chip = load_chip(chip_path, args.chip_set + overrides(sweep, value, base_chip))
            folder = out / args.chip / f"{sweep}={value}"
            naive = finished(folder / "naive")
            if naive is None:
                naive = evaluate_trained(trained, chip, folder / "naive", progress=False, data=data)
                write_report(naive, folder / "naive")
            row = {sweep: value, "digital": digital, "naive": naive.metrics.test_accuracy}
            if args.in_the_loop:
                loop = finished(folder / "in_the_loop")
                if loop is None:
                    run = Run(workload, chip, folder / "in_the_loop", data=data)
                    if (folder / "in_the_loop" / "checkpoint.npz").is_file():
                        run.restore()
                    start = time.perf_counter()
                    run.train(progress=True)
                    loop = run.result(time.perf_counter() - start, progress=False)
                    write_report(loop, folder / "in_the_loop")
                row["in_the_loop"] = loop.metrics.test_accuracy
                row["in_the_loop_wall_s"] = loop.time.wall_s
            rows.append(row)
            print(json.dumps(row), flush=True)
        tables[sweep] = rows
        print("\n" + markdown(sweep, rows, workload.name, args.chip) + "\n", flush=True)
    (out / args.chip).mkdir(parents=True, exist_ok=True)
    (out / args.chip / "results.json").write_text(json.dumps(
        {"workload": workload.name, "chip": args.chip, "reference": str(reference), "tables": tables}, indent=1))


def markdown(sweep: str, rows: list[dict], workload: str, chip: str) -> str:
    loop = "in_the_loop" in rows[0]
    header = [COLUMNS[sweep], "digital", "naive deployment"] + (["chip in the loop", "loop - naive"] if loop else [])
    lines = [f"{workload} on {chip}, {COLUMNS[sweep]}:", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        value = "exact" if r[sweep] is None else f"{r[sweep]:g}"
        cells = [value, f"{100 * r['digital']:.2f} %", f"{100 * r['naive']:.2f} %"]
        if loop:
            cells += [f"{100 * r['in_the_loop']:.2f} %", f"{100 * (r['in_the_loop'] - r['naive']):+.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
