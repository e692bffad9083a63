"""The digital reference chip: the lazy relaxation in host floats on an event-driven accelerator.

``backend`` (the :class:`DigitalBackend` and its program), ``relax`` (the event-driven engine and
its counts) and ``kernels`` (its numba kernels).
"""
from emulator.backends.digital.backend import DigitalBackend

__all__ = ["DigitalBackend"]
