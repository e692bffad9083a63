"""Telling a diverged training from a slow one, after each epoch.

Too large a learning rate (or nudge) blows the weights up in a few updates; the hard-sigmoid units
then sit at 0 or 1 whatever the input, the nudged phase no longer moves them, and EqProp's update
is zero: the network is stuck at chance, for good. A training has **diverged** after an epoch
when both hold:

- its test accuracy is at or below chance, i.e. the share of the test set's most frequent class
  (what always guessing that class scores);
- some layer's weights have grown: a spectral norm more than :data:`GROWTH` times the initial
  one (or than :data:`GROWTH`, if the initial one was below 1).

A tiny or short run that has not learnt yet is at chance too, but with its weights near their
initial scale; a run that learns is far above chance whatever its weights. Non-finite parameters
are caught earlier, at the update (:meth:`emulator.network.Network.with_parameters`).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from emulator.errors import DivergenceError
from emulator.network import TO_CONVERGE

#: a layer's spectral norm this many times its initial one (at least 1) counts as blown up
GROWTH = 1.3


def chance_level(labels: np.ndarray) -> float:
    """The accuracy of always guessing the most frequent of ``labels`` (int classes, shape (n,))."""
    return float(np.bincount(labels).max() / len(labels)) if len(labels) else 0.0


def check_divergence(epoch: int, test_accuracy: float, chance: float, norms: Sequence[float],
                     initial_norms: Sequence[float]) -> None:
    """Raise :class:`DivergenceError`, naming the keys to lower, if the training diverged in ``epoch``.

    Parameters
    ----------
    epoch : int
        The epoch just finished, from 1.
    test_accuracy, chance : float
        Its test accuracy and the test set's :func:`chance_level`, in [0, 1].
    norms, initial_norms : sequence of float
        Each layer's spectral norm after the epoch and before training.
    """
    if test_accuracy > chance:
        return
    growth = [norm / max(initial, 1.0) for norm, initial in zip(norms, initial_norms)]
    k = int(np.argmax(growth))
    if growth[k] > GROWTH:
        raise DivergenceError(
            f"the training diverged in epoch {epoch}: test accuracy {100 * test_accuracy:.1f} % is at or below "
            f"chance ({100 * chance:.1f} %) and the weights of layer {k} -> {k + 1} blew up (spectral norm "
            f"{initial_norms[k]:.3g} -> {norms[k]:.3g}); {TO_CONVERGE}")
