"""Small numba loops the chips' kernels share.

The kernels that run at every step are compiled without numba's reference counting (``_nrt=False``: the atomic
count updates of the arrays they slice and pass cost more than a quiet step's arithmetic), where a slice
assignment ``dst[:] = src`` is not available; :func:`copy` is that assignment as a loop.
"""
import numba as nb


@nb.njit(cache=True, _nrt=False, inline="always")
def copy(src, dst):
    """``dst[:] = src`` for 1-D arrays of one length."""
    for i in range(src.shape[0]):
        dst[i] = src[i]
