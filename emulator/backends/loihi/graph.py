"""Any network of Lava's fixed-point processes: populations, ``Dense`` connections and input streams.

The layered EqProp network is one shape of network; a Lava user brings others. A :class:`Graph` is a
directed graph (feed-forward, recurrent, skip connections) of

- neuron populations with their own parameters, as a Lava user writes them to the process constructors:
  :class:`SigmaDelta` (Lava's ``SigmaDelta``: ``vth``, ``bias``, ``spike_exp``, ``state_exp``, ``act_mode``
  UNIT or RELU, ``cum_error``) and :class:`Lif` (Lava's ``LIF``: ``du``, ``dv``, ``vth``, ``bias_mant``,
  ``bias_exp``);
- input streams, :class:`RingBuffer` (Lava's ``RingBuffer``: graded or binary payloads, repeated when the
  data runs out);
- :class:`Dense` connections from any population or stream to a neuron population, with *raw* integer
  weights that the chip stores as Lava's ``PyDenseModelBitAcc`` does (sign mode inferred from the weights
  unless given, clipping by sign mode, the low bits a mixed-sign or low-precision matrix drops), a weight
  exponent, and binary (``num_message_bits=0``: any non-zero payload adds the weight) or graded messages.

:func:`emulator.backends.loihi.graph_run.run_graph` runs it bit-exactly with Lava 0.10's ``fixed_pt``
models; :mod:`emulator.backends.loihi.lava.graph` converts it to and from Lava processes. Every parameter
is checked here, once, with an error naming the process and what to change.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal, NamedTuple, Union

import numpy as np

from emulator.backends.loihi.quantise import as_stored, mantissas
from emulator.errors import ConfigError

#: the ranges Lava 0.10 declares for these parameters (its ``LavaPyType`` precisions)
DECAY_MAX = 2 ** 12 - 1
LIF_VTH_MAX = 2 ** 17 - 1
LIF_BIAS_MANT = (-(2 ** 12), 2 ** 12 - 1)
EXP_3BIT = (0, 7)
WEIGHT_EXP = (-8, 7)
SIGMA_DELTA_BIAS = (-(2 ** 15), 2 ** 15 - 1)
#: neuron kinds of the kernel's flat layout (:class:`Flat`)
STREAM, SIGMA_DELTA, LIF = 0, 1, 2


def _ints(name: str, values, size: int, where: str) -> np.ndarray:
    """``values`` as a (size,) int64 vector (a scalar is broadcast); a clear error for non-integers."""
    a = np.asarray(values)
    if a.dtype.kind == "f" and np.all(np.isfinite(a)) and np.all(a == np.round(a)):
        a = a.astype(np.int64)
    if a.dtype.kind not in "iub":
        raise ConfigError(f"{where}: {name} must be integers (the chip's fixed-point format), got {a.dtype}")
    try:
        return np.array(np.broadcast_to(a.astype(np.int64), (size,)))
    except ValueError:
        raise ConfigError(f"{where}: {name} has shape {a.shape}, but the population has {size} neurons") from None


def _within(name: str, values, low: int, high: int, where: str):
    a = np.asarray(values)
    if a.size and (a.min() < low or a.max() > high):
        raise ConfigError(f"{where}: {name} must lie in [{low}, {high}] (Lava's register), got "
                          f"{a.min() if a.min() < low else a.max()}")


@dataclass(frozen=True)
class SigmaDelta:
    """A population of Lava's ``SigmaDelta`` neurons, with the constructor's parameters.

    Attributes
    ----------
    size : int
        Neurons.
    vth : int
        Threshold in spike units; the neuron compares ``|delta|`` (or its cumulated error) with
        ``vth << (spike_exp + state_exp)``, with ``>=``.
    bias : (size,) int
        Bias in spike units, scaled like ``vth``.
    act_mode : {"relu", "unit"}
        ``act = max(sigma + bias, 0)`` or ``sigma + bias``.
    cum_error : bool
        Fire on the cumulated error instead of the delta.
    spike_exp, state_exp : int
        Lava's exponents (0-7); a fired delta is sent as ``delta >> state_exp``.
    """

    size: int
    vth: int
    bias: np.ndarray = 0
    act_mode: Literal["relu", "unit"] = "relu"
    cum_error: bool = False
    spike_exp: int = 0
    state_exp: int = 0
    name: str = "sigma_delta"

    variables = ("sigma", "act", "residue", "error", "s_out")

    def __post_init__(self):
        where = f"SigmaDelta {self.name!r}"
        if self.act_mode not in ("relu", "unit"):
            raise ConfigError(f"{where}: act_mode must be 'relu' or 'unit', got {self.act_mode!r}")
        for name in ("spike_exp", "state_exp"):
            _within(name, getattr(self, name), *EXP_3BIT, where)
        _within("vth", self.vth, 0, 2 ** 23 - 1, where)
        bias = _ints("bias", self.bias, self.size, where)
        _within("bias scaled by 2**(spike_exp + state_exp)", bias << self.scale, *SIGMA_DELTA_BIAS, where)
        object.__setattr__(self, "bias", bias)

    @property
    def scale(self) -> int:
        """The process's shift of ``vth`` and ``bias``: ``spike_exp + state_exp``."""
        return self.spike_exp + self.state_exp


@dataclass(frozen=True)
class Lif:
    """A population of Lava's ``LIF`` neurons (``PyLifModelBitAcc``), with the constructor's parameters.

    Attributes
    ----------
    size : int
        Neurons.
    du, dv : int
        12-bit current and voltage decays (the current decays by ``(du + 1) / 4096`` per step).
    vth : int
        17-bit threshold: a neuron fires when ``v > vth << 6``.
    bias_mant : (size,) int
        13-bit signed bias mantissas.
    bias_exp : (size,) int
        Bias exponents: the bias is ``bias_mant << bias_exp`` (``>>`` if negative).
    u, v : (size,) int
        Initial current and voltage.
    """

    size: int
    du: int
    dv: int
    vth: int
    bias_mant: np.ndarray = 0
    bias_exp: np.ndarray = 0
    u: np.ndarray = 0
    v: np.ndarray = 0
    name: str = "lif"

    variables = ("u", "v", "s_out")

    def __post_init__(self):
        where = f"LIF {self.name!r}"
        for name, high in (("du", DECAY_MAX), ("dv", DECAY_MAX), ("vth", LIF_VTH_MAX)):
            _within(name, getattr(self, name), 0, high, where)
        for name in ("bias_mant", "bias_exp", "u", "v"):
            object.__setattr__(self, name, _ints(name, getattr(self, name), self.size, where))
        _within("bias_mant", self.bias_mant, *LIF_BIAS_MANT, where)
        _within("bias_exp", self.bias_exp, -7, 7, where)
        _within("u and v", np.concatenate([self.u, self.v]), -(2 ** 23) + 1, 2 ** 23 - 1, where)

    @property
    def bias(self) -> np.ndarray:
        """(size,) int64: the bias added to the voltage each step, ``bias_mant << bias_exp``."""
        m, e = self.bias_mant, self.bias_exp
        return np.where(e >= 0, m << np.maximum(e, 0), m >> np.maximum(-e, 0))


@dataclass(frozen=True)
class RingBuffer:
    """An input stream: Lava's ``RingBuffer``, which sends column ``t mod T`` of its data at step ``t``.

    Attributes
    ----------
    data : (size, T) int
        Payloads per neuron and step (0 = no spike; a binary ``Dense`` adds its weight for any other value).
    """

    data: np.ndarray
    name: str = "input"

    variables = ("s_out",)

    def __post_init__(self):
        data = np.asarray(self.data)
        if data.ndim != 2 or data.shape[1] == 0:
            raise ConfigError(f"RingBuffer {self.name!r}: data must be (neurons, steps), got shape {data.shape}")
        object.__setattr__(self, "data", _ints("data", data.ravel(), data.size, f"RingBuffer {self.name!r}")
                           .reshape(data.shape))

    @property
    def size(self) -> int:
        return int(self.data.shape[0])


Population = Union[SigmaDelta, Lif, RingBuffer]


@dataclass(frozen=True)
class Dense:
    """Lava's ``Dense`` (``PyDenseModelBitAcc``) from population ``source`` to population ``target``.

    Attributes
    ----------
    source, target : str
        Names of the sending population (or stream) and of the receiving neuron population.
    weights : (n_target, n_source) int
        Raw weights as given to Lava; :attr:`stored` is what the chip holds.
    weight_exp : int
        The accumulated input is shifted by it (left if positive, an arithmetic right shift otherwise).
    num_weight_bits : int
        Weight precision (1-8); the matrix drops ``8 - num_weight_bits`` low bits (one more if of mixed sign).
    num_message_bits : int
        0: binary messages (a sender with a non-zero payload adds its weight column); otherwise graded
        (``weights @ payload``, int32 arithmetic).
    sign_mode : {"excitatory", "inhibitory", "mixed"}, optional
        As given to Lava; inferred from the weights by default.
    """

    source: str
    target: str
    weights: np.ndarray
    weight_exp: int = 0
    num_weight_bits: int = 8
    num_message_bits: int = 0
    sign_mode: str | None = None
    name: str = "dense"

    def __post_init__(self):
        where = f"Dense {self.name!r}"
        w = np.asarray(self.weights)
        if w.ndim != 2:
            raise ConfigError(f"{where}: weights must be a 2-D (receivers, senders) matrix, got shape {w.shape}")
        object.__setattr__(self, "weights", _ints("weights", w.ravel(), w.size, where).reshape(w.shape))
        _within("weight_exp", self.weight_exp, *WEIGHT_EXP, where)
        _within("num_weight_bits", self.num_weight_bits, 1, 8, where)
        _within("num_message_bits", self.num_message_bits, 0, 24, where)
        if self.sign_mode not in (None, "excitatory", "inhibitory", "mixed"):
            raise ConfigError(f"{where}: sign_mode must be excitatory, inhibitory or mixed, got {self.sign_mode!r}")

    @cached_property
    def stored(self) -> np.ndarray:
        """(n_target, n_source) int64: the weights as the chip stores them (Lava's first-step clip and truncation)."""
        return as_stored(self.weights, self.num_weight_bits, self.sign_mode).astype(np.int64)

    @property
    def binary(self) -> bool:
        return self.num_message_bits == 0


@dataclass(frozen=True)
class Graph:
    """Populations and the ``Dense`` connections between them.

    Attributes
    ----------
    populations : tuple of SigmaDelta, Lif or RingBuffer
        In a fixed order (the order of the cores they are placed on); names are unique.
    connections : tuple of Dense
    """

    populations: tuple
    connections: tuple = field(default=())

    def __post_init__(self):
        populations, connections = tuple(self.populations), tuple(self.connections)
        object.__setattr__(self, "populations", populations)
        object.__setattr__(self, "connections", connections)
        names = [p.name for p in populations]
        if len(set(names)) != len(names):
            twice = sorted({n for n in names if names.count(n) > 1})
            raise ConfigError(f"population names must be unique; {', '.join(map(repr, twice))} appear twice")
        if not any(not isinstance(p, RingBuffer) for p in populations):
            raise ConfigError("the graph has no neuron population (SigmaDelta or LIF)")
        by_name = dict(zip(names, populations))
        for d in connections:
            for end in (d.source, d.target):
                if end not in by_name:
                    raise ConfigError(f"Dense {d.name!r} connects {end!r}, which is not a population of the graph "
                                      f"(it has: {', '.join(names)})")
            if isinstance(by_name[d.target], RingBuffer):
                raise ConfigError(f"Dense {d.name!r} sends to RingBuffer {d.target!r}: an input stream receives "
                                  "nothing; connect it to a SigmaDelta or LIF population")
            shape = (by_name[d.target].size, by_name[d.source].size)
            if d.weights.shape != shape:
                raise ConfigError(f"Dense {d.name!r} has weights of shape {d.weights.shape}, but {d.target!r} x "
                                  f"{d.source!r} is {shape}")

    @cached_property
    def flat(self) -> Flat:
        """The graph as the kernel reads it (:func:`flatten`), built once."""
        return flatten(self)

    def index(self, name: str) -> int:
        """Position of population ``name`` in :attr:`populations`."""
        return [p.name for p in self.populations].index(name)

    @property
    def sizes(self) -> tuple[int, ...]:
        return tuple(p.size for p in self.populations)

    @property
    def inputs(self) -> tuple[int, ...]:
        """Positions of the input streams."""
        return tuple(i for i, p in enumerate(self.populations) if isinstance(p, RingBuffer))


class Flat(NamedTuple):
    """A graph as the kernel reads it: every neuron's kind and parameters, every ``Dense``'s span and fan-out.

    Attributes
    ----------
    kind : (N,) int64
        :data:`STREAM`, :data:`SIGMA_DELTA` or :data:`LIF`.
    vth, bias : (N,) int64
        Sigma-delta: scaled threshold and bias; LIF: ``vth << 6`` and ``bias_mant << bias_exp``.
    relu, cum_error : (N,) bool
        Sigma-delta activation and firing rule.
    state_exp : (N,) int64
        Sigma-delta payload shift.
    keep_u, keep_v : (N,) int64
        LIF decays as multipliers: ``4096 - du - 1`` and ``4096 - dv``.
    src, tgt : (D, 2) int64
        Each ``Dense``'s sender and receiver spans ``(first neuron, count)``.
    exp : (D,) int64
        Weight exponents.
    binary : (D,) bool
        Binary messages.
    fan_out, offset, shift, zero : (sum of sender x receiver sizes,) int8, (D,) int64 each
        The stored weights of every ``Dense`` as mantissas, and each block's start, shift and zero point
        (:func:`_mantissas`).
    """

    kind: np.ndarray
    vth: np.ndarray
    bias: np.ndarray
    relu: np.ndarray
    cum_error: np.ndarray
    state_exp: np.ndarray
    keep_u: np.ndarray
    keep_v: np.ndarray
    src: np.ndarray
    tgt: np.ndarray
    exp: np.ndarray
    binary: np.ndarray
    fan_out: np.ndarray
    offset: np.ndarray
    shift: np.ndarray
    zero: np.ndarray


def flatten(graph: Graph) -> Flat:
    """The kernel's layout of ``graph`` (populations in order, one after another); :attr:`Graph.flat` keeps it."""
    n = sum(graph.sizes)
    kind, vth, bias, state_exp, keep_u, keep_v = (np.zeros(n, np.int64) for _ in range(6))
    relu, cum_error = np.zeros(n, bool), np.zeros(n, bool)
    starts = np.concatenate([[0], np.cumsum(graph.sizes)])
    for p, first, last in zip(graph.populations, starts, starts[1:]):
        span = slice(first, last)
        if isinstance(p, RingBuffer):
            kind[span] = STREAM
        elif isinstance(p, SigmaDelta):
            kind[span], vth[span], bias[span] = SIGMA_DELTA, p.vth << p.scale, p.bias << p.scale
            relu[span], cum_error[span], state_exp[span] = p.act_mode == "relu", p.cum_error, p.state_exp
        else:
            kind[span], vth[span], bias[span] = LIF, p.vth << 6, p.bias
            keep_u[span], keep_v[span] = DECAY_MAX - p.du, DECAY_MAX + 1 - p.dv
    dense = graph.connections
    span = lambda name: (starts[graph.index(name)], graph.sizes[graph.index(name)])  # noqa: E731
    return Flat(kind, vth, bias, relu, cum_error, state_exp, keep_u, keep_v,
                src=np.array([span(d.source) for d in dense], np.int64).reshape(-1, 2),
                tgt=np.array([span(d.target) for d in dense], np.int64).reshape(-1, 2),
                exp=np.array([d.weight_exp for d in dense], np.int64), binary=np.array([d.binary for d in dense]),
                **_mantissas(dense))


def _mantissas(connections) -> dict:
    """Every connection's stored weights in the kernel's layout: int8 mantissas with a shift and a zero point
    (:func:`~emulator.backends.loihi.quantise.mantissas`).

    Returns
    -------
    dict with fan_out : (sum of sender x receiver sizes,) int8
        Each connection's (senders, receivers) row-major block of mantissas, one after another; and
        offset, shift, zero : (D,) int64, where each block starts, its shift and its zero point.
    """
    blocks, shifts, zeros = [], [], []
    for d in connections:
        q, shift, zero = mantissas(d.stored.T)  # Lava's stored weights always fit
        blocks.append(np.ascontiguousarray(q).ravel())
        shifts.append(shift)
        zeros.append(zero)
    sizes = [b.size for b in blocks]
    return dict(fan_out=np.concatenate(blocks + [np.zeros(0, np.int8)]),
                offset=np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64) if blocks else np.zeros(0, np.int64),
                shift=np.array(shifts, np.int64), zero=np.array(zeros, np.int64))
