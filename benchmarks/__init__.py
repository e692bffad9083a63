"""Benchmarks and experiments, run by hand from the repository's root as modules, e.g.
``python -m benchmarks.speed.bench_engine``; their results are in ``benchmarks/RESULTS.md``.

``speed/`` times the emulator (against references: Lava, dense numpy, simulated annealing);
``experiments/`` measures what the emulated chips do (accuracy, energy; sweeps over many settings
are sweep files, ``workloads/sweeps/``, run with ``python -m emulator sweep``); ``data/``
generates shipped data (the MaxCut graphs); ``checks/`` compares revisions (behaviour unchanged).
"""
