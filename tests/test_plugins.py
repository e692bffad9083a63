"""A third-party back-end registered through the ``emulator.backends`` entry-point group."""
from importlib.metadata import EntryPoint

import pytest
import yaml

import emulator.chip as chip_module
from emulator.backends.digital import DigitalBackend
from emulator.chip import backend_names, get_backend, load_chip
from emulator.errors import ConfigError


class EchoBackend(DigitalBackend):
    """The digital back-end under another family name, as a plug-in package would ship it."""

    family = "echo"


def test_plugin_backend_is_found_and_loads_its_chips(monkeypatch, tmp_path):
    plugin = EntryPoint(name="echo", value=f"{__name__}:EchoBackend", group=chip_module.ENTRY_POINT_GROUP)
    monkeypatch.setattr(chip_module, "entry_points",
                        lambda group: [plugin] if group == chip_module.ENTRY_POINT_GROUP else [])
    assert backend_names() == {**chip_module.BUILTIN_BACKENDS, "echo": f"{__name__}:EchoBackend"}
    assert isinstance(get_backend("echo"), EchoBackend)

    spec = yaml.safe_load(open("chips/digital.yaml"))
    spec.update(name="echo-chip", backend="echo")
    path = tmp_path / "echo.yaml"
    path.write_text(yaml.safe_dump(spec))
    chip = load_chip(path)
    assert chip.backend == "echo" and chip.energy_per_op()["synaptic_ops"] == pytest.approx(19.6e-12)


def test_without_the_plugin_the_family_is_unknown(tmp_path):
    spec = yaml.safe_load(open("chips/digital.yaml"))
    spec.update(name="echo-chip", backend="echo")
    path = tmp_path / "echo.yaml"
    path.write_text(yaml.safe_dump(spec))
    with pytest.raises(ConfigError, match="unknown back-end family 'echo'; known: crossbar, digital, loihi, oim"):
        load_chip(path)
