"""Tests of chip files (emulator.chip): the shipped chips load and cite a source for every
number; a bad chip file gives ONE ConfigError naming the file, the line, the key path and what
is allowed; units convert exactly.

Modified chips are the shipped ``chips/digital.yaml`` loaded with yaml.safe_load, changed, and
dumped to tmp_path; expected lines are found with yaml.compose on the dumped text."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from emulator.backends.digital import DigitalBackend
from emulator.chip import UNITS, Chip, Constant, backend_names, get_backend, load_chip
from emulator.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted((ROOT / "chips").glob("*.yaml"))
DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml when present: faster
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
DIGITAL_OPS = ("steps", "unit_updates", "messages", "synaptic_ops", "weight_writes", "forward_macs", "backward_macs",
               "gradient_macs", "activation_writes", "activation_reads")

# independent of emulator.chip.UNITS: what each unit is in SI
ENERGY = {"fJ": 1e-15, "pJ": 1e-12, "nJ": 1e-9, "uJ": 1e-6, "µJ": 1e-6, "mJ": 1e-3, "J": 1.0}
TIME = {"ps": 1e-12, "ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0}
POWER = {"nW": 1e-9, "uW": 1e-6, "µW": 1e-6, "mW": 1e-3, "W": 1.0}


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("EMULATOR_OFFLINE", "1")


@pytest.fixture(scope="module")
def digital() -> dict:
    return yaml.safe_load((ROOT / "chips" / "digital.yaml").read_text(encoding="utf-8"))


@pytest.fixture
def chip_file(tmp_path, digital):
    """``chip_file(change)``: the digital chip changed by ``change(data)``, written to tmp_path."""
    def make(change=None, name="chip.yaml") -> Path:
        data = copy.deepcopy(digital)
        if change:
            change(data)
        path = tmp_path / name
        path.write_text(yaml.dump(data, Dumper=DUMPER, sort_keys=False, allow_unicode=True), encoding="utf-8")
        return path
    return make


def key_line(path: Path, *keys) -> int:
    """1-based line of the KEY at ``keys`` in the YAML file ``path``."""
    node, line = yaml.compose(path.read_text(encoding="utf-8"), Loader=LOADER), None
    for key in keys:
        for k, v in node.value:
            if k.value == key:
                node, line = v, k.start_mark.line + 1
                break
        else:
            raise AssertionError(f"{keys} not in {path}")
    return line


def error_of(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_chip(path)
    message = str(info.value)
    assert "\n" not in message, "an error is one line"
    return message


# -- the shipped chips ---------------------------------------------------------------------------
def test_there_are_shipped_chips():
    assert any(p.stem == "digital" for p in SHIPPED)


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_chip_loads_and_cites_every_number(path):
    chip = load_chip(path)
    assert isinstance(chip, Chip) and chip.name
    backend = get_backend(chip.backend)
    assert set(chip.energy) == set(backend.ops) == set(chip.time)
    for table in (chip.energy, chip.time):
        for op, constant in table.items():
            assert constant.source.strip(), f"{path}: {op} has no source"
            assert constant.value >= 0
    assert chip.static_power.source.strip()
    assert chip.static_power.unit in POWER
    assert chip.where("parameters").startswith(f"{path}:")


def test_digital_backend_is_built_in_and_counts_its_ops():
    assert "digital" in backend_names()
    assert isinstance(get_backend("digital"), DigitalBackend)
    assert tuple(DigitalBackend.ops) == DIGITAL_OPS


def test_a_rewritten_copy_of_the_shipped_chip_loads(chip_file, digital):
    chip = load_chip(chip_file())
    assert chip.name == digital["name"] and chip.backend == "digital"


# -- energy and time tables ----------------------------------------------------------------------
@pytest.mark.parametrize("table", ["energy", "time"])
@pytest.mark.parametrize("op", DIGITAL_OPS)
def test_missing_entry_names_the_op_and_the_backend(chip_file, table, op):
    path = chip_file(lambda d: d[table].pop(op))
    message = error_of(path)
    header = key_line(path, table)
    # the table: its header line, or the line its first entry starts on
    assert any(message.startswith(f"{path}:{n}: {table}: ") for n in (header, header + 1)), message
    assert f"no entry for {op!r}, which back-end 'digital' counts" in message
    assert "value, unit and source" in message


def test_op_the_backend_does_not_count_lists_the_counted_ops(chip_file):
    path = chip_file(lambda d: d["energy"].update(spikes={"value": 1, "unit": "pJ", "source": "assumed"}))
    message = error_of(path)
    assert message.startswith(f"{path}:")
    assert "energy.spikes: back-end 'digital' counts no such operation" in message
    assert "it counts: " + ", ".join(DIGITAL_OPS) in message


def test_op_the_backend_does_not_count_names_its_line(chip_file):
    path = chip_file(lambda d: d["time"].update(spikes={"value": 1, "unit": "ns", "source": "assumed"}))
    assert error_of(path).startswith(f"{path}:{key_line(path, 'time', 'spikes')}: time.spikes: ")


def test_misspelt_op_is_an_error(chip_file):
    path = chip_file(lambda d: d["energy"].update(synaptic_opz=d["energy"].pop("synaptic_ops")))
    message = error_of(path)
    assert message.startswith(f"{path}:") and "synaptic_ops" in message


def test_misspelt_op_names_the_typo_and_lists_the_counted_ops(chip_file):
    path = chip_file(lambda d: d["energy"].update(synaptic_opz=d["energy"].pop("synaptic_ops")))
    message = error_of(path)
    assert "energy.synaptic_opz" in message
    assert "it counts: " + ", ".join(DIGITAL_OPS) in message


@pytest.mark.parametrize("table, kind, unit, allowed", [
    ("energy", "energy", "pj", ENERGY), ("energy", "energy", "ns", ENERGY),
    ("time", "time", "cycles", TIME), ("time", "time", "pJ", TIME),
])
def test_unknown_unit_lists_the_allowed_ones(chip_file, table, kind, unit, allowed):
    path = chip_file(lambda d: d[table]["messages"].update(unit=unit))
    message = error_of(path)
    line = key_line(path, table, "messages", "unit")
    assert message.startswith(f"{path}:{line}: {table}.messages.unit: unknown {kind} unit {unit!r}")
    assert "use one of " + ", ".join(allowed) in message


def test_unknown_static_power_unit(chip_file):
    path = chip_file(lambda d: d["static_power"].update(unit="mJ"))
    message = error_of(path)
    line = key_line(path, "static_power", "unit")
    assert message.startswith(f"{path}:{line}: static_power.unit: unknown power unit 'mJ'")
    assert "use one of " + ", ".join(POWER) in message


@pytest.mark.parametrize("source", ["", "   ", "\n"])
def test_empty_source(chip_file, source):
    path = chip_file(lambda d: d["time"]["steps"].update(source=source))
    message = error_of(path)
    line = key_line(path, "time", "steps", "source")
    assert message.startswith(f"{path}:{line}: time.steps.source: must say where the number comes from")


def test_missing_source(chip_file):
    path = chip_file(lambda d: d["energy"]["messages"].pop("source"))
    message = error_of(path)
    assert message.startswith(f"{path}:") and "energy.messages.source: missing; it must be a string" in message


@pytest.mark.parametrize("change, key, expected", [
    (lambda d: d["energy"]["messages"].update(value=-1), ("energy", "messages", "value"), "must be >= 0"),
    (lambda d: d["energy"]["messages"].update(value="15 pJ"), ("energy", "messages", "value"),
     "must be a number, got '15 pJ'"),
    (lambda d: d["energy"]["messages"].update(unit=5), ("energy", "messages", "unit"), "must be a string, got 5"),
    (lambda d: d["energy"].update(messages=15), ("energy", "messages"),
     "must be a mapping with keys value, unit, source, got 15"),
    (lambda d: d["energy"]["messages"].update(cost=1), ("energy", "messages", "cost"),
     "unknown key; allowed keys here: value, unit, source"),
    (lambda d: d.update(name=7), ("name",), "must be a string, got 7"),
    (lambda d: d.update(colour="blue"), ("colour",), "unknown key; allowed keys here: name, backend"),
])
def test_bad_constant_or_top_level_key(chip_file, change, key, expected):
    path = chip_file(change)
    message = error_of(path)
    assert message.startswith(f"{path}:{key_line(path, *key)}: {'.'.join(key)}: "), message
    assert expected in message


# -- back-end family and its parameters ----------------------------------------------------------
def test_unknown_backend_family_lists_the_known_ones(chip_file):
    path = chip_file(lambda d: d.update(backend="analog"))
    message = error_of(path)
    assert message.startswith(f"{path}:{key_line(path, 'backend')}: ")
    assert "unknown back-end family 'analog'; known: " + ", ".join(sorted(backend_names())) in message
    assert "digital" in message.split("known: ")[1]
    assert "'emulator.backends' entry-point group" in message


def test_unknown_backend_family_names_the_key_path(chip_file):
    path = chip_file(lambda d: d.update(backend="analog"))
    assert error_of(path).startswith(f"{path}:{key_line(path, 'backend')}: backend: ")


def test_unknown_parameter_of_the_digital_backend(chip_file):
    path = chip_file(lambda d: d["parameters"].update(sram_kib=8192))
    message = error_of(path)
    line = key_line(path, "parameters", "sram_kib")
    assert message.startswith(f"{path}:{line}: parameters.sram_kib: unknown key")
    assert "allowed keys here: precision, sram_bytes" in message


@pytest.mark.parametrize("change, key, expected", [
    (lambda d: d["parameters"].update(precision="int8"), ("parameters", "precision"),
     "must be one of 'float32', 'float64', got 'int8'"),
    (lambda d: d["parameters"].update(sram_bytes="8MiB"), ("parameters", "sram_bytes"),
     "must be an integer, got '8MiB'"),
    (lambda d: d["parameters"].update(sram_bytes=0), ("parameters", "sram_bytes"), "must be >= 1"),
    (lambda d: d.update(parameters="fp32"), ("parameters",), "must be a mapping, got 'fp32'"),
])
def test_bad_parameter_of_the_digital_backend(chip_file, change, key, expected):
    path = chip_file(change)
    message = error_of(path)
    assert message.startswith(f"{path}:{key_line(path, *key)}: {'.'.join(key)}: "), message
    assert expected in message


def test_missing_parameter_of_the_digital_backend(chip_file):
    path = chip_file(lambda d: d["parameters"].pop("sram_bytes"))
    message = error_of(path)
    assert message.startswith(f"{path}:")
    assert "parameters.sram_bytes: missing; it must be an integer (on-chip memory" in message


def test_malformed_chip_yaml(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: broken\nbackend: digital\nenergy:\n  messages: {value: 1, unit: pJ\n")
    message = error_of(path)
    assert message.startswith(f"{path}:") and "not valid YAML" in message


def test_chip_file_that_is_a_list(tmp_path):
    path = tmp_path / "list.yaml"
    path.write_text("- digital\n")
    assert "must be a YAML mapping" in error_of(path)


# -- units ---------------------------------------------------------------------------------------
def test_unit_tables_are_the_si_prefixes():
    assert UNITS == {"energy": ENERGY, "time": TIME, "power": POWER}


@pytest.mark.parametrize("unit", list(ENERGY))
def test_energy_per_op_converts_units_exactly(chip_file, unit):
    def change(d):
        for i, op in enumerate(DIGITAL_OPS):
            d["energy"][op].update(value=i + 1, unit=unit)
    chip = load_chip(chip_file(change))
    joules = chip.energy_per_op()
    assert joules["steps"] == ENERGY[unit]  # value 1: exactly the factor
    assert joules == {op: pytest.approx((i + 1) * ENERGY[unit], rel=1e-15) for i, op in enumerate(DIGITAL_OPS)}


@pytest.mark.parametrize("unit", list(TIME))
def test_time_per_op_converts_units_exactly(chip_file, unit):
    def change(d):
        for op in DIGITAL_OPS:
            d["time"][op].update(value=1, unit=unit)
    chip = load_chip(chip_file(change))
    assert chip.time_per_op() == dict.fromkeys(DIGITAL_OPS, TIME[unit])


@pytest.mark.parametrize("unit", list(POWER))
def test_static_power_converts_units_exactly(chip_file, unit):
    chip = load_chip(chip_file(lambda d: d["static_power"].update(value=1, unit=unit)))
    assert chip.static_power.si("power") == POWER[unit]


def test_shipped_digital_chip_in_joules_and_seconds(digital):
    chip = load_chip(ROOT / "chips" / "digital.yaml")
    energy, time = chip.energy_per_op(), chip.time_per_op()
    assert set(energy) == set(time) == set(DIGITAL_OPS)
    for op in DIGITAL_OPS:
        e, t = digital["energy"][op], digital["time"][op]
        assert energy[op] == pytest.approx(e["value"] * ENERGY[e["unit"]], rel=1e-15)
        assert time[op] == pytest.approx(t["value"] * TIME[t["unit"]], rel=1e-15)
        assert isinstance(energy[op], float) and isinstance(time[op], float)


# -- a chip that extends another -----------------------------------------------------------------
def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_a_variant_states_only_what_differs(tmp_path):
    """Mappings merge key by key; a scalar or a list is the child's; the rest is the parent's."""
    path = write(tmp_path / "digital-f64.yaml",
                 "name: digital-f64\nextends: digital\nparameters:\n  precision: float64\n"
                 "energy:\n  messages: {value: 30}\n")
    chip, parent = load_chip(path), load_chip(ROOT / "chips" / "digital.yaml")
    assert chip.name == "digital-f64" and chip.backend == "digital" and chip.description == parent.description
    assert chip.parameters == {**parent.parameters, "precision": "float64"}
    assert chip.energy["messages"] == Constant(value=30.0, unit="pJ", source=parent.energy["messages"].source)
    assert {op: c for op, c in chip.energy.items() if op != "messages"} == \
        {op: c for op, c in parent.energy.items() if op != "messages"}
    assert chip.time == parent.time and chip.static_power == parent.static_power


def test_extends_takes_a_path_relative_to_the_extending_file(tmp_path, chip_file):
    chip_file(name="base.yaml")
    (tmp_path / "variants").mkdir()
    path = write(tmp_path / "variants" / "small.yaml",
                 "name: small\nextends: ../base.yaml\nparameters:\n  sram_bytes: 1024\n")
    assert load_chip(path).parameters == {"precision": "float32", "sram_bytes": 1024}


def test_an_error_in_an_inherited_key_names_the_parents_file_and_line(tmp_path, chip_file):
    parent = chip_file(lambda d: d["energy"]["messages"].update(unit="pj"), name="base.yaml")
    child = write(tmp_path / "child.yaml", "name: child\nextends: base.yaml\nparameters:\n  sram_bytes: 1024\n")
    line = key_line(parent, "energy", "messages", "unit")
    assert error_of(child).startswith(f"{parent}:{line}: energy.messages.unit: unknown energy unit 'pj'")


def test_an_error_in_a_stated_key_names_the_childs_file_and_line(tmp_path, chip_file):
    chip_file(name="base.yaml")
    child = write(tmp_path / "child.yaml", "name: child\nextends: base.yaml\nparameters:\n  sram_bytes: 0\n")
    assert error_of(child).startswith(f"{child}:4: parameters.sram_bytes: must be >= 1")
    child = write(tmp_path / "child.yaml", "name: child\nextends: base.yaml\nenergy:\n  messages:\n    cost: 1\n")
    assert error_of(child).startswith(f"{child}:5: energy.messages.cost: unknown key")


def test_a_chip_set_on_a_variant_points_at_the_option(tmp_path, chip_file):
    chip_file(name="base.yaml")
    child = write(tmp_path / "child.yaml", "name: child\nextends: base.yaml\n")
    with pytest.raises(ConfigError) as info:
        load_chip(child, ["parameters.sram_bytes=0"])
    assert str(info.value).startswith("--chip-set parameters.sram_bytes=0: parameters.sram_bytes: must be >= 1")


def test_extends_an_unknown_chip_names_the_line(tmp_path):
    path = write(tmp_path / "child.yaml", "name: child\nextends: digitl\n")
    message = error_of(path)
    assert message.startswith(f"{path}:2: extends: unknown chip 'digitl'; known: ")
    path = write(tmp_path / "child.yaml", "name: child\nextends: missing.yaml\n")
    assert error_of(path) == f"{path}:2: extends: chip file {tmp_path / 'missing.yaml'} does not exist"


def test_a_variant_needs_its_own_name(tmp_path):
    path = write(tmp_path / "child.yaml", "extends: digital\n")
    assert error_of(path) == (f"{path}:1: (top level): a chip that extends 'digital' needs its own name; "
                              "add `name: child`")


def test_chips_that_extend_each_other_are_one_error_naming_the_files(tmp_path):
    a = write(tmp_path / "a.yaml", "name: a\nextends: b.yaml\n")
    b = write(tmp_path / "b.yaml", "name: b\nextends: a.yaml\n")
    assert error_of(a) == (f"{b}:2: extends: the chip files extend each other in a cycle: {a} -> {b} -> {a}; "
                           "let one of them state its parameters instead")
    itself = write(tmp_path / "c.yaml", "name: c\nextends: c.yaml\n")
    assert "cycle: " + f"{itself} -> {itself};" in error_of(itself)

