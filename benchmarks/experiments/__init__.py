"""Experiments: what the emulated chips do (accuracy, energy), with their settings; sweeps over many
settings are sweep files (``workloads/sweeps/``)."""
