"""Back-ends: the only code that knows a chip's physics, one subpackage per family.

:mod:`emulator.backends.base` is the plug-in API every family implements (re-exported here);
``digital``, ``loihi``, ``crossbar`` and ``oim`` are the shipped families. Nothing outside a
family imports its modules: the trainer, the tasks and the reports see a family only through
:class:`Backend`, found by name with :func:`emulator.chip.get_backend`.
"""
from emulator.backends.base import Backend, Equilibrium, Nudge, Program

__all__ = ["Backend", "Equilibrium", "Nudge", "Program"]
