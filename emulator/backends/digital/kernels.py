"""Numba kernels of one synchronous step of the lazy (sigma-delta) relaxation.

A step has two halves, as on a barrier-synchronised chip: every unit first updates its state
from the drive it has heard (:func:`encode_layer`), then the messages are delivered
(:func:`deliver_events`). Arrays are C-contiguous, batch first.
"""
import numba as nb


@nb.njit(cache=True)
def encode_layer(drive, state, heard, delta, senders, n_sent, unsettled, running,
                 target, beta, damping, theta):
    """Update the units of one layer and sigma-delta encode their changes.

    Parameters
    ----------
    drive : (B, n) float
        Input each unit has heard: ``sum_j W_ij heard_j + b_i``.
    state, heard : (B, n) float, updated in place
        Unit states ``s`` in [0, 1] and the values neighbours last heard, ``s_hat``.
    delta : (B, n) float, overwritten
        The graded message of each sending unit (``s - s_hat``), 0 where silent.
    senders : (B, n) int32, overwritten; n_sent : (B,) int64, overwritten
        Indices of the sending units of each sample, and how many there are.
    unsettled : (B,) bool, or-ed in place
        True where some unit would still send without further input:
        ``|clip(target) - s_hat| > theta``.
    running : (B,) bool
        Samples still relaxing; others are left untouched.
    target : (B, n) float or (0, 0)
        Nudging target ``y`` of the output layer; empty for hidden layers.
    beta, damping, theta : float
        Nudging strength, state damping and lazy threshold.

    The settled value of a unit is ``clip(drive)``, or ``clip((drive + beta*y) / (1 + beta))``
    for a nudged output unit: the minimiser of ``E + beta*C`` along that unit.
    """
    batch, n = state.shape
    nudged = target.shape[0] > 0
    for b in range(batch):
        n_sent[b] = 0
        if not running[b]:
            continue
        for i in range(n):
            v = drive[b, i]
            if nudged:
                v = (v + beta * target[b, i]) / (1.0 + beta)
            v = min(max(v, 0.0), 1.0)
            s = damping * state[b, i] + (1.0 - damping) * v
            state[b, i] = s
            d = s - heard[b, i]
            if abs(d) > theta:
                heard[b, i] = s
                delta[b, i] = d
                senders[b, n_sent[b]] = i
                n_sent[b] += 1
            else:
                delta[b, i] = 0.0
            if abs(v - heard[b, i]) > theta:
                unsettled[b] = True


@nb.njit(cache=True)
def deliver_events(drive, weights, delta, senders, n_sent):
    """Add the messages of the senders to the receivers' drive: ``drive[b] += d * weights[i]``.

    Parameters
    ----------
    drive : (B, m) float, updated in place
    weights : (n, m) float
        Row ``i`` holds the synapses from sender ``i`` to the ``m`` receivers (its fan-out).
    delta : (B, n) float; senders : (B, n) int32; n_sent : (B,) int64
        As written by :func:`encode_layer`.
    """
    batch, m = drive.shape
    for b in range(batch):
        for e in range(n_sent[b]):
            i = senders[b, e]
            d = delta[b, i]
            for j in range(m):
                drive[b, j] += d * weights[i, j]
