"""Third-party back-ends and chips, registered through entry points by an installed package.

The plug-in package is made in a temporary folder with its own ``*.dist-info`` (as pip would
install it), so ``importlib.metadata`` finds its entry points for real; the emulator runs in a
new process from an empty folder, so nothing is found next to a checkout by accident.
"""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from emulator.chip import backend_names, load_chip
from emulator.errors import ConfigError

DIGITAL = Path("chips/digital.yaml").resolve()

PLUGIN = '''
from emulator.backends.digital import DigitalBackend


class EchoBackend(DigitalBackend):
    """The digital back-end under another family name."""

    family = "echo"


class LeakyBackend(DigitalBackend):
    """A back-end that counts an op its chip files do not price."""

    family = "leaky"

    def relax(self, program, x, **kwargs):
        eq, counters = super().relax(program, x, **kwargs)
        counters["leaks"] = 1
        return eq, counters
'''

ENTRY_POINTS = '''
[emulator.backends]
echo = echo_plugin:EchoBackend
leaky = echo_plugin:LeakyBackend

[emulator.chips]
echo_plugin = echo_plugin.chips
'''


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A folder on which the plug-in package ``echo_plugin`` is installed, with two chip files."""
    site = tmp_path_factory.mktemp("site")
    package = site / "echo_plugin"
    (package / "chips").mkdir(parents=True)
    (package / "__init__.py").write_text(textwrap.dedent(PLUGIN))
    for family in ("echo", "leaky"):
        spec = yaml.safe_load(DIGITAL.read_text())
        spec.update(name=f"{family}-chip", backend=family, description=f"the {family} plug-in's chip")
        (package / "chips" / f"{family}-chip.yaml").write_text(yaml.safe_dump(spec))
    info = site / "echo_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: echo-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(ENTRY_POINTS)
    return site


def emulator(site, tmp_path, *args):
    """``python -m emulator ARGS`` in an empty folder, with the plug-in installed; (status, stdout, stderr)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
               EMULATOR_OFFLINE="1")
    done = subprocess.run([sys.executable, "-m", "emulator", *map(str, args)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    return done.returncode, done.stdout, done.stderr


def test_a_plugin_ships_its_chips_and_they_are_listed(site, tmp_path):
    status, out, _ = emulator(site, tmp_path, "chips")
    assert status == 0
    listed = {line.split()[0]: line.split()[1] for line in out.splitlines()}
    assert listed["echo-chip"] == "echo" and listed["leaky-chip"] == "leaky"
    assert {"digital", "loihi2", "crossbar-pcm", "crossbar-rram", "oim-cmos"} <= set(listed)


def test_a_plugin_backend_trains_digits_end_to_end(site, tmp_path):
    status, out, err = emulator(site, tmp_path, "run", "digits_snn", "--chip", "echo-chip", "--set",
                                "training.epochs=1", "--set", "dataset.n_train=100", "--set", "dataset.n_test=50",
                                "--out", "run", "--quiet")
    assert status == 0, err
    report = (tmp_path / "run" / "report.json").read_text()
    assert '"chip": "echo-chip"' in report and '"backend": "echo"' in report
    assert "digits_snn on echo-chip (EqProp): test accuracy" in out


def test_a_plugin_that_counts_an_unpriced_op_fails_before_its_first_epoch(site, tmp_path):
    status, _, err = emulator(site, tmp_path, "run", "digits_snn", "--chip", "leaky-chip", "--out", "run", "--quiet")
    assert status == 2
    assert err.count("\n") == 1 and err.startswith("error: back-end family 'leaky' counted 'leaks', which chip "
                                                   "'leaky-chip'")
    assert "to the back-end's `ops`" in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()  # no epoch ran, nothing was written


def test_without_the_plugin_the_family_is_unknown(tmp_path):
    spec = yaml.safe_load(DIGITAL.read_text())
    spec.update(name="echo-chip", backend="echo")
    path = tmp_path / "echo.yaml"
    path.write_text(yaml.safe_dump(spec))
    assert "echo" not in backend_names()
    with pytest.raises(ConfigError, match="unknown back-end family 'echo'; known: crossbar, digital, loihi, oim"):
        load_chip(path)
