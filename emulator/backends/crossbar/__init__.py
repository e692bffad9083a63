"""Analog resistive crossbars (PCM, RRAM): in-memory, continuous-time relaxation.

``backend`` (:class:`CrossbarBackend`: programming the arrays, the relaxation, its counts),
``parameters`` (the ``parameters`` section of a crossbar chip file), ``noise`` (the read-noise,
programming-noise and drift models a chip file names), ``tiled`` (the lazy periphery's
integrator over tiles) and ``devices`` (the device formulas: conductance pairs, programming and
read noise, drift, IR drop).
"""
from emulator.backends.crossbar.backend import CrossbarBackend

__all__ = ["CrossbarBackend"]
