"""Files written whole or not at all, and write failures as one user error; how array files fail to read.

Every file the emulator writes (checkpoints, reports, figures, comparisons, deploy bundles) goes
through :func:`replaced`: a temporary file in the same folder, renamed over the target when it is
complete, so that a reader (or a run killed part-way) finds the earlier file or the whole new one,
never half of one. A write that fails (a full disk, a file-size limit, a folder that is not
writable) raises :class:`~emulator.errors.OutputError`, which says what failed, why and what to
change, and leaves no temporary file behind.
"""
from __future__ import annotations

import errno
import io
import os
import tokenize
import uuid
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import BinaryIO

import numpy as np

from emulator.errors import ConfigError, OutputError

#: what NumPy raises reading a damaged ``.npy`` file, or member of an ``.npz`` archive: a header it cannot
#: parse (it is read as a Python literal: ``SyntaxError``, ``tokenize.TokenError``, ``ValueError``), data
#: cut short (``EOFError``, ``ValueError``), a shape too large to map (``OverflowError``), a damaged zip
DAMAGED_ARRAYS = (ValueError, EOFError, OverflowError, SyntaxError, tokenize.TokenError, zipfile.BadZipFile)

#: what to change when a write into ``{folder}`` fails for this reason (``errno``)
REMEDIES = {
    errno.ENOSPC: "free some space",
    errno.EDQUOT: "free some space or raise your disk quota",
    errno.EFBIG: "raise the file-size limit (ulimit -f)",
    errno.EACCES: "make {folder} writable",
    errno.EPERM: "make {folder} writable",
    errno.EROFS: "make the file system of {folder} writable",
}


def failure(path: Path, exc: OSError, what: str = "write") -> OutputError:
    """The user error of an ``OSError`` raised while writing ``path``: what failed, why, what to change."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    remedy = REMEDIES.get(exc.errno, "check {folder} and its disk").format(folder=Path(path).parent)
    return OutputError(f"cannot {what} {path}: {reason}", remedy)


@contextmanager
def replaced(path: Path) -> Iterator[BinaryIO]:
    """A binary file to write that becomes ``path`` when the block ends without an error.

    It is a hidden temporary file in the same folder, renamed over ``path`` (``os.replace``) at
    the end; if the block raises, it is removed and ``path`` is left as it was. An ``OSError``
    while writing it becomes :class:`~emulator.errors.OutputError`.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "xb") as f:
            yield f
        os.replace(tmp, path)
    except OSError as exc:
        raise failure(path, exc) from None
    finally:
        with suppress(OSError):  # a folder that refused the file holds none to remove
            tmp.unlink(missing_ok=True)


def write_text(path: Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns ``path``."""
    with replaced(path) as f:
        f.write(text.encode("utf-8"))
    return path


def write_arrays(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    """Write ``arrays`` as a NumPy ``.npz`` archive to ``path`` atomically; returns ``path``.

    The archive is built in memory and written in one piece: a write that fails part-way then
    leaves no half-closed archive behind to complain when it is collected.
    """
    archive = io.BytesIO()
    np.savez(archive, **arrays)
    with replaced(path) as f:
        f.write(archive.getbuffer())
    return path


def make_folder(folder: Path) -> Path:
    """Make ``folder`` and its parents if needed; :class:`~emulator.errors.OutputError` if that fails."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise failure(Path(exc.filename or folder), exc, "make the folder") from None  # the one refused
    return folder


def remove(path: Path) -> None:
    """Remove the file ``path`` if it is there; :class:`~emulator.errors.OutputError` if that fails."""
    try:
        Path(path).unlink(missing_ok=True)
    except OSError as exc:
        raise failure(path, exc, "remove") from None


def check_writable(folder: Path) -> None:
    """Check, before any work, that files can be written into ``folder``, and leave things as they were.

    The folder (and missing parents) is made, a small file written into it and removed, and the
    folders made here are removed again. Raises :class:`~emulator.errors.OutputError` naming the
    folder, why it cannot be written and what to change.
    """
    folder = Path(folder)
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    try:
        make_folder(folder)
        remove(write_text(folder / ".write-check", "the emulator checks that it can write here\n"))
    finally:
        for made in missing:  # innermost first
            with suppress(OSError):
                made.rmdir()


def check_bundle_folder(out: Path, markers) -> None:
    """Refuse, before anything is written, a deploy folder ``out`` that holds anything but a previous bundle (a
    bundle has every file ``markers`` names, and is replaced)."""
    out = Path(out)
    previous = all((out / name).is_file() for name in markers)
    if out.is_dir() and any(out.iterdir()) and not previous:
        raise ConfigError(f"--out {out} is not empty and holds no bundle; give a new or empty folder "
                          "(a previous bundle there is replaced)")
