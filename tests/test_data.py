"""course.data: real data sets that ship with scikit-learn, and loaders tested on tiny files written here."""

import gzip
import pickle

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from course import data


@given(st.integers(1, 500), st.floats(0, 0.45), st.floats(0, 0.45), st.integers(0, 2**32 - 1))
def test_split_indices_are_disjoint_cover_and_seeded(n, val, test, seed):
    train_idx, val_idx, test_idx = data.split_indices(n, val, test, seed)
    together = np.concatenate([train_idx, val_idx, test_idx])
    assert sorted(together.tolist()) == list(range(n))
    assert len(test_idx) == round(n * test) and len(val_idx) == round(n * val)
    again = data.split_indices(n, val, test, seed)
    assert all(np.array_equal(a, b) for a, b in zip(again, (train_idx, val_idx, test_idx)))


def test_split_indices_rejects_bad_fractions():
    with pytest.raises(ValueError):
        data.split_indices(10, 0.6, 0.5)


def test_digits_split():
    split = data.load_digits(seed=3)
    assert split.X_train.shape[1] == 64
    assert len(split.X_train) + len(split.X_val) + len(split.X_test) == 1797
    assert 0 <= split.X_train.min() and split.X_train.max() <= 1
    assert set(np.unique(split.y_train)) == set(range(10))
    assert data.digit_images(split.X_test).shape == (len(split.X_test), 8, 8)
    assert np.array_equal(data.load_digits(seed=3).y_val, split.y_val)
    assert not np.array_equal(data.load_digits(seed=4).y_val, split.y_val)


def test_digits_and_sample_images_are_scikit_learns():
    """Read from scikit-learn's files without importing it; the same numbers as its own loaders."""
    from sklearn import datasets

    digits = datasets.load_digits()
    split = data.load_digits(seed=5, scale=False)
    train, val, test = data.split_indices(len(digits.target), seed=5)
    assert np.array_equal(split.X_train, digits.data[train]) and np.array_equal(split.y_test, digits.target[test])
    assert split.X_val.dtype == np.float64 and split.y_val.dtype == np.int64
    theirs = datasets.load_sample_images()
    ours = data.load_sample_images()
    for name, image in zip(("china", "flower"), theirs.images):
        assert np.array_equal(ours[name], image)


def test_sample_images():
    images = data.load_sample_images()
    assert set(images) == {"china", "flower"}
    assert images["china"].shape == (427, 640, 3) and images["china"].dtype == np.uint8


def test_loaded_data_is_the_callers_own():
    """The files are read once per process; what a caller gets is a fresh copy it may change."""
    split, images = data.load_digits(seed=1), data.load_sample_images()
    split.X_train[:] = -1.0
    split.y_train[:] = -1
    images["china"][:] = 0
    assert data.load_digits(seed=1).X_train.min() >= 0 and data.load_digits(seed=1).y_train.min() >= 0
    assert data.load_sample_images()["china"].max() > 0


def write_idx(path, array, compress=False):
    codes = {np.dtype(np.uint8): 0x08}
    header = bytes([0, 0, codes[array.dtype], array.ndim]) + b"".join(
        int(s).to_bytes(4, "big") for s in array.shape)
    payload = header + array.tobytes()
    if compress:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(payload))
    else:
        path.write_bytes(payload)


@pytest.mark.parametrize("compress", [False, True])
def test_mnist_from_tiny_idx_files(tmp_path, compress):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=5).astype(np.uint8)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", images, compress)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", labels, compress)
    got_images, got_labels = data.load_mnist(tmp_path, "test")
    assert np.array_equal(got_images, images) and np.array_equal(got_labels, labels)
    assert got_labels.dtype == np.int64


def test_mnist_missing_folder_and_files(tmp_path):
    with pytest.raises(data.DatasetNotFound, match="no such folder"):
        data.load_mnist(tmp_path / "nowhere")
    with pytest.raises(data.DatasetNotFound, match="train-images-idx3-ubyte"):
        data.load_mnist(tmp_path)


def test_idx_rejects_garbage_and_truncation(tmp_path):
    (tmp_path / "bad").write_bytes(b"\x01\x02\x03")
    with pytest.raises(ValueError, match="not an IDX file"):
        data.read_idx(tmp_path / "bad")
    write_idx(tmp_path / "short", np.zeros((2, 3), dtype=np.uint8))
    (tmp_path / "short").write_bytes((tmp_path / "short").read_bytes()[:-1])
    with pytest.raises(ValueError, match="promises"):
        data.read_idx(tmp_path / "short")


def test_cifar10_from_tiny_batches(tmp_path):
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, size=(4, 3072), dtype=np.uint8)
    with open(tmp_path / "test_batch", "wb") as f:
        pickle.dump({b"data": pixels, b"labels": [0, 1, 2, 3]}, f)
    images, labels = data.load_cifar10(tmp_path, "test")
    assert images.shape == (4, 3, 32, 32)
    assert np.array_equal(images.reshape(4, -1), pixels)
    assert labels.tolist() == [0, 1, 2, 3]
    with pytest.raises(data.DatasetNotFound, match="data_batch_1"):
        data.load_cifar10(tmp_path, "train")
    with pytest.raises(ValueError, match="kind"):
        data.load_cifar10(tmp_path, "validation")
