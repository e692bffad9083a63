"""The package as a user installs it: a wheel, not the checkout.

The wheel is built and installed without the network (the build uses this environment's
setuptools; the new environment reuses this one's dependencies), then the ``emulator`` command
runs from an empty folder: the chips and workloads must come from the installed package.
"""
import configparser
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest
from setuptools import find_packages

ROOT = Path(__file__).resolve().parents[1]


def test_setup_cfg_lists_every_package():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    listed = set(config["options"]["packages"].split())
    code = {p for p in find_packages(str(ROOT), include=["emulator", "emulator.*"])}
    data = {p for p in listed if p.startswith("emulator.data.")}
    assert listed - data == code, "list every package of emulator/ under [options] packages in setup.cfg"
    for package in data:
        folder = config["options"]["package_dir"].split(f"{package} = ")[1].split()[0]
        assert (ROOT / folder).is_dir()


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A new environment with the emulator's wheel installed; the path of its ``emulator`` command."""
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "source"  # a copy: the build writes its own folders next to the sources
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".*", "runs", "build", "*.egg-info", "__pycache__"))
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                            "-w", str(tmp / "dist"), str(source)], capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stderr[-2000:]
    wheel = next((tmp / "dist").glob("*.whl"))
    env_dir = tmp / "venv"
    venv.create(env_dir, with_pip=False)
    site = Path(sysconfig.get_path("purelib", vars={"base": str(env_dir), "platbase": str(env_dir)}))
    # this environment's dependencies, seen after the new environment's own packages
    (site / "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    python = env_dir / "bin" / "python"
    done = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index",
                           str(wheel)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return env_dir / "bin" / "emulator"


def run(command, cwd, *args):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"EMULATOR_OFFLINE": "1"}
    return subprocess.run([str(command), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=900)


def test_an_installed_emulator_lists_its_chips_and_workloads_from_any_folder(installed, tmp_path):
    chips = run(installed, tmp_path, "chips")
    assert chips.returncode == 0, chips.stderr
    shipped = {path.stem for path in (Path(__file__).resolve().parents[1] / "chips").glob("*.yaml")}
    assert {line.split()[0] for line in chips.stdout.splitlines()} == shipped
    workloads = run(installed, tmp_path, "workloads")
    assert {"digits_snn", "fashion_mnist_snn", "maxcut_rand100"} <= {line.split()[0] for line in workloads.stdout.splitlines()}
    graph = run(installed.with_name("python"), tmp_path, "-c", "from emulator.catalog import resolve; from emulator."
                "workload import load_workload; print(load_workload(resolve('workloads', 'maxcut_rand800')).graph_path())")
    assert "site-packages/emulator/data/workloads/graphs/rand800.txt" in graph.stdout, graph.stderr
    assert Path(graph.stdout.strip()).is_file()  # the graph files ship with the workloads
    sweep = run(installed.with_name("python"), tmp_path, "-c", "from emulator.catalog import resolve; "
                "print(resolve('sweeps', 'theta'))")
    assert "site-packages/emulator/data/workloads/sweeps/theta.yaml" in sweep.stdout, sweep.stderr


def test_an_installed_emulator_trains_and_reports(installed, tmp_path):
    done = run(installed, tmp_path, "run", "digits_snn", "--chip", "digital", "--set", "training.epochs=1",
               "--set", "dataset.n_train=100", "--set", "dataset.n_test=50", "--out", "run", "--quiet")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "run" / "report.json").is_file()
