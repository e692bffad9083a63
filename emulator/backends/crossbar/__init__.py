"""Analog resistive crossbars (PCM, RRAM): in-memory, continuous-time relaxation.

``backend`` (:class:`CrossbarBackend`: programming the arrays, the relaxation, its counts),
``tiled`` (the lazy periphery's integrator over tiles) and ``devices`` (conductance pairs,
programming and read noise, drift, IR drop).
"""
from emulator.backends.crossbar.backend import CrossbarBackend

__all__ = ["CrossbarBackend"]
