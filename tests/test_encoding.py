"""Bernoulli rate coding: deterministic for a seed, the right rate, exact at 0 and 1, clear errors."""
import numpy as np
import pytest

from emulator.errors import ConfigError
from emulator.exchange.encoding import rate_code


def test_the_same_seed_gives_the_same_spikes_and_another_seed_others():
    x = np.linspace(0, 1, 12).reshape(3, 4)
    first = rate_code(x, steps=40, seed=7)
    assert first.shape == (40, 3, 4) and first.dtype == np.float64
    assert set(np.unique(first)) <= {0.0, 1.0}
    np.testing.assert_array_equal(first, rate_code(x, steps=40, seed=7))
    assert not np.array_equal(first, rate_code(x, steps=40, seed=8))


def test_the_rate_over_many_steps_is_the_intensity_within_a_binomial_bound():
    x = np.array([[0.05, 0.25, 0.5, 0.75, 0.95]])
    steps = 20_000
    rate = rate_code(x, steps=steps, seed=0).mean(axis=0)
    # 5 standard deviations of a binomial proportion: a false alarm about once in 3.5 million runs per input
    bound = 5 * np.sqrt(x * (1 - x) / steps)
    assert (np.abs(rate - x) < bound).all(), (rate, x)


def test_zero_never_spikes_and_one_always_does():
    x = np.array([[0.0, 1.0], [1.0, 0.0]])
    spikes = rate_code(x, steps=500, seed=3)
    np.testing.assert_array_equal(spikes, np.broadcast_to(x, spikes.shape))


@pytest.mark.parametrize("x, steps, says", [
    (np.array([[0.5, 1.5]]), 10, "outside [0, 1]"),
    (np.array([[-0.1, 0.5]]), 10, "outside [0, 1]"),
    (np.array([[np.nan, 0.5]]), 10, "NaN or infinite"),
    (np.array([[np.inf, 0.5]]), 10, "NaN or infinite"),
    (np.array([0.5, 0.5]), 10, "(B, n)"),
    ([["a", "b"]], 10, "not numeric"),
    (np.array([[0.5]]), 0, "positive whole number"),
    (np.array([[0.5]]), 2.5, "positive whole number"),
])
def test_bad_inputs_are_refused_saying_what_to_change(x, steps, says):
    with pytest.raises(ConfigError, match="give|scale") as error:
        rate_code(x, steps=steps, seed=0)
    assert says in str(error.value)
