"""Generators of the data that ship with the emulator."""
