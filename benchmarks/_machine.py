"""The machine a benchmark ran on, as Markdown list lines for ``benchmarks/RESULTS.md``.

Every benchmark prints :func:`machine_lines` before its results, so a recorded figure always
says where, when, with which code and under which load it was measured.
"""
from __future__ import annotations

import datetime
import os
import platform
import shlex
import subprocess
import sys
from pathlib import Path

import numba as nb
import numpy as np

REPO = Path(__file__).resolve().parents[1]


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def cache_size(level: int = 3) -> int:
    """Size in bytes of the CPU's cache of the given level (0 if unknown)."""
    base = Path("/sys/devices/system/cpu/cpu0/cache")
    for index in sorted(base.glob("index*")):
        try:
            if int((index / "level").read_text()) == level:
                text = (index / "size").read_text().strip().upper()
                unit = {"K": 2 ** 10, "M": 2 ** 20, "G": 2 ** 30}.get(text[-1], 1)
                return int(text.rstrip("KMG")) * unit
        except (OSError, ValueError):
            continue
    return 0


def blas_name() -> str:
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except Exception:  # older numpy: no mode="dicts"
        return "unknown"


def load_average() -> str:
    try:
        return " / ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def code_version() -> str:
    """Git commit of the repository, and whether ``emulator/`` differs from it."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                                text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "emulator"], cwd=REPO,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown (no git)"
    if not commit:
        return "unknown (no git)"
    return f"commit {commit}" + (", emulator/ modified since" if dirty else ", emulator/ as committed")


def threading_layer() -> str:
    """numba's threading layer (running a tiny parallel loop if none has run yet)."""
    try:
        return nb.threading_layer()
    except ValueError:
        _parallel_sum(np.ones(16, np.float32))
        return nb.threading_layer()


@nb.njit(parallel=True, cache=True)
def _parallel_sum(a):
    total = 0.0
    for i in nb.prange(a.size):
        total += a[i]
    return total


def _as_module(argv: list[str]) -> list[str]:
    """``sys.argv`` of ``python -m benchmarks.x.y ARGS`` (its first item is the script's path) as typed."""
    script = Path(argv[0]).resolve() if argv else None
    if script and script.suffix == ".py" and REPO in script.parents:
        return ["-m", ".".join(script.relative_to(REPO).with_suffix("").parts)] + argv[1:]
    return argv


def machine_lines(argv=None) -> list[str]:
    """Date, command, code, CPU, Python / numpy / numba and the load average, one Markdown item each."""
    argv = _as_module(sys.argv) if argv is None else argv
    l3 = cache_size(3)
    return [
        f"- date: {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}",
        f"- command: `{' '.join(shlex.quote(a) for a in [Path(sys.executable).name] + list(argv))}`",
        f"- code: {code_version()}",
        f"- CPU: {cpu_model()}, {os.cpu_count()} logical cores" + (f", L3 {l3 // 2 ** 20} MB" if l3 else ""),
        f"- Python {platform.python_version()}, numpy {np.__version__} ({blas_name()}), numba {nb.__version__} "
        f"(threading layer `{threading_layer()}`, {nb.get_num_threads()} threads)",
        f"- load average at start (1/5/15 min): {load_average()}",
    ]


def print_machine(argv=None):
    """Print :func:`machine_lines` under a heading."""
    print("Machine:\n" + "\n".join(machine_lines(argv)) + "\n", flush=True)
