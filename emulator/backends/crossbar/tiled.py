"""Continuous-time relaxation of a layered network on tiled analog arrays, with a lazy periphery.

The units integrate ``tau ds/dt = -s + rho(h)`` with forward-Euler steps of ``rate = dt/tau``
(``rho`` the hard sigmoid, ``h`` the drive), in a digital periphery that sits after the ADCs:

- a unit's DAC is re-driven only when its state has moved more than ``theta`` since it was last
  driven (one conversion per tile its line enters); between conversions the DAC holds;
- a tile is read (every sensed line converted by its ADC) only when one of its driven lines was
  re-driven; the read sums over *every* driven line of the tile (the array cannot add only the
  changed rows), adds fresh read noise, and the ADC outputs are held until the next read;
- a unit's drive is the digital sum of the held partial sums feeding it (one per tile) and its
  bias, re-summed when one of them changed.

Array ``k`` holds ``W_k`` as ``fwd[k]`` (n_k, n_{k+1}) and is read in both directions: forward
(layer ``k`` drives its rows, the columns are sensed) and backward (layer ``k+1`` drives the
columns, ``bwd[k] = fwd[k].T`` as read that way, the rows are sensed). Nothing senses the
clamped input layer, so array 0 is never read backward.

Read noise of a sensed line is the sum of its cells' independent Gaussian fluctuations, drawn
as one Gaussian of variance ``sum_i v_i^2 var_ij`` (the same distribution as one draw per cell).

Each sample runs all of its steps on its own (:func:`_relax`, compiled by numba); a sample ends
when ``max |rho(h) - s| < tolerance`` (``tau |ds/dt|``) and no DAC was re-driven by more than
the tolerance (with ``theta >= tolerance``: none was re-driven), or at the step limit.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numba as nb
import numpy as np

from emulator.backends.loops import add_rows

#: order of the event counts in the kernel's ``counts`` array
COUNTS = ("dac_conversions", "array_macs", "adc_conversions", "digital_adds")
#: random window starts drawn at once for the read noise (the kernel asks for more when a sample might run out)
STARTS_PER_DRAW = 1 << 12


class Periphery(NamedTuple):
    """The lazy digital periphery: integration, lazy threshold and converters.

    Attributes
    ----------
    rate : float
        ``dt / tau`` of one Euler step.
    theta : float
        Lazy threshold: a unit's DACs are re-driven when its state moved more than this since.
    tolerance : float
        A sample has settled when ``max |rho(h) - s|`` and every re-drive are below this.
    dac_range, dac_steps : float
        DAC full scale, state units, and its steps per state unit (0: exact).
    adc_range, adc_steps : (L, 2) float64
        ADC full scale ``+-adc_range[k, d]`` (drive units) and steps per drive unit (0: exact) of
        array ``k`` read forward (``d = 0``) and backward (``d = 1``).
    """

    rate: float
    theta: float
    tolerance: float
    dac_range: float
    dac_steps: float
    adc_range: np.ndarray
    adc_steps: np.ndarray

    @classmethod
    def of(cls, *, rate, theta, tolerance, dac, adc) -> "Periphery":
        """From ``dac = (bits, full_scale)`` and, per array, ``adc[k] = ((bits, full_scale) forward,
        (bits, full_scale) backward)``; ``bits`` None: exact."""
        return cls(float(rate), float(theta), float(tolerance), float(dac[1]), converter_steps(dac[0], dac[1], False),
                   _c([[full_scale for _, full_scale in reads] for reads in adc]),
                   _c([[converter_steps(bits, full_scale, True) for bits, full_scale in reads] for reads in adc]))


class Arrays(NamedTuple):
    """The programmed arrays as the kernel reads them: tuples over the ``L`` arrays (or ``L + 1`` layers).

    Attributes
    ----------
    fwd, bwd : L x (n_k, n_{k+1}) and (n_{k+1}, n_k) float64
        Weights a forward and a backward read sense, drive units per state unit.
    var_fwd, var_bwd : same shapes
        Read-noise variances of each cell pair (``fwd`` and ``bwd`` again when reads are noiseless).
    row_edges, col_edges : L x (n_blocks + 1,) int64
        Tile boundaries of the rows and of the columns, ``[0, ..., n]``.
    bias : L x (n_{k+1},) float64
        Biases of layers 1..L, drive units.
    fed : (L + 1,) int64
        Tiles a unit's lines enter: DAC conversions per re-drive of a unit of layer ``k``.
    n_partials : (L + 1,) int64
        Partial sums (one per tile) feeding a unit of layer ``k``: digital adds per re-sum.
    """

    fwd: tuple
    bwd: tuple
    var_fwd: tuple
    var_bwd: tuple
    row_edges: tuple
    col_edges: tuple
    bias: tuple
    fed: np.ndarray
    n_partials: np.ndarray

    @classmethod
    def of(cls, arrays, bias) -> "Arrays":
        """The kernel's view of ``L`` programmed arrays and the biases (see :func:`relax_tiled`); it shares
        their weights (no copy), so it is made once per programming.

        Parameters
        ----------
        arrays : sequence of L objects with ``fwd`` (n_k, n_{k+1}), ``bwd`` (n_{k+1}, n_k), ``var_fwd``,
            ``var_bwd`` (same shapes, or None: no read noise) in drive units (per state unit), and
            ``row_edges``, ``col_edges``: the tile boundaries of rows and columns, ``[0, ..., n]``.
        bias : sequence of L (n_{k+1},) arrays, drive units.
        """
        depth = len(arrays)
        fwd, bwd = tuple(_c(a.fwd) for a in arrays), tuple(_c(a.bwd) for a in arrays)
        noisy = arrays[0].var_fwd is not None
        row_blocks = [len(a.row_edges) - 1 for a in arrays]
        col_blocks = [len(a.col_edges) - 1 for a in arrays]
        fed = [col_blocks[0]] + [(row_blocks[k - 1] if k >= 2 else 0) + (col_blocks[k] if k < depth else 0)
                                 for k in range(1, depth + 1)]
        n_partials = [0] + [row_blocks[k - 1] + (col_blocks[k] if k < depth else 0) for k in range(1, depth + 1)]
        return cls(fwd, bwd, tuple(_c(a.var_fwd) for a in arrays) if noisy else fwd,
                   tuple(_c(a.var_bwd) for a in arrays) if noisy else bwd,
                   tuple(_c(a.row_edges, np.int64) for a in arrays), tuple(_c(a.col_edges, np.int64) for a in arrays),
                   tuple(_c(b) for b in bias), np.asarray(fed, np.int64), np.asarray(n_partials, np.int64))

    @property
    def sizes(self) -> list[int]:
        """Units of layers 0..L."""
        return [self.fwd[0].shape[0]] + [w.shape[1] for w in self.fwd]

    def reads_per_sample(self, max_steps: int, fresh: bool) -> int:
        """Tile reads a sample can make: array 0 forward once (a fresh phase), then every other read at
        every step."""
        blocks = [len(r) - 1 + len(c) - 1 for r, c in zip(self.row_edges[1:], self.col_edges[1:])]
        return (len(self.row_edges[0]) - 1) * fresh + max_steps * sum(blocks)


class Units(NamedTuple):
    """States of the units and of their DACs: each a sequence over layers 0..L of (B, n_k) float64.

    Attributes
    ----------
    state : unit states (layer 0: the clamped input).
    sent : the states each DAC last converted.
    held : what the DACs drive (``sent`` through the DAC).
    """

    state: Sequence
    sent: Sequence
    held: Sequence


class Partials(NamedTuple):
    """What the periphery holds of the reads of one array, per tile row (forward:
    ``(n_row_blocks, B, n_{k+1})``) or tile column (backward: ``(n_col_blocks, B, n_k)``; array 0,
    which nothing reads backward: ``(n_col_blocks, 0, n_0)``).

    Attributes
    ----------
    out_fwd, out_bwd : the held ADC outputs, drive units.
    sum_fwd, sum_bwd : the noiseless sums of the sensed lines.
    var_fwd, var_bwd : the read-noise variances of the sensed lines.
    """

    out_fwd: np.ndarray
    out_bwd: np.ndarray
    sum_fwd: np.ndarray
    sum_bwd: np.ndarray
    var_fwd: np.ndarray
    var_bwd: np.ndarray


class Phase(NamedTuple):
    """One relaxation phase of ``B`` samples.

    Attributes
    ----------
    x : (B, n_0) float64 clamped inputs.
    target : (B, n_L) float64 nudging targets, or (0, 0): a free phase.
    beta : float nudging strength.
    fresh : bool, True unless the phase continues a previous relaxation of the same ``x``.
    max_steps : int step limit.
    """

    x: np.ndarray
    target: np.ndarray
    beta: float
    fresh: bool
    max_steps: int


class Noise(NamedTuple):
    """Where reads take their noise: read ``r`` of ``n`` lines takes ``pool[starts[r]:starts[r] + n]``.

    Attributes
    ----------
    noisy : bool, False: noiseless reads (``pool`` and ``starts`` unused).
    pool : (N,) float64 standard normals.
    starts : (R,) int64 window starts, from the kernel's cursor on.
    per_sample : int, window starts one sample can take at most.
    """

    noisy: bool
    pool: np.ndarray
    starts: np.ndarray
    per_sample: int


class Record(NamedTuple):
    """What the kernel records, for every sample.

    Attributes
    ----------
    steps : (B,) int64 steps run.
    quiescent : (B,) bool, settled before the step limit.
    trace : (max_steps,) int64 DACs re-driven at each step, summed over samples.
    counts : (4,) int64 event counts in the order of :data:`COUNTS`.
    """

    steps: np.ndarray
    quiescent: np.ndarray
    trace: np.ndarray
    counts: np.ndarray


class Scratch(NamedTuple):
    """Per-sample working arrays of :func:`_relax`, overwritten: tuples over layers ``k = 0..L`` of
    ``(n_k,)`` arrays, and ``(L + 1,)`` arrays.

    Attributes
    ----------
    moving : tuple of bool arrays, units that moved more than theta since their DAC converted.
    moved : tuple of int64 arrays, the indices of the units re-driven, ascending.
    delta, square_delta : tuples of float arrays, the changes of their driven values and squares.
    prefix : tuple of float arrays, bias plus held forward partial sums of each unit.
    settle : tuple of float arrays, where each unit settles.
    n_moved : (L + 1,) int64, how many units of each layer were re-driven.
    read_fwd, read_bwd : (L + 1,) bool, layer k sensed by a forward read of array k - 1 (a backward
        read of array k).
    """

    moving: tuple
    moved: tuple
    delta: tuple
    square_delta: tuple
    prefix: tuple
    settle: tuple
    n_moved: np.ndarray
    read_fwd: np.ndarray
    read_bwd: np.ndarray

    @classmethod
    def for_sizes(cls, sizes) -> "Scratch":
        """Scratch for layers of these sizes ``(n_0, ..., n_L)``."""
        def each(dtype):
            return tuple(np.zeros(n, dtype) for n in sizes)
        depth = len(sizes) - 1
        return cls(each(np.bool_), each(np.int64), each(np.float64), each(np.float64), each(np.float64),
                   each(np.float64), np.zeros(depth + 1, np.int64), np.zeros(depth + 1, np.bool_),
                   np.zeros(depth + 1, np.bool_))


class TiledState(NamedTuple):
    """Outcome of :func:`relax_tiled`.

    Attributes
    ----------
    units : :class:`Units`, after the relaxation.
    partials : list of :class:`Partials`, one per array.
    steps : (B,) int64; quiescent : (B,) bool; trace : (max_steps,) int64 (DACs re-driven per step).
    counts : dict of :data:`COUNTS`.
    """

    units: Units
    partials: list
    steps: np.ndarray
    quiescent: np.ndarray
    trace: np.ndarray
    counts: dict


@nb.njit(cache=True)
def _quantise(v, lo, hi, steps):
    """A converter: ``v`` clipped to ``[lo, hi]`` and rounded to a multiple of ``1 / steps``
    (``steps`` per unit; 0: exact, neither clipped nor rounded)."""
    if steps == 0.0:
        return v
    return np.rint(min(max(v, lo), hi) * steps) / steps


def converter_steps(bits: int | None, full_scale: float, signed: bool) -> float:
    """Steps per unit of a DAC (unsigned: ``[0, full_scale]`` on ``2**bits - 1`` steps) or an ADC
    (signed: ``+-full_scale`` on ``2**bits - 1`` levels symmetric about 0); None bits: 0, exact."""
    if bits is None:
        return 0.0
    return ((2 ** (bits - 1) - 1 if bits > 1 else 1) if signed else 2 ** bits - 1) / full_scale


@nb.njit(cache=True, _nrt=False)
def _accumulate(line_sum, line_var, w, var, lines, delta, square_delta, noisy):
    """Add what the driven lines ``lines`` changed to the sums (and read-noise variances) of the
    lines a tile senses: ``line_sum += delta[i] * w[i]`` (``line_var += square_delta[i] * var[i]``),
    line by line in the order of ``lines``."""
    add_rows(line_sum, w, lines, delta)
    if noisy:
        add_rows(line_var, var, lines, square_delta)


@nb.njit(cache=True, _nrt=False)
def _convert(sensed, line_sum, line_var, noise, start, adc_range, adc_steps):
    """What the ADCs of one tile read hold: each sensed line's sum plus Gaussian read noise of its
    variance (the standard normals ``noise.pool[start:start + n]``), through the converter."""
    n = np.uint64(sensed.shape[0])  # unsigned indices: no wrap-around of negative ones, so the loops vectorise
    if noise.noisy:
        window = noise.pool[start:start + sensed.shape[0]]  # read in order, not gathered
        for j in range(n):
            sensed[j] = line_sum[j] + np.sqrt(max(line_var[j], 0.0)) * window[j]
    else:
        for j in range(n):
            sensed[j] = line_sum[j]
    if adc_steps != 0.0:
        for j in range(n):
            sensed[j] = _quantise(sensed[j], -adc_range, adc_range, adc_steps)


@nb.njit(cache=True, _nrt=False)
def _read(w, var, edges_in, held_in, moved_in, delta_in, square_delta_in, accumulate, out, line_sum, line_var, b,
          adc_range, adc_steps, noise, cursor, counts):
    """Read, for sample ``b``, every tile of one array direction whose driven lines moved.

    A tile read senses ``sum_i v_i w_ij`` over all its driven lines ``i``, plus Gaussian noise of
    variance ``sum_i v_i^2 var_ij`` (the standard normals of a read are the window of
    ``noise.pool`` that starts at ``noise.starts[cursor]``), and holds its ADC outputs in ``out``
    (n_in_blocks, B, n_out). The host keeps both sums per tile and line (``line_sum``,
    ``line_var``, same shape) and adds only what the moved lines changed (``moved_in``: their
    indices in increasing order; ``delta_in`` = new minus old driven value, ``square_delta_in``
    the same for its square): the same sums as a full re-read, at a cost that follows the
    activity (``accumulate`` False: the sums are already there). Returns the new cursor and
    whether a tile was read (which refreshes every unit of the layer the read senses).
    """
    n_out = out.shape[2]
    read, e = False, 0
    for ib in range(len(edges_in) - 1):
        lo, hi = edges_in[ib], edges_in[ib + 1]
        first = e
        while e < len(moved_in) and moved_in[e] < hi:
            e += 1
        if e == first:
            continue
        if accumulate:
            _accumulate(line_sum[ib, b], line_var[ib, b], w, var, moved_in[first:e], delta_in, square_delta_in,
                        noise.noisy)
        start = 0
        if noise.noisy:
            start = noise.starts[cursor]
            cursor += 1
        _convert(out[ib, b], line_sum[ib, b], line_var[ib, b], noise, start, adc_range, adc_steps)
        driven = 0
        for i in range(lo, hi):
            driven += held_in[i] != 0.0
        counts[1] += driven * n_out
        counts[2] += n_out
        read = True
    return cursor, read


@nb.njit(cache=True, _nrt=False)
def _integrate(s, goal, sent, rate, theta, tolerance, moving):
    """One Euler step of a layer's units towards ``goal``; ``moving`` marks the units that moved more
    than ``theta`` since their DAC last converted. Returns whether a unit was ``tolerance`` or more
    from its goal."""
    unsettled = False
    for j in range(s.shape[0]):
        ds = goal[j] - s[j]
        unsettled |= abs(ds) >= tolerance
        v = s[j] + rate * ds
        s[j] = v
        moving[j] = abs(v - sent[j]) > theta
    return unsettled


@nb.njit(cache=True, _nrt=False)
def _redrive(s, sent, held, moving, moved, delta, square_delta, dac_range, dac_steps, tolerance):
    """Re-drive the DACs of the ``moving`` units: ``moved`` gets their indices, ``delta`` and
    ``square_delta`` the changes of their driven values and squares. Returns how many moved and
    whether one moved by ``tolerance`` or more."""
    n, large = 0, False
    for j in range(np.uint64(s.shape[0])):  # the moving units, in order, listed without a branch (vectorised)
        moved[n] = j
        n += moving[j]
    for m in range(n):
        j = moved[m]
        large |= abs(s[j] - sent[j]) >= tolerance
        sent[j] = s[j]
        driven = _quantise(s[j], 0.0, dac_range, dac_steps)
        delta[j] = driven - held[j]
        square_delta[j] = driven * driven - held[j] * held[j]
        held[j] = driven
    return n, large


@nb.njit(cache=True, _nrt=False)
def _prefix(out, b, k, bias, partials):
    """``out`` (n_k,): the bias of the units of layer ``k`` plus the held forward partial sums feeding
    them, sample ``b`` (the first terms of their drive, in the order :func:`_settle_to` adds them)."""
    pf, bias_k = partials[k - 1].out_fwd, bias[k - 1]
    for j in range(out.shape[0]):
        out[j] = bias_k[j]
    for blk in range(pf.shape[0]):
        for j in range(out.shape[0]):
            out[j] += pf[blk, b, j]


@nb.njit(cache=True, _nrt=False)
def _settle_to(out, prefix, b, k, depth, partials, nudged, target, beta):
    """``out`` (n_k,): where the units of layer ``k`` of sample ``b`` settle, ``rho(h)``, ``h`` their
    ``prefix`` (:func:`_prefix`) plus the held backward partial sums (for a nudged output layer:
    ``rho((h + beta y) / (1 + beta))``)."""
    for j in range(out.shape[0]):
        out[j] = prefix[j]
    if k < depth:
        pb = partials[k].out_bwd
        for blk in range(pb.shape[0]):
            for j in range(out.shape[0]):
                out[j] += pb[blk, b, j]
    if nudged and k == depth:
        for j in range(out.shape[0]):
            out[j] = (out[j] + beta * target[b, j]) / (1.0 + beta)
    for j in range(out.shape[0]):
        out[j] = min(max(out[j], 0.0), 1.0)


@nb.njit(cache=True, _nrt=False)
def _relax(phase, arrays, periphery, units, partials, noise, cursor, first, record, scratch):
    """All steps of the samples from ``first`` on, while ``noise.starts`` (from ``cursor``) holds
    the ``noise.per_sample`` noise windows a sample's reads can take; see :func:`relax_tiled`.
    Updates ``units``, ``partials``, ``record`` and ``scratch`` (a :class:`Scratch`) in place.
    Returns the next sample to relax and the cursor.

    It and the kernels it calls allocate nothing and are compiled without numba's reference
    counting (``_nrt=False``), whose atomic updates of the counts of the arrays passed and
    sliced at every step cost more than the arithmetic of a sparse step.
    """
    x, target, beta = phase.x, phase.target, phase.beta
    state, sent, held = units.state, units.sent, units.held
    fwd, bwd, var_fwd, var_bwd = arrays.fwd, arrays.bwd, arrays.var_fwd, arrays.var_bwd
    fed, n_partials, bias = arrays.fed, arrays.n_partials, arrays.bias
    rate, theta, tolerance = periphery.rate, periphery.theta, periphery.tolerance
    dac_range, dac_steps, adc_range, adc_steps = (periphery.dac_range, periphery.dac_steps, periphery.adc_range,
                                                  periphery.adc_steps)
    steps, quiescent, trace, counts = record.steps, record.quiescent, record.trace, record.counts
    depth = len(fwd)
    moving, moved, n_moved = scratch.moving, scratch.moved, scratch.n_moved
    delta, square_delta, prefix, settle = scratch.delta, scratch.square_delta, scratch.prefix, scratch.settle
    read_fwd, read_bwd = scratch.read_fwd, scratch.read_bwd
    nudged = target.shape[0] > 0
    for b in range(first, x.shape[0]):
        if noise.noisy and len(noise.starts) - cursor < noise.per_sample:
            return b, cursor
        if phase.fresh:  # the input's DACs convert and array 0 is read forward once (the input layer's
            n = 0        # values and array 0's sums set by the caller)
            for i in range(x.shape[1]):
                if x[b, i] != 0.0:
                    moved[0][n] = i
                    n += 1
            counts[0] += n * fed[0]
            p = partials[0]
            cursor, read = _read(fwd[0], var_fwd[0], arrays.row_edges[0], held[0][b], moved[0][:n], delta[0],
                                 square_delta[0], False, p.out_fwd, p.sum_fwd, p.var_fwd, b, adc_range[0, 0],
                                 adc_steps[0, 0], noise, cursor, counts)
            counts[3] += read * state[1].shape[1] * n_partials[1]
        for k in range(1, depth + 1):
            _prefix(prefix[k], b, k, bias, partials)
            _settle_to(settle[k], prefix[k], b, k, depth, partials, nudged, target, beta)
        for t in range(phase.max_steps):
            unsettled, large = False, False
            for k in range(1, depth + 1):  # integrate, then re-drive the DACs of units that moved
                unsettled |= _integrate(state[k][b], settle[k], sent[k][b], rate, theta, tolerance, moving[k])
                n_moved[k], moved_far = _redrive(state[k][b], sent[k][b], held[k][b], moving[k], moved[k], delta[k],
                                                 square_delta[k], dac_range, dac_steps, tolerance)
                large |= moved_far
                counts[0] += n_moved[k] * fed[k]
            trace[t] += n_moved[1:].sum()
            steps[b] += 1
            for k in range(depth + 1):
                read_fwd[k], read_bwd[k] = False, False
            for k in range(1, depth):  # nothing drives array 0 but the clamped input, read once above
                p = partials[k]
                cursor, read_fwd[k + 1] = _read(
                    fwd[k], var_fwd[k], arrays.row_edges[k], held[k][b], moved[k][:n_moved[k]], delta[k],
                    square_delta[k], True, p.out_fwd, p.sum_fwd, p.var_fwd, b, adc_range[k, 0], adc_steps[k, 0],
                    noise, cursor, counts)
                cursor, read_bwd[k] = _read(
                    bwd[k], var_bwd[k], arrays.col_edges[k], held[k + 1][b], moved[k + 1][:n_moved[k + 1]],
                    delta[k + 1], square_delta[k + 1], True, p.out_bwd, p.sum_bwd, p.var_bwd, b, adc_range[k, 1],
                    adc_steps[k, 1], noise, cursor, counts)
            for k in range(1, depth + 1):
                if read_fwd[k]:
                    _prefix(prefix[k], b, k, bias, partials)
                if read_fwd[k] or read_bwd[k]:
                    counts[3] += state[k].shape[1] * n_partials[k]
                    _settle_to(settle[k], prefix[k], b, k, depth, partials, nudged, target, beta)
            if not unsettled and not large:
                quiescent[b] = True
                break
    return x.shape[0], cursor


@nb.njit(cache=True, _nrt=False)
def _drives(partials, bias, out):
    """``out[k - 1]`` (B, n_k), the drive of layer ``k`` = 1..L: the held forward partial sums of array
    ``k - 1``, plus the bias, plus the held backward partial sums of array ``k`` (none for the output
    layer), each sum over tiles added in tile order (numpy's ``out_fwd.sum(axis=0) + bias +
    out_bwd.sum(axis=0)``, bit for bit). Returns whether every drive is finite."""
    depth = len(partials)
    finite = True
    for k in range(1, depth + 1):
        pf, h, b_k = partials[k - 1].out_fwd, out[k - 1], bias[k - 1]
        n = np.uint64(h.shape[1])  # row by row, so that each loop runs along contiguous memory and vectorises
        for b in range(h.shape[0]):
            row = h[b]
            for j in range(n):
                row[j] = pf[0, b, j]
            for blk in range(1, pf.shape[0]):
                for j in range(n):
                    row[j] += pf[blk, b, j]
            for j in range(n):
                row[j] += b_k[j]
            if k < depth:  # the backward partials' own sum first, then added
                pb = partials[k].out_bwd
                for j in range(n):
                    below = pb[0, b, j]
                    for blk in range(1, pb.shape[0]):
                        below += pb[blk, b, j]
                    row[j] += below
            for j in range(n):
                finite &= row[j] - row[j] == 0.0  # False for inf and NaN
    return finite


def drives(partials, bias) -> tuple[list, bool]:
    """Drive of layers 1..L, (B, n_k) each: the digital sum of the held partial sums feeding each unit,
    plus its bias (see :func:`_drives`); and whether all are finite.

    Parameters
    ----------
    partials : sequence of L :class:`Partials`
    bias : sequence of L (n_{k+1},) float64, drive units.
    """
    out = [np.empty(p.out_fwd.shape[1:]) for p in partials]
    finite = _drives(tuple(partials), tuple(_c(b) for b in bias), tuple(out))
    return out, bool(finite)


def _c(a, dtype=np.float64) -> np.ndarray:
    """``a`` as a C-contiguous array of ``dtype``, copied only if it is not one (numba needs tuples
    of identically laid-out arrays)."""
    return np.ascontiguousarray(a, dtype)


@nb.njit(cache=True)
def _convert_all(v, out, full_scale, steps):
    """``out = v`` through a DAC of ``steps`` per unit on ``[0, full_scale]`` (:func:`_quantise`), element by
    element; both (B, n)."""
    for b in range(v.shape[0]):
        for i in range(v.shape[1]):
            out[b, i] = _quantise(v[b, i], 0.0, full_scale, steps)


def _input_read(arrays: Arrays, driven, noisy: bool) -> Partials:
    """Array 0 read forward once for the whole batch, its rows driven by the input's DACs (``driven``, (B, n_0)):
    per tile row, the noiseless sums (one matrix product) and, with read noise, their variances (another), in the
    partials' arrays; the held outputs start at 0 (the kernel converts them). Nothing reads array 0 backward,
    so its backward partials hold no sample: (n_col_blocks, 0, n_0)."""
    edges, batch, n_out = arrays.row_edges[0], driven.shape[0], arrays.fwd[0].shape[1]
    n_blocks, unread = len(edges) - 1, (len(arrays.col_edges[0]) - 1, 0, driven.shape[1])
    sums, variances = np.empty((n_blocks, batch, n_out)), (np.empty if noisy else np.zeros)((n_blocks, batch, n_out))
    squares = driven ** 2 if noisy else None
    for ib, (lo, hi) in enumerate(zip(edges[:-1], edges[1:])):
        np.matmul(driven[:, lo:hi], arrays.fwd[0][lo:hi], out=sums[ib])
        if noisy:
            np.matmul(squares[:, lo:hi], arrays.var_fwd[0][lo:hi], out=variances[ib])
    return Partials(np.zeros((n_blocks, batch, n_out)), np.zeros(unread), sums, np.zeros(unread), variances,
                    np.zeros(unread))


def relax_tiled(arrays: Arrays, x, periphery: Periphery, *, max_steps, rng, noise_pool=None, nudge=None,
                init=None) -> TiledState:
    """Relax ``B`` samples on tiled arrays.

    Parameters
    ----------
    arrays : Arrays
        The programmed arrays and biases (:meth:`Arrays.of`).
    x : (B, n_0) clamped input states.
    periphery : Periphery
        Integration rate, lazy threshold, settling tolerance and converters.
    max_steps : int
        Step limit.
    rng : numpy Generator
        Draws the start of each read's noise window in ``noise_pool``.
    noise_pool : (N,) standard normals, N much larger than the widest layer; with read noise (None:
        noiseless reads). A read of ``n`` lines takes ``n`` consecutive normals from a random start:
        the windows of two reads overlap with probability about ``2 n / N``, so reads are independent
        but for that (a pool of 2**22 and 500 lines: 0.02 %), at the cost of one random integer per read.
    nudge : object with ``beta`` and ``target`` (B, n_L), optional
    init : (Units, sequence of Partials) of a previous relaxation of the same ``x``, optional. Its input
        layer and array 0's reads, which a continued phase does not write, are shared (not copied);
        the rest is copied.
    """
    x = _c(x)
    batch, sizes = x.shape[0], arrays.sizes
    noisy = noise_pool is not None
    if noisy == (arrays.var_fwd is arrays.fwd):
        raise ValueError("reads with noise need the arrays' read-noise variances and a noise pool; noiseless reads "
                         "neither (see Arrays.of)")
    if init is None:
        driven = np.empty_like(x)
        _convert_all(x, driven, periphery.dac_range, periphery.dac_steps)
        units = Units(*([first] + [np.zeros((batch, n)) for n in sizes[1:]] for first in (x.copy(), x.copy(), driven)))
        partials = [_input_read(arrays, driven, noisy)] + [
            Partials(*(np.zeros(shape) for shape in [(len(rows) - 1, batch, n_out), (len(cols) - 1, batch, n_in)] * 3))
            for rows, cols, n_in, n_out in zip(arrays.row_edges[1:], arrays.col_edges[1:], sizes[1:], sizes[2:])]
    else:  # a continued phase writes neither the input layer nor array 0's reads: those are shared with init
        units, partials = init
        units = Units(*([_c(group[0])] + [np.array(s, np.float64) for s in group[1:]] for group in units))
        partials = [Partials(*(_c(p) for p in partials[0]))] + [
            Partials(*(np.array(p, np.float64) for p in array)) for array in partials[1:]]
    record = Record(np.zeros(batch, np.int64), np.zeros(batch, np.bool_), np.zeros(max_steps, np.int64),
                    np.zeros(len(COUNTS), np.int64))
    per_sample = arrays.reads_per_sample(max_steps, init is None)
    phase = Phase(x, np.zeros((0, 0)) if nudge is None else _c(nudge.target),
                  0.0 if nudge is None else float(nudge.beta), init is None, int(max_steps))
    kernel_units = Units(*(tuple(group) for group in units))
    first, starts, cursor = 0, np.zeros(0, np.int64), 0
    scratch = Scratch.for_sizes(sizes)
    pool = np.zeros(0) if noise_pool is None else _c(noise_pool)
    while first < batch:
        if noisy:  # keep what is left, and draw at least one sample's worth more
            fresh = rng.integers(0, len(pool) - max(sizes) + 1, max(STARTS_PER_DRAW, per_sample))
            starts, cursor = np.concatenate([starts[cursor:], fresh]), 0
        first, cursor = _relax(phase, arrays, periphery, kernel_units, tuple(partials),
                               Noise(noisy, pool, starts, per_sample), cursor, first, record, scratch)
    return TiledState(units, partials, record.steps, record.quiescent, record.trace,
                      dict(zip(COUNTS, record.counts.tolist())))
