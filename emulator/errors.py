"""User-facing errors.

Every error a user can cause (a bad file, an unknown name, a network that does not fit a
chip, a diverging training, an output that cannot be written) is an :class:`EmulatorError` whose message says what to
change. The CLI prints the message and exits with status 2, without a traceback.
"""


class EmulatorError(Exception):
    """Base class of the errors that name what the user should change."""


class ConfigError(EmulatorError):
    """A workload or chip file (or a ``--set`` override) is malformed or out of range."""


class GraphFormatError(ConfigError):
    """A graph file (or coupling matrix) of a MaxCut workload is malformed; names file and line (or entry)."""


class NirError(ConfigError):
    """A NIR graph (file or object) cannot be read or run: malformed, or holding a node type the emulator does
    not simulate; names the node or edge at fault."""


class DatasetError(EmulatorError):
    """A dataset cannot be found, read or matched to the network.

    ``key`` names the workload key at fault (e.g. ``"n_train"``), when there is one.
    """

    def __init__(self, message: str, key: str | None = None):
        super().__init__(message)
        self.key = key


class CapacityError(EmulatorError):
    """A network does not fit the resources of a chip."""


class DivergenceError(EmulatorError):
    """A relaxation or a training step produced NaN or overflowed, or a training diverged."""


class OutputError(EmulatorError):
    """A file or folder could not be written: a full disk, a file-size limit, no permission.

    ``failure`` says what failed and why (``cannot write runs/x/report.md: No space left on
    device``) and ``remedy`` what to change; ``kept`` says what is kept, and where, and ``then``
    how to go on once the remedy is applied. :meth:`explained` adds the last two.
    """

    def __init__(self, failure: str, remedy: str, kept: str = "", then: str = ""):
        self.failure, self.remedy, self.kept, self.then = failure, remedy, kept, then
        super().__init__("; ".join(filter(None, (failure, kept, f"{remedy} and {then}" if then else remedy))))

    def explained(self, kept: str, then: str = "") -> "OutputError":
        """This error with what was kept and how to go on."""
        return OutputError(self.failure, self.remedy, kept, then)


class ReportError(EmulatorError, ValueError):
    """A result holds a figure that is not a finite number: no report is written (or read) with it."""
