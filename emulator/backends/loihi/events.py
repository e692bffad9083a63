"""The synaptic-event loop of the Loihi family's binary and graded ``Dense`` couplings.

Only the senders with a non-zero payload cost anything: each adds its fan-out row of int8 weight mantissas
(:func:`~emulator.backends.loihi.quantise.mantissas`) into int32 sums, as Lava's ``Dense`` sums in int32.
The loop takes a fan-out row per sender; it is compiled without numba's reference counting (``_nrt=False``),
whose atomic count updates for every row taken would cost more than adding a short row.
"""
from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True, _nrt=False)
def deliver(acc, fan_out, payload, senders, binary):
    """``acc += M @ payload`` over the senders with a non-zero payload (each adds its mantissa row once if
    ``binary``), in int32 arithmetic as Lava's Dense: ``fan_out`` (senders, receivers) int8 mantissas, ``acc``
    int32, ``senders`` scratch of ``payload.size``. Returns the sum of the payloads (their count if ``binary``),
    which the caller needs for the zero point. Binary rows are added eight at a time (one pass over ``acc``
    per eight senders); the sums are the same in int32's modular arithmetic."""
    m, total = 0, 0
    for i in range(payload.size):
        if payload[i] != 0:
            senders[m] = i
            m += 1
            total += 1 if binary else np.int64(np.int32(payload[i]))
    k = 0
    if binary:
        while k + 8 <= m:
            w0, w1, w2, w3 = fan_out[senders[k]], fan_out[senders[k + 1]], fan_out[senders[k + 2]], fan_out[senders[k + 3]]
            w4, w5, w6, w7 = fan_out[senders[k + 4]], fan_out[senders[k + 5]], fan_out[senders[k + 6]], \
                fan_out[senders[k + 7]]
            for j in range(acc.size):
                acc[j] += (((np.int32(w0[j]) + np.int32(w1[j])) + (np.int32(w2[j]) + np.int32(w3[j])))
                           + ((np.int32(w4[j]) + np.int32(w5[j])) + (np.int32(w6[j]) + np.int32(w7[j]))))
            k += 8
    while k < m:
        i = senders[k]
        p = np.int32(1) if binary else np.int32(payload[i])
        w = fan_out[i]
        for j in range(acc.size):
            acc[j] += p * np.int32(w[j])
        k += 1
    return total
