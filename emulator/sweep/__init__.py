"""Sweeps: many (workload, chip, settings, seed) points run as Dask tasks, one run folder each.

- :mod:`~emulator.sweep.spec`: sweep files (and the command-line form), validated;
- :mod:`~emulator.sweep.points`: the points, each workload and chip loaded and checked before anything runs;
- :mod:`~emulator.sweep.task`: what a worker does with a point (a pure function of it);
- :mod:`~emulator.sweep.schedulers`: in this process, an embedded local cluster, or a running Dask cluster;
- :mod:`~emulator.sweep.folder`: ``sweep.json`` and the points' run folders, written as points finish;
- :mod:`~emulator.sweep.run`: the loop that ties them together;
- :mod:`~emulator.sweep.metrics`, :mod:`~emulator.sweep.summary`, :mod:`~emulator.sweep.figures`,
  :mod:`~emulator.sweep.outputs`: the headline numbers, ``sweep.md`` and the figures.
"""
from emulator.sweep.points import plan
from emulator.sweep.run import SweepInterrupted, run_sweep
from emulator.sweep.spec import command_line_sweep, load_sweep

__all__ = ["load_sweep", "command_line_sweep", "plan", "run_sweep", "SweepInterrupted"]
