"""A diverging training stops with one error naming the keys to lower, and keeps the epochs before it.

The rule (:mod:`emulator.training.divergence`): after an epoch, test accuracy at or below chance
and a layer's weights blown up. Runs that learn, and tiny runs that have not learnt yet, pass.
"""
from __future__ import annotations

import numpy as np
import pytest

import emulator.tasks.classification as runner
from emulator.errors import DivergenceError
from emulator.tasks.checkpoint import read_checkpoint
from emulator.training.divergence import GROWTH, chance_level, check_divergence
from test_cli import TINY, cli, isolated, one_numba_thread, run_error  # noqa: F401 (autouse fixtures)

RUN = ["run", "digits_snn", "--chip", "digital", "--quiet", *TINY]
TO_LOWER = "lower training.learning_rates, or enable training.spectral_norm"
#: what an EqProp training adds to it
EQPROP = ", or lower eqprop.beta"


def test_chance_is_what_always_guessing_the_most_frequent_class_scores():
    assert chance_level(np.array([0, 1, 1, 2])) == 0.5
    assert chance_level(np.arange(10)) == 0.1


@pytest.mark.parametrize("accuracy, initial, norms, diverged", [
    (0.08, [2.0, 1.5], [2.0, 5.0], True),  # at chance, a layer blown up
    (0.10, [2.0, 1.5], [2.0, 1.5 * GROWTH * 1.01], True),  # at chance exactly
    (0.08, [2.0, 1.5], [2.1, 1.6], False),  # at chance, weights near their initial scale: not learnt yet
    (0.11, [2.0, 1.5], [200.0, 300.0], False),  # above chance: it learns, whatever its weights
    (0.05, [0.1, 0.2], [1.2, 1.0], False),  # initial norms below 1 count as 1
    (0.05, [0.1, 0.2], [1.2, 2.0], True),
])
def test_the_rule(accuracy, initial, norms, diverged):
    if diverged:
        with pytest.raises(DivergenceError, match=f"^the training diverged in epoch 3: .*; {TO_LOWER}$"):
            check_divergence(3, accuracy, 0.10, norms, initial)
    else:
        check_divergence(3, accuracy, 0.10, norms, initial)


def test_the_largest_learning_rates_diverge_in_the_first_epoch(capsys, tmp_path):
    """10, the schema's ceiling (a million, the issue's example, is refused by the range check)."""
    out = tmp_path / "r"
    message = run_error(capsys, *RUN, "--set", "training.learning_rates=[10,10]", "--out", out)
    assert message.startswith("the training diverged in epoch 1: test accuracy ")
    assert " is at or below chance (" in message and " blew up (spectral norm " in message
    assert message.endswith(f"; {TO_LOWER}{EQPROP}; nothing was saved")
    assert not (out / "checkpoint.npz").exists()


def test_a_diverging_backprop_training_is_not_told_to_lower_beta(capsys, tmp_path):
    message = run_error(capsys, *RUN, "--set", "training.algorithm=backprop", "--set", "training.learning_rates=[10,10]",
                        "--out", tmp_path / "r")
    assert message.startswith("the training diverged in epoch 1: ") and "eqprop.beta" not in message, message
    assert message.endswith(f"; {TO_LOWER}; nothing was saved")


def test_a_divergence_later_keeps_the_epochs_before_it(capsys, monkeypatch, tmp_path):
    """Learning rates that jump a million-fold in epoch 2 (5 batches of 20 per epoch)."""
    real, updates = runner.sgd_step, []

    def jumping(network, dw, db, rates):
        updates.append(1)
        return real(network, dw, db, [r * 1e6 for r in rates] if len(updates) > 5 else rates)

    monkeypatch.setattr(runner, "sgd_step", jumping)
    out = tmp_path / "r"
    message = run_error(capsys, *RUN, "--set", "training.epochs=3", "--out", out)
    assert message.startswith("the training diverged in epoch 2: ")
    assert message.endswith(f"; {TO_LOWER}{EQPROP}; the 1 finished epoch is kept in {out / 'checkpoint.npz'}")
    assert read_checkpoint(out).epoch == 1 and not (out / "report.json").exists()


def test_non_finite_parameters_keep_the_epochs_before_them_too(capsys, monkeypatch, tmp_path):
    real = runner.sgd_step
    monkeypatch.setattr(runner, "sgd_step", lambda network, dw, db, rates: real(network, dw, db, [1e308] * len(rates)))
    message = run_error(capsys, *RUN, "--out", tmp_path / "r")
    assert "NaN" in message and "training.learning_rates" in message and message.endswith("; nothing was saved")


@pytest.mark.parametrize("chip", ["digital", "loihi2", "oim-cmos"])
def test_a_tiny_run_that_has_not_learnt_yet_is_no_divergence(capsys, tmp_path, chip):
    """40 samples, two epochs: at chance on these chips, but with the weights at their initial scale.
    (Full runs of digits_snn are trained by the `slow` tests; briefer ones by the default run.)"""
    status, _, err = cli(capsys, "run", "digits_snn", "--chip", chip, "--quiet", "--set", "dataset.n_train=40",
                         "--set", "dataset.n_test=20", "--set", "training.epochs=2", "--out", tmp_path / "r")
    assert status == 0, err
