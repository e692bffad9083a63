"""Speed benchmarks: the emulator timed against references, on this machine."""
