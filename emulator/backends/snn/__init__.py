"""The generic spiking chip: IF and LIF neurons with binary spikes, in host floats.

``backend`` (the :class:`SnnBackend`, its parameters, program and counts), ``neurons`` (the numba
kernel of the spiking relaxation) and ``brian`` (the same network built in Brian2, the independent
reference).
"""
from emulator.backends.snn.backend import SnnBackend

__all__ = ["SnnBackend"]
