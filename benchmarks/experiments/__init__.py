"""Experiments: what the emulated chips do (accuracy, energy, robustness), with their settings."""
