"""The numba loops the chips' kernels share, against their Python definitions."""
import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.backends.loops import add_rows, changed, largest_magnitude


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(st.floats(allow_nan=True, allow_infinity=True, width=64), max_size=70))
def test_the_largest_magnitude_is_pythons_max_of_the_absolute_values(values):
    """Every float (NaNs, infinities, signed zeros, subnormals) and every length, the vectorised tail included."""
    expected = 0.0
    for v in values:
        expected = max(expected, abs(v))  # Python's max keeps the accumulator when the new value is NaN
    got = largest_magnitude(np.array(values, np.float64))
    assert got == expected and math.copysign(1.0, got) == 1.0


@settings(max_examples=100, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2 ** 16), shape=st.sampled_from([(0,), (7,), (13, 5)]),
       dtype=st.sampled_from([np.int16, np.int64, np.float64]))
def test_changed_counts_the_values_that_differ(seed, shape, dtype):
    rng = np.random.default_rng(seed)
    old = rng.integers(-3, 3, shape).astype(dtype)
    new = np.where(rng.random(shape) < 0.3, old + 1, old).astype(dtype)
    assert changed(new, old) == int(np.count_nonzero(new != old))


@settings(max_examples=200, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2 ** 16), n=st.integers(1, 12), m=st.integers(0, 11), n_rows=st.integers(0, 11),
       dtype=st.sampled_from([np.float32, np.float64]))
def test_adding_rows_four_at_a_time_gives_the_bits_of_one_row_at_a_time(seed, n, m, n_rows, dtype):
    """Every count of rows (the four-row passes and the rest), repeated rows, both float widths, and magnitudes
    spread over many decades so that the order of the additions shows in the bits."""
    rng = np.random.default_rng(seed)
    w = (rng.standard_normal((n, m)) * 10.0 ** rng.integers(-8, 9, (n, m))).astype(dtype)
    change = (rng.standard_normal(n) * 10.0 ** rng.integers(-8, 9, n)).astype(dtype)
    rows = rng.integers(0, n, n_rows).astype(np.int32)
    sums = rng.standard_normal(m).astype(dtype)
    expected = sums.copy()
    for i in rows:  # the definition: one row at a time, each product rounded, then added
        expected += change[i] * w[i]
    add_rows(sums, w, rows, change)
    assert sums.tobytes() == expected.tobytes()
