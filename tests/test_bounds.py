"""Every number a chip or workload file gives has a range a physicist would accept, and a run checks
its memory before allocating: an absurd but finite value (an energy of 1e308 J, a layer of a
billion units, a million-character name, a phase noise of 1e6) is one error naming the key, at
load time, instead of a crash, a hang or a NaN in the report."""
from __future__ import annotations

import dataclasses
import typing
from pathlib import Path

import pytest

from emulator.backends.crossbar import noise
from emulator.chip import Chip, Constant, backend_names, get_backend
from emulator.schema import tagged_members
from emulator.workload import KINDS, BestKnownSpec

ROOT = Path(__file__).resolve().parents[1]
DIGITS = ROOT / "workloads" / "digits_snn.yaml"
#: numeric fields bounded elsewhere: a constant's value by the ceiling of its kind (chip.CEILINGS), and
#: the best-known cut of a MaxCut graph by the graph's weights
BOUNDED_ELSEWHERE = {(Constant, "value"), (BestKnownSpec, "cut")}


def schemas() -> set[type]:
    """Every schema dataclass a chip or workload file is built with, nested ones included."""
    found, todo = set(), [*KINDS.values(), Chip, *(get_backend(f).Parameters for f in backend_names())]
    while todo:
        cls = todo.pop()
        if cls in found:
            continue
        found.add(cls)
        for tp in typing.get_type_hints(cls).values():
            for member in [tp, *typing.get_args(tp), *tagged_members(tp).values()]:
                for inner in [member, *typing.get_args(member)]:
                    if dataclasses.is_dataclass(inner):
                        todo.append(inner)
    return found


def numeric(tp) -> bool:
    return tp in (int, float) or any(numeric(a) for a in typing.get_args(tp) if a is not type(None))


@pytest.mark.parametrize("cls", sorted(schemas(), key=lambda c: c.__qualname__), ids=lambda c: c.__qualname__)
def test_every_number_has_a_lower_and_an_upper_bound(cls):
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.metadata.get("internal") or (cls, f.name) in BOUNDED_ELSEWHERE or not numeric(hints[f.name]):
            continue
        meta = f.metadata
        assert meta.get("ge") is not None or meta.get("gt") is not None, f"{cls.__name__}.{f.name} has no lower bound"
        assert meta.get("le") is not None or meta.get("lt") is not None, f"{cls.__name__}.{f.name} has no upper bound"


def test_the_schemas_found_include_every_family_and_device_model():
    names = {cls.__name__ for cls in schemas()}
    assert {"DigitalParameters", "LoihiParameters", "CrossbarParameters", "OimParameters", "Forward", "Readout",
            "Pcm1fReadNoise", "PolynomialProgrammingNoise", "PowerLawDrift", "AnnealSpec", "Constant"} <= names
    assert noise.ConstantReadNoise in schemas()


# -- absurd values, through the command line -----------------------------------------------------
@pytest.mark.parametrize("options, expected", [
    (["--set", "eqprop.free_steps=1000000000000"],
     "--set eqprop.free_steps=1000000000000: eqprop.free_steps: must be <= 10000"),
    (["--set", "network.layers=[64,1000000000,10]"],
     "--set network.layers=[64,1000000000,10]: network.layers[1]: must be <= 1000000"),
    (["--set", "training.learning_rates=[1e6,1e6]"],
     "--set training.learning_rates=[1e6,1e6]: training.learning_rates[0]: must be <= 10"),
    (["--set", "training.seed=99999999999"], "training.seed: must be <= 4294967295"),
    (["--set", "evaluation.batch_size=10000000"], "evaluation.batch_size: must be <= 100000"),
    (["--set", "eqprop.theta=" + "9" * 400], "eqprop.theta: must be a finite number, got 999999"),
    (["--chip", "oim-cmos", "--chip-set", "parameters.phase_noise=1e6"],
     "--chip-set parameters.phase_noise=1e6: parameters.phase_noise: must be <= 1 (phase noise"),
    (["--chip", "oim-cmos", "--chip-set", "parameters.step_tolerance=1e-300"],
     "parameters.step_tolerance: must be >= 1e-06"),
    (["--chip", "loihi2", "--chip-set", "parameters.weight_bits=1"],
     "--chip-set parameters.weight_bits=1: parameters.weight_bits: must be >= 2 (bits of a Dense weight"),
    (["--chip", "crossbar-pcm", "--chip-set", "parameters.dt_s=1e-6"],
     "--chip-set parameters.dt_s=1e-6: parameters.dt_s (1e-06 s) is longer than tau_s (1e-07 s)"),
    (["--chip", "crossbar-pcm", "--chip-set", "parameters.read_time_s=1e-8"],
     "parameters.read_noise.t_read_s (2.5e-07 s) is longer than read_time_s (1e-08 s)"),
    (["--chip-set", "energy.synaptic_ops.value=1e308"],
     "--chip-set energy.synaptic_ops.value=1e308: energy.synaptic_ops.value: 1e+308 pJ is more than 10 J (ten "
     "joules per operation"),
    (["--chip", "oim-cmos", "--chip-set", "time.weight_writes={value: 1e308, unit: s, source: a test}"],
     "time.weight_writes.value: 1e+308 s is more than 10 s"),
])
def test_an_absurd_value_is_refused_at_load(user_error, tmp_path, options, expected):
    args = ["run", DIGITS, *options, "--out", tmp_path / "r"]
    if "--chip" not in options:
        args[2:2] = ["--chip", "digital"]
    message = user_error(*args)
    assert expected in message, message
    assert not (tmp_path / "r").exists()


def test_a_million_character_name_is_refused_quickly(user_error, tmp_path):
    path = tmp_path / "long.yaml"
    path.write_text(DIGITS.read_text().replace("name: digits_snn", "name: " + "n" * 1_000_000))
    assert user_error("run", path, "--chip", "digital").endswith("name: must have at most 100 characters, "
                                                                 "got 1,000,000")
    chip = tmp_path / "chip.yaml"
    chip.write_text((ROOT / "chips" / "digital.yaml").read_text().replace("description: ", "description: " + "d" * 300))
    assert "description: must have at most 200 characters, got 3" in user_error("run", DIGITS, "--chip", chip)


def test_a_kilowatt_static_power_is_the_ceiling(user_error):
    message = user_error("run", DIGITS, "--chip", "digital", "--chip-set", "static_power={value: 2, unit: W, "
                         "source: x}", "--chip-set", "static_power.value=2000")
    assert message.endswith("static_power.value: 2000 W is more than 1000 W (a kilowatt is a rack of chips); check "
                            "the value and its unit")
