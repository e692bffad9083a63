"""The generic spiking chip: IF and LIF neurons with binary spikes, in host floats.

``backend`` (the :class:`SnnBackend`, its parameters and program), ``neurons`` (the numba kernel of
the spiking relaxation, and its counts), ``brian`` (the same network built in Brian2, the
independent reference) and ``nir`` (the trained network written as a NIR graph and checked against
the chip: the ``deploy --to nir`` target).
"""
from emulator.backends.snn.backend import SnnBackend

__all__ = ["SnnBackend"]
