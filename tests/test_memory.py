"""A run checks the chip's capacity and the machine's memory before it allocates the network: a
network too large for the chip is the chip's capacity error, and a run that would need more memory
than the machine has is one error naming the key to change, with the estimate."""
from __future__ import annotations

from pathlib import Path

import pytest

from emulator.tasks import classification

ROOT = Path(__file__).resolve().parents[1]
DIGITS = ROOT / "workloads" / "digits_snn.yaml"


def line_of(path: Path, needle: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


@pytest.mark.parametrize("options, key, share", [
    ([], "evaluation.batch_size", "relaxations of 360 samples x 40 steps"),
    (["--set", "evaluation.batch_size=10", "--set", "network.layers=[64,20000,10]"], "network.layers",
     "the network and its programs"),
])
def test_a_run_needing_more_memory_than_the_machine_has_names_the_key(user_error, monkeypatch, tmp_path, options,
                                                                      key, share):
    monkeypatch.setattr(classification, "machine_bytes", lambda: 20 << 20)
    message = user_error("run", DIGITS, "--chip", "digital", *options, "--out", tmp_path / "r")
    where = f"--set {options[-1]}" if options else f"{DIGITS}:{line_of(DIGITS, 'batch_size: 360')}"
    assert message.startswith(f"{where}: {key}: this run on chip 'digital' needs about "), message
    assert "more than the 20.0 MiB this machine has" in message and share in message
    assert not (tmp_path / "r").exists()


def test_a_chip_too_small_is_refused_before_the_network_is_allocated(user_error, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("the network was allocated before the capacity check")

    monkeypatch.setattr(classification, "init_network", no_network)
    message = user_error("run", DIGITS, "--chip", "oim-cmos", "--set", "network.layers=[64,1000000,10]")
    assert message.startswith("the network [64, 1000000, 10] needs 1,000,074 oscillators")


def test_the_estimate_counts_what_each_family_keeps_per_step(monkeypatch):
    """The per-core logs of every step make a long Loihi relaxation need far more than a digital one."""
    from emulator.backends.base import Backend
    from emulator.chip import get_backend, load_chip
    from emulator.datasets import load_dataset
    from emulator.errors import ConfigError
    from emulator.workload import load_workload

    monkeypatch.setattr(classification, "machine_bytes", lambda: 1 << 30)
    workload = load_workload(DIGITS, ["eqprop.free_steps=10000"])
    data = load_dataset("digits")
    digital, loihi = (load_chip(ROOT / "chips" / f"{name}.yaml") for name in ("digital", "loihi2"))
    classification.check_memory(workload, digital, get_backend("digital"), data)
    with pytest.raises(ConfigError, match=r"evaluation.batch_size: this run on chip 'loihi2' needs about 2\.\d GiB"):
        classification.check_memory(workload, loihi, get_backend("loihi"), data)
    default = Backend.memory(get_backend("loihi"), workload.network.layers, loihi, batch=360, max_steps=10_000)
    assert get_backend("loihi").memory(workload.network.layers, loihi, batch=360, max_steps=10_000).relaxation \
        > default.relaxation
