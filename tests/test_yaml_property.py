"""Property: any YAML structure (nested lists, mappings and scalars, with anchors and aliases, shared
or recursive) given as a workload file, a chip file or a ``--set`` value loads, or is ONE
ConfigError on one line, quickly; never another exception.

Structures are drawn as Python values and written as flow YAML by :func:`render`, which adds
anchors to collections and aliases to any anchor written so far (one still open is a recursive
alias; one not yet written is an undefined alias). Half the files are a shipped file with one key
path's value replaced by a drawn structure, so that the schemas below the top level are reached."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulator.chip import load_chip
from emulator.errors import ConfigError
from emulator.workload import load_workload
from fuzzing import limits

ROOT = Path(__file__).resolve().parents[1]
WORKLOADS = sorted((ROOT / "workloads").glob("*.yaml"))
CHIPS = sorted((ROOT / "chips").glob("*.yaml"))
#: key names of the schemas, so that drawn mappings often use real keys
KEYS = ("name", "kind", "description", "dataset", "network", "eqprop", "training", "evaluation", "layers", "beta",
        "n_train", "graph", "anneal", "best_known", "random", "file", "extends", "backend", "energy", "time",
        "static_power", "parameters", "value", "unit", "source", "model", "read_noise", "drift", "forward",
        "synaptic_ops", "<<")
SCALARS = (st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats()
           | st.text(max_size=12) | st.sampled_from(["1e308", "-.inf", ".nan", "0x1F", "2001-01-01", "~", "digital",
                                                    "float32", "pJ", "constant", "maxcut", "digits"]))
STRUCTURES = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8) | st.integers(-3, 3), inner, max_size=4),
    max_leaves=25)
#: drawn examples per test: by default, and with ``-m slow``
FAST, SLOW = 25, 300
EXAMPLES = pytest.mark.parametrize("examples", [FAST, pytest.param(SLOW, marks=pytest.mark.slow)])


def explore(case, examples: int, **strategies):
    """Run ``case`` on ``examples`` draws of ``strategies`` (random ones: each run draws new ones)."""
    settings(max_examples=examples, deadline=None, database=None,
             suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])(
        given(**strategies)(case))()


class Slot:
    """Where :func:`render` writes the drawn structure inside a shipped file."""


def render(value, draw, anchors: dict[str, bool]) -> str:
    """``value`` as flow YAML, with anchors and aliases drawn by ``draw`` (a hypothesis ``data.draw``);
    ``anchors`` maps each anchor written so far to whether its collection is still open."""
    closed = [name for name, is_open in anchors.items() if not is_open]
    if anchors and draw(st.integers(0, 5)) == 0:
        if draw(st.integers(0, 5)) == 0:  # any anchor: an open one is recursive
            return "*" + draw(st.sampled_from([*anchors, "undefined"]))
        if closed:
            return "*" + draw(st.sampled_from(closed))
    if not isinstance(value, (list, dict)) or draw(st.integers(0, 2)):
        return _render(value, draw, anchors)
    name = f"a{len(anchors)}"
    anchors[name] = True
    text = f"&{name} " + _render(value, draw, anchors)
    anchors[name] = False
    return text


def _render(value, draw, anchors: dict[str, bool]) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(render(v, draw, anchors) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)}: {render(v, draw, anchors)}" for k, v in value.items()) + "}"
    if isinstance(value, str) and not value.startswith(("1e", "-.", ".n", "0x", "20", "~")):
        return json.dumps(value)
    return value if isinstance(value, str) else json.dumps(value)


def shipped_with_slot(path: Path, draw) -> dict:
    """The shipped file at ``path`` with the value at a drawn key path replaced by :class:`Slot`."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    node = data
    while True:
        key = draw(st.sampled_from(sorted(node, key=str)))
        if not isinstance(node[key], dict) or not node[key] or draw(st.booleans()):
            node[key] = Slot()
            return data
        node = node[key]


def drawn_file(data, shipped: list[Path]) -> str:
    structure = data.draw(STRUCTURES)
    anchors: dict[str, bool] = {}
    if data.draw(st.booleans()):  # a whole file of a drawn structure
        return render(structure, data.draw, anchors) + "\n"
    document = shipped_with_slot(data.draw(st.sampled_from(shipped)), data.draw)

    def with_structure(value):
        if isinstance(value, Slot):
            return render(structure, data.draw, anchors)
        if isinstance(value, dict):
            return "{" + ", ".join(f"{json.dumps(k)}: {with_structure(v)}" for k, v in value.items()) + "}"
        return json.dumps(value)
    return with_structure(document) + "\n"


def loads_or_one_error(load, path: Path, *args):
    try:
        with limits(seconds=60):  # a hang raises TimeLimit
            load(path, *args)
    except ConfigError as exc:
        message = str(exc)
        assert message and "\n" not in message, f"not one line: {message!r}"
        assert len(message) < 2000, f"{len(message)} characters"


@pytest.fixture
def tmp_file(tmp_path):
    return tmp_path / "drawn.yaml"


@EXAMPLES
@pytest.mark.parametrize("shipped, load", [(WORKLOADS, load_workload), (CHIPS, load_chip)], ids=["workload", "chip"])
def test_a_drawn_file_loads_or_is_one_error(tmp_file, examples, shipped, load):
    def case(data):
        tmp_file.write_text(drawn_file(data, shipped), encoding="utf-8")
        loads_or_one_error(load, tmp_file)
    explore(case, examples, data=st.data())


@EXAMPLES
def test_a_drawn_set_value_loads_or_is_one_error(examples):
    def case(data, key):
        value = render(data.draw(STRUCTURES), data.draw, {})
        loads_or_one_error(load_workload, ROOT / "workloads" / "digits_snn.yaml", [f"{key}={value}"])
    explore(case, examples, data=st.data(),
            key=st.sampled_from(["kind", "name", "network.layers", "eqprop", "training.learning_rates.0",
                                 "dataset.n_train", "evaluation", "x.y"]))


@EXAMPLES
def test_a_drawn_chip_set_value_loads_or_is_one_error(examples):
    def case(data, key):
        value = render(data.draw(STRUCTURES), data.draw, {})
        loads_or_one_error(load_chip, ROOT / "chips" / "crossbar-pcm.yaml", [f"{key}={value}"])
    explore(case, examples, data=st.data(),
            key=st.sampled_from(["backend", "parameters", "parameters.read_noise", "energy.array_macs", "time",
                                 "static_power.value", "extends"]))
