"""Event-driven relaxation of layered EqProp networks (sigma-delta coded, lazily thresholded).

:func:`relax` is the engine the digital back-end runs; :func:`relax_dense` is the plain dense
fixed-point iteration it must equal when ``theta = 0``.
"""
from emulator.engine.relax import Equilibrium, LayeredNet, Nudge, relax
from emulator.engine.dense import relax_dense

__all__ = ["Equilibrium", "LayeredNet", "Nudge", "relax", "relax_dense"]
