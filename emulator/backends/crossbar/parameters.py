"""The ``parameters`` section of a crossbar chip file: arrays, device models, converters, dynamics.

Device models are tagged sections (``read_noise: {model: pcm_1f, ...}``, see
:mod:`emulator.backends.crossbar.noise`); the converters of the two read directions are the
``forward`` and ``backward`` sections, as in the toolkit's ``IOParameters``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from emulator.backends.crossbar.noise import (MAX_CONDUCTANCE_US, MAX_TIME_S, Drift, NoDrift, NoProgrammingNoise,
                                              NoReadNoise, ProgrammingNoise, ReadNoise)
from emulator.schema import SEED_MAX, spec


@dataclass(frozen=True, kw_only=True)
class Readout:
    """The ADCs of one read direction: they convert the sensed lines' sums.

    Attributes
    ----------
    adc_bits : int or None
        Resolution; None: exact.
    adc_range : float
        Full scale +-, in full-scale weights (the drive of one line at 1 through one cell pair at
        the array's largest weight).
    """

    adc_bits: int | None = spec("ADC resolution in bits; null: exact", default=None, ge=1, le=16)
    adc_range: float = spec("ADC full scale +-, in full-scale weights (the drive of one line at 1 through one "
                            "cell pair at the array's largest weight); 4,096, every row of the largest tile at "
                            "full scale, is the most a line can sum", default=10.0, gt=0, le=4096)


@dataclass(frozen=True, kw_only=True)
class Forward(Readout):
    """The converters of a forward read (rows driven, columns sensed): its ADCs and the units' DACs.

    A unit's DAC converts its state once and drives both its rows (forward reads) and its columns
    (backward reads), so the DACs are set here only.

    Attributes
    ----------
    dac_bits : int or None
        Resolution; None: exact.
    dac_range : float
        Full scale, in state units (states are in [0, 1]).
    """

    dac_bits: int | None = spec("DAC resolution in bits; null: exact", default=None, ge=1, le=16)
    dac_range: float = spec("DAC full scale, in state units (states are in [0, 1], so at 10 they use a tenth "
                            "of the levels)", default=1.0, gt=0, le=10)


@dataclass(frozen=True, kw_only=True)
class CrossbarParameters:
    """A crossbar chip: its arrays, device models, converters and unit dynamics (units in the names)."""

    # -- arrays ---------------------------------------------------------------------------------
    tile_rows: int = spec("rows (driven lines) of one crossbar tile", ge=1, le=4096)
    tile_cols: int = spec("columns (sensed lines) of one crossbar tile", ge=1, le=4096)
    n_tiles: int = spec("tiles on the chip", ge=1, le=2**16)
    g_max_us: float = spec("largest programmable conductance, uS", gt=0, le=MAX_CONDUCTANCE_US)
    g_min_us: float = spec("smallest programmable conductance, uS", default=0.0, ge=0, le=MAX_CONDUCTANCE_US)
    weight_headroom: float = spec("weight scale of a layer (mapped to g_max) over its largest |w| at the "
                                  "first programming; larger weights clip; at 100 the initial weights use a "
                                  "hundredth of the range", default=1.5, gt=0, le=100)
    write_threshold: float = spec("a cell is re-programmed when its target moved more than this fraction of the "
                                  "conductance range since its last write (0: whenever it changed)",
                                  default=0.0, ge=0, lt=1)
    seed: int = spec("seed of this chip instance: fabrication variation and all noise draws", default=0, ge=0,
                     le=SEED_MAX)
    # -- devices --------------------------------------------------------------------------------
    programming_noise: ProgrammingNoise = spec("noise of every cell write", default=NoProgrammingNoise())
    read_noise: ReadNoise = spec("noise of every array read", default=NoReadNoise())
    drift: Drift = spec("conductance drift from a write to the reads", default=NoDrift())
    read_time_s: float = spec("time from programming to the reads (drift and 1/f noise), s", default=20.0, gt=0,
                              le=MAX_TIME_S)
    device_variation: float = spec("relative std of a per-cell conductance gain fixed at fabrication; at 1 a "
                                   "cell's gain is as likely 0 as 2", default=0.0, ge=0, le=1)
    ir_drop: float = spec("first-order IR drop: attenuation of the farthest cell of a fully loaded line",
                          default=0.0, ge=0, le=1)
    # -- periphery ------------------------------------------------------------------------------
    forward: Forward = spec("converters of the forward reads: their ADCs, and the units' DACs", default=Forward())
    backward: Readout = spec("ADCs of the backward reads (columns driven, rows sensed); in a chip file, a key "
                             "left out is forward's", default=Readout())
    # -- dynamics -------------------------------------------------------------------------------
    tau_s: float = spec("time constant of the units, s (a picosecond to a second)", ge=1e-12, le=1)
    dt_s: float = spec("integration step, s, at most tau_s (dt/tau plays the role of 1 - damping)", ge=1e-12,
                       le=1)
    tolerance: float = spec("a sample has settled when max |rho(h) - s| (= tau |ds/dt|) is below this (states "
                            "are in [0, 1])", default=1e-4, gt=0, le=1)

    #: keys of the flat layout before the device models and converters had sections, and their places now
    MOVED: ClassVar[dict[str, str]] = {
        "prog_coeffs_us": "programming_noise.coeffs_us", "prog_g_ref_us": "programming_noise.g_ref_us",
        "read_q": "read_noise.q", "read_q_exp": "read_noise.q_exp", "read_q_max": "read_noise.q_max",
        "t_read_s": "read_noise.t_read_s", "read_noise_constant": "read_noise.std",
        "drift_t0_s": "drift.t0_s", "drift_nu_mean": "drift.nu_mean", "drift_nu_std": "drift.nu_std",
        "dac_bits": "forward.dac_bits", "dac_range": "forward.dac_range", "adc_bits": "forward.adc_bits",
        "adc_range": "forward.adc_range", "adc_range_backward": "backward.adc_range"}


def with_backward_defaults(parameters: dict) -> dict:
    """A chip file's ``parameters`` with the keys ``backward`` leaves out taken from ``forward``."""
    forward, backward = parameters.get("forward", {}), parameters.get("backward", {})
    if not (isinstance(forward, dict) and isinstance(backward, dict)):
        return parameters  # the schema says what is wrong
    inherited = {key: forward[key] for key in ("adc_bits", "adc_range") if key in forward}
    return {**parameters, "backward": {**inherited, **backward}} if inherited else parameters


#: the flat layout's switches, their defaults there, and the model each of their values names now
FLAT_SWITCHES = {"programming_noise": (True, {True: "polynomial", False: "none"}),
                 "read_noise": ("none", {"1/f": "pcm_1f", "constant": "constant", "none": "none"}),
                 "drift": (False, {True: "power_law", False: "none"})}
#: the model a moved key belongs to (keys of the converters belong to every chip)
MOVED_MODEL = {"programming_noise": "polynomial", "drift": "power_law", "read_noise.std": "constant",
               "read_noise": "pcm_1f"}


def upgrade_flat(parameters: dict) -> dict:
    """``parameters`` as the flat layout wrote them (before the device models and converters had
    sections; e.g. in a checkpoint of an earlier version), in today's layout.

    A key of a model the flat file did not switch on (``read_q`` beside ``read_noise: constant``)
    had no effect there and is left out. Parameters already in today's layout come back as they are.
    """
    flat = any(key in parameters for key in CrossbarParameters.MOVED) or any(
        not isinstance(parameters.get(key, {}), dict) for key in FLAT_SWITCHES)
    if not flat:
        return parameters
    out = {key: value for key, value in parameters.items()
           if key not in CrossbarParameters.MOVED and key not in FLAT_SWITCHES}
    for key, (default, models) in FLAT_SWITCHES.items():
        out[key] = {"model": models[parameters.get(key, default)]}
    out["forward"], out["backward"] = {}, {}
    for old, new in CrossbarParameters.MOVED.items():
        if parameters.get(old) is None:
            continue
        section, name = new.split(".")
        wanted = MOVED_MODEL.get(new, MOVED_MODEL.get(section))
        if wanted is None or out[section].get("model") == wanted:
            out[section][name] = parameters[old]
    return {key: value for key, value in out.items() if value != {}}
