"""What a programmed crossbar reports of itself: the :class:`~emulator.backends.base.Calibration` a
differentiable proxy of the chip is built from (physics-aware training).

After programming, the chip measures each cell it wrote (one read of the cell: its row driven
alone, its column sensed): the conductances the reads see, programming noise, drift and
fabrication gain included. From them it reports, per weight, the weight a forward and a backward
read sense, and the **gain** of the device in use (the one of the pair whose target is not 0),
how much a change of the host's weight moves the read weight: its fabrication gain (measured
once, when the chip is made) times the array's drift, the measured conductances of the devices
in use over their targets times fabrication gains, summed over the array (the toolkit's global
drift compensation, Rasch et al. 2023); 0 where the target is at full scale (a larger weight
clips). Programming noise is an offset, not a gain: it is in the weights read, not in the
gains. The chip also states its converters and the variance of its read noise, from its device model.
"""
from __future__ import annotations

import numpy as np

from emulator.backends.base import ArrayModel, Calibration, Converter
from emulator.backends.crossbar.tiled import converter_steps
from emulator.counters import Counters


def calibrate(program) -> tuple[Calibration, Counters]:
    """The :class:`Calibration` of a :class:`~emulator.backends.crossbar.backend.CrossbarProgram`, and the
    counters of measuring the cells its programming wrote (one DAC conversion, one array MAC and one
    ADC conversion each)."""
    p = program.params
    arrays = tuple(_array_model(a, p) for a in program.arrays)
    dac = Converter(converter_steps(p.forward.dac_bits, p.forward.dac_range, False), 0.0, p.forward.dac_range)
    written = int(program.programming.get("cell_writes", 0))
    counters = Counters(dac_conversions=written, array_macs=written, adc_conversions=written)
    return Calibration(arrays=arrays, bias=program.bias, dac=dac), counters


def _array_model(array, p) -> ArrayModel:
    """One array in the host's orientation, (n_{k+1}, n_k)."""
    g_range = p.g_max_us - p.g_min_us
    (t_plus, t_minus), (g_plus, g_minus) = array.target, array.conductance
    positive = t_plus >= t_minus
    target = np.where(positive, t_plus, t_minus) - p.g_min_us
    measured = np.where(positive, g_plus, g_minus) - p.g_min_us
    fabricated = [np.ones(target.shape) if g is None else g for g in array.gain]
    gain = np.where(positive, *fabricated)
    used = target > 0
    expected = (target * gain)[used].sum()
    gain = gain * (measured[used].sum() / expected if expected > 0 else 1.0)
    gain[target >= g_range] = 0.0  # at full scale: a larger weight clips
    scale = array.w_scale
    adc = [Converter(converter_steps(r.adc_bits, r.adc_range * scale, True), -r.adc_range * scale,
                     r.adc_range * scale) for r in (p.forward, p.backward)]
    return ArrayModel(forward=array.fwd.T, backward=array.bwd, gain=gain.T, full_scale=scale,
                      read_variance=None if array.var_fwd is None else array.var_fwd.T,
                      row_edges=array.row_edges, col_edges=array.col_edges, adc_forward=adc[0], adc_backward=adc[1])
