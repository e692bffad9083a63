"""What the spiking families share (emulator.backends.spiking) and the workload's ``spiking`` section."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.backends import spiking
from emulator.backends.base import Nudge
from emulator.errors import ConfigError
from emulator.workload import GeometricStepSize, load_workload


def test_an_input_fires_a_regular_train_of_its_rate():
    """Levels 256 (1.0), 128 (0.5), 64 (0.25) and 0: every step, every other step from the first, one step in four."""
    train = spiking.input_train(np.array([[1.0, 0.5, 0.25, 0.0]]), 0, 8)[:, 0]
    assert train[:, 0].all() and not train[:, 3].any()
    np.testing.assert_array_equal(np.flatnonzero(train[:, 1]), [0, 2, 4, 6])
    np.testing.assert_array_equal(np.flatnonzero(train[:, 2]), [1, 5])


def test_an_input_train_goes_on_where_it_stopped():
    x = np.random.default_rng(0).random((3, 5))
    whole = spiking.input_train(x, 0, 50)
    np.testing.assert_array_equal(np.concatenate([spiking.input_train(x, 0, 20), spiking.input_train(x, 20, 30)]),
                                  whole)
    np.testing.assert_allclose(whole.mean(0), np.round(x * 256) / 256, atol=1 / 50)


@settings(max_examples=100, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2 ** 16), batch=st.integers(1, 4), n=st.integers(1, 9), start=st.integers(0, 10 ** 6),
       steps=st.integers(0, 40))
def test_an_input_train_is_its_docstrings_spike_counts(seed, batch, n, start, steps):
    """Input ``i`` fires at step ``t`` when ``floor(((t + 1) q + L/2) / L)`` exceeds ``floor((t q + L/2) / L)``,
    written out over whole arrays; inputs outside [0, 1] clipped."""
    x = np.random.default_rng(seed).uniform(-0.3, 1.3, (batch, n))
    q = np.round(np.clip(x, 0.0, 1.0) * spiking.INPUT_LEVELS).astype(np.int64)
    t = np.arange(start, start + steps + 1)[:, None, None]
    counts = (t * q + spiking.INPUT_LEVELS // 2) // spiking.INPUT_LEVELS
    np.testing.assert_array_equal(spiking.input_train(x, start, steps), counts[1:] > counts[:-1])


class Settings:
    def __init__(self, window=None, step_size=None):
        self.window, self.step_size = window, step_size


def test_the_window_is_the_workloads_or_the_last_half_of_the_phase():
    assert spiking.window_of(None, 15) == 8 and spiking.window_of(Settings(), 40) == 20
    assert spiking.window_of(Settings(12), 40) == 12
    assert spiking.window_of(Settings(12), 1) == 1  # a one-step probe of a phase counts its one step


def test_a_geometric_schedule_goes_from_the_chips_step_size_to_final():
    eps = spiking.step_sizes(Settings(step_size=GeometricStepSize(final=0.05)), 0.4, 4)
    np.testing.assert_allclose(eps, [0.4, 0.2, 0.1, 0.05])
    np.testing.assert_array_equal(spiking.step_sizes(None, 0.2, 3), [0.2, 0.2, 0.2])


def test_the_nudge_is_beta_times_the_error_of_the_free_rates():
    class Free:
        states = [np.zeros((2, 3)), np.array([[0.5, 0.25], [1.0, 0.0]])]

    current = spiking.nudge_current(Nudge(0.5, np.array([[1.0, 0.0], [0.0, 1.0]])), Free, 2)
    np.testing.assert_allclose(current, [[0.25, -0.125], [-0.5, 0.5]])
    assert spiking.nudge_current(None, None, 2) is None
    with pytest.raises(ValueError, match="starts from the free equilibrium"):
        spiking.nudge_current(Nudge(0.5, np.zeros((2, 2))), None, 2)


def test_a_spike_window_longer_than_a_phase_names_the_key_and_the_budget():
    with pytest.raises(ConfigError, match=r"--set spiking.window=20: spiking.window: 20 steps is longer than a phase: "
                                          r"eqprop.nudged_steps is 15.*set it to at most 15"):
        load_workload("workloads/digits_snn.yaml", ["spiking.window=20"])
    assert load_workload("workloads/digits_snn.yaml", ["spiking.window=15"]).spiking.window == 15


def test_a_step_size_schedule_is_validated_like_any_key():
    with pytest.raises(ConfigError, match=r"spiking.step_size.final: must be > 0"):
        load_workload("workloads/digits_snn.yaml", ["spiking.step_size={model: geometric, final: 0}"])
    w = load_workload("workloads/digits_snn.yaml", ["spiking.step_size={model: geometric, final: 0.05}"])
    assert w.spiking.step_size == GeometricStepSize(final=0.05)


def test_brian2_missing_is_one_error_saying_how_to_install_it(monkeypatch):
    import builtins

    real = builtins.__import__

    def no_brian(name, *args, **kwargs):
        if name == "brian2":
            raise ImportError("No module named 'brian2'")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_brian)
    with pytest.raises(spiking.Brian2Unavailable, match=r"Brian2 is not installed .*`pip install brian2`"):
        spiking.require_brian2()
