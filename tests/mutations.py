"""Hypothesis strategies that damage the emulator's inputs, starting from the files it ships.

- :func:`mutated_tree`: a parsed YAML or JSON tree (a workload, a chip, a checkpoint's state, a
  report) with a value replaced (most often a number or a string: by a neighbour of the original,
  an extreme number, a value of another type or a shipped name), a key deleted or a key added;
- :func:`damaged_lines`: text with lines deleted, repeated (duplicate keys), swapped or re-indented;
- :func:`damaged_bytes`: bytes flipped, cut short, or with bytes inserted;
- :func:`override_option`: a ``key.path=value`` option (``--set``, ``--chip-set``), well or ill formed.

Key names and string values come from the shipped chip and workload files (:data:`KEYS`,
:data:`NAMES`), so that damage often looks like a real mistake: a key in the wrong section, a
chip name where a model is expected, a back-end family that does not fit the parameters.
"""
from __future__ import annotations

import copy
import dataclasses
import typing
from pathlib import Path

import yaml
from hypothesis import strategies as st

from emulator.chip import Chip, backend_names, get_backend
from emulator.workload import MaxCutWorkload, Workload

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted([*(ROOT / "chips").glob("*.yaml"), *(ROOT / "workloads").rglob("*.yaml")])


def _keys_and_names(tree, keys: set, names: set):
    if isinstance(tree, dict):
        keys.update(map(str, tree))
        for value in tree.values():
            _keys_and_names(value, keys, names)
    elif isinstance(tree, list):
        for value in tree:
            _keys_and_names(value, keys, names)
    elif isinstance(tree, str) and len(tree) < 40:
        names.add(tree)


def _shipped_words() -> tuple[list[str], list[str]]:
    keys, names = {"kind", "extends", "model", "<<"}, {"chip.yaml", "../chip.yaml", "graph.txt", "graph.npy"}
    for path in SHIPPED:
        _keys_and_names(yaml.safe_load(path.read_text(encoding="utf-8")), keys, names)
    return sorted(keys), sorted(names)


#: every key name of the shipped files, and their short string values (names, units, models, families)
KEYS, NAMES = _shipped_words()
#: keys whose larger values cost minutes by design (more samples, epochs, runs, steps or units): they are
#: not raised, and only their lower bounds are drawn from the schemas
BUDGETS = {"epochs", "n_train", "n_test", "train_subset", "runs", "layers", "free_steps", "nudged_steps",
           "duration", "shil_ramp"}


def _schemas() -> list[type]:
    """Every schema dataclass: of workloads, chips, and the parameters of each back-end family."""
    found, todo = [], [Workload, MaxCutWorkload, Chip, *(get_backend(f).Parameters for f in backend_names())]
    while todo:
        cls = todo.pop()
        if dataclasses.is_dataclass(cls) and cls not in found:
            found.append(cls)
            for hint in typing.get_type_hints(cls).values():
                todo += [hint, *typing.get_args(hint), *(a for arg in typing.get_args(hint)
                                                           for a in typing.get_args(arg))]
    return found


def _edges() -> tuple[dict[str, list], dict[str, list]]:
    """Key name -> the values at the edges of its ranges in the schemas, and key name -> the values just
    beyond them."""
    inside: dict[str, set] = {}
    beyond: dict[str, set] = {}
    for cls in _schemas():
        for f in dataclasses.fields(cls):
            integer = typing.get_type_hints(cls)[f.name] in (int, int | None, list[int])
            step = 1 if integer else None
            for bound, into in (("ge", 0), ("gt", 1), ("le", 0), ("lt", -1)):
                b = f.metadata.get(bound)
                if b is None or (bound in ("le", "lt") and f.name in BUDGETS):
                    continue
                delta = step or max(abs(b) * 1e-9, 1e-300)
                inside.setdefault(f.name, set()).add(b + into * delta)
                beyond.setdefault(f.name, set()).add(b + (-1 if bound in ("ge", "gt") else 1) * delta)
    return ({name: sorted(v) for name, v in inside.items()}, {name: sorted(v) for name, v in beyond.items()})


#: key name -> the values at the edges of its ranges; key name -> the values just beyond them
INSIDE, BEYOND = _edges()
#: numbers no field takes, or only at the edge of its range
NUMBERS = (0, -1, 1, 2, 2**31, 2**63, 10**30, -(2**63), 0.0, -0.0, 5e-324, 1e-308, -1e-308, 0.5, 1.5, 1e6, 1e308,
           -1e308, float("nan"), float("inf"), float("-inf"))
#: values of other types: booleans, null, strings that look like numbers or hold what a line cannot show,
#: long strings, lists and mappings
OTHERS = (True, False, None, "", " ", "nan", "1e400", "0x10", "x" * 101, "y" * 5000, "two\nlines", "tab\there",
          "\u2028", "é∂ü", "../../x", [], [0], [[1]], [1] * 70, {}, {"model": "none"},
          {"value": 1, "unit": "pJ", "source": "s"})


def neighbours(value) -> st.SearchStrategy:
    """Values near ``value``: a number scaled, negated or moved by one; a string emptied, repeated or
    changed; a list emptied, cut or doubled; a boolean negated."""
    if isinstance(value, bool):
        return st.sampled_from([not value, int(value), str(value).lower()])
    if isinstance(value, (int, float)):
        return st.sampled_from([value + 1, value - 1, -value, value * 1000, value / 1000, value * 10**300,
                                type(value)(value / 2)])
    if isinstance(value, str):
        return st.sampled_from(["", value * 60, value.upper(), value + "x", value[:-1], f" {value} "])
    if isinstance(value, list):
        return st.sampled_from([[], value[:1], value + value, value[::-1], [value]])
    return st.nothing()


def values(original=None, key=None) -> st.SearchStrategy:
    """A replacement for ``original``, the value of ``key``: a neighbour of it or a value at the edge of the
    key's range (most often), an extreme number, a value of another type, or a shipped name."""
    near = neighbours(original)
    if key in BUDGETS:  # no more than the budget: a tiny run stays tiny
        near = near.filter(lambda v: not isinstance(v, (int, float)) or not isinstance(original, (int, float))
                           or v <= original)
    edge = st.sampled_from(INSIDE[key] + BEYOND[key]) if key in INSIDE else near
    return st.one_of(near, edge, st.sampled_from(NUMBERS), near, edge, st.sampled_from(OTHERS), st.sampled_from(NAMES))


def paths(tree, prefix: tuple = ()) -> list[tuple]:
    """The key path of every value below the top of ``tree`` (mapping keys and list indices)."""
    items = tree.items() if isinstance(tree, dict) else enumerate(tree) if isinstance(tree, list) else ()
    found = []
    for key, value in items:
        found += [prefix + (key,), *paths(value, prefix + (key,))]
    return found


def at(tree, path: tuple):
    for key in path:
        tree = tree[key]
    return tree


def name_of(path: tuple):
    """The key whose value ``path`` leads to (the list's, for an item of a list)."""
    return next((key for key in reversed(path) if isinstance(key, str)), None)


def a_path(draw, tree) -> tuple:
    """A key path of ``tree``: most often of a value that is not a list or a mapping."""
    found = paths(tree)
    leaves = [p for p in found if not isinstance(at(tree, p), (dict, list))]
    return draw(st.sampled_from(leaves if leaves and draw(st.integers(0, 3)) else found))


@st.composite
def mutated_tree(draw, tree):
    """``tree`` (a deep copy) with one to three values replaced, keys deleted or keys added, or with
    up to four values that have a range set at its edges (allowed values that are far from usual)."""
    tree = copy.deepcopy(tree)
    for _ in range(draw(st.sampled_from([1, 1, 1, 2, 3]))):
        found = paths(tree)
        ranged = [p for p in found if name_of(p) in INSIDE and not isinstance(at(tree, p), (dict, list))]
        operation = draw(st.sampled_from(["replace"] * 4 + ["delete", "add"] + ["edges"] * 2 * bool(ranged)
                                         if found else ["add"]))
        if operation == "edges":
            for path in draw(st.lists(st.sampled_from(ranged), min_size=1, max_size=4, unique=True)):
                *parent, key = path
                at(tree, parent)[key] = draw(st.sampled_from(INSIDE[name_of(path)]))
            continue
        if operation == "add":
            mappings = [()] + [p for p in found if isinstance(at(tree, p), dict)]
            key = draw(st.sampled_from(KEYS) | st.text(max_size=8))
            at(tree, draw(st.sampled_from(mappings)))[key] = draw(values(key=key))
            continue
        path = a_path(draw, tree)
        *parent, key = path
        if operation == "replace":
            at(tree, parent)[key] = draw(values(at(tree, path), name_of(path)))
        else:
            del at(tree, parent)[key]
    return tree


@st.composite
def damaged_lines(draw, text: str) -> str:
    """``text`` with one or two lines deleted, repeated, swapped with the next or re-indented."""
    lines = text.splitlines(keepends=True)
    for _ in range(draw(st.integers(1, 2))):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        operation = draw(st.sampled_from(["delete", "repeat", "swap", "indent", "dedent"]))
        if operation == "delete":
            del lines[i]
        elif operation == "repeat":
            lines.insert(i, lines[i])
        elif operation == "swap" and i + 1 < len(lines):
            lines[i], lines[i + 1] = lines[i + 1], lines[i]
        elif operation == "indent":
            lines[i] = draw(st.sampled_from([" ", "  ", "\t"])) + lines[i]
        else:
            lines[i] = lines[i].lstrip(" ")
    return "".join(lines)


@st.composite
def damaged_bytes(draw, data: bytes, headers: tuple[int, ...] = ()) -> bytes:
    """``data`` with bytes flipped or inserted, or cut short; half the time within the 128 bytes from one of
    the offsets ``headers`` (where a format keeps what the rest of the file is read by)."""
    data = bytearray(data)
    operation = draw(st.sampled_from(["flip", "flip", "cut", "insert"]))
    if operation == "cut":
        return bytes(data[:draw(st.integers(0, max(len(data) - 1, 0)))])
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, max(len(data) - 1, 0)))
        if headers and draw(st.booleans()):
            i = min(draw(st.sampled_from(headers)) + draw(st.integers(0, 127)), max(len(data) - 1, 0))
        byte = draw(st.integers(0, 255) | st.sampled_from(b"\x00\n#-.9 \xff"))
        if operation == "flip" and data:
            data[i] = byte
        else:
            data[i:i] = bytes([byte])
    return bytes(data)


def render(tree) -> str:
    """``tree`` as YAML text (block style, keys in order, any character kept or escaped)."""
    return yaml.safe_dump(tree, sort_keys=False, allow_unicode=True, width=1000)


#: ``--set`` values as YAML text that no value takes: broken syntax, tags, aliases, several documents
BAD_YAML = ("[", "{a: ", "*a", "&a [*a]", "!!python/object:os.system", "!!binary AAA=", "'open", "- a\n- b", "a: b",
            "@x", "%TAG ! x", "---\n---", "? [1]", "{[1]: 2}", "\x00", "\udcff")


@st.composite
def override_option(draw, tree) -> str:
    """A ``key.path=value`` option: most often a key path of ``tree`` and a drawn value as YAML; else a
    damaged key path, value or form."""
    path = a_path(draw, tree)
    key = ".".join(map(str, path))
    if draw(st.integers(0, 3)) == 0:
        key = draw(st.sampled_from([f"{key}.x", f"{key}.0", f"{key}.99", key.upper(), f".{key}", f"{key}.",
                                    f"{key}..x", "", f"x\ny.{key}", key.replace(".", " . ")]))
    if draw(st.integers(0, 5)) == 0:
        text = draw(st.sampled_from(BAD_YAML))
    else:
        text = yaml.safe_dump(draw(values(at(tree, path), name_of(path))), default_flow_style=True, width=1000,
                              allow_unicode=True)
        text = text.removesuffix("\n...\n").rstrip("\n")
    if draw(st.integers(0, 5)) == 0:
        return draw(st.sampled_from([key, f"={text}", f"{key}=={text}"]))
    return f"{key}={text}"
