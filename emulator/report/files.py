"""Report files."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from emulator.report.format import json_text


def write_text(path: Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path``; returns ``path``."""
    path.write_text(text, encoding="utf-8")
    return path


def write_json(path: Path, obj: Any) -> Path:
    """Write ``obj`` as indented JSON to ``path``; returns ``path``."""
    return write_text(path, json_text(obj, indent=2))
