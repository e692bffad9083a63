"""Running the emulator's networks in Lava (lava-nc 0.10), Intel's framework for Loihi.

:mod:`emulator.backends.loihi.lava.processes` adds the one process model EqProp needs (a clipped sigma-delta
neuron); :mod:`emulator.backends.loihi.lava.network` builds a fixed-point network from Lava processes and runs
it with ``Loihi2SimCfg(select_tag='fixed_pt')``. Lava is imported only by those two modules,
and only when they are used: the rest of the emulator runs without it.
"""
from __future__ import annotations

import sys

from emulator.errors import EmulatorError

LAVA_VERSION = "0.10"


class LavaUnavailable(EmulatorError):
    """Lava cannot be imported in this Python."""


def require_lava():
    """Import Lava, or raise one clear error saying how to get it."""
    if sys.version_info[:2] != (3, 10):
        raise LavaUnavailable(
            f"Lava (lava-nc {LAVA_VERSION}) needs Python 3.10 and this is Python "
            f"{sys.version_info[0]}.{sys.version_info[1]}: run the emulator from a Python 3.10 "
            "environment with `pip install -e '.[lava]'` (the project's `make install` makes one)")
    try:
        _import_lava()
    except ImportError as exc:
        raise LavaUnavailable(
            f"Lava is not installed ({exc}): install it with `pip install -e '.[lava]'` "
            f"(lava-nc {LAVA_VERSION}, Python 3.10)") from None


def _import_lava():
    """Import Lava's runtime. At import it calls ``multiprocessing.set_start_method('fork')``
    without ``force``, which fails once anything (e.g. tqdm's lock) has fixed the start method;
    the start method is 'fork' either way, so the call is let through with ``force``.
    """
    import multiprocessing

    original = multiprocessing.set_start_method
    multiprocessing.set_start_method = lambda method, force=False: original(method, force=True)
    try:
        import lava.magma.core.run_configs  # noqa: F401
        import lava.magma.runtime.runtime  # noqa: F401  (the module that sets the start method)
    finally:
        multiprocessing.set_start_method = original
