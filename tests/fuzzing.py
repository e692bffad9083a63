"""The fuzz harness's driver: one generated case through the real command line, and what it must end in.

:func:`drive` runs ``python -m emulator ARGS`` in-process (``emulator.cli.main``) under a time
limit (a case past it is a hang: :class:`TimeLimit`) and an address-space limit (a case that
allocates past it is an allocation the emulator did not check first: ``MemoryError``).
:func:`check` asserts that the case ended as the README promises:

- exit status 2, one ``error:`` line on stderr (after progress lines, if the work had started),
  and no traceback or Python warning; or
- exit status 0 with a report whose every figure is finite and meaningful (:func:`check_report`:
  accuracies, fractions and probabilities in [0, 1], energies, times, powers and counts >= 0,
  every MaxCut cut that of its partition in the graph).

Either way no temporary file is left in the output folder. :data:`TALLY` counts the outcomes of
each kind of case, for the summary at the end of the session.
"""
from __future__ import annotations

import contextlib
import io
import json
import math
import re
import resource
import signal
import traceback
import warnings
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emulator.cli import main
from emulator.results import MaxCutResult, from_dict
from test_cli import PROGRESS

#: seconds a case may take: a tiny run takes a few (its first on a chip compiles that chip's kernels)
LIMIT_S = 120
#: bytes a case may allocate beyond what the process holds: a tiny run takes tens of MiB
LIMIT_BYTES = 3 << 30
#: outcomes by kind of case: ``TALLY[kind]["error"]``, ``["success"]``
TALLY: dict[str, Counter] = defaultdict(Counter)


class TimeLimit(BaseException):
    """A case ran past :data:`LIMIT_S`; a ``BaseException``, so that no ``except Exception`` takes it."""


@dataclass(frozen=True)
class Outcome:
    """How a case ended: exit status, stdout, stderr, and the traceback of an escaped exception (or None)."""

    args: tuple[str, ...]
    status: int | None
    out: str
    err: str
    escaped: str | None
    warned: tuple[str, ...] = ()

    @property
    def command(self) -> str:
        return "python -m emulator " + " ".join(self.args)


def address_space() -> int:
    """Bytes of address space this process holds now (``VmSize``)."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize:"))


@contextlib.contextmanager
def limits(seconds: float = LIMIT_S, extra_bytes: int = LIMIT_BYTES):
    """Raise :class:`TimeLimit` after ``seconds``, and ``MemoryError`` past ``extra_bytes`` more address space."""
    def expire(signum, frame):
        raise TimeLimit(f"still running after {seconds} s")

    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = address_space() + extra_bytes
    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    resource.setrlimit(resource.RLIMIT_AS, (cap if hard == resource.RLIM_INFINITY else min(cap, hard), hard))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def terminal(errors: str) -> io.TextIOWrapper:
    """A stream encoded as a UTF-8 terminal's: stdout refuses what UTF-8 cannot encode ("strict"), stderr
    escapes it ("backslashreplace"), as Python's own streams do."""
    return io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors=errors, write_through=True)


def drive(*args) -> Outcome:
    """Run the command line ``args`` in-process within :func:`limits`; never raises. Python warnings
    (which a user would see on stderr as extra lines) are recorded in :attr:`Outcome.warned`."""
    args = tuple(map(str, args))
    out, err = terminal("strict"), terminal("backslashreplace")
    status, escaped = None, None
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
            warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with limits():
                status = main(list(args))
        except (Exception, TimeLimit) as exc:  # what escapes is a finding
            escaped = "".join(traceback.format_exception(exc))
        except SystemExit as exc:  # argparse's usage errors
            status = exc.code
    return Outcome(args, status, *(s.buffer.getvalue().decode("utf-8", "backslashreplace") for s in (out, err)),
                   escaped, tuple(f"{w.filename}:{w.lineno}: {w.category.__name__}: {w.message}" for w in caught))


def check(outcome: Outcome, kind: str, out: Path | None = None, report: Path | None = None,
          graph=None) -> str:
    """Assert that ``outcome`` is a clean error or a clean success; count it in ``TALLY[kind]``.

    ``out`` is the output folder (no temporary file may be left in it); ``report`` the
    ``report.json`` an exit status 0 must have written (None: the command writes none), and
    ``graph`` the MaxCut graph its cuts are checked against. Returns ``"error"`` or ``"success"``.
    """
    said = f"{outcome.command}\nstdout: {outcome.out[-2000:]!r}\nstderr: {outcome.err[-2000:]!r}"
    assert outcome.escaped is None, f"an exception escaped: {said}\n{outcome.escaped}"
    assert "Traceback" not in outcome.out + outcome.err, said
    assert not outcome.warned, f"warnings a user would see on stderr: {outcome.warned}; {said}"
    if out is not None and out.exists():
        left = sorted(p.name for p in out.rglob("*") if ".tmp" in p.name)
        assert not left, f"temporary files left in {out}: {left}; {said}"
    if outcome.status == 2:
        lines = [line for line in outcome.err.splitlines() if not PROGRESS.fullmatch(line)]  # work done first
        assert len(lines) == 1 and lines[0].startswith("error: "), f"not one error line: {said}"
        assert len(lines[0]) < 3000, f"an error line of {len(lines[0]):,} characters: {said}"
        TALLY[kind]["error"] += 1
        return "error"
    assert outcome.status == 0, f"exit status {outcome.status}: {said}"
    assert "error" not in outcome.err, said
    if report is not None:
        check_report(report, graph)
    TALLY[kind]["success"] += 1
    return "success"


def _refuse(constant: str):
    raise ValueError(f"{constant} in JSON")


#: top-level sections of a report whose every number is a size, a count, a price, an energy or a time: >= 0
NON_NEGATIVE = {"dataset", "network", "history", "relaxation", "counters", "per_core", "energy", "time"}
#: keys of energies, times and powers (``_j``, ``_s``, ``_w``), >= 0 wherever they are
PHYSICAL = re.compile(r".*_[jsw]")
#: keys of fractions, in [0, 1] wherever they are
FRACTION = re.compile(r".*(accuracy|fraction|probability)")


def _numbers(value, path=()):
    """``(key path, number)`` of every number in a JSON value (booleans are not numbers)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _numbers(item, path + (key,))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _numbers(item, path + (i,))
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield path, value


def check_report(path: Path, graph=None):
    """Assert that the ``report.json`` at ``path`` reads back and that its figures are finite and meaningful.

    ``graph`` (an :class:`emulator.graphs.Graph`, for a MaxCut report): every reported cut must be
    the cut of its reported partition, the best the largest of them and the mean their mean.
    """
    assert path.is_file(), f"exit status 0 but no {path}"
    data = json.loads(path.read_text(encoding="utf-8"), parse_constant=_refuse)
    result = from_dict(data)
    for where, number in _numbers(data):
        name = ".".join(map(str, where))
        key = next(str(k) for k in reversed(where) if isinstance(k, str))
        assert math.isfinite(number), f"{path}: {name} is {number}"
        if where[0] in NON_NEGATIVE or PHYSICAL.fullmatch(key):
            assert number >= 0, f"{path}: {name} is {number}, not >= 0"
        if FRACTION.fullmatch(key):
            assert 0 <= number <= 1, f"{path}: {name} is {number}, not in [0, 1]"
    if isinstance(result, MaxCutResult) and graph is not None:
        _check_cuts(result, graph)


def _check_cuts(result: MaxCutResult, graph):
    spins = np.array([[1 if c == "1" else -1 for c in run.spins] for run in result.runs])
    assert spins.shape == (len(result.runs), graph.n), f"partitions of shape {spins.shape}, graph of {graph.n} nodes"
    cuts = graph.cut(spins)
    rounding = 1e-9 * max(graph.abs_weight(), 1.0)
    assert np.allclose([run.cut for run in result.runs], cuts, rtol=0, atol=rounding), "a cut is not its partition's"
    m = result.metrics
    assert math.isclose(m.best_cut, cuts.max(), abs_tol=rounding) and m.best_cut == result.partition.cut
    assert math.isclose(m.mean_cut, cuts.mean(), abs_tol=rounding)
    assert result.partition.spins == result.runs[result.partition.run].spins
