"""Numba kernels of the lazy (sigma-delta) relaxation: every step of a batch in one call.

A step has two halves, as on a barrier-synchronised chip: every unit first updates its state
from the drive it has heard (:func:`encode_layer`), then the messages are delivered, layer by
layer from the input side (:func:`deliver_events`, or a matrix product when many units sent:
the host's choice, which changes no count). Arrays are C-contiguous, batch first; per-layer
arrays travel as tuples indexed by relaxing layer (index ``r - 1`` for layer ``r = 1..L``).

A layer's units are updated one sample's row at a time by a branch-free loop the compiler
vectorises (:func:`_encode_row`); the kernels that take those rows allocate nothing and are
compiled without numba's reference counting (``_nrt=False``), whose atomic count updates for
every row taken would otherwise cost more than the vectorisation saves.

:func:`store_matrix` programs the chip: it casts the host's weights to the chip's number format, counting the
values a re-programming writes and checking them, in one pass.
"""
import numba as nb
import numpy as np

from emulator.backends.loops import add_rows


@nb.njit(cache=True, _nrt=False)
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
    target : (B, n) float or (B, 0)
        Nudging target ``y`` of the output layer; no columns for hidden layers.
    beta, damping, theta : float
        Nudging strength, state damping and lazy threshold.

    The settled value of a unit is ``clip(drive)``, or ``clip((drive + beta*y) / (1 + beta))``
    for a nudged output unit: the minimiser of ``E + beta*C`` along that unit.
    """
    batch, n = state.shape
    for b in range(batch):
        n_sent[b] = 0
        if not running[b]:
            continue
        count, quiet = _encode_row(drive[b], state[b], heard[b], delta[b], senders[b], target[b], beta, damping,
                                   theta)
        if not quiet:
            unsettled[b] = True
        if count:  # list the senders in place: entry i holds whether unit i sends until it is read
            count = 0
            for i in range(n):
                send = senders[b, i]
                senders[b, count] = i
                count += send
            n_sent[b] = count


@nb.njit(cache=True, _nrt=False)
def _encode_row(drive, state, heard, delta, sends, target, beta, damping, theta):
    """:func:`encode_layer` of one sample's row (``target`` empty when not nudged): ``sends`` (n,)
    receives 1 where a unit sends, else 0. Returns how many send, and whether no unit would still
    send without further input. Branch-free, with unsigned indices (no wrap-around of negative
    ones), so that the compiler vectorises it."""
    count, quiet = 0, True
    if target.shape[0] > 0:
        for i in range(np.uint64(state.shape[0])):
            send, settled = _encode_unit(i, (drive[i] + beta * target[i]) / (1.0 + beta), state, heard, delta,
                                         damping, theta)
            sends[i] = send
            count += send
            quiet &= settled
    else:
        for i in range(np.uint64(state.shape[0])):
            send, settled = _encode_unit(i, drive[i], state, heard, delta, damping, theta)
            sends[i] = send
            count += send
            quiet &= settled
    return count, quiet


@nb.njit(cache=True, inline="always")
def _encode_unit(i, v, state, heard, delta, damping, theta):
    """Unit ``i`` moves towards ``clip(v)``; it sends if it moved more than ``theta`` from what it
    last sent. Returns whether it sends, and whether it would not send without further input."""
    v = min(max(v, 0.0), 1.0)
    s = damping * state[i] + (1.0 - damping) * v
    state[i] = s
    h = heard[i]
    d = s - h
    send = abs(d) > theta
    heard[i] = s if send else h
    delta[i] = d if send else 0.0
    return send, abs(v - heard[i]) <= theta


@nb.njit(cache=True, _nrt=False)
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
    for b in range(drive.shape[0]):
        add_rows(drive[b], weights, senders[b, :n_sent[b]], delta[b])


@nb.njit(cache=True)
def deliver(drive, weights, delta, senders, n_sent, dense_above):
    """Deliver one layer's messages: with :func:`deliver_events`, or with the host's matrix product
    ``drive += delta @ weights`` once there are more than ``dense_above`` messages per sending unit
    (BLAS packs the weights, so the product pays only when each weight row serves many messages)."""
    n_messages = n_sent.sum()
    if n_messages == 0:
        return
    if n_messages > dense_above * delta.shape[1]:
        with nb.objmode():  # numpy's product, the same arithmetic as outside the kernel
            drive += delta @ weights
    else:
        deliver_events(drive, weights, delta, senders, n_sent)


@nb.njit(cache=True)
def relax_batch(ups, downs, drives, states, heards, target, beta, damping, theta, max_steps, fan_out,
                dense_above, steps, quiescent, trace, counts):
    """Relax a batch for at most ``max_steps`` steps, in place; a sample stops at quiescence.

    Parameters
    ----------
    ups : tuple of (n_k, n_{k+1}) float, k = 0..L-1
        ``W_k^T``: row ``i`` is the forward fan-out of unit ``i`` of layer ``k``.
    downs : tuple of (n_{k+1}, n_k) float, k = 0..L-1
        ``W_k``: row ``i`` is the feedback fan-out of unit ``i`` of layer ``k + 1``.
    drives, states, heards : tuples of (B, n_r) float, r = 1..L, updated in place
        The relaxing layers' drive, state and last-heard values.
    target : (B, n_L) float or (B, 0)
        Nudging target of the output layer; no columns without a nudge.
    beta, damping, theta : float
        Nudging strength, state damping and lazy threshold.
    max_steps : int
        Step limit.
    fan_out : (L,) int64
        Receivers of one message of each relaxing layer.
    dense_above : float
        Messages per sending unit above which a layer's messages go through a matrix product.
    steps : (B,) int64; quiescent : (B,) bool; trace : (max_steps,) int64, written
        Steps each sample ran; whether it stopped at quiescence (no message sent, and no unit
        left that would send without new input); messages sent at each step, over the batch.
    counts : (3,) int64, added to
        Steps run (summed over samples), messages and synaptic ops.
    """
    depth = len(states)
    batch = states[0].shape[0]
    delta = [np.zeros_like(states[r]) for r in range(depth)]
    senders = [np.zeros(states[r].shape, np.int32) for r in range(depth)]
    n_sent = [np.zeros(batch, np.int64) for _ in range(depth)]
    running = np.ones(batch, np.bool_)
    unsettled = np.zeros(batch, np.bool_)
    no_target = target[:, :0]
    for t in range(max_steps):
        unsettled[:] = False
        for r in range(depth):
            encode_layer(drives[r], states[r], heards[r], delta[r], senders[r], n_sent[r], unsettled, running,
                         target if r == depth - 1 else no_target, beta, damping, theta)
        n_running = 0
        for b in range(batch):
            if running[b]:
                n_running += 1
                steps[b] += 1
        sent = 0
        for r in range(depth):
            messages = n_sent[r].sum()
            sent += messages
            counts[2] += messages * fan_out[r]
        trace[t] = sent
        counts[0] += n_running
        counts[1] += sent
        for r in range(depth):
            if r + 1 < depth:  # layer r + 1 sends up through W_{r+1}^T
                deliver(drives[r + 1], ups[r + 1], delta[r], senders[r], n_sent[r], dense_above)
            if r >= 1:  # and down through W_r
                deliver(drives[r - 1], downs[r], delta[r], senders[r], n_sent[r], dense_above)
        any_running = False
        for b in range(batch):
            if running[b]:
                total = 0
                for r in range(depth):
                    total += n_sent[r][b]
                if total == 0 and not unsettled[b]:
                    quiescent[b] = True
                    running[b] = False
                else:
                    any_running = True
        if not any_running:
            break


@nb.njit(cache=True, _nrt=False)
def store_matrix(w, previous, stored):
    """Write host weights into the chip's memory, ``stored = w`` in the chip's number format (numpy's cast:
    round to nearest), counting in the same pass the values that differ from ``previous`` and checking that all
    are finite.

    Parameters
    ----------
    w : (n, m) float
        Host weights (or a bias, as a (1, m) row).
    previous : (n, m) float, or (0, m) when nothing was stored before
        The values stored by the last programming, in the chip's format.
    stored : (n, m) float, written

    Returns
    -------
    (changed, finite) : int, bool
        Stored values that differ from ``previous`` (all of them without one), and whether all are finite.
    """
    n, m = w.shape
    fresh = previous.shape[0] == 0
    changed = n * m if fresh else 0
    finite = True
    for i in range(n):
        count, row_finite = _store_row(w[i], stored[i], stored[i] if fresh else previous[i], fresh)
        changed += count
        finite &= row_finite
    return changed, finite


@nb.njit(cache=True, _nrt=False)
def _store_row(w, stored, previous, fresh):
    """One row of :func:`store_matrix`: how many values changed (0 when ``fresh``), and whether all are finite.
    Its one branch is the same at every element, so that the compiler hoists it and vectorises the loop."""
    changed, finite = 0, True
    for j in range(np.uint64(w.shape[0])):
        stored[j] = w[j]  # cast on store
        v = stored[j]
        finite &= v - v == 0.0  # False for inf and NaN
        if not fresh:
            changed += v != previous[j]
    return changed, finite
