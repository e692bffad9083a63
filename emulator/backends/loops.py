"""Small numba loops the chips' kernels share.

The kernels that run at every step are compiled without numba's reference counting (``_nrt=False``: the atomic
count updates of the arrays they slice and pass cost more than a quiet step's arithmetic), where a slice
assignment ``dst[:] = src`` is not available; :func:`copy` is that assignment as a loop.

The largest magnitude of a float array (a step's error norm, say) is a reduction the compiler does not vectorise
in floats: Python's ``max``, which skips a NaN, is not associative. Over the integer keys of
:func:`magnitude_key`, which order as the magnitudes do, the same reduction vectorises and gives the same value
(:func:`largest_magnitude`).
"""
import numba as nb
import numpy as np
from numba import types
from numba.extending import intrinsic

#: the bits of a float64 but its sign, and those of +inf (every larger pattern is a NaN)
MAGNITUDE_BITS = 0x7FFF_FFFF_FFFF_FFFF
INFINITY_BITS = 0x7FF0_0000_0000_0000


@nb.njit(cache=True, _nrt=False, inline="always")
def copy(src, dst):
    """``dst[:] = src`` for 1-D arrays of one length."""
    for i in range(src.shape[0]):
        dst[i] = src[i]


@nb.njit(cache=True, _nrt=False, inline="always")
def add_rows(sums, w, rows, change):
    """``sums += change[i] * w[i]`` for each row ``i`` of ``rows`` in turn: a unit's message added to its
    receivers, a driven line's change to the lines a tile senses.

    Four rows go in one pass over ``sums``, each sum kept in a register across them: the same additions in the
    same order as one row at a time (so the same bits), where one row at a time would store and reload every
    sum (the compiler cannot tell that ``sums`` and ``w`` do not overlap). It pays when the rows are short and
    many, as for a hidden layer's messages to ten outputs.

    Parameters
    ----------
    sums : (m,) float, added to
    w : (n, m) float
    rows : (r,) int, indices into ``w`` and ``change``
    change : (n,) float
    """
    e = 0
    while e + 4 <= len(rows):
        i0, i1, i2, i3 = rows[e], rows[e + 1], rows[e + 2], rows[e + 3]
        d0, d1, d2, d3 = change[i0], change[i1], change[i2], change[i3]
        for j in range(sums.shape[0]):
            v = sums[j]
            v += d0 * w[i0, j]
            v += d1 * w[i1, j]
            v += d2 * w[i2, j]
            v += d3 * w[i3, j]
            sums[j] = v
        e += 4
    for e in range(e, len(rows)):
        i = rows[e]
        d = change[i]
        for j in range(sums.shape[0]):
            sums[j] += d * w[i, j]


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


#: the type of the same width each of these is bit cast to
_SAME_WIDTH = {types.float64: types.int64, types.int64: types.float64}


@intrinsic
def _bit_cast(typingctx, x):
    """The int64 with the IEEE 754 bits of a float64, or the float64 with the bits of an int64."""
    other = _SAME_WIDTH.get(x)
    if other is None:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(other))
    return other(x), codegen


@nb.njit(cache=True, inline="always")
def magnitude_key(x):
    """An int64 that orders as ``|x|`` does: the bits of ``|x|`` (non-negative floats order as their bits do);
    0 for a NaN, which ``max(m, nan)`` skips in Python."""
    bits = _bit_cast(x) & MAGNITUDE_BITS
    return bits if bits <= INFINITY_BITS else 0


@nb.njit(cache=True, inline="always")
def magnitude_of(key):
    """The magnitude a :func:`magnitude_key` stands for."""
    return _bit_cast(key)


@nb.njit(cache=True, _nrt=False)
def largest_magnitude(a):
    """``max |a|`` of a 1-D float64 array (0 if empty, NaNs skipped): the value of Python's ``max`` over
    ``abs(a[i])`` from 0.0, vectorised."""
    key = 0
    for i in range(a.shape[0]):
        key = max(key, magnitude_key(a[i]))
    return magnitude_of(key)
