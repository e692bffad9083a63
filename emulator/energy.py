"""Counters x chip constants -> joules and emulated seconds.

Dynamic energy is ``sum_op count[op] * energy[op]``; emulated time is the back-end's
(``sum_op count[op] * time[op]`` unless its chip runs ops in parallel); static energy is
``static_power * emulated time``.
"""
from __future__ import annotations

import math

from emulator.counters import Counters
from emulator.errors import EmulatorError


def check_priced(counters: Counters, chip, backend):
    """Raise :class:`EmulatorError` if ``backend`` counted an operation ``chip``'s file does not price
    (and that is not one of the back-end's unpriced ``measures``)."""
    unknown = sorted(set(counters) - set(chip.energy) - set(backend.measures))
    if unknown:
        raise EmulatorError(
            f"back-end family {backend.family!r} counted {', '.join(map(repr, unknown))}, which chip "
            f"{chip.name!r} ({chip.where('energy')}) does not price and the back-end does not declare: add "
            f"{'it' if len(unknown) == 1 else 'them'} to the back-end's `ops` (and to every chip file of the "
            "family, with value, unit and source) or to its `measures`")


def account(counters: Counters, chip, backend, n_samples: int, *, phase: str) -> dict:
    """Energy and time of ``counters`` (totals over ``n_samples`` samples) on ``chip``, run by ``backend``.

    Returns
    -------
    dict with ``total_j``, ``per_sample_j``, ``breakdown_j`` (op -> J, plus ``static``),
    ``emulated_s`` and ``emulated_s_per_sample``.

    Raises
    ------
    EmulatorError
        If a figure is not a finite number, naming it as the report would (``energy.<phase>.total_j``)
        and the chip constant that made it.
    """
    check_priced(counters, chip, backend)
    per_op = chip.energy_per_op()
    emulated_s = backend.emulated_seconds(counters, chip)
    breakdown = {op: counters.get(op, 0) * joules for op, joules in per_op.items()}
    breakdown["static"] = chip.static_power.si("power") * emulated_s
    total = sum(breakdown.values())
    n = max(n_samples, 1)
    figures = {"total_j": total, "per_sample_j": total / n, "breakdown_j": breakdown,
               "emulated_s": emulated_s, "emulated_s_per_sample": emulated_s / n}
    flat = {f"energy.{phase}.{key}": figures[key] for key in ("total_j", "per_sample_j")}
    flat.update({f"energy.{phase}.breakdown_j.{op}": joules for op, joules in breakdown.items()})
    flat.update({f"the emulated time of the {phase} ({key})": figures[key]
                 for key in ("emulated_s", "emulated_s_per_sample")})
    for name, value in flat.items():
        if not math.isfinite(value):
            raise EmulatorError(f"{name} is {value}: {_largest_term(counters, chip, emulated_s)} is too large")
    return figures


def _largest_term(counters: Counters, chip, emulated_s: float) -> str:
    """The chip constant whose product with its count (or, for static power, with the emulated time) is
    largest, with where it is given: what to blame for a figure that is not finite."""
    terms = [(counters.get(op, 0) * constant.si(kind), (table, op), constant, f" x {counters.get(op, 0):,}")
             for table, kind in (("energy", "energy"), ("time", "time"))
             for op, constant in getattr(chip, table).items()]
    terms.append((chip.static_power.si("power") * emulated_s, ("static_power",), chip.static_power,
                  f" x {emulated_s:g} s"))
    _, path, constant, times = max(terms, key=lambda term: math.inf if not math.isfinite(term[0]) else term[0])
    return f"{chip.where(*path, 'value')} {'.'.join(path)} ({constant.value:g} {constant.unit}){times}"


def chip_constants(chip) -> dict:
    """The chip's table as the report shows it: J and s per op, static power, sources."""
    return {"per_op_j": chip.energy_per_op(), "time_per_op_s": chip.time_per_op(),
            "static_power_w": chip.static_power.si("power"),
            "sources": {op: c.source for op, c in chip.energy.items()}
            | {f"time.{op}": c.source for op, c in chip.time.items()}
            | {"static_power": chip.static_power.source}}
