"""The plain dense fixed-point iteration: the reference the lazy engine equals at ``theta = 0``."""
from __future__ import annotations

import numpy as np

from emulator.engine.relax import LayeredNet, Nudge, drive_of


def relax_dense(net: LayeredNet, x: np.ndarray, *, steps: int, nudge: Nudge | None = None,
                init=None) -> list:
    """Run ``steps`` synchronous steps ``s_k <- d s_k + (1-d) clip(drive_k(s))`` on all units.

    Every unit is recomputed from every neighbour at every step (no threshold, no events).

    Returns
    -------
    list of (B, n_k) arrays: the states of layers 0..L.
    """
    dtype = net.dtype
    x = np.asarray(x, dtype)
    states = [x] + ([np.zeros((x.shape[0], n), dtype) for n in net.layers[1:]] if init is None
                    else [np.array(s, dtype) for s in init[1:]])
    for _ in range(steps):
        drive = drive_of(net, states)
        if nudge is not None:
            drive[-1] = (drive[-1] + nudge.beta * nudge.target) / (1.0 + nudge.beta)
        states = [x] + [net.damping * s + (1.0 - net.damping) * np.clip(h, 0.0, 1.0)
                        for s, h in zip(states[1:], drive)]
    return states
