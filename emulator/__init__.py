"""Event-driven emulator of lazily-thresholded Equilibrium Propagation on neuromorphic chips.

The public objects a user scripts with are re-exported here; see README.md for the CLI.
"""
from emulator.errors import EmulatorError

__version__ = "0.1.0"
__all__ = ["EmulatorError", "__version__"]
