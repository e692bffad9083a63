"""Behaviour unchanged: the same runs at two revisions write the same ``report.json``.

A refactor or a host-side speed-up must not change what the emulator reports. This script
exports a base revision of the repository (``git archive``) into a temporary folder, runs the
same command-line runs there and in the working tree, and compares the two ``report.json``
files of each run key by key, leaving out what differs from run to run by nature (wall
times, timestamps, the emulator's version and the report's schema version).

    python benchmarks/checks/same_reports.py --base HEAD~3
    python benchmarks/checks/same_reports.py --base main --chips digital,loihi2 --epochs 1
    python -m benchmarks.checks.same_reports --base main --chips oim-cmos --epochs 1 --no-maxcut \
        --workload fashion_mnist_snn --set dataset.n_train=2000 --set dataset.n_test=500
    python -m benchmarks.checks.same_reports --base main --chips crossbar-pcm --no-maxcut \
        --chip-set parameters.device_variation=0.05

By default every chip in ``chips/`` runs ``digits_snn`` for two epochs, and every MaxCut
workload runs on the chips that solve Ising problems. It prints one line per run and exits
with status 1 if any report differs.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from emulator.catalog import resolve
from emulator.workload import load_workload

REPO = Path(__file__).resolve().parents[2]
#: keys whose values differ between two identical runs (anywhere in the report)
VOLATILE = {"created", "wall_s", "train_wall_s", "emulator_version", "schema_version", "from"}
MAXCUT = ("maxcut_rand20", "maxcut_rand100", "maxcut_rand800")


def export(rev: str, into: Path) -> Path:
    """The tree of ``rev`` (as committed) unpacked into ``into``."""
    archive = subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", rev],
                             check=True, capture_output=True).stdout
    into.mkdir(parents=True, exist_ok=True)
    tar = into / "tree.tar"
    tar.write_bytes(archive)
    with tarfile.open(tar) as t:
        t.extractall(into)
    tar.unlink()
    return into


def run(tree: Path, workload: str, chip: str, out: Path, sets: list[str], chip_sets: list[str] = ()) -> dict | str:
    """``python -m emulator run`` in ``tree``; the report, or the error output if it failed."""
    cmd = [sys.executable, "-m", "emulator", "run", workload, "--chip", chip, "--out", str(out), "--quiet"]
    for s in sets:
        cmd += ["--set", s]
    for s in chip_sets:
        cmd += ["--chip-set", s]
    env = dict(os.environ, PYTHONPATH=str(tree), EMULATOR_OFFLINE="1")
    done = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True)
    if done.returncode:
        return done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"
    return json.loads((out / "report.json").read_text())


def differences(a, b, path: str = "") -> list[str]:
    """Key paths where ``a`` and ``b`` differ, volatile keys left out."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b)):
            if key in VOLATILE:
                continue
            where = f"{path}.{key}" if path else key
            if key not in a or key not in b:
                out.append(f"{where} (only {'after' if key in b else 'before'})")
            else:
                out += differences(a[key], b[key], where)
        return out
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path} (length {len(a)} vs {len(b)})"]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in differences(x, y, f"{path}[{i}]")]
    same = a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))
    return [] if same else [f"{path}: {a!r} vs {b!r}"]


def chips_of(tree: Path) -> list[str]:
    return sorted(p.stem for p in (tree / "chips").glob("*.yaml"))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--base", required=True, help="git revision to compare the working tree with")
    p.add_argument("--chips", help="comma-separated chips the workload runs on (default: every chip)")
    p.add_argument("--workload", default="digits_snn", help="workload the chips run (default digits_snn)")
    p.add_argument("--epochs", type=int, default=2, help="epochs of a training workload (default 2)")
    p.add_argument("--set", action="append", default=[], metavar="KEY.PATH=VALUE",
                   help="another override of the workload (repeatable)")
    p.add_argument("--chip-set", action="append", default=[], metavar="KEY.PATH=VALUE",
                   help="an override of every chip the workload runs on (repeatable)")
    p.add_argument("--maxcut-chips", default="oim-cmos", help="chips the MaxCut workloads run on")
    p.add_argument("--no-maxcut", action="store_true", help="skip the MaxCut workloads")
    args = p.parse_args(argv)
    chips = args.chips.split(",") if args.chips else chips_of(REPO)
    trains = load_workload(resolve("workloads", args.workload)).kind == "classification"
    cases = [(args.workload, c, [f"training.epochs={args.epochs}"] * trains + args.set) for c in chips]
    if not args.no_maxcut:
        cases += [(w, c, []) for w in MAXCUT for c in args.maxcut_chips.split(",")]
    failed = 0
    with tempfile.TemporaryDirectory(prefix="same-reports-") as tmp:
        base = export(args.base, Path(tmp) / "base")
        for workload, chip, sets in cases:
            chip_sets = [] if workload in MAXCUT else args.chip_set
            before = run(base, workload, chip, Path(tmp) / "before" / f"{workload}-{chip}", sets, chip_sets)
            after = run(REPO, workload, chip, Path(tmp) / "after" / f"{workload}-{chip}", sets, chip_sets)
            if isinstance(before, str) or isinstance(after, str):
                verdict = f"FAILED TO RUN: before: {before if isinstance(before, str) else 'ok'}; " \
                          f"after: {after if isinstance(after, str) else 'ok'}"
                failed += 1
            else:
                diff = differences(before, after)
                failed += bool(diff)
                verdict = "identical" if not diff else f"{len(diff)} differences: " + "; ".join(diff[:8])
            print(f"{workload:<16} {chip:<14} {verdict}", flush=True)
    print(f"{len(cases) - failed} of {len(cases)} reports identical to {args.base} "
          "(wall times, timestamps and versions left out)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
