"""Lazily-thresholded relaxation of a layered EqProp network, counted as the hardware would.

Every relaxing unit keeps the value its neighbours last heard (``heard``, sigma-delta coding):
when its state has moved by more than ``theta`` since, it sends the change as one graded
message, which costs one synaptic op per receiver (its fan-out). Receivers integrate the
messages into their drive. Steps are synchronous: all units update from what they heard at
the previous step, then all messages are delivered.

The clamped input's drive, constant through a phase, is one matrix product per batch; every
step after it runs in :func:`~emulator.backends.digital.kernels.relax_batch`, one call per phase.
The host delivers a step's messages with an event list or, when many units send, with a dense
matrix product; the counts are the same either way.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from emulator.backends.base import Equilibrium, LayeredCouplings, Nudge
from emulator.backends.digital.kernels import relax_batch, store_matrix
from emulator.counters import Counters
from emulator.errors import DivergenceError

#: one sample: messages per unit of the sending layer above which the host uses a matrix product
DENSE_ABOVE = 0.5
#: batches: the same, higher (BLAS GEMM packs the weights, so it pays off only when each weight row
#: serves many messages); measured in benchmarks/speed/engine_results.md
DENSE_ABOVE_BATCHED = 6.0


@dataclass(frozen=True)
class LayeredNet(LayeredCouplings):
    """A network as the engine runs it: weights in the host dtype, with transposed copies.

    ``up[k]`` is ``W_k^T``, shape ``(n_k, n_{k+1})`` (row ``i``: fan-out of unit ``i`` of layer
    ``k`` to layer ``k+1``); ``down[k]`` is ``W_k``, shape ``(n_{k+1}, n_k)`` (fan-out of layer
    ``k+1`` back to layer ``k``); ``bias[k]`` has shape ``(n_{k+1},)``.
    """

    up: tuple[np.ndarray, ...] = field()  # its own, not LayeredCouplings' lazy transpose: it may differ from it
    down: tuple[np.ndarray, ...]
    bias: tuple[np.ndarray, ...]
    theta: float
    damping: float

    @classmethod
    def from_parameters(cls, weights, biases, theta, damping, dtype=np.float32) -> "LayeredNet":
        """Cast host parameters to ``dtype``; :class:`DivergenceError` if one does not fit in it."""
        return cls.stored(weights, biases, theta, damping, dtype)[0]

    @classmethod
    def stored(cls, weights, biases, theta, damping, dtype=np.float32,
               previous: "LayeredNet | None" = None) -> tuple["LayeredNet", int]:
        """:meth:`from_parameters`, and how many weights and biases differ from ``previous`` (all without one).

        Each parameter is cast, compared and checked in one pass (:func:`store_matrix`).
        """
        rows = [np.asarray(p) for p in weights] + [np.reshape(b, (1, -1)) for b in biases]
        old = [np.zeros((0, p.shape[1]), dtype) for p in rows] if previous is None else \
            list(previous.down) + [b.reshape(1, -1) for b in previous.bias]
        stored, changed = [], 0
        for p, before in zip(rows, old):
            stored.append(np.empty(p.shape, dtype))
            n, finite = store_matrix(p, before, stored[-1])
            if not finite:
                raise DivergenceError(f"a weight or bias is NaN or beyond the range of {np.dtype(dtype).name}: "
                                      "lower training.learning_rates, or enable training.spectral_norm")
            changed += n
        down = tuple(stored[:len(weights)])
        net = cls(up=tuple(np.ascontiguousarray(w.T) for w in down), down=down,
                  bias=tuple(b.reshape(-1) for b in stored[len(weights):]), theta=float(theta), damping=float(damping))
        return net, changed

    @property
    def dtype(self):
        return self.down[0].dtype



def drive_of(net: LayeredNet, values) -> list:
    """Drive ``W_{k-1} v_{k-1} + W_k^T v_{k+1} + b_k`` of layers 1..L from values of layers 0..L."""
    depth = len(net.down)
    drive = []
    for k in range(1, depth + 1):
        h = values[k - 1] @ net.up[k - 1] + net.bias[k - 1]
        if k < depth:
            h += values[k + 1] @ net.down[k]
        drive.append(np.ascontiguousarray(h, dtype=net.dtype))
    return drive


def relax(net: LayeredNet, x: np.ndarray, *, max_steps: int, nudge: Nudge | None = None,
          init: Equilibrium | None = None) -> tuple[Equilibrium, Counters]:
    """Relax ``B`` independent copies of the network on inputs ``x`` (B, n_0).

    Starts from rest (all units 0; the input sends its non-zero values once) or from ``init``
    (e.g. the free equilibrium, for a nudged phase: the chip keeps its state and drive, so
    ``x`` must be the input ``init`` was relaxed on).

    Returns
    -------
    (Equilibrium, Counters)
        Counters: ``steps`` (summed over samples), ``unit_updates``, ``messages`` and
        ``synaptic_ops`` (messages times fan-out, input messages included).
    """
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[1] != net.layers[0]:
        raise ValueError(f"x must have shape (batch, {net.layers[0]}), got {x.shape}")
    if nudge is not None and np.shape(nudge.target) != (x.shape[0], net.layers[-1]):
        raise ValueError(f"nudge.target must have shape ({x.shape[0]}, {net.layers[-1]}), got {np.shape(nudge.target)}")
    if init is not None and init.states[-1].shape[0] != x.shape[0]:
        raise ValueError(f"init holds {init.states[-1].shape[0]} samples but x has {x.shape[0]}")
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is reported below, as one error
        eq, counters = _relax(net, x, max_steps, nudge, init)
    if not all(np.isfinite(h).all() for h in eq.drive):
        raise DivergenceError("the relaxation overflowed (a drive became NaN or infinite): "
                              "lower training.learning_rates, or enable training.spectral_norm")
    return eq, counters


def _relax(net, x, max_steps, nudge, init):
    dtype = net.dtype
    sizes = net.layers
    depth = len(sizes) - 1
    x = np.ascontiguousarray(x, dtype=dtype)
    batch = x.shape[0]
    counters = Counters(steps=0, unit_updates=0, messages=0, synaptic_ops=0)
    if init is None:
        state = [x] + [np.zeros((batch, n), dtype) for n in sizes[1:]]
        heard = [s.copy() for s in state]
        n_input = int(np.count_nonzero(x))
        counters += {"messages": n_input, "synaptic_ops": n_input * sizes[1]}
    else:
        state = [x] + [np.array(s, dtype=dtype) for s in init.states[1:]]
        heard = [x] + [np.array(s, dtype=dtype) for s in init.heard[1:]]
    drive = [None] + (drive_of(net, heard) if init is None else [np.array(h, dtype=dtype) for h in init.drive])

    target = np.zeros((batch, 0), dtype) if nudge is None else np.ascontiguousarray(nudge.target, dtype)
    beta = 0.0 if nudge is None else float(nudge.beta)
    fan_out = np.array([net.fan_out(k) for k in range(1, depth + 1)], np.int64)
    steps = np.zeros(batch, np.int64)
    quiescent = np.zeros(batch, bool)
    trace = np.zeros(max_steps, np.int64)
    counts = np.zeros(3, np.int64)  # steps, messages, synaptic ops
    dense_above = DENSE_ABOVE if batch == 1 else DENSE_ABOVE_BATCHED
    relax_batch(net.up, net.down, tuple(drive[1:]), tuple(state[1:]), tuple(heard[1:]), target, beta, net.damping,
                net.theta, max_steps, fan_out, dense_above, steps, quiescent, trace, counts)
    n_steps, messages, synaptic_ops = (int(n) for n in counts)
    counters += {"steps": n_steps, "unit_updates": n_steps * sum(sizes[1:]), "messages": messages,
                 "synaptic_ops": synaptic_ops}
    return Equilibrium(state, heard, drive[1:], steps, quiescent, trace), counters
