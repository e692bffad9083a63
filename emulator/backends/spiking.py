"""What the spiking families share: the inputs' spike trains, the spike window, the step-size schedule, the
nudge current, and the equilibrium of a spiking relaxation.

On a spiking chip (binary spikes, at most one per neuron and step) a unit's state is its firing rate:
a unit at state 1 fires at every step, one at state 0.25 once every four. The inputs are clamped as
regular spike trains of rate ``x``; the relaxing units integrate the spikes they receive in a synaptic
current and fire when their membrane potential passes the threshold, one step after the spikes that
caused it (a one-step synaptic delay). The rates, the states the read-out and EqProp's learning rule
use, are counted over the last ``window`` steps of each phase (the workload's ``spiking`` section); the
nudge of EqProp's nudged phases is a constant current ``beta * (y - r)`` into the output neurons, with
``r`` the outputs' rates at the end of the free phase (the gradient of the squared-error cost there).

A spike carries no value, so the lazy threshold ``eqprop.theta`` of graded messages has no counterpart:
the spike threshold is one state unit (a unit fires once per step at state 1), and the accuracy traded
for spikes is set by the step budgets and the window.
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass

import numba as nb
import numpy as np

from emulator.backends.base import Equilibrium
from emulator.errors import EmulatorError

#: an input in [0, 1] is clamped as a spike train of rate ``round(x * INPUT_LEVELS) / INPUT_LEVELS``
INPUT_LEVELS = 256


@dataclass(frozen=True, kw_only=True)
class SpikingEquilibrium(Equilibrium):
    """An :class:`Equilibrium` whose states are firing rates, with the chip state a nudged phase continues from.

    Attributes
    ----------
    neurons : object
        The family's neuron and synapse state after the last step (currents, potentials, spikes in flight).
    elapsed : int
        Steps run since the free phase began: where the inputs' spike trains go on.
    window : int
        Steps at the end of the phase over which the rates were counted.
    """

    neurons: object
    elapsed: int
    window: int


def input_train(x: np.ndarray, start: int, steps: int) -> np.ndarray:
    """The inputs' binary spike trains from step ``start`` (0 at the start of the free phase) for ``steps`` steps.

    Input ``i`` at level ``q = round(clip(x_i, 0, 1) * INPUT_LEVELS)`` fires at step ``t`` when
    ``floor(((t + 1) q + L/2) / L)`` exceeds ``floor((t q + L/2) / L)`` (``L = INPUT_LEVELS``): a regular
    train of rate ``q / L``, in integers, so every chip and reference gets the same spikes.

    Parameters
    ----------
    x : (B, n_0) float
        Inputs in [0, 1] (clipped).
    start, steps : int
        First step and number of steps.

    Returns
    -------
    (steps, B, n_0) bool
    """
    level = np.round(np.clip(np.asarray(x, np.float64), 0.0, 1.0) * INPUT_LEVELS).astype(np.int64)
    train = np.empty((steps,) + level.shape, np.bool_)
    _fill_train(level.reshape(-1), start, train.reshape(steps, level.size))
    return train


@nb.njit(cache=True)
def _fill_train(level, start, train):
    """``train[t, i]``: whether input ``i`` at ``level`` fires at step ``start + t`` (:func:`input_train`), written
    directly, without the (steps + 1, B, n_0) spike counts."""
    half = INPUT_LEVELS // 2
    for t in range(train.shape[0]):
        now = start + t
        for i in range(level.shape[0]):
            train[t, i] = ((now + 1) * level[i] + half) // INPUT_LEVELS > (now * level[i] + half) // INPUT_LEVELS


def window_of(spiking, steps: int) -> int:
    """Steps at the end of a phase of ``steps`` steps whose spikes give the rates: the workload's
    ``spiking.window`` (at most the phase), or the last half of the phase if it gives none."""
    window = getattr(spiking, "window", None)
    return min(window, steps) if window else max(1, math.ceil(steps / 2))


def step_sizes(spiking, start: float, steps: int) -> np.ndarray:
    """The step size of each step of a phase, (steps,) float64: the workload's ``spiking.step_size`` schedule
    from the chip's ``start``, or ``start`` throughout if it gives none."""
    schedule = getattr(spiking, "step_size", None)
    if schedule is None:
        return np.full(steps, float(start))
    return np.array([schedule.at(float(start), t, steps) for t in range(steps)])


def nudge_current(nudge, init: Equilibrium | None, n_out: int) -> np.ndarray | None:
    """The current ``beta * (y - r)`` into the output neurons of a nudged phase, (B, n_L) float64 in state
    units per step, with ``r`` the outputs' rates in ``init`` (the free equilibrium); None without a nudge."""
    if nudge is None:
        return None
    if init is None:
        raise ValueError("a nudged phase on a spiking chip starts from the free equilibrium: pass init")
    target = np.asarray(nudge.target, np.float64)
    if target.shape != init.states[-1].shape or target.shape[1] != n_out:
        raise ValueError(f"nudge.target must have shape {init.states[-1].shape}, got {target.shape}")
    return nudge.beta * (target - init.states[-1])


def rates(counts, window: int) -> list[np.ndarray]:
    """Spike counts over the window (list of (B, n_k) int) -> firing rates per step, float64."""
    return [np.asarray(c, np.float64) / window for c in counts]


def start_of(x: np.ndarray, init: SpikingEquilibrium | None) -> int:
    """The step the inputs' trains start at: 0 from rest, where ``init`` ended otherwise (its inputs must be ``x``'s)."""
    if init is None:
        return 0
    if init.states[0].shape != np.shape(x):
        raise ValueError(f"init holds inputs of shape {init.states[0].shape} but x has {np.shape(x)}")
    return init.elapsed


class Brian2Unavailable(EmulatorError):
    """Brian2 cannot be imported in this Python."""


def require_brian2():
    """Import Brian2 (the independent reference of the spiking chips), or raise one clear error saying how to get it."""
    try:
        import brian2
    except ImportError as exc:
        raise Brian2Unavailable(
            f"Brian2 is not installed ({exc}), and the Brian2 reference of the spiking chips needs it: install it "
            "with `pip install brian2` (the emulator's dependencies include it; its numpy code target needs no "
            "compiler)") from None
    return brian2


@contextmanager
def code_target(target: str):
    """Brian2 with ``prefs.codegen.target`` set to ``target`` inside the block, restored after it.

    Building a network generates code too (``Synapses.connect`` with index arrays, setting variables), so the
    target must be set while building, not only while running: Brian2's default, ``auto``, compiles that code
    with Cython (tens of seconds on a machine whose Cython cache is empty)."""
    b2 = require_brian2()
    previous = b2.prefs.codegen.target
    b2.prefs.codegen.target = target
    try:
        yield b2
    finally:
        b2.prefs.codegen.target = previous
