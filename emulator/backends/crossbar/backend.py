"""Analog resistive crossbars (PCM, RRAM): in-memory, continuous-time relaxation.

``compile`` stores each weight matrix ``W_k`` (n_{k+1}, n_k) as differential conductance pairs
``(G+, G-)`` in one physical array of ``n_k`` rows (driven by layer ``k``) and ``n_{k+1}``
columns, split over tiles of ``tile_rows x tile_cols``. The array is read in both directions:
forward (rows driven, columns sensed: ``W_k s_k``) and backward (columns driven, rows sensed:
``W_k^T s_{k+1}``), so the feedback uses the very devices of the forward pass. Every write
adds programming noise and every read read noise, and drift is evaluated ``read_time_s`` after
programming, each as the chip's model of it (:mod:`emulator.backends.crossbar.noise`);
device-to-device variation is a gain per cell fixed at fabrication (the chip's ``seed``); IR
drop is a first-order attenuation along the sensed lines.

``relax`` integrates ``tau ds/dt = -s + rho(W s + b + x)`` with forward-Euler steps ``dt``
(``rho`` the hard sigmoid) in a digital periphery after the ADCs, with a lazy periphery (DACs
re-driven past ``theta``, tiles read when a driven line changed, held ADC outputs summed
digitally); :mod:`emulator.backends.crossbar.tiled` runs it and documents it. EqProp's nudge is applied in
the digital periphery as on the digital reference: the output settles to
``clip((h + beta y) / (1 + beta))``.

Training re-programs a cell once its target moved ``write_threshold`` of the conductance range
since its last write (mixed-precision training); reads take their noise from a pool of normals
drawn once per chip (see :func:`emulator.backends.crossbar.tiled.relax_tiled`).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np

from emulator.backends.base import Backend, Equilibrium, Program, patched
from emulator.backends.crossbar import programming, tiled
from emulator.backends.crossbar.calibration import calibrate
from emulator.backends.crossbar.noise import Pcm1fReadNoise, PowerLawDrift
from emulator.backends.crossbar.parameters import CrossbarParameters, upgrade_flat, with_backward_defaults
from emulator.backends.crossbar.programming import Array, Cells, Tiling, program_array, reprogram_array
from emulator.counters import Counters
from emulator.errors import CapacityError, ConfigError, DivergenceError


@dataclass(frozen=True, kw_only=True)
class CrossbarProgram(Program):
    """A network as programmed onto the arrays.

    Attributes
    ----------
    arrays : tuple of L :class:`Array`
        Weight matrix ``k`` as programmed cells, and what its reads sense.
    bias : tuple of L (n_{k+1},) float64
        Biases of layers 1..L, added in the digital periphery, drive units.
    theta : float
        Lazy threshold of the DACs, state units.
    params : CrossbarParameters
        The chip's parameters.
    generation : int
        Programmings of the chip so far (0: the first); seeds the draws of this one.
    cells : Cells
        The chip's cells, which later programs of the chip re-program in place: once ``cells.generation``
        has passed ``generation``, this program no longer describes the chip.
    rng : numpy Generator
        Draws the read-noise windows of the relaxations on this program.
    noise_pool : (N,) float64 or None
        The chip's standard normals that reads take their noise from; None without read noise.
    """

    arrays: tuple[Array, ...]
    bias: tuple[np.ndarray, ...]
    theta: float
    params: CrossbarParameters
    generation: int
    cells: Cells = field(compare=False, repr=False)
    rng: np.random.Generator = field(compare=False)
    noise_pool: np.ndarray | None = field(compare=False, repr=False)

    @property
    def layers(self) -> tuple[int, ...]:
        return (self.arrays[0].fwd.shape[0],) + tuple(a.fwd.shape[1] for a in self.arrays)

    @cached_property
    def kernel_arrays(self) -> tiled.Arrays:
        """The arrays and biases as the relaxation kernel reads them (made at the first relaxation)."""
        return tiled.Arrays.of(self.arrays, self.bias)

    @cached_property
    def periphery(self) -> tiled.Periphery:
        """The periphery's integration, lazy threshold and converters (ADC full scales in this program's weights)."""
        p = self.params
        forward, backward = p.forward, p.backward
        adc = [((forward.adc_bits, forward.adc_range * a.w_scale), (backward.adc_bits, backward.adc_range * a.w_scale))
               for a in self.arrays]
        return tiled.Periphery.of(rate=p.dt_s / p.tau_s, theta=self.theta, tolerance=p.tolerance,
                                  dac=(forward.dac_bits, forward.dac_range), adc=adc)

    def summary(self) -> dict:
        p = self.params
        arrays = [{"shape": f"{a.fwd.shape[0]} x {a.fwd.shape[1]}", "tiles": a.tiling.n_tiles,
                   "full_scale_weight": a.w_scale, "clipped_fraction": a.clipped,
                   "adc_full_scale": p.forward.adc_range * a.w_scale,
                   "backward_adc_full_scale": p.backward.adc_range * a.w_scale} for a in self.arrays]
        return {"tile": f"{p.tile_rows} x {p.tile_cols}", "tiles_used": sum(a["tiles"] for a in arrays),
                "n_tiles": p.n_tiles, "dt_over_tau": p.dt_s / p.tau_s,
                "programming_noise": p.programming_noise.model != "none", "read_noise": p.read_noise.label,
                "drift": p.drift.model != "none", "device_variation": p.device_variation, "ir_drop": p.ir_drop,
                "dac_bits": p.forward.dac_bits, "adc_bits": p.forward.adc_bits, "write_threshold": p.write_threshold,
                "arrays": arrays}


@dataclass(frozen=True, kw_only=True)
class CrossbarEquilibrium(Equilibrium):
    """An :class:`Equilibrium` with the periphery's held values (to continue a nudged phase).

    Attributes
    ----------
    sent : list of (B, n_k) arrays, layers 0..L
        The states each DAC last converted; ``heard`` holds what it drives (``sent`` through the DAC).
    partials : list of :class:`~emulator.backends.crossbar.tiled.Partials`, one per array
        The held ADC outputs of array ``k`` (``out_fwd`` (n_row_blocks, B, n_{k+1}), ``out_bwd``
        (n_col_blocks, B, n_k)), and the sums and read-noise variances behind them. Nothing reads array 0
        backward: its backward ones are (n_col_blocks, 0, n_0).
    """

    sent: list
    partials: list


#: standard normals in a chip's read-noise pool (32 MB); see :func:`emulator.backends.crossbar.tiled.relax_tiled`
NOISE_POOL = 1 << 22


def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, *key]))


class CrossbarBackend(Backend):
    family = "crossbar"
    ops = ("dac_conversions", "array_macs", "adc_conversions", "digital_adds", "cell_writes")
    measures = ("integration_time",)
    Parameters = CrossbarParameters
    capabilities = frozenset({"calibrate"})

    def host_variants(self) -> dict:
        """Re-program by recomputing whole arrays, or only the written cells."""
        module = programming
        return {"whole arrays": lambda: patched(module, REWRITE_ALL=-1.0),
                "written cells": lambda: patched(module, REWRITE_ALL=2.0)}

    def upgrade(self, parameters: dict) -> dict:
        """The flat layout of earlier versions (``read_q``, ``adc_bits``...) in today's sections."""
        return upgrade_flat(parameters)

    def build_parameters(self, chip) -> CrossbarParameters:
        p = super().build_parameters(replace(chip, parameters=with_backward_defaults(chip.parameters)))
        if not p.g_max_us > p.g_min_us:
            raise ConfigError(f"{chip.where('parameters', 'g_max_us')}: the conductance range g_max_us - g_min_us "
                              f"is {p.g_max_us - p.g_min_us:g} uS; it must be positive: raise g_max_us above "
                              "g_min_us")
        for key in ("nu_mean", "nu_std") if isinstance(p.drift, PowerLawDrift) else ():
            if len(getattr(p.drift, key)) != 4:
                raise ConfigError(f"{chip.where('parameters', 'drift', key)}: parameters.drift.{key} needs 4 numbers "
                                  f"[a, b, lo, hi], got {len(getattr(p.drift, key))}")
        if p.dt_s > p.tau_s:
            raise ConfigError(f"{chip.where('parameters', 'dt_s')}: parameters.dt_s ({p.dt_s:g} s) is longer than "
                              f"tau_s ({p.tau_s:g} s): dt/tau plays the role of 1 - damping, which must be at most 1, "
                              "or the units overshoot; lower dt_s")
        if isinstance(p.read_noise, Pcm1fReadNoise) and p.read_noise.t_read_s > p.read_time_s:
            raise ConfigError(f"{chip.where('parameters', 'read_noise', 't_read_s')}: parameters.read_noise.t_read_s "
                              f"({p.read_noise.t_read_s:g} s) is longer than read_time_s ({p.read_time_s:g} s): "
                              "the 1/f noise model reads after the read has ended; lower t_read_s or raise "
                              "read_time_s")
        return p

    # -- programming ----------------------------------------------------------------------------
    def check_fits(self, layers, chip) -> None:
        p = self.parameters_of(chip)
        needed = sum(-(-n_in // p.tile_rows) * -(-n_out // p.tile_cols) for n_in, n_out in zip(layers, layers[1:]))
        if needed > p.n_tiles:
            raise CapacityError(
                f"the network {list(layers)} needs {needed} tiles of {p.tile_rows} x {p.tile_cols} but chip "
                f"{chip.name!r} has {p.n_tiles} ({chip.where('parameters', 'n_tiles')}); use smaller "
                "network.layers or a chip with more parameters.n_tiles")

    def compile(self, network, chip, previous: CrossbarProgram | None = None) -> CrossbarProgram:
        """Program ``network`` onto the chip; with ``previous`` (of the same layers), re-program its arrays
        in place, writing the cells whose targets moved (``previous`` then no longer describes the chip)."""
        self.check_fits(network.layers, chip)
        p = self.parameters_of(chip)
        layers = network.layers
        tilings = [Tiling.of(n_in, n_out, p.tile_rows, p.tile_cols) for n_in, n_out in zip(layers, layers[1:])]
        generation = 0 if previous is None else previous.generation + 1
        prog_rng = _rng(p.seed, 1, generation)
        weights = [np.asarray(w, np.float64).T for w in network.weights]
        if previous is not None and previous.layers == layers:
            _check_current(previous)
            cells = previous.cells
            programmed = [reprogram_array(w_t, tiling, p, old, prog_rng)
                          for w_t, tiling, old in zip(weights, tilings, previous.arrays)]
        else:
            cells = Cells(generation)
            programmed = [program_array(w_t, tiling, p, prog_rng, _rng(p.seed, 0, k))
                          for k, (w_t, tiling) in enumerate(zip(weights, tilings))]
        cells.generation = generation
        return CrossbarProgram(programming=Counters(cell_writes=sum(n for _, n in programmed)),
                               arrays=tuple(array for array, _ in programmed),
                               bias=tuple(np.asarray(b, np.float64) for b in network.biases),
                               theta=float(network.theta), params=p, generation=generation, cells=cells,
                               rng=_rng(p.seed, 2, generation), noise_pool=_noise_pool(p, previous))

    # -- relaxation -----------------------------------------------------------------------------
    def relax(self, program: CrossbarProgram, x, *, max_steps, nudge=None, init=None):
        x = np.asarray(x, np.float64)
        if x.ndim != 2 or x.shape[1] != program.layers[0]:
            raise ValueError(f"x must have shape (batch, {program.layers[0]}), got {x.shape}")
        if init is not None and init.states[-1].shape[0] != x.shape[0]:
            raise ValueError(f"init holds {init.states[-1].shape[0]} samples but x has {x.shape[0]}")
        _check_current(program)
        with np.errstate(over="ignore", invalid="ignore"):
            eq, counters, finite = _relax(program, x, max_steps, nudge, init)
        if not finite:
            raise DivergenceError("the relaxation overflowed (a drive became NaN or infinite): "
                                  "lower training.learning_rates, or enable training.spectral_norm")
        return eq, counters

    def calibrate(self, program: CrossbarProgram):
        """The arrays as measured after programming (:mod:`emulator.backends.crossbar.calibration`)."""
        return calibrate(program)

    def emulated_seconds(self, counters, chip) -> float:
        """Integration time, plus the chip's time per op (e.g. cell writes) for what runs outside it."""
        return float(counters.get("integration_time", 0.0)) + super().emulated_seconds(counters, chip)


def _check_current(program: CrossbarProgram):
    """ValueError if a later program has re-programmed the chip's cells since ``program``."""
    if program.cells.generation != program.generation:
        raise ValueError(f"the chip's arrays were re-programmed since this program (programming {program.generation}; "
                         f"they hold programming {program.cells.generation}): use the program the last compile "
                         "returned")


def _noise_pool(p: CrossbarParameters, previous: CrossbarProgram | None) -> np.ndarray | None:
    """The chip's pool of standard normals that reads take their noise from (drawn once per chip)."""
    if p.read_noise.model == "none":
        return None
    if previous is not None and previous.noise_pool is not None:
        return previous.noise_pool
    return _rng(p.seed, 3).standard_normal(NOISE_POOL)


def _relax(program: CrossbarProgram, x, max_steps, nudge, init):
    relaxed = tiled.relax_tiled(
        program.kernel_arrays, x, program.periphery, max_steps=max_steps, rng=program.rng,
        noise_pool=program.noise_pool, nudge=nudge,
        init=None if init is None else (tiled.Units(init.states, init.sent, init.heard), init.partials))
    counters = Counters(relaxed.counts)
    counters["integration_time"] = float(relaxed.steps.sum()) * program.params.dt_s
    units = relaxed.units
    drive, finite = tiled.drives(relaxed.partials, program.kernel_arrays.bias)
    eq = CrossbarEquilibrium(units.state, units.held, drive, relaxed.steps, relaxed.quiescent, relaxed.trace,
                             sent=units.sent, partials=relaxed.partials)
    return eq, counters, finite
