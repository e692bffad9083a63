"""Report files, each written atomically: a reader finds the earlier file or the whole new one."""
from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from emulator.report.format import json_text


@contextmanager
def replaced(path: Path) -> Iterator[BinaryIO]:
    """A binary file to write that becomes ``path`` when the block ends without an error.

    It is a temporary file in the same folder, renamed over ``path`` (``os.replace``) at the end;
    if the block raises, it is removed and ``path`` is left as it was.
    """
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "xb") as f:
            yield f
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns ``path``."""
    with replaced(path) as f:
        f.write(text.encode("utf-8"))
    return path


def write_json(path: Path, obj: Any) -> Path:
    """Write ``obj`` as indented JSON to ``path`` atomically; returns ``path``."""
    return write_text(path, json_text(obj, indent=2))
