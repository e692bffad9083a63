"""Imports point down only: the contracts in setup.cfg's ``[importlinter]`` sections hold, and would catch a violation."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("importlinter")

ROOT = Path(__file__).resolve().parents[1]


def lint(root: Path) -> subprocess.CompletedProcess:
    """``lint-imports`` on the ``emulator`` package under ``root``, with the project's contracts."""
    env = dict(os.environ, PYTHONPATH=str(root))
    return subprocess.run([sys.executable, "-c", "import sys; from importlinter.cli import lint_imports; "
                           f"sys.exit(lint_imports(config_filename={str(ROOT / 'setup.cfg')!r}, no_cache=True))"],
                          cwd=root, env=env, capture_output=True, text=True, timeout=300)


def test_the_package_keeps_its_layers():
    done = lint(ROOT)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "0 broken" in done.stdout


@pytest.mark.parametrize("module, line, contract", [
    ("training/eqprop.py", "from emulator.cli import main", "Layers point down"),
    ("backends/oim/backend.py", "from emulator.backends.digital.relax import relax", "No back-end family imports"),
    ("tasks/classification.py", "from emulator.backends.loihi import LoihiBackend", "Outside its family"),
])
def test_a_planted_violation_breaks_a_contract(tmp_path, module, line, contract):
    shutil.copytree(ROOT / "emulator", tmp_path / "emulator", ignore=shutil.ignore_patterns("__pycache__"))
    target = tmp_path / "emulator" / module
    target.write_text(target.read_text() + f"\n{line}  # planted\n")
    done = lint(tmp_path)
    assert done.returncode == 1
    broken = [block for block in done.stdout.split("\n\n") if "BROKEN" in block]
    assert any(contract in block for block in broken), done.stdout[-3000:]
