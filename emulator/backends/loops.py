"""Small numba loops the chips' kernels share.

The kernels that run at every step are compiled without numba's reference counting (``_nrt=False``: the atomic
count updates of the arrays they slice and pass cost more than a quiet step's arithmetic), where a slice
assignment ``dst[:] = src`` is not available; :func:`copy` is that assignment as a loop.
"""
import numba as nb
import numpy as np


@nb.njit(cache=True, _nrt=False, inline="always")
def copy(src, dst):
    """``dst[:] = src`` for 1-D arrays of one length."""
    for i in range(src.shape[0]):
        dst[i] = src[i]


def changed(new, old) -> int:
    """How many values of ``new`` differ from ``old`` (arrays of one shape): the registers a re-programming writes,
    counted in one pass without numpy's temporary boolean array."""
    return int(_changed(np.ascontiguousarray(new).reshape(-1), np.ascontiguousarray(old).reshape(-1)))


@nb.njit(cache=True)
def _changed(new, old):
    count = 0
    for i in range(np.uint64(new.size)):
        count += np.int64(new[i] != old[i])
    return count
