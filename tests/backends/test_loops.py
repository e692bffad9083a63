"""The numba loops the chips' kernels share, against their Python definitions."""
import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.backends.loops import changed, largest_magnitude


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
