"""The YAML loader of every file and ``--set`` value: safe, and bounded before it costs time or memory.

:class:`Loader` is PyYAML's safe loader that also reads ``1e-3`` (no dot) as a float, as YAML 1.2
does, and stops with a :class:`LimitError` (naming the line) at what no configuration needs:

- a text of more than :data:`MAX_CHARS` characters;
- lists and mappings nested more than :data:`MAX_DEPTH` deep (deeper nesting would exhaust
  Python's recursion long before it meant anything);
- more than :data:`MAX_NODES` values once every alias is expanded: an alias stands for all the
  values of what it names, so aliases of aliases (a "billion laughs" file) stop here instead of
  taking hours and gigabytes in the code that walks the values;
- an alias inside the collection it names (a recursive structure, which no schema can hold).

The shipped chip and workload files are under 10 kB, 4 levels deep and a few hundred values.
"""
from __future__ import annotations

import re

import yaml

#: longest text read, characters (a file's bytes are bounded the same before decoding)
MAX_CHARS = 1 << 20
#: deepest nesting of lists and mappings
MAX_DEPTH = 32
#: most values (scalars, lists, mappings, keys) after every alias is expanded
MAX_NODES = 100_000


class LimitError(yaml.MarkedYAMLError):
    """The YAML is beyond a bound of :class:`Loader`: ``problem`` says which, ``problem_mark`` where."""


class Loader(yaml.SafeLoader):
    """Safe YAML loader with YAML 1.2 floats and the bounds of this module.

    Parameters
    ----------
    stream : str
        The YAML text.
    """

    def __init__(self, stream: str):
        if len(stream) > MAX_CHARS:
            raise LimitError(problem=f"{len(stream):,} characters, more than the {MAX_CHARS:,} a configuration "
                                     "may have; shorten it")
        super().__init__(stream)
        self.depth = 0            # collections open around the node being composed
        self.expanded = 0         # values so far, aliases counted as all the values they stand for
        self.open_anchors = set()  # anchors of the collections being composed
        self.anchor_sizes = {}    # anchor -> values it stands for

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            if event.anchor in self.open_anchors:
                raise LimitError(problem=f"alias *{event.anchor} is inside the collection &{event.anchor} it names "
                                         "(a recursive structure); write the values out",
                                 problem_mark=event.start_mark)
            self._count(self.anchor_sizes.get(event.anchor, 1), event)
            return super().compose_node(parent, index)
        nested = isinstance(event, yaml.CollectionStartEvent)
        if nested and self.depth >= MAX_DEPTH:
            raise LimitError(problem=f"lists and mappings nested more than {MAX_DEPTH} deep; a configuration needs "
                                     "a few levels", problem_mark=event.start_mark)
        self._count(1, event)
        before = self.expanded
        self.depth += nested
        if event.anchor is not None:
            self.open_anchors.add(event.anchor)
        node = super().compose_node(parent, index)
        self.depth -= nested
        if event.anchor is not None:
            self.open_anchors.discard(event.anchor)
            self.anchor_sizes[event.anchor] = self.expanded - before + 1
        return node

    def _count(self, values: int, event):
        self.expanded += values
        if self.expanded > MAX_NODES:
            raise LimitError(problem=f"more than {MAX_NODES:,} values (aliases counted as the values they stand "
                                     "for); a configuration needs a few hundred", problem_mark=event.start_mark)


Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"""^[-+]?(?:[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?|\.[0-9_]+(?:[eE][-+]?[0-9]+)?
                  |[0-9][0-9_]*[eE][-+]?[0-9]+|\.(?:inf|Inf|INF)|[-+]\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$""",
               re.X),
    list("-+0123456789."))


def compose(text: str) -> tuple[yaml.Node | None, Loader]:
    """The node tree of ``text`` (None for an empty document) and the loader that can construct it.

    Raises
    ------
    yaml.YAMLError
        Malformed YAML, or a :class:`LimitError`.
    """
    loader = Loader(text)
    try:
        return loader.get_single_node(), loader
    finally:
        loader.dispose()


def parse_yaml(text: str):
    """A YAML value, with :class:`Loader`'s typing and bounds."""
    node, loader = compose(text)
    return None if node is None else loader.construct_document(node)


def problem(exc: yaml.YAMLError, text: str) -> str:
    """PyYAML's error as one line: the line and the problem, and the construct it was in."""
    if isinstance(exc, yaml.reader.ReaderError):  # a character YAML does not allow, e.g. a NUL byte
        line = text.count("\n", 0, exc.position) + 1
        return f"line {line}: character #x{exc.character:04x} is not allowed in YAML ({exc.reason}); remove it"
    message, mark = getattr(exc, "problem", None) or str(exc), getattr(exc, "problem_mark", None)
    message = f"line {mark.line + 1}: {message}" if mark else message
    context, context_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    if context and context_mark:
        message += f" ({context} that starts on line {context_mark.line + 1})"
    return message
