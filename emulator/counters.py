"""Operation counters: what the emulated hardware did.

Counters are plain named numbers: integers for discrete operations (messages, synaptic
ops, unit updates) and floats for continuous quantities (seconds of oscillator time).
They count what the *hardware* would do, never what the host did, and they add up across
samples, batches and phases. A count may also be a vector (e.g. one entry per core).
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np


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

    def to_dict(self) -> dict[str, int | float | list]:
        """Plain JSON-ready dict with Python ints, floats and lists, sorted by op name."""
        return {op: np.asarray(n).tolist() if np.ndim(n) else (int(n) if float(n).is_integer() else float(n))
                for op, n in sorted(self.items())}

    @classmethod
    def from_dict(cls, data: Mapping) -> "Counters":
        """Inverse of :meth:`to_dict` (lists become arrays again)."""
        return cls({op: np.asarray(n) if isinstance(n, list) else n for op, n in data.items()})

    def totals(self) -> dict[str, int | float]:
        """The scalar counts only (per-core vectors left out), as :meth:`to_dict` gives them."""
        return {op: n for op, n in self.to_dict().items() if not isinstance(n, list)}

    def __repr__(self) -> str:
        return f"Counters({dict.__repr__(self)})"
