"""Host memory: how much the machine has, and bytes in words.

A run estimates the memory it will need from its layers, batch sizes and step budgets and
refuses to start when the estimate exceeds the machine's physical memory: without the check,
numpy allocates what the operating system over-commits, and the run is killed, or swaps for
hours, long after it started (see :func:`emulator.tasks.classification.check_memory`).
"""
from __future__ import annotations

import os


def machine_bytes() -> int | None:
    """The machine's physical memory, bytes (``SC_PHYS_PAGES`` pages); None where the system does not say."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def in_words(n_bytes: float) -> str:
    """``n_bytes`` with a binary prefix, e.g. ``'1.5 GiB'``."""
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n_bytes < 1024 or unit == "PiB":
            return f"{n_bytes:.0f} {unit}" if unit == "bytes" else f"{n_bytes:.1f} {unit}"
        n_bytes /= 1024
