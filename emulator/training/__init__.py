"""Training algorithms: chip-agnostic, through :mod:`emulator.backends.base` only."""
