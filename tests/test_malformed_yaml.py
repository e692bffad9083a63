"""Malformed YAML structure, in a workload file, a chip file or a ``--set`` value, is ONE error
naming the file and line, quickly: a list or mapping where a name is expected, a recursive alias,
nesting thousands deep, an alias-expansion bomb, a NUL byte, a file far too large
(:mod:`emulator.bounded_yaml`). Each case runs through the command line."""
from __future__ import annotations

from pathlib import Path

import pytest

from emulator.bounded_yaml import MAX_CHARS, MAX_DEPTH, MAX_NODES
from emulator.cli import main
from fuzzing import limits

ROOT = Path(__file__).resolve().parents[1]
WORKLOAD = (ROOT / "workloads" / "digits_snn.yaml").read_text(encoding="utf-8")
CHIP = (ROOT / "chips" / "digital.yaml").read_text(encoding="utf-8")

#: aliases of aliases: 9 ** 8 = 43 million values once expanded
BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{b}: &{b} [{', '.join([f'*{a}'] * 9)}]\n" for a, b in zip("abcdefg", "bcdefgh"))


@pytest.fixture(autouse=True)
def in_tmp(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)


def run_with(kind: str, text: str, tmp_path: Path) -> list[str]:
    """The arguments of ``run`` with ``text`` as the workload file or as the chip file (``kind``)."""
    path = tmp_path / f"bad-{kind}.yaml"
    path.write_text(text, encoding="utf-8")
    if kind == "workload":
        return ["run", path, "--chip", ROOT / "chips" / "digital.yaml"]
    return ["run", ROOT / "workloads" / "digits_snn.yaml", "--chip", path]


def line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.mark.parametrize("kind", ["workload", "chip"])
@pytest.mark.parametrize("case, text, line, expected", [
    ("recursive alias", "name: x\nloop: &a [1, *a]\n", 2, "alias *a is inside the collection &a it names"),
    ("recursive mapping", "name: x\nloop: &a {self: *a}\n", 2, "alias *a is inside the collection &a it names"),
    ("deep nesting", "name: x\ndeep: " + "[" * 5000 + "]" * 5000 + "\n", 2,
     f"lists and mappings nested more than {MAX_DEPTH} deep"),
    ("alias bomb", "name: x\n" + BOMB, 7, f"more than {MAX_NODES:,} values (aliases counted as the values"),
    ("list as a key", "name: x\n? [1, 2]\n: 3\n", 2, "(top level): a key must be a name, not a list or a mapping"),
])
def test_bounded_structure_is_one_error_with_the_line(user_error, tmp_path, kind, case, text, line, expected):
    args = run_with(kind, text, tmp_path)
    with limits(seconds=60):  # a bomb or a deep nest must not hang the loader (a hang raises TimeLimit)
        message = user_error(*args)
    assert message.startswith(f"{args[1] if kind == 'workload' else args[3]}:{line}: "), message
    assert expected in message


@pytest.mark.parametrize("kind, text", [("workload", WORKLOAD), ("chip", CHIP)])
def test_a_nul_byte_is_one_line_with_its_line(user_error, tmp_path, kind, text):
    text = text.replace("name: ", "name: a\0", 1)
    args = run_with(kind, text, tmp_path)
    message = user_error(*args)
    path = args[1] if kind == "workload" else args[3]
    assert message == (f"{path}: not valid YAML: line {line_of(text, chr(0))}: character #x0000 is not allowed in "
                       "YAML (special characters are not allowed); remove it")


@pytest.mark.parametrize("kind", ["workload", "chip"])
def test_a_file_far_too_large_is_refused_unread(user_error, tmp_path, kind):
    args = run_with(kind, "name: x\n" + "#" * MAX_CHARS + "\n", tmp_path)
    assert f"more than {MAX_CHARS:,} bytes" in user_error(*args)


def test_a_list_where_a_kind_is_expected(user_error, tmp_path):
    text = "kind: [1]\n" + WORKLOAD
    args = run_with("workload", text, tmp_path)
    assert user_error(*args) == f"{args[1]}:1: kind: must be one of 'classification', 'maxcut', 'snn_inference', got [1]"


@pytest.mark.parametrize("value, shown", [("[1]", "[1]"), ("{a: 1}", "{'a': 1}"), ("7", "7")])
def test_a_set_kind_that_is_not_a_name(user_error, value, shown):
    message = user_error("run", ROOT / "workloads" / "digits_snn.yaml", "--chip", "digital", "--set", f"kind={value}")
    assert message == f"--set kind={value}: kind: must be one of 'classification', 'maxcut', 'snn_inference', got {shown}"


@pytest.mark.parametrize("value, expected", [
    ("[" * 100 + "]" * 100, f"nested more than {MAX_DEPTH} deep"),
    ("&a [*a]", "alias *a is inside the collection &a it names"),
    (BOMB.replace("\n", ", ").join("{}"), f"more than {MAX_NODES:,} values"),
])
def test_a_set_value_beyond_the_bounds(user_error, value, expected):
    message = user_error("run", ROOT / "workloads" / "digits_snn.yaml", "--chip", "digital",
                         "--set", f"network.layers={value}")
    assert message.startswith("--set 'network.layers=") and expected in message


def test_the_workloads_listing_survives_a_malformed_file(capsys, tmp_path):
    (tmp_path / "workloads").mkdir()
    (tmp_path / "workloads" / "broken.yaml").write_text("kind: [1]\n" + WORKLOAD, encoding="utf-8")
    (tmp_path / "workloads" / "bomb.yaml").write_text("name: x\n" + BOMB, encoding="utf-8")
    assert main(["workloads"]) == 0
    out, err = capsys.readouterr()
    lines = {line.split()[0]: line for line in out.splitlines()}
    assert "(invalid)" in lines["broken"] and "kind: must be one of" in lines["broken"]
    assert "(invalid)" in lines["bomb"] and "values" in lines["bomb"]
    assert "digits_snn" in lines and "Traceback" not in err


def test_keys_and_values_that_are_not_printable_stay_on_one_line(user_error, tmp_path):
    args = run_with("workload", "name: x\n\"a\\nb\": 1\n", tmp_path)
    assert user_error(*args).startswith(f"{args[1]}:2: 'a\\nb': unknown key; allowed keys here: name, ")
    message = user_error("run", ROOT / "workloads" / "digits_snn.yaml", "--chip", "digital", "--set",
                         "training.epochs=a\nb")
    assert message == "--set 'training.epochs=a\\nb': training.epochs: must be an integer, got 'a b'"
    assert user_error("run", "a\nb.yaml", "--chip", "digital") == "workload file 'a\\nb.yaml' does not exist"
