"""Smaller user errors through the command line (an IDX file with no images, ``compare`` with no
chip), and what a ``--set`` option is blamed for: only a key it set or introduced; an error in
the data, or in a key of the file beside it, keeps pointing at the data file or the file's line."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_datasets import fake_mnist, write_idx

from emulator.workload import load_workload

ROOT = Path(__file__).resolve().parents[1]
MNIST = ROOT / "workloads" / "mnist_snn.yaml"


@pytest.fixture
def mnist_folder(monkeypatch, tmp_path) -> Path:
    """A tiny MNIST (20 training and 10 test images) that the mnist workloads read."""
    monkeypatch.setenv("EMULATOR_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    folder = tmp_path / "data" / "mnist"
    fake_mnist(folder, compress=(False,) * 4)
    return folder


def line_of(path: Path, needle: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if line.startswith(needle))


def test_an_idx_file_with_no_images_is_one_error(user_error, mnist_folder, tmp_path):
    write_idx(mnist_folder / "train-images-idx3-ubyte", np.zeros((0, 28, 28), np.uint8))
    write_idx(mnist_folder / "train-labels-idx1-ubyte", np.zeros(0, np.uint8))
    message = user_error("run", MNIST, "--chip", "digital", "--out", tmp_path / "r")
    assert message.endswith(f"{mnist_folder / 'train-images-idx3-ubyte'} holds no images; replace it with the "
                            "standard file")
    assert not (tmp_path / "r").exists()


def test_a_corrupt_idx_file_is_not_blamed_on_a_set_option(user_error, mnist_folder, tmp_path):
    images = mnist_folder / "train-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:-10])
    message = user_error("run", MNIST, "--chip", "digital", "--set", "dataset.n_train=10", "--out", tmp_path / "r")
    assert message.startswith(f"{MNIST}:{line_of(MNIST, 'dataset:')}: dataset: IDX file {images} is truncated"), \
        message


def test_an_error_in_the_key_a_set_option_gave_is_blamed_on_it(user_error, mnist_folder, tmp_path):
    message = user_error("run", MNIST, "--chip", "digital", "--set", "dataset.n_train=100", "--out", tmp_path / "r")
    assert message.startswith("--set dataset.n_train=100: dataset.n_train: n_train=100 but mnist has only 20")


def test_a_section_keeps_its_line_when_an_option_sets_a_key_inside_it():
    workload = load_workload(MNIST, ["dataset.n_train=100"])
    assert workload.where("dataset") == f"{MNIST}:{line_of(MNIST, 'dataset:')}"
    assert workload.where("dataset", "n_train") == "--set dataset.n_train=100"
    assert workload.where("dataset", "name") == f"{MNIST}:{line_of(MNIST, '  name: mnist')}"
    assert workload.where() == f"{MNIST}:{line_of(MNIST, 'name:')}"  # the top level: its first key


def test_a_section_an_option_introduced_is_blamed_on_it(user_error):
    message = user_error("run", MNIST, "--chip", "digital", "--set", "trainin.epochs=1")
    assert message.startswith("--set trainin.epochs=1: trainin: unknown key")


@pytest.mark.parametrize("chips, expected", [
    (",", "--chips ',' names no chip; give comma-separated chip names, e.g. --chips digital,loihi2"),
    (" , ,", "--chips ' , ,' names no chip"),
    ("", "--chips '' names no chip"),
    ("digital,loihi2,digital", "--chips 'digital,loihi2,digital': digital given twice; name each chip once"),
])
def test_compare_needs_chips_each_once(user_error, tmp_path, chips, expected):
    message = user_error("compare", "digits_snn", "--chips", chips, "--out", tmp_path / "c")
    assert message.startswith(expected), message
    assert not (tmp_path / "c").exists()
