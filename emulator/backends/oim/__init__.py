"""Oscillator Ising machines: clock-less relaxation of coupled phase oscillators.

``backend`` (:class:`OimBackend`: EqProp networks and Ising problems mapped onto oscillators),
``oscillators`` (the event-driven integrator), ``phase_kernels`` (its numba kernels) and
``oscillators_numpy`` (the same integrator in numpy on whole batches: the reference).
"""
from emulator.backends.oim.backend import OimBackend

__all__ = ["OimBackend"]
