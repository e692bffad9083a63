"""Programming weight matrices onto tiled arrays as conductance pairs, and re-programming them.

The first programming writes every cell. A re-programming writes a device once its target has
moved more than ``write_threshold`` of the conductance range from the target it was last
written to; the host's weights accumulate the smaller updates until they do (mixed-precision
training). Every write adds programming noise and a new drift exponent.

The arrays are the chip's: a re-programming writes the changed cells in place, as the chip
does, at a cost that follows the writes rather than the size of the arrays. The program it
replaces then no longer describes the chip; :class:`Cells` records which programming the
arrays hold, and the back-end refuses to relax an older one.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numba as nb
import numpy as np

from emulator.backends.crossbar import devices as analog

#: fraction of changed cells above which a re-programming recomputes whole arrays' weights and
#: read-noise variances rather than the changed cells'
REWRITE_ALL = 0.2


@dataclass(frozen=True)
class Tiling:
    """Row and column blocks of one array (n_rows x n_cols) over tiles."""

    rows: tuple[slice, ...]
    cols: tuple[slice, ...]

    @classmethod
    def of(cls, n_rows, n_cols, tile_rows, tile_cols) -> "Tiling":
        return cls(tuple(slice(a, min(a + tile_rows, n_rows)) for a in range(0, n_rows, tile_rows)),
                   tuple(slice(a, min(a + tile_cols, n_cols)) for a in range(0, n_cols, tile_cols)))

    @property
    def n_tiles(self) -> int:
        return len(self.rows) * len(self.cols)

    @cached_property
    def row_edges(self) -> np.ndarray:
        """Tile boundaries of the rows, ``[0, ..., n_rows]`` (read-only: made once, read at every relaxation)."""
        return _edges(self.rows)

    @cached_property
    def col_edges(self) -> np.ndarray:
        """Tile boundaries of the columns, ``[0, ..., n_cols]`` (read-only)."""
        return _edges(self.cols)


def _edges(blocks: tuple[slice, ...]) -> np.ndarray:
    """``[start of each block..., stop of the last]``, int64, read-only."""
    edges = np.array([b.start for b in blocks] + [blocks[-1].stop], np.int64)
    edges.flags.writeable = False
    return edges


@dataclass
class Cells:
    """The programmed cells of a chip's arrays, shared by the programs of one chip.

    Attributes
    ----------
    generation : int
        The programming the arrays hold now: that of the last program compiled onto them.
    """

    generation: int


@dataclass(frozen=True)
class Array:
    """One weight matrix on the chip: programmed cells and what the periphery reads.

    ``fwd`` (n_k, n_{k+1}) and ``bwd`` (n_{k+1}, n_k) are the effective weights (drive units per
    state unit) of a forward and a backward read, after drift, variation and IR drop;
    ``var_fwd``/``var_bwd`` are the read-noise variances of each cell pair, or None.
    """

    target: tuple[np.ndarray, np.ndarray]  # (G+, G-) targets of the last writes, (n_k, n_{k+1}), uS
    conductance: tuple[np.ndarray, np.ndarray]  # what the reads see: programmed, drifted, times the gain, uS
    gain: tuple[np.ndarray | None, np.ndarray | None]  # fabrication gain of each cell (None: no variation)
    w_scale: float
    tiling: Tiling
    fwd: np.ndarray
    bwd: np.ndarray
    var_fwd: np.ndarray | None
    var_bwd: np.ndarray | None
    clipped: float

    @property
    def row_edges(self) -> np.ndarray:
        return self.tiling.row_edges

    @property
    def col_edges(self) -> np.ndarray:
        return self.tiling.col_edges


def program_array(w_t, tiling, p, rng, fab_rng) -> tuple[Array, int]:
    """Program ``w_t`` (n_k, n_{k+1}) onto a fresh array: every device written, its fabrication gain
    drawn from ``fab_rng`` (with device variation). Returns the array and the number of devices written."""
    w_max = float(np.abs(w_t).max()) if w_t.size else 0.0
    w_scale = p.weight_headroom * (w_max if w_max > 0 else 1.0)
    gain = tuple(np.maximum(1.0 + p.device_variation * fab_rng.standard_normal(w_t.shape), 0.0)
                 if p.device_variation > 0 else None for _ in range(2))
    targets = analog.to_pairs(w_t, w_scale, p.g_min_us, p.g_max_us)
    conductances = tuple(_write(g, p, rng, g_gain) for g, g_gain in zip(targets, gain))
    to_w = w_scale / (p.g_max_us - p.g_min_us)
    fwd, bwd = effective_weights(conductances, tiling, p, to_w)
    var = read_variance(conductances, p, to_w, w_scale)
    clipped = float(np.mean(np.abs(w_t) > w_scale)) if w_t.size else 0.0
    array = Array(target=targets, conductance=conductances, gain=gain, w_scale=w_scale, tiling=tiling, fwd=fwd,
                  bwd=bwd, var_fwd=var, var_bwd=None if var is None else np.ascontiguousarray(var.T), clipped=clipped)
    return array, 2 * w_t.size


def reprogram_array(w_t, tiling, p, old: Array, rng) -> tuple[Array, int]:
    """Re-program ``old`` in place towards ``w_t`` (n_k, n_{k+1}) on ``tiling``, at its full-scale weight: only the
    devices whose target moved past the write threshold are written (see the module's docstring).
    Returns the array as programmed now (sharing ``old``'s cells) and the number of devices written."""
    threshold = p.write_threshold * (p.g_max_us - p.g_min_us)
    index = np.empty((2, w_t.size), np.int64)
    wanted = np.empty((2, w_t.size))
    written, n_clipped = _moved_targets(w_t, old.w_scale, p.g_min_us, p.g_max_us, old.target[0], old.target[1],
                                        threshold, index, wanted)
    for i, n in enumerate(written):
        if n == 0:
            continue
        order = np.argsort(index[i, :n])  # row-major, the order of the noise draws
        cells, g_want = np.divmod(index[i, :n][order], w_t.shape[1]), wanted[i, :n][order]
        old.target[i][cells] = g_want
        old.conductance[i][cells] = _write(g_want, p, rng, None if old.gain[i] is None else old.gain[i][cells])
    changed = np.union1d(index[0, :written[0]], index[1, :written[1]])
    to_w = old.w_scale / (p.g_max_us - p.g_min_us)
    fwd, bwd, var, var_bwd = old.fwd, old.bwd, old.var_fwd, old.var_bwd
    if p.ir_drop > 0 or changed.size > REWRITE_ALL * w_t.size:
        fwd, bwd = effective_weights(old.conductance, tiling, p, to_w)
        var = read_variance(old.conductance, p, to_w, old.w_scale)
        var_bwd = None if var is None else np.ascontiguousarray(var.T)
    elif changed.size:  # only the written cells' weights and read-noise variances change
        rows, cols = np.divmod(changed, w_t.shape[1])
        g = [c[rows, cols] for c in old.conductance]
        fwd[rows, cols] = bwd[cols, rows] = (g[0] - g[1]) * to_w
        if var is not None:
            var[rows, cols] = var_bwd[cols, rows] = read_variance(g, p, to_w, old.w_scale)
    clipped = n_clipped / w_t.size if w_t.size else 0.0
    array = Array(target=old.target, conductance=old.conductance, gain=old.gain, w_scale=old.w_scale,
                  tiling=tiling, fwd=fwd, bwd=bwd, var_fwd=var, var_bwd=var_bwd, clipped=clipped)
    return array, int(written.sum())


def _write(g_want, p, rng, gain):
    """Conductances (uS) that writes to targets ``g_want`` reach, as the reads see them: programming
    noise, then drift to the read time, times the cells' fabrication ``gain`` (None: none)."""
    g_new = p.programming_noise.program(g_want, g_max=p.g_max_us, rng=rng)
    g_new = p.drift.drifted(g_new, target=g_want, g_max=p.g_max_us, t=p.read_time_s, rng=rng)  # at the reads
    return g_new if gain is None else g_new * gain


@nb.njit(cache=True)
def _pair(w, w_scale, g_min, span):
    """Target conductances ``(G+, G-)`` (uS) of one weight, as :func:`~emulator.backends.crossbar.devices.to_pairs`
    gives them (``span = g_max - g_min``)."""
    g = abs(w) / w_scale
    g = (1.0 if g > 1.0 else g) * span  # np.clip(g, 0, 1), NaN kept
    return g_min + (g if w > 0 else 0.0), g_min + (0.0 if w > 0 else g)


@nb.njit(cache=True)
def _moved_targets(w_t, w_scale, g_min, g_max, old_plus, old_minus, threshold, index, wanted):
    """Find the devices whose target conductance moved more than ``threshold`` (uS; at 0: changed
    at all) from ``old_plus``/``old_minus``, the targets of ``w_t`` (n_k, n_{k+1}) at full scale
    ``w_scale`` being those of :func:`_pair`.

    Writes, for ``G+`` (row 0) and ``G-`` (row 1), the flat (row-major) indices of those devices
    into ``index`` (2, N) and their new targets into ``wanted`` (2, N), both in column-major order
    (the memory order of ``w_t``, a transposed weight matrix, and of its targets). Returns the
    number of each, (2,) int64, and the number of weights beyond ``w_scale`` (clipped).
    """
    n_rows, n_cols = w_t.shape
    span = g_max - g_min
    moved = np.empty((n_cols, n_rows), np.uint8)  # 1: G+ moved, 2: G- moved; a first pass without stores
    clipped = 0
    for c in range(n_cols):
        for r in range(n_rows):
            w = w_t[r, c]
            clipped += abs(w) > w_scale
            plus, minus = _pair(w, w_scale, g_min, span)
            if threshold > 0:
                moved[c, r] = (abs(plus - old_plus[r, c]) > threshold) + 2 * (abs(minus - old_minus[r, c]) > threshold)
            else:
                moved[c, r] = (plus != old_plus[r, c]) + 2 * (minus != old_minus[r, c])
    written = np.zeros(2, np.int64)
    for c in range(n_cols):
        for r in range(n_rows):
            if moved[c, r]:
                targets = _pair(w_t[r, c], w_scale, g_min, span)
                for i in range(2):
                    if moved[c, r] & (1 << i):
                        index[i, written[i]] = r * n_cols + c
                        wanted[i, written[i]] = targets[i]
                        written[i] += 1
    return written, clipped


def effective_weights(conductances, tiling, p, to_w) -> tuple[np.ndarray, np.ndarray]:
    """Weights a forward read (n_k, n_{k+1}) and a backward read (n_{k+1}, n_k) sense, IR drop included."""
    g_plus, g_minus = conductances
    fwd = np.empty_like(g_plus)
    bwd = np.empty_like(g_plus)
    for rows in tiling.rows:
        for cols in tiling.cols:
            gp, gm = g_plus[rows, cols], g_minus[rows, cols]
            if p.ir_drop > 0:  # forward: columns sensed (voltage lost along each row); backward: rows sensed
                f = [analog.ir_drop_factor(g, p.g_max_us, p.ir_drop, along=1) for g in (gp, gm)]
                b = [analog.ir_drop_factor(g, p.g_max_us, p.ir_drop, along=0) for g in (gp, gm)]
            else:
                f = b = [1.0, 1.0]
            fwd[rows, cols] = (gp * f[0] - gm * f[1]) * to_w
            bwd[rows, cols] = (gp * b[0] - gm * b[1]) * to_w
    return fwd, np.ascontiguousarray(bwd.T)


def read_variance(conductances, p, to_w, w_scale) -> np.ndarray | None:
    """Read-noise variance of each cell pair's weight (shaped like the conductances), or None without read noise."""
    return p.read_noise.variance(conductances, g_max=p.g_max_us, t=p.read_time_s, to_w=to_w, w_scale=w_scale)
