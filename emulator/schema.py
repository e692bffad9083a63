"""Validation of YAML files against frozen dataclasses, with errors that name file, key and line.

A schema is a dataclass whose fields carry their type (``int``, ``float``, ``bool``, ``str``,
``Literal[...]``, ``list[...]``, ``X | None``, a nested schema dataclass, ``dict[str, Schema]``,
or a tagged union ``A | B | C`` of schema dataclasses that each have a ``model: Literal[...]``
field, built from the member whose tag the mapping's ``model`` names) and, in
``field(metadata=...)`` made by :func:`spec`, their allowed range and a one-line description.
A schema may list the keys of earlier versions in a class attribute ``MOVED = {"old_key":
"new.key.path"}``: such a key is an error that says where to write it now.
:func:`load_yaml` parses a file keeping the line of each key; :func:`extend` merges a file
over the one it extends, keeping the file and line of each key; :func:`build` turns the parsed
mapping into the dataclass or raises one :class:`ConfigError`.
"""
from __future__ import annotations

import dataclasses
import functools
import math
import types
import typing
from pathlib import Path
from typing import Any, Literal

import yaml

from emulator.bounded_yaml import MAX_CHARS, LimitError, compose, parse_yaml, problem
from emulator.errors import ConfigError

@functools.lru_cache(maxsize=None)
def type_hints(cls) -> dict:
    """``typing.get_type_hints`` of a schema class, resolved once (schemas are built per compile)."""
    return typing.get_type_hints(cls)


Path_ = tuple  # a key path such as ("eqprop", "theta") or ("training", "learning_rates", 1)


def spec(doc: str, *, default=dataclasses.MISSING, ge=None, gt=None, le=None, lt=None, min_len=None,
         max_len=None):
    """A dataclass field with a description and an allowed range: ``ge``, ``gt``, ``le``, ``lt`` of a
    number (of each item, for a list of numbers), ``min_len`` and ``max_len`` of a list (items) or
    a string (characters)."""
    meta = {"doc": doc, "ge": ge, "gt": gt, "le": le, "lt": lt, "min_len": min_len, "max_len": max_len}
    if isinstance(default, (list, dict)):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


#: longest name of a chip or workload: a name becomes part of folder names, which have at most 255 bytes
NAME_CHARS = 100
#: longest description: one line of the listings of ``emulator chips`` and ``emulator workloads``
LINE_CHARS = 200
#: largest seed: seeds are 32-bit unsigned integers, as most random generators take them
SEED_MAX = 2**32 - 1


class Source:
    """Where a mapping came from: a file (with the line of each key path) or a ``--set`` option.

    A mapping merged from several files (a chip that ``extends:`` another) names, in ``files``,
    the file of each key path that is not in file ``name``.
    """

    def __init__(self, name: str, lines: dict | None = None, files: dict | None = None):
        self.name, self.lines, self.files = name, lines or {}, files or {}

    def where(self, path: Path_) -> str:
        for n in range(len(path), -1, -1):
            if path[:n] in self.lines:
                return f"{self.files.get(path[:n], self.name)}:{self.lines[path[:n]]}"
        return self.name


def dotted(path: Path_) -> str:
    """A key path as messages show it, e.g. ``training.learning_rates[1]``."""
    return "".join(f"[{p}]" if isinstance(p, int) else f".{printable(str(p))}" for p in path).lstrip(".") \
        or "(top level)"


def printable(text: str, limit: int = 80) -> str:
    """``text`` for a one-line message: as it is if it is printable and short, else quoted and cut."""
    return text if text.isprintable() and len(text) <= limit else shown(text, limit)


def fail(source: Source, path: Path_, message: str):
    raise ConfigError(f"{source.where(path)}: {dotted(path)}: {message}")


def shown(value, limit: int = 80) -> str:
    """``repr(value)`` for a message, cut to ``limit`` characters (ending in ``...`` if it was longer)."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def load_yaml(path: str | Path) -> tuple[dict, Source]:
    """Parse a YAML mapping and the line (1-based) of every key path in it.

    The file is read with :class:`emulator.bounded_yaml.Loader`: malformed YAML, and YAML beyond
    its bounds (size, nesting, values after alias expansion, recursive aliases), is one
    :class:`ConfigError` naming the file and line.
    """
    path = Path(path)
    try:
        with path.open("rb") as file:
            raw = file.read(MAX_CHARS + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    if len(raw) > MAX_CHARS:
        raise ConfigError(f"{path}: more than {MAX_CHARS:,} bytes, far more than a configuration needs; "
                          "is it the right file?")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not a text file in UTF-8 (byte {exc.start}); save it as UTF-8 YAML") from None
    source = Source(str(path))
    try:
        node, loader = compose(text)
        if node is not None:
            _record_lines(node, (), source)
        data = None if node is None else loader.construct_document(node)
    except LimitError as exc:
        raise ConfigError(f"{path}:{exc.problem_mark.line + 1}: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {problem(exc, text)}") from None
    if not isinstance(data, dict):
        fail(source, (), "the file must be a YAML mapping of keys to values")
    return data, source


def _record_lines(node, path, source: Source):
    """Record the line of each key (of each item, for lists); reject keys given twice, and keys that
    are lists or mappings."""
    source.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen = set()
        for key, value in node.value:
            if not isinstance(key, yaml.ScalarNode):
                raise ConfigError(f"{source.name}:{key.start_mark.line + 1}: {dotted(path)}: a key must be a name, "
                                  "not a list or a mapping")
            if key.value in seen:
                source.lines[path + (key.value,)] = key.start_mark.line + 1
                fail(source, path + (key.value,), "given twice; keep one")
            seen.add(key.value)
            source.lines[path + (key.value,)] = key.start_mark.line + 1
            _record_lines(value, path + (key.value,), source)
    elif isinstance(node, yaml.SequenceNode):
        for i, value in enumerate(node.value):
            _record_lines(value, path + (i,), source)


def tags(tp) -> tuple:
    """The models a schema dataclass stands for: the values of its ``model: Literal[...]`` field, or ()."""
    if not dataclasses.is_dataclass(tp):
        return ()
    hint = type_hints(tp).get("model")
    return typing.get_args(hint) if typing.get_origin(hint) is Literal else ()


def tagged_members(tp) -> dict:
    """``{model: dataclass}`` of a tagged union type (every member but None has a ``model`` tag); {} otherwise."""
    if typing.get_origin(tp) not in (typing.Union, types.UnionType):
        return {}
    members = [a for a in typing.get_args(tp) if a is not type(None)]
    if len(members) < 2 or not all(tags(a) for a in members):
        return {}
    return {tag: a for a in members for tag in tags(a)}


def _keys_of_model(tag: str, cls) -> str:
    """A member of a tagged union as a YAML flow mapping of its keys, e.g. ``{model: constant, std}``."""
    return "{" + ", ".join([f"model: {tag}"] + [f.name for f in dataclasses.fields(cls) if f.name != "model"]) + "}"


def describe(tp) -> str:
    """A type in words, for error messages."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if tagged_members(tp):
        return "one of " + ", ".join(_keys_of_model(tag, cls) for tag, cls in tagged_members(tp).items()) + (
            " or null" if type(None) in args else "")
    if origin in (typing.Union, types.UnionType):
        return " or ".join("null" if a is type(None) else describe(a) for a in args)
    if origin is list:
        return "a list whose items are each " + describe(args[0])
    if origin is dict:
        return "a mapping"
    if dataclasses.is_dataclass(tp):
        return "a mapping with keys " + ", ".join(f.name for f in dataclasses.fields(tp))
    return {int: "an integer", float: "a number", bool: "true or false", str: "a string"}.get(tp, str(tp))


def build(cls, data: Any, source: Source, path: Path_ = ()):
    """Validate ``data`` against the schema dataclass ``cls`` and build it (defaults filled in)."""
    if not isinstance(data, dict):
        fail(source, path, f"must be {describe(cls)}, got {shown(data)}")
    hints = type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init and not f.metadata.get("internal")}
    for key in data:
        if key in getattr(cls, "MOVED", {}):
            fail(source, path + (key,), f"this key moved; write it as {_new_place(cls, path, cls.MOVED[key])}")
        if key not in fields:
            model = f" of model {tags(cls)[0]!r}" if len(tags(cls)) == 1 else ""
            fail(source, path + (str(key),), f"unknown key{model}; allowed keys here: {', '.join(fields)}")
    values = {}
    for name, f in fields.items():
        if name in data:
            values[name] = convert(hints[name], data[name], source, path + (name,), f.metadata)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            fail(source, path + (name,), f"missing; it must be {describe(hints[name])}"
                 + (f" ({f.metadata['doc']})" if f.metadata.get("doc") else ""))
    return cls(**values)


def _new_place(cls, path: Path_, new: str) -> str:
    """``new`` (a key path below ``path``, in schema ``cls``) in words, with the model it needs, if any."""
    parts, needs, tp = tuple(new.split(".")), [], cls
    for i, part in enumerate(parts):
        members = tagged_members(tp)
        if members:
            tag, tp = next((tag, m) for tag, m in members.items() if part in {f.name for f in dataclasses.fields(m)})
            needs.append(f"{dotted(path + parts[:i] + ('model',))}: {tag}")
        tp = type_hints(tp)[part] if dataclasses.is_dataclass(tp) else None
    return dotted(path + parts) + "".join(f", with {n}" for n in needs)


def convert(tp, value, source: Source, path: Path_, meta=None):
    """Check ``value`` against type ``tp`` and the range in ``meta``; returns the converted value."""
    meta = meta or {}
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        if tagged_members(tp):
            return _build_tagged(tp, value, source, path)
        inner = [a for a in args if a is not type(None)]
        return convert(inner[0], value, source, path, dict(meta, expect=describe(tp)))
    if dataclasses.is_dataclass(tp):
        return build(tp, value, source, path)
    if origin is Literal:
        if value not in args:
            fail(source, path, f"must be {describe(tp)}, got {shown(value)}")
        return value
    if origin is list:
        if not isinstance(value, list):
            fail(source, path, f"must be {describe(tp)}, got {shown(value)}")
        _check_length(value, "items", source, path, meta)
        return [convert(args[0], v, source, path + (i,), meta) for i, v in enumerate(value)]
    if tp is dict or origin is dict:
        if not isinstance(value, dict):
            fail(source, path, f"must be a mapping, got {shown(value)}")
        if not args:
            return dict(value)
        return {str(k): convert(args[1], v, source, path + (k,), meta) for k, v in value.items()}
    ok = {int: isinstance(value, int) and not isinstance(value, bool),
          float: isinstance(value, (int, float)) and not isinstance(value, bool),
          bool: isinstance(value, bool), str: isinstance(value, str)}[tp]
    if not ok:
        fail(source, path, f"must be {meta.get('expect') or describe(tp)}, got {shown(value)}")
    if tp is float and not _finite(value):
        fail(source, path, f"must be a finite number, got {shown(value)}")
    if tp in (int, float):
        _check_range(value, source, path, meta)
        return tp(value)
    if tp is str:
        _check_length(value, "characters", source, path, meta)
    return value


def _finite(number: int | float) -> bool:
    """Whether ``number`` is a finite float, or an int a float can hold."""
    try:
        return math.isfinite(number)
    except OverflowError:  # an int beyond the largest float
        return False


def _build_tagged(tp, value, source: Source, path: Path_):
    """The member of tagged union ``tp`` that ``value["model"]`` names, built from ``value``."""
    members = tagged_members(tp)
    if not isinstance(value, dict):
        fail(source, path, f"must be {describe(tp)}, got {shown(value)}")
    models = ", ".join(map(repr, members))
    if "model" not in value:
        fail(source, path, f"missing model; it must be one of {models}")
    model = value["model"]
    if not isinstance(model, str) or model not in members:
        fail(source, path + ("model",), f"must be one of {models}, got {shown(model)}")
    return build(members[model], value, source, path)


def _check_range(value, source, path, meta):
    for key, test, words in (("ge", lambda v, b: v >= b, ">="), ("gt", lambda v, b: v > b, ">"),
                             ("le", lambda v, b: v <= b, "<="), ("lt", lambda v, b: v < b, "<")):
        bound = meta.get(key)
        if bound is not None and not test(value, bound):
            doc = f" ({meta['doc']})" if meta.get("doc") else ""
            fail(source, path, f"must be {words} {bound}{doc}, got {shown(value)}")


def _check_length(value: list | str, unit: str, source, path, meta):
    """``value`` has at least ``min_len`` and at most ``max_len`` ``unit`` (items or characters)."""
    if meta.get("min_len") and len(value) < meta["min_len"]:
        fail(source, path, f"must have at least {meta['min_len']} {unit}, got {len(value):,}")
    if meta.get("max_len") is not None and len(value) > meta["max_len"]:
        fail(source, path, f"must have at most {meta['max_len']:,} {unit}, got {len(value):,}")


def extend(parent: dict, parent_source: Source, child: dict, child_source: Source) -> tuple[dict, Source]:
    """``child`` stated over ``parent``, and the source of every key path of the result.

    Mappings merge key by key; anything else (a number, a string, a list), and a mapping whose
    ``model`` differs from the parent's (a tagged section: its keys belong to its model), is the
    child's. A key path reports the file and line it came from.
    """
    replaced = []

    def merge(a, b, path):
        mappings = isinstance(a, dict) and isinstance(b, dict)
        if not mappings or ("model" in a and "model" in b and a["model"] != b["model"]):
            replaced.append(path)
            return b
        return {**a, **{key: merge(a[key], value, path + (key,)) if key in a else value for key, value in b.items()}}

    data = merge(parent, child, ())
    lines = {p: line for p, line in parent_source.lines.items() if not any(p[:len(q)] == q for q in replaced)}
    files = {p: parent_source.files.get(p, parent_source.name) for p in lines}
    lines.update(child_source.lines)
    files.update({p: child_source.files.get(p, child_source.name) for p in child_source.lines})
    return data, Source(child_source.name, lines, files)


class Override(typing.NamedTuple):
    """A ``key.path: value`` override given somewhere else than on the command line (a sweep file),
    with the place errors name (``sweep.yaml:12``, or the option that listed it)."""

    key: str
    value: Any
    where: str


def apply_overrides(data: dict, overrides: list[str | Override], option: str = "--set") -> tuple[dict, dict]:
    """Apply ``key.path=value`` strings (values parsed as YAML), or :class:`Override` items, to a
    copy of ``data``.

    Returns the new mapping and ``{key path: "<option> ..."}`` (an :class:`Override`'s ``where``)
    so errors can point at the command-line ``option``, or the file line, that gave them.
    """
    import copy

    data = copy.deepcopy(data)
    origin = {}
    for item in overrides:
        if isinstance(item, Override):
            key, value, label = item.key, copy.deepcopy(item.value), f"{item.where}: {printable(item.key)}"
        else:
            key, value, label = _parse_override(item, option)
        # a list index is a few digits (a list holds fewer than MAX_NODES items); anything else is a key
        parts = [int(p) if p.isdecimal() and len(p) < 9 else p for p in key.strip().split(".")]

        def first(n: int) -> str:
            """The first ``n`` keys of the path, as the option wrote them, for a one-line message."""
            return printable(".".join(map(str, parts[:n])))

        node = data
        for i, part in enumerate(parts[:-1]):
            child = node[part] if isinstance(node, list) and isinstance(part, int) and part < len(node) \
                else node.get(part) if isinstance(node, dict) else None
            if child is None:
                child = {}
                if not isinstance(node, dict):
                    raise ConfigError(f"{label}: {first(i)} is not a mapping")
                node[part] = child
            node = child
        if isinstance(node, list) and isinstance(parts[-1], int) and parts[-1] < len(node):
            node[parts[-1]] = value
        elif isinstance(node, dict):
            node[parts[-1]] = value
        elif isinstance(node, list):
            raise ConfigError(f"{label}: {first(-1)} is a list of {len(node)} items; use an index below {len(node)} "
                              "or set the whole list")
        else:
            raise ConfigError(f"{label}: {first(-1)} is not a mapping")
        origin[tuple(parts)] = item.where if isinstance(item, Override) else f"{option} {printable(item, 1000)}"
    return data, origin


def _parse_override(item: str, option: str) -> tuple[str, Any, str]:
    """The key, the YAML value and the error label of a ``key.path=value`` option."""
    key, sep, text = item.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"{option} {shown(item)}: expected key.path=value, e.g. "
                          + ("--set training.epochs=1" if option == "--set" else f"{option} parameters.seed=1"))
    try:
        return key, parse_yaml(text), f"{option} {shown(item)}"
    except LimitError as exc:
        raise ConfigError(f"{option} {shown(item)}: {exc.problem}") from None
    except yaml.YAMLError:
        raise ConfigError(f"{option} {shown(item)}: the value is not valid YAML") from None


class OverriddenSource(Source):
    """A file source whose overridden key paths point at the ``--set`` option instead.

    A key path is the option's if the option set it or a section above it, or if the option
    introduced it (a section the file does not have, such as a misspelt one); every other key
    path, a section the option only set a key inside included, keeps its file and line.
    """

    def __init__(self, base: Source, origin: dict):
        super().__init__(base.name, base.lines, base.files)
        self.origin = origin

    def where(self, path: Path_) -> str:
        for n in range(len(path), 0, -1):
            if path[:n] in self.origin:
                return self.origin[path[:n]]
        if path not in self.lines:
            for key, option in self.origin.items():  # a section the option introduced
                if key[:len(path)] == path:
                    return option
        return super().where(path)
