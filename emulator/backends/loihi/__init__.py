"""Loihi-2-style digital neuro-cores, bit-exact with Lava 0.10's fixed-point models.

``backend`` (:class:`LoihiBackend`: compile, relax, count per core), ``sigma_delta`` (the integer
sigma-delta relaxation), ``quantise`` (floats to the chip's integers), ``mapping`` (layers onto
cores and chips), ``pilotnet`` (the counting model of a conv SNN, for the energy-proxy check),
``deploy`` (bundles for Lava) and ``lava/`` (the same networks built from Lava processes).
"""
from emulator.backends.loihi.backend import LoihiBackend

__all__ = ["LoihiBackend"]
