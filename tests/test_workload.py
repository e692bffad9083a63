"""Tests of workload files (emulator.workload / emulator.schema): every bad input gives ONE
ConfigError naming the file, the 1-based line, the dotted key path and what is allowed;
``--set`` overrides are typed as YAML and validated the same way, pointing at the option.

Line numbers are not hard-coded: :func:`line_of` finds them in the text the test wrote."""
from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from emulator.errors import ConfigError
from emulator.workload import EvaluationSpec, InferenceWorkload, MaxCutWorkload, Workload, load_workload

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted((ROOT / "workloads").glob("*.yaml"))

# A self-contained copy of the digits workload, so these tests do not move when workloads/ does.
BASE = """\
# test workload
name: tiny_digits
description: a test workload
dataset:
  name: digits
  preprocessing: unit_range
network:
  layers: [64, 256, 10]
  activation: hard_sigmoid
eqprop:
  beta: 0.5
  symmetric: true
  free_steps: 40
  nudged_steps: 15
  theta: 0.01
  damping: 0.5
training:
  epochs: 20
  batch_size: 20
  learning_rates: [0.1, 0.05]
  seed: 0
evaluation:
  batch_size: 360
  train_subset: null
"""

MINIMAL = """\
name: minimal
dataset:
  name: digits
network:
  layers: [64, 10]
eqprop:
  beta: 0.2
  free_steps: 10
  nudged_steps: 5
  theta: 0
training:
  epochs: 1
  batch_size: 10
  learning_rates: [1]
"""

TOP_KEYS = ("name", "dataset", "network", "eqprop", "training", "description", "evaluation", "backprop", "noise_injection",
            "implicit", "spiking")
TRAINING_KEYS = ("epochs", "batch_size", "learning_rates", "lr_decay", "seed", "spectral_norm", "algorithm")


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("EMULATOR_OFFLINE", "1")


def line_of(text: str, needle: str, start: int = 1) -> int:
    """1-based number of the first line (from line ``start``) containing ``needle``."""
    for number, line in enumerate(text.splitlines(), 1):
        if number >= start and needle in line:
            return number
    raise AssertionError(f"{needle!r} not in the test text")


def replaced(old: str, new: str, text: str = BASE) -> str:
    assert text.count(old) == 1, f"{old!r} must occur exactly once"
    return text.replace(old, new)


@pytest.fixture
def write(tmp_path):
    def write(text: str, name: str = "work.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path
    return write


def error_of(path, overrides=()) -> str:
    with pytest.raises(ConfigError) as info:
        load_workload(path, list(overrides))
    message = str(info.value)
    assert "\n" not in message, "an error is one line"
    return message


def assert_points_at(message: str, path: Path, line: int, key: str):
    assert message.startswith(f"{path}:{line}: {key}: "), message


# -- valid files ---------------------------------------------------------------------------------
@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_workloads_load(path):
    workload = load_workload(path)
    assert workload.name
    if workload.kind == "maxcut":
        assert isinstance(workload, MaxCutWorkload) and workload.graph_path().is_file()
        assert workload.where("anneal", "theta").startswith(f"{path}:")
        return
    if workload.kind == "snn_inference":
        assert isinstance(workload, InferenceWorkload) and workload.network_path().is_file()
        assert workload.where("data", "steps").startswith(f"{path}:")
        return
    assert isinstance(workload, Workload)
    assert len(workload.training.learning_rates) == len(workload.network.layers) - 1
    assert workload.where("eqprop", "theta").startswith(f"{path}:")


def test_kind_classification_is_the_default(write):
    assert load_workload(write("kind: classification\n" + BASE)) == load_workload(write(BASE))


def test_there_are_shipped_workloads():
    assert any(p.stem == "digits_snn" for p in SHIPPED)


def test_base_loads_with_the_values_of_the_file(write):
    w = load_workload(write(BASE))
    assert w.name == "tiny_digits"
    assert w.dataset.name == "digits" and w.dataset.n_train is None
    assert w.network.layers == [64, 256, 10]
    assert (w.eqprop.beta, w.eqprop.symmetric, w.eqprop.free_steps, w.eqprop.nudged_steps) == (0.5, True, 40, 15)
    assert (w.eqprop.theta, w.eqprop.damping) == (0.01, 0.5)
    assert (w.training.epochs, w.training.batch_size, w.training.learning_rates) == (20, 20, [0.1, 0.05])
    assert (w.evaluation.batch_size, w.evaluation.train_subset) == (360, None)
    assert isinstance(w.training.epochs, int) and isinstance(w.eqprop.beta, float)


def test_defaults_are_filled(write):
    w = load_workload(write(MINIMAL))
    defaults = EvaluationSpec()
    assert w.evaluation.batch_size == defaults.batch_size == 500
    assert w.evaluation.train_subset == 2000
    assert w.description == ""
    assert w.dataset.preprocessing == "unit_range"
    assert w.dataset.n_train is None and w.dataset.n_test is None
    assert w.network.activation == "hard_sigmoid" and w.network.init_gain == 1.0
    assert w.eqprop.symmetric is True and w.eqprop.damping == 0.5
    assert w.training.lr_decay == 1.0 and w.training.seed == 0
    assert w.training.spectral_norm.enabled is False and w.training.spectral_norm.limit == 1.0
    # ints given for floats become floats
    assert w.eqprop.theta == 0.0 and isinstance(w.eqprop.theta, float)
    assert w.training.learning_rates == [1.0] and isinstance(w.training.learning_rates[0], float)


def test_workloads_are_frozen(write):
    w = load_workload(write(BASE))
    with pytest.raises(dataclasses.FrozenInstanceError):
        w.name = "other"


# -- unknown keys --------------------------------------------------------------------------------
def test_unknown_top_level_key(write):
    text = BASE + "epochs: 3\n"
    path = write(text)
    message = error_of(path)
    assert_points_at(message, path, line_of(text, "epochs: 3"), "epochs")
    assert "unknown key" in message
    assert "allowed keys here: " + ", ".join(TOP_KEYS) in message


def test_unknown_nested_key(write):
    text = replaced("  seed: 0\n", "  seed: 0\n  sed: 1\n")
    path = write(text)
    message = error_of(path)
    assert_points_at(message, path, line_of(text, "sed: 1"), "training.sed")
    assert "allowed keys here: " + ", ".join(TRAINING_KEYS) in message


def test_unknown_key_two_levels_deep(write):
    text = replaced("  seed: 0\n", "  seed: 0\n  spectral_norm: {enabled: true, limt: 2}\n")
    path = write(text)
    message = error_of(path)
    assert_points_at(message, path, line_of(text, "limt"), "training.spectral_norm.limt")
    assert "allowed keys here: enabled, limit" in message


def test_unknown_section_name_points_at_the_key_line(write):
    text = replaced("evaluation:\n", "evaluaton:\n  # how to evaluate\n")
    path = write(text)
    message = error_of(path)
    assert "allowed keys here: " + ", ".join(TOP_KEYS) in message
    assert_points_at(message, path, line_of(text, "evaluaton:"), "evaluaton")


def test_non_string_unknown_key_points_at_its_line(write):
    text = replaced("  seed: 0\n", "  seed: 0\n  1: 2\n")
    path = write(text)
    message = error_of(path)
    assert message.startswith(f"{path}:{line_of(text, '  1: 2')}: training"), message
    assert "unknown key" in message


def test_duplicate_key_is_an_error(write):
    text = replaced("  seed: 0\n", "  seed: 0\n  seed: 1\n")
    path = write(text)
    message = error_of(path)
    assert "training.seed: given twice; keep one" in message
    assert any(message.startswith(f"{path}:{n}: ") for n in (line_of(text, "seed: 0"), line_of(text, "seed: 1")))


# -- wrong types ---------------------------------------------------------------------------------
@pytest.mark.parametrize("old, new, needle, key, expected", [
    ("beta: 0.5", "beta: high", "beta:", "eqprop.beta", "must be a number, got 'high'"),
    ("beta: 0.5", "beta: '0.5'", "beta:", "eqprop.beta", "must be a number, got '0.5'"),
    ("epochs: 20", "epochs: 2.5", "epochs:", "training.epochs", "must be an integer, got 2.5"),
    ("epochs: 20", "epochs: 20.0", "epochs:", "training.epochs", "must be an integer, got 20.0"),
    ("beta: 0.5", "beta: true", "beta:", "eqprop.beta", "must be a number, got True"),
    ("free_steps: 40", "free_steps: yes", "free_steps:", "eqprop.free_steps", "must be an integer, got True"),
    ("symmetric: true", "symmetric: 1", "symmetric:", "eqprop.symmetric", "must be true or false, got 1"),
    ("name: tiny_digits", "name: 5", "name: 5", "name", "must be a string, got 5"),
    ("[64, 256, 10]", "[64, x, 10]", "layers:", "network.layers[1]", "must be an integer, got 'x'"),
    ("[64, 256, 10]", "[64, 25.6, 10]", "layers:", "network.layers[1]", "must be an integer, got 25.6"),
    ("[64, 256, 10]", "[64, true, 10]", "layers:", "network.layers[1]", "must be an integer, got True"),
    ("[0.1, 0.05]", "[0.1, fast]", "learning_rates:", "training.learning_rates[1]", "must be a number, got 'fast'"),
    ("[64, 256, 10]", "64", "layers:", "network.layers", "got 64"),
    ("train_subset: null", "train_subset: all", "train_subset:", "evaluation.train_subset", "got 'all'"),
])
def test_wrong_type(write, old, new, needle, key, expected):
    text = replaced(old, new)
    path = write(text)
    message = error_of(path)
    assert_points_at(message, path, line_of(text, needle), key)
    assert expected in message


@pytest.mark.parametrize("old, new, key, expected", [
    ("[64, 256, 10]", "64", "network.layers", "must be a list whose items are each an integer, got 64"),
    ("[0.1, 0.05]", "0.1", "training.learning_rates", "must be a list whose items are each a number, got 0.1"),
])
def test_list_type_is_described_in_plain_words(write, old, new, key, expected):
    text = replaced(old, new)
    path = write(text)
    assert error_of(path) == f"{path}:{line_of(text, new)}: {key}: {expected}"


def test_optional_type_error_says_null_is_allowed(write):
    path = write(replaced("train_subset: null", "train_subset: all"))
    assert "must be an integer or null, got 'all'" in error_of(path)


def test_wrong_type_of_a_block_list_item_names_its_own_line(write):
    text = replaced("learning_rates: [0.1, 0.05]", "learning_rates:\n    - 0.1\n    - fast")
    path = write(text)
    message = error_of(path)
    assert_points_at(message, path, line_of(text, "- fast"), "training.learning_rates[1]")
    assert "must be a number, got 'fast'" in message


def with_section(section: str, replacement: str, text: str = BASE) -> str:
    """``text`` with the block ``section:`` (header and indented body) replaced by ``replacement``."""
    lines = text.splitlines(keepends=True)
    start = lines.index(f"{section}:\n")
    end = start + 1
    while end < len(lines) and lines[end].startswith("  "):
        end += 1
    return "".join(lines[:start]) + replacement + "".join(lines[end:])


@pytest.mark.parametrize("section", ["eqprop", "evaluation"])
@pytest.mark.parametrize("value, shown", [("5", "5"), ("null", "None"), ("[1, 2]", "[1, 2]")])
def test_section_that_is_not_a_mapping(write, section, value, shown):
    text = with_section(section, f"{section}: {value}\n")
    path = write(text)
    message = error_of(path)
    assert_points_at(message, path, line_of(text, f"{section}: {value}"), section)
    assert "must be a mapping with keys" in message and message.endswith(f"got {shown}")


# -- out of range --------------------------------------------------------------------------------
@pytest.mark.parametrize("old, new, key, expected", [
    ("beta: 0.5", "beta: 1", "eqprop.beta", "must be < 1 (nudging strength), got 1"),
    ("beta: 0.5", "beta: 1.5", "eqprop.beta", "must be < 1 (nudging strength), got 1.5"),
    ("beta: 0.5", "beta: 0", "eqprop.beta", "must be > 0 (nudging strength), got 0"),
    ("beta: 0.5", "beta: .nan", "eqprop.beta", "must be a finite number, got nan"),
    ("theta: 0.01", "theta: -0.1", "eqprop.theta", "must be >= 0"),
    ("theta: 0.01", "theta: 1.0", "eqprop.theta", "must be < 1"),
    ("theta: 0.01", "theta: .inf", "eqprop.theta", "must be a finite number, got inf"),
    ("theta: 0.01", "theta: -.inf", "eqprop.theta", "must be a finite number, got -inf"),
    ("epochs: 20", "epochs: -1", "training.epochs", "must be >= 0 (passes over the training set), got -1"),
    ("damping: 0.5", "damping: 1", "eqprop.damping", "must be < 1"),
    ("damping: 0.5", "damping: -0.5", "eqprop.damping", "must be >= 0"),
    ("free_steps: 40", "free_steps: 0", "eqprop.free_steps", "must be >= 1"),
    ("  batch_size: 20", "  batch_size: 0", "training.batch_size", "must be >= 1"),
    ("  seed: 0", "  seed: -3", "training.seed", "must be >= 0"),
    ("[64, 256, 10]", "[64, 0, 10]", "network.layers[1]", "must be >= 1"),
    ("[0.1, 0.05]", "[0.1, 0]", "training.learning_rates[1]", "must be > 0"),
    ("[0.1, 0.05]", "[-0.1, 0.05]", "training.learning_rates[0]", "must be > 0"),
    ("train_subset: null", "train_subset: 0", "evaluation.train_subset", "must be >= 1"),
])
def test_out_of_range(write, old, new, key, expected):
    text = replaced(old, new)
    path = write(text)
    message = error_of(path)
    assert_points_at(message, path, line_of(text, new), key)
    assert expected in message


def test_out_of_range_message_says_what_the_key_means(write):
    path = write(replaced("theta: 0.01", "theta: -0.1"))
    message = error_of(path)
    assert "must be >= 0 (lazy threshold" in message and message.endswith("got -0.1")


def test_empty_layer_list(write):
    text = replaced("[64, 256, 10]", "[64]")
    path = write(text)
    message = error_of(path)
    assert_points_at(message, path, line_of(text, "layers:"), "network.layers")
    assert "must have at least 2 items, got 1" in message


def test_infinite_init_gain_is_rejected(write):
    text = replaced("  activation: hard_sigmoid\n", "  activation: hard_sigmoid\n  init_gain: .inf\n")
    path = write(text)
    message = error_of(path)
    assert_points_at(message, path, line_of(text, "init_gain"), "network.init_gain")
    assert message.endswith("must be a finite number, got inf")


# -- missing keys, literals, cross-field checks --------------------------------------------------
def test_missing_nested_key(write):
    text = replaced("  beta: 0.5\n", "")
    path = write(text)
    message = error_of(path)
    # the eqprop section: its header line or its first key
    header = line_of(text, "eqprop:")
    assert any(message.startswith(f"{path}:{n}: eqprop.beta: ") for n in (header, header + 1)), message
    assert "missing; it must be a number (nudging strength)" in message


def test_missing_top_level_section(write):
    start = BASE.index("training:\n")
    end = BASE.index("evaluation:\n")
    path = write(BASE[:start] + BASE[end:])
    message = error_of(path)
    assert message.startswith(f"{path}:")
    assert "training: missing; it must be a mapping with keys " + ", ".join(TRAINING_KEYS) in message


def test_wrong_number_of_learning_rates(write):
    text = replaced("[0.1, 0.05]", "[0.1]")
    path = write(text)
    message = error_of(path)
    assert_points_at(message, path, line_of(text, "learning_rates"), "training.learning_rates")
    assert "needs one learning rate per weight layer: 2 for layers [64, 256, 10], got 1" in message


def test_unknown_dataset_name_lists_the_known_ones(write):
    text = replaced("name: digits", "name: cifar")
    path = write(text)
    message = error_of(path)
    assert_points_at(message, path, line_of(text, "name: cifar"), "dataset.name")
    assert "must be one of 'digits', 'mnist', 'fashion_mnist', got 'cifar'" in message


def test_unknown_preprocessing_lists_the_known_ones(write):
    text = replaced("preprocessing: unit_range", "preprocessing: standardize")
    path = write(text)
    message = error_of(path)
    assert_points_at(message, path, line_of(text, "preprocessing"), "dataset.preprocessing")
    assert "'unit_range', 'binarize'" in message


# -- malformed files -----------------------------------------------------------------------------
def yaml_error_line(message: str, path: Path) -> int:
    """The 1-based line of ``FILE: not valid YAML: line N: <problem> ...``."""
    prefix = f"{path}: not valid YAML: line "
    assert message.startswith(prefix), message
    number, sep, problem = message[len(prefix):].partition(": ")
    assert sep and number.isdigit() and problem, message
    return int(number)


def test_bad_indentation(write):
    text = replaced("  symmetric: true", "   symmetric: true")
    path = write(text)
    message = error_of(path)
    assert yaml_error_line(message, path) == line_of(text, "symmetric")


def test_tab_indentation(write):
    text = replaced("  beta: 0.5", "\tbeta: 0.5")
    path = write(text)
    message = error_of(path)
    assert yaml_error_line(message, path) == line_of(text, "beta")
    assert "'\\t'" in message


def test_unclosed_bracket_is_invalid_yaml_with_a_line(write):
    text = replaced("[64, 256, 10]", "[64, 256, 10")
    path = write(text)
    message = error_of(path)
    assert "']'" in message
    assert yaml_error_line(message, path) in (line_of(text, "layers:"), line_of(text, "layers:") + 1)


def test_unclosed_bracket_names_the_line_of_the_bracket(write):
    text = replaced("[64, 256, 10]", "[64, 256, 10")
    path = write(text)
    message = error_of(path)
    assert message.startswith(f"{path}: not valid YAML: line "), message
    assert message.endswith(f" that starts on line {line_of(text, 'layers:')})"), message


@pytest.mark.parametrize("text", ["- 1\n- 2\n", "", "# only a comment\n", "just a string\n", "42\n"],
                         ids=["list", "empty", "comment", "string", "number"])
def test_file_that_is_not_a_mapping(write, text):
    path = write(text)
    message = error_of(path)
    assert message.startswith(f"{path}")
    assert "must be a YAML mapping of keys to values" in message


def test_missing_file(tmp_path):
    path = tmp_path / "absent.yaml"
    message = error_of(path)
    assert str(path) in message and "cannot read" in message


def test_file_that_is_not_utf8(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes(BASE.replace("a test workload", "caf\xe9").encode("latin-1"))
    message = error_of(path)
    assert message.startswith(f"{path}: ") and "UTF-8" in message


def test_exponent_notation_is_a_number(write):
    w = load_workload(write(replaced("theta: 0.01", "theta: 1e-3")))
    assert w.eqprop.theta == 0.001


# -- --set overrides -----------------------------------------------------------------------------
def test_override_int(write):
    w = load_workload(write(BASE), ["training.epochs=3"])
    assert w.training.epochs == 3 and isinstance(w.training.epochs, int)


def test_override_bool(write):
    w = load_workload(write(BASE), ["eqprop.symmetric=false"])
    assert w.eqprop.symmetric is False


def test_override_list(write):
    w = load_workload(write(BASE), ["network.layers=[64,32,10]"])
    assert w.network.layers == [64, 32, 10]


def test_override_list_item_and_null_and_new_subsection(write):
    w = load_workload(write(BASE), ["training.learning_rates.1=0.2", "dataset.n_train=100",
                                    "evaluation.train_subset=null", "training.spectral_norm.enabled=true"])
    assert w.training.learning_rates == [0.1, 0.2]
    assert w.dataset.n_train == 100 and w.evaluation.train_subset is None
    assert w.training.spectral_norm.enabled is True and w.training.spectral_norm.limit == 1.0


def test_later_override_wins_and_file_is_unchanged(write):
    path = write(BASE)
    w = load_workload(path, ["training.epochs=3", "training.epochs=5"])
    assert w.training.epochs == 5
    assert path.read_text() == BASE
    assert load_workload(path).training.epochs == 20


def test_override_of_a_key_points_errors_at_the_option(write):
    w = load_workload(write(BASE), ["eqprop.theta=0.2"])
    assert w.where("eqprop", "theta") == "--set eqprop.theta=0.2"


def test_override_unknown_key(write):
    message = error_of(write(BASE), ["training.epocs=3"])
    assert message.startswith("--set training.epocs=3: training.epocs: unknown key")
    assert "allowed keys here: " + ", ".join(TRAINING_KEYS) in message


def test_override_bad_type(write):
    message = error_of(write(BASE), ["training.epochs=abc"])
    assert message == "--set training.epochs=abc: training.epochs: must be an integer, got 'abc'"


def test_override_out_of_range(write):
    message = error_of(write(BASE), ["eqprop.beta=1"])
    assert message.startswith("--set eqprop.beta=1: eqprop.beta: must be < 1")


def test_override_unknown_literal(write):
    message = error_of(write(BASE), ["dataset.name=cifar"])
    assert message.startswith("--set dataset.name=cifar: dataset.name: ")
    assert "'digits', 'mnist', 'fashion_mnist'" in message


def test_override_wrong_number_of_learning_rates(write):
    message = error_of(write(BASE), ["training.learning_rates=[0.1]"])
    assert message.startswith("--set training.learning_rates=[0.1]: training.learning_rates: ")
    assert "needs one learning rate per weight layer: 2" in message


@pytest.mark.parametrize("item", ["foo", "=3", " =3", "training.epochs"])
def test_override_without_equals(write, item):
    message = error_of(write(BASE), [item])
    assert message.startswith(f"--set {item!r}: expected key.path=value")
    assert "--set training.epochs=1" in message


def test_override_value_that_is_not_yaml(write):
    message = error_of(write(BASE), ["training.learning_rates=[0.1,"])
    assert message.startswith("--set 'training.learning_rates=[0.1,': ") and "not valid YAML" in message


def test_override_below_a_scalar(write):
    message = error_of(write(BASE), ["eqprop.beta.x=1"])
    assert message.startswith("--set 'eqprop.beta.x=1': ") and "eqprop.beta is not a mapping" in message


@pytest.mark.parametrize("key, below", [("eqprop.beta.x.y", "eqprop.beta"), ("name.x\ny.z", "name"),
                                        ("network.layers.5.x", "network.layers")])
def test_override_below_a_scalar_names_the_scalar_on_one_line(write, key, below):
    message = error_of(write(BASE), [f"{key}=1"])
    assert message.endswith(f": {below} is not a mapping") and "\n" not in message, message


def test_override_misspelt_section_points_at_the_option(write):
    message = error_of(write(BASE), ["trainin.epochs=1"])
    assert message.startswith("--set trainin.epochs=1: trainin: unknown key"), message


def test_override_list_index_out_of_range(write):
    message = error_of(write(BASE), ["network.layers.5=32"])
    assert "network.layers" in message and "not a mapping" not in message
    assert "5" in message and "3" in message


# -- property: any float given to eqprop.theta ----------------------------------------------------
def yaml_float(value: float) -> str:
    """``value`` written so that PyYAML reads it back as exactly this float."""
    if math.isnan(value):
        return ".nan"
    if math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    return np.format_float_positional(value, unique=True, trim="0")


def check_theta(path: Path, text: str, value: float):
    try:
        w = load_workload(path, [f"eqprop.theta={text}"])
    except ConfigError as exc:
        assert "eqprop.theta" in str(exc) and f"--set eqprop.theta={text}" in str(exc)
        assert not (0 <= value < 1), f"{text} is allowed but was rejected: {exc}"
    else:
        assert 0 <= value < 1
        assert w.eqprop.theta == value and isinstance(w.eqprop.theta, float)


@pytest.fixture(scope="module")
def theta_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("theta") / "work.yaml"
    path.write_text(MINIMAL)  # short: parsed once per example
    return path


@settings(max_examples=50, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.floats())
@example(value=0.0)
@example(value=-0.0)
@example(value=1.0)
@example(value=0.9999999999999999)
@example(value=5e-324)
@example(value=-5e-324)
@example(value=1e300)
def test_theta_override_property(theta_file, value):
    check_theta(theta_file, yaml_float(value), value)


@settings(max_examples=50, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.floats())
@example(value=1e-05)
def test_theta_override_property_with_python_float_syntax(theta_file, value):
    text = {"nan": ".nan", "inf": ".inf", "-inf": "-.inf"}.get(repr(value), repr(value))
    check_theta(theta_file, text, value)
