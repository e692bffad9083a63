"""Host floats -> the integers a Loihi-style chip stores: 8-bit weights with a per-layer exponent.

Conventions (all powers of two, so every scale is a shift on the chip):

- an activation (unit state) ``s`` in [0, 1] is the integer ``s * 2**act_bits``;
- a graded spike carries a change of activation ``>> state_exp``;
- a ``Dense`` process with integer weights ``W_int`` and exponent ``e`` adds
  ``(W_int @ spikes) >> -e`` to its receivers' sigma, so for the sigma to be in activation
  units, ``W_int = W * 2**(state_exp - e)``.

Weights are stored as Lava's ``Dense`` stores them: clipped to 8 bits, and a matrix of mixed
sign loses its least significant bit (even values in [-256, 254] at 8 bits).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numba as nb
import numpy as np

from emulator.errors import CapacityError

#: range of the Dense weight exponent (4-bit signed)
WEIGHT_EXP_RANGE = (-8, 7)
#: Lava's SigmaDelta bias register (16-bit signed)
BIAS_BITS = 16


def _sign_mode(w: np.ndarray) -> str:
    """Lava's ``determine_sign_mode``: excitatory if no weight is negative, inhibitory if none is positive."""
    return _mode_of(w.min(), w.max()) if w.size else "excitatory"


def _mode_of(low, high) -> str:
    """The sign mode of weights whose smallest is ``low`` and largest ``high``."""
    if low >= 0:
        return "excitatory"
    return "inhibitory" if high <= 0 else "mixed"


def weight_grid(weights: np.ndarray, weight_bits: int = 8) -> tuple[int, int, int]:
    """``(step, low, high)``: Lava's Dense stores weights of this sign pattern as multiples of
    ``step`` in ``[low, high]`` (the clip of ``clip_weights``, the truncation of ``truncate_weights``).
    """
    return _grid(_sign_mode(np.asarray(weights)), weight_bits)


def _grid(mode: str, weight_bits: int) -> tuple[int, int, int]:
    """:func:`weight_grid` of weights of sign mode ``mode``."""
    step = 2 ** (8 - weight_bits + int(mode == "mixed"))
    high = (255 // step) * step
    return step, {"mixed": -256, "excitatory": 0, "inhibitory": -high}[mode], 0 if mode == "inhibitory" else high


def as_stored(w_int: np.ndarray, weight_bits: int = 8, sign_mode: str | None = None) -> np.ndarray:
    """What Lava's fixed-point Dense makes of integer weights on its first step: clip, then drop low bits.

    ``sign_mode`` (``"excitatory"``, ``"inhibitory"`` or ``"mixed"``) is the Dense process's own, if it was
    given one; by default it is inferred from the weights as Lava infers it.
    """
    w = np.ascontiguousarray(w_int)
    w = w if w.dtype in (np.int32, np.int64) else w.astype(np.int64)
    mode = sign_mode or _mode_of(*extremes(w.reshape(-1)))
    out = np.empty(w.shape, np.int32)
    _clip_and_truncate(w.reshape(-1), -256 if mode == "mixed" else 0, 8 - weight_bits + int(mode == "mixed"),
                       mode == "inhibitory", out.reshape(-1))
    return out


@nb.njit(cache=True)
def extremes(w):
    """``(min, max)`` of a flat integer array in one pass, ``(0, 0)`` if it is empty. The loops here run over
    unsigned indices (no wrap-around of negative ones), so that the compiler vectorises them."""
    if w.size == 0:
        return 0, 0
    low, high = w[0], w[0]
    for i in range(np.uint64(w.size)):
        low, high = min(low, w[i]), max(high, w[i])
    return low, high


@nb.njit(cache=True)
def _clip_and_truncate(w, floor, shift, inhibitory, out):
    """Lava's clip to ``[floor, 255]`` and truncation of the ``shift`` low bits, element by element (an
    ``inhibitory`` matrix is stored as the magnitudes of its clip to ``[-255, 0]``, and negated back)."""
    if inhibitory:
        for i in range(np.uint64(w.size)):
            v = -min(max(np.int64(w[i]), -255), 0)
            out[i] = -((min(max(v, floor), 255) >> shift) << shift)
    else:
        for i in range(np.uint64(w.size)):
            out[i] = (min(max(np.int64(w[i]), floor), 255) >> shift) << shift


def mantissas(stored: np.ndarray) -> tuple[np.ndarray, int, int] | None:
    """Integer weights as ``(mantissa + zero) << shift`` with int8 mantissas, the event loops' layout.

    Lava's stored weights always fit: 8 bits of magnitude, the low bits a mixed-sign or low-precision matrix drops
    as ``shift``, and a zero point for the one-signed matrices of 8 bits, whose values span 0..255. Half the bytes
    of int16, so twice the fan-out rows per cache line. ``None`` for integers that span more than 8 bits.

    Returns
    -------
    mantissa : int8 array, ``stored``'s shape
    shift, zero : int
    """
    w = np.ascontiguousarray(stored)
    bits, low, high = _bits_and_extremes(w.reshape(-1))  # the trailing zeros of ``bits`` are every weight's
    shift = min(8, (bits & -bits).bit_length() - 1) if bits else 0
    low, high = low >> shift, high >> shift
    zero = 0 if low >= -128 and high <= 127 else low + 128
    if high - zero > 127:
        return None
    q = np.empty(w.shape, np.int8)
    _to_mantissas(w.reshape(-1), shift, zero, q.reshape(-1))
    return q, shift, zero


@nb.njit(cache=True)
def _bits_and_extremes(w):
    """``(bitwise or, min, max)`` of a flat integer array in one pass, ``(0, 0, 0)`` if it is empty."""
    if w.size == 0:
        return 0, 0, 0
    bits, low, high = 0, np.int64(w[0]), np.int64(w[0])
    for i in range(np.uint64(w.size)):
        v = np.int64(w[i])
        bits, low, high = bits | v, min(low, v), max(high, v)
    return bits, low, high


@nb.njit(cache=True)
def _to_mantissas(w, shift, zero, out):
    """``out = (w >> shift) - zero`` into int8, which :func:`mantissas` has checked it fits."""
    for i in range(np.uint64(w.size)):
        out[i] = np.int8((np.int64(w[i]) >> shift) - zero)


def fan_out_layout(net) -> tuple:
    """A layered network's couplings as the event loops read them: ``(ups, downs, shifts, zeros)``, the weights
    ``net.down`` (and their transposes) as int8 mantissas with a shift and a zero point per coupling
    (:func:`mantissas`); a network whose integers span more than 8 bits keeps ``net.up`` and ``net.down``, shift
    and zero point 0 (``net.up`` is read only then)."""
    split = [mantissas(w) for w in net.down]
    if any(m is None for m in split):
        return net.up, net.down, np.zeros(len(split), np.int64), np.zeros(len(split), np.int64)
    downs = tuple(np.ascontiguousarray(q) for q, _, _ in split)
    return (tuple(np.ascontiguousarray(q.T) for q in downs), downs, np.array([m[1] for m in split], np.int64),
            np.array([m[2] for m in split], np.int64))


@dataclass(frozen=True)
class LayerQuantisation:
    """How one weight matrix was quantised (a row of the report)."""

    weight_exp: int
    #: largest stored |W_int| over the largest representable magnitude
    range_used: float
    #: fraction of weights clipped at the range
    clipped_fraction: float
    #: ``(w, w_int, unit)``: the float weights, their integers and what one integer stands for, from which
    #: :attr:`relative_error` is computed when first read (a training re-quantises every batch, a report reads one)
    weights: tuple = field(compare=False, repr=False)
    #: fraction of the layer's biases clipped at the 16-bit bias register's range
    bias_clipped_fraction: float = 0.0

    @cached_property
    def relative_error(self) -> float:
        """RMS quantisation error over RMS weight."""
        w, w_int, unit = self.weights
        rms = float(np.sqrt(np.mean(w ** 2))) or 1.0
        return float(np.sqrt(np.mean((w_int * unit - w) ** 2))) / rms

    def to_dict(self) -> dict:
        return {"weight_exp": self.weight_exp, "range_used": self.range_used,
                "clipped_fraction": self.clipped_fraction, "relative_error": self.relative_error,
                "bias_clipped_fraction": self.bias_clipped_fraction}


def quantise_weights(w: np.ndarray, *, state_exp: int, weight_bits: int = 8, max_clipped: float = 1e-3,
                     symmetric: bool = False) -> tuple[np.ndarray, LayerQuantisation]:
    """Integer weights (int16) and exponent of one float matrix.

    The exponent is the finest one (most bits of resolution) that clips at most a fraction
    ``max_clipped`` of the weights; weights are rounded to the nearest stored value, so they are what
    Lava's Dense stores (:func:`as_stored` leaves them as they are). With ``symmetric`` no weight is
    -256, so that ``-W`` can be stored too.
    """
    w = np.asarray(w, np.float64)
    bottom, top = (float(w.min()), float(w.max())) if w.size else (0.0, 0.0)
    step, low, high = _grid(_mode_of(bottom, top), weight_bits)
    if symmetric:  # only mixed signs reach -256, whose negation Lava cannot store
        low = max(low, -high)
    magnitude = max(-low, high)
    first, last = WEIGHT_EXP_RANGE

    def clipped_at(exp: int) -> float:  # never asked of an empty matrix: its search stops at the first exponent
        return _outside(w.reshape(-1), 2.0 ** (state_exp - exp), low, high) / w.size  # the scale is exact

    # The fraction clipped falls as the exponent grows, so the finest exponent that clips at most max_clipped is
    # at or below the finest that clips nothing, found from the extremes alone: search down from there.
    exp = first
    while exp < last and (top * 2.0 ** (state_exp - exp) > high or bottom * 2.0 ** (state_exp - exp) < low):
        exp += 1
    while exp > first and clipped_at(exp - 1) <= max_clipped:
        exp -= 1
    w_int = np.empty(w.shape, np.int16)
    n_clipped, largest = _round_to_grid(w.reshape(-1), 2.0 ** (state_exp - exp), step, low, high, w_int.reshape(-1))
    clipped = n_clipped / max(w.size, 1)
    if clipped > max_clipped:
        raise CapacityError(
            f"weights up to {np.abs(w).max():.3g} cannot be stored in {weight_bits}-bit weights with an "
            f"exponent up to {WEIGHT_EXP_RANGE[1]}: lower training.learning_rates or enable "
            "training.spectral_norm")
    return w_int, LayerQuantisation(exp, float(largest) / magnitude, clipped, (w, w_int, 2.0 ** (exp - state_exp)))


@nb.njit(cache=True)
def _outside(w, scale, low, high):
    """How many ``w * scale`` of the flat array lie outside ``[low, high]`` (a NaN lies inside: as numpy compares)."""
    count = 0
    for i in range(np.uint64(w.size)):
        scaled = w[i] * scale
        count += np.int64(scaled > high) + np.int64(scaled < low)
    return count


@nb.njit(cache=True)
def _round_to_grid(w, scale, step, low, high, out):
    """``out = clip(round(w * scale / step) * step, low, high)`` (numpy's rounding, half to even) in one pass over the
    flat arrays; returns how many ``w * scale`` lie outside ``[low, high]``, and the largest ``|out|``."""
    clipped, largest = 0, 0
    for i in range(w.size):
        scaled = w[i] * scale
        clipped += (scaled > high) | (scaled < low)
        out[i] = min(max(np.rint(scaled / step) * step, low), high)
        largest = max(largest, abs(out[i]))
    return clipped, largest


def bias_range(*, state_exp: int, offset: int = 0) -> tuple[int, int]:
    """Biases in activation units that Lava's 16-bit bias register holds, also after adding ``offset``
    (a pair's ``B`` neuron has bias ``b - act_max``), as multiples of ``2**state_exp``."""
    limit = 2 ** (BIAS_BITS - 1)
    return max(-limit, -limit - offset), min(limit, limit - offset) - 2 ** state_exp


def quantise_bias(b: np.ndarray, *, act_bits: int, state_exp: int, offset: int = 0) -> np.ndarray:
    """Bias in activation units: a multiple of ``2**state_exp`` (Lava scales the bias by it) that
    fits the 16-bit register (see :func:`bias_range`)."""
    unit = 2 ** state_exp
    q = np.round(np.asarray(b, np.float64) * 2.0 ** act_bits / unit) * unit
    return np.clip(q, *bias_range(state_exp=state_exp, offset=offset)).astype(np.int64)


def bias_clipped_fraction(b: np.ndarray, *, act_bits: int, state_exp: int, offset: int = 0) -> float:
    """Fraction of biases :func:`quantise_bias` clips."""
    low, high = bias_range(state_exp=state_exp, offset=offset)
    scaled = np.asarray(b, np.float64) * 2.0 ** act_bits
    return float(np.mean((scaled < low) | (scaled > high)))


#: Lava's LIF bias: a 13-bit signed mantissa shifted left by a 3-bit exponent
LIF_BIAS_MANT = (-(2 ** 12), 2 ** 12 - 1)
LIF_BIAS_EXP_MAX = 7


def lif_weight_scale(vth: int, du: int) -> float:
    """What a float weight is multiplied by to give the integer ``W_int * 2**weight_exp`` of a LIF network:
    a rate ``r`` through weight ``w`` then drives the current to ``w r`` state units (``vth << 6`` voltage
    units) at equilibrium, as the current decays by ``(du + 1) / 4096`` per step and gains ``a << 6``."""
    return vth * (du + 1) / 2 ** 12


def lif_bias_exp(b: np.ndarray, *, state_unit: int, headroom: float = 0.0) -> int:
    """The finest bias exponent (0-7) at which biases up to ``max |b| + headroom`` state units fit Lava's
    13-bit mantissa (the coarsest, 7, if none does: larger biases clip)."""
    need = (np.abs(np.asarray(b, np.float64)).max(initial=0.0) + headroom) * state_unit
    return next((e for e in range(LIF_BIAS_EXP_MAX + 1) if need <= LIF_BIAS_MANT[1] << e), LIF_BIAS_EXP_MAX)


def quantise_lif_bias(b: np.ndarray, *, state_unit: int, exp: int) -> np.ndarray:
    """Bias mantissas of float biases ``b`` (state units): ``b * state_unit / 2**exp`` rounded, clipped to 13 bits."""
    return np.clip(np.round(np.asarray(b, np.float64) * state_unit / 2 ** exp), *LIF_BIAS_MANT).astype(np.int64)


def lif_bias_clipped_fraction(b: np.ndarray, *, state_unit: int, exp: int) -> float:
    """Fraction of biases :func:`quantise_lif_bias` clips."""
    scaled = np.round(np.asarray(b, np.float64) * state_unit / 2 ** exp)
    return float(np.mean((scaled < LIF_BIAS_MANT[0]) | (scaled > LIF_BIAS_MANT[1])))
