"""Operation counters: what the emulated hardware did.

Counters are plain named numbers: integers for discrete operations (messages, synaptic
ops, unit updates) and floats for continuous quantities (seconds of oscillator time).
They count what the *hardware* would do, never what the host did, and they add up across
samples, batches and phases.
"""
from __future__ import annotations

from collections.abc import Mapping


class Counters(dict):
    """A mapping ``op name -> count`` that adds element-wise.

    >>> Counters(messages=3) + Counters(messages=2, synaptic_ops=10)
    Counters({'messages': 5, 'synaptic_ops': 10})
    """

    def __add__(self, other: Mapping) -> "Counters":
        total = Counters(self)
        total += other
        return total

    __radd__ = __add__  # lets sum() start from 0

    def __iadd__(self, other: Mapping) -> "Counters":
        if other == 0:
            return self
        for op, n in other.items():
            self[op] = self.get(op, 0) + n
        return self

    def to_dict(self) -> dict[str, int | float]:
        """Plain JSON-ready dict with Python ints and floats, sorted by op name."""
        return {op: (int(n) if float(n).is_integer() else float(n)) for op, n in sorted(self.items())}

    def __repr__(self) -> str:
        return f"Counters({dict.__repr__(self)})"
