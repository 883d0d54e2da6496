"""course.data: real data sets that ship with scikit-learn, and loaders tested on tiny files written here."""

import gzip
import pickle
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
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


# --- image folders: root/{train,validation,test}/<class>/*.png|*.jpg ---------------------------------------------

def write_image(path, pixels, mode=None):
    """Save an (H, W, 3) or (H, W) uint8 array as a PNG or JPEG file (by its suffix), with PIL."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(np.asarray(pixels, dtype=np.uint8))
    image.convert(mode).save(path) if mode else image.save(path)


def write_folders(root, counts, colours, size=(5, 7), suffix=".png"):
    """counts[split][class] solid-colour images of size (height, width); colours[class] is an RGB triple."""
    for split, per_class in counts.items():
        for name, count in per_class.items():
            for i in range(count):
                write_image(root / split / name / f"{i:03d}{suffix}", np.full((*size, 3), colours[name]))


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 3), st.lists(st.integers(1, 3), min_size=3, max_size=3), st.integers(1, 9), st.integers(1, 9),
       st.booleans(), st.data())
def test_image_folders_shapes_labels_and_solid_colours(n_classes, per_split, height, width, scale, draw):
    """Any layout of classes and counts: channels first at the asked size, labels in sorted class order, and a
    solid-colour image keeps its colour exactly through the resize."""
    names = [f"class_{k}" for k in range(n_classes)]
    colours = {name: tuple(draw.draw(st.lists(st.integers(0, 255), min_size=3, max_size=3))) for name in names}
    counts = {split: {name: per_split[i] for name in names} for i, split in enumerate(data.IMAGE_SPLITS)}
    with tempfile.TemporaryDirectory() as folder:
        write_folders(Path(folder), counts, colours, size=(draw.draw(st.integers(1, 12)), draw.draw(st.integers(1, 12))))
        split = data.load_image_folders(folder, size=(height, width), scale=scale)
    assert split.class_names == tuple(names)
    for i, (X, y) in enumerate([(split.X_train, split.y_train), (split.X_val, split.y_val), (split.X_test, split.y_test)]):
        assert X.shape == (n_classes * per_split[i], 3, height, width)
        assert X.dtype == (np.float32 if scale else np.uint8) and y.dtype == np.int64
        assert y.tolist() == [k for k in range(n_classes) for _ in range(per_split[i])]
        for image, label in zip(X, y):
            expected = np.array(colours[names[label]], dtype=np.float64).reshape(3, 1, 1) / (255 if scale else 1)
            assert np.allclose(image, expected, atol=1e-6)


def test_image_folders_keep_rows_columns_and_channel_order(tmp_path):
    """A picture at its own size comes back exactly, transposed to (C, H, W): no swapped axes, RGB in that order."""
    rng = np.random.default_rng(0)
    picture = rng.integers(0, 256, size=(4, 6, 3), dtype=np.uint8)        # 4 rows, 6 columns
    grey = rng.integers(0, 256, size=(4, 6), dtype=np.uint8)
    for split in data.IMAGE_SPLITS:
        write_image(tmp_path / split / "a" / "picture.png", picture)
        write_image(tmp_path / split / "b" / "grey.png", grey)
    split = data.load_image_folders(tmp_path, size=(4, 6), scale=False)
    assert np.array_equal(split.X_train[0], picture.transpose(2, 0, 1))
    assert np.array_equal(split.X_test[1], np.stack([grey] * 3))          # grayscale files become RGB
    grey_split = data.load_image_folders(tmp_path, size=(4, 6), channels=1, scale=False)
    assert grey_split.X_val.shape == (2, 1, 4, 6) and np.array_equal(grey_split.X_val[1, 0], grey)


def test_image_folders_resize_like_pil_and_read_jpeg_rgba_palette(tmp_path):
    """Resizing is PIL's bilinear resize of the RGB image; JPEG, RGBA and palette files are read as RGB."""
    from PIL import Image

    rng = np.random.default_rng(1)
    picture = rng.integers(0, 256, size=(10, 14, 3), dtype=np.uint8)
    for split in data.IMAGE_SPLITS:
        write_image(tmp_path / split / "photo" / "0.png", picture)
        write_image(tmp_path / split / "photo" / "1.JPG", picture)
        write_image(tmp_path / split / "photo" / "2.png", picture, mode="RGBA")
        write_image(tmp_path / split / "photo" / "3.png", picture, mode="P")
        (tmp_path / split / "photo" / "notes.txt").write_text("not an image, ignored")
        (tmp_path / split / "photo" / ".hidden.png").write_bytes(b"ignored as well")
    split = data.load_image_folders(tmp_path, size=(5, 3), scale=False)
    assert split.X_train.shape == (4, 3, 5, 3)
    resized = np.asarray(Image.fromarray(picture).resize((3, 5), Image.Resampling.BILINEAR))
    assert np.array_equal(split.X_train[0], resized.transpose(2, 0, 1))
    assert np.array_equal(split.X_train[2], resized.transpose(2, 0, 1))
    assert np.abs(split.X_train[1].astype(int) - resized.transpose(2, 0, 1)).mean() < 12   # JPEG is lossy


@pytest.mark.parametrize("problem, error, message", [
    ("no root", data.DatasetNotFound, "no such folder"),
    ("no validation folder", data.DatasetNotFound, "validation: no such folder"),
    ("no class folders", data.ImageFolderError, "test: no class folders"),
    ("empty class", data.ImageFolderError, "dog: no images"),
    ("unreadable file", data.ImageFolderError, "broken.png: not a readable image"),
    ("truncated file", data.ImageFolderError, "cut.png: not a readable image"),
    ("different classes", data.ImageFolderError, "differ from train's"),
])
def test_image_folders_bad_layouts_get_one_line_that_names_the_place(tmp_path, problem, error, message):
    root = tmp_path / "images"
    write_folders(root, {split: {"cat": 1, "dog": 1} for split in data.IMAGE_SPLITS},
                  {"cat": (255, 0, 0), "dog": (0, 0, 255)})
    if problem == "no root":
        root = tmp_path / "nowhere"
    elif problem == "no validation folder":
        shutil.rmtree(root / "validation")
    elif problem == "no class folders":
        shutil.rmtree(root / "test")
        (root / "test").mkdir()
    elif problem == "empty class":
        (root / "validation" / "dog" / "000.png").rename(root / "validation" / "dog" / "000.txt")
    elif problem == "unreadable file":
        (root / "train" / "cat" / "broken.png").write_bytes(b"these bytes are no PNG")
    elif problem == "truncated file":
        good = (root / "train" / "cat" / "000.png").read_bytes()
        (root / "train" / "cat" / "cut.png").write_bytes(good[: len(good) // 2])
    elif problem == "different classes":
        (root / "test" / "dog").rename(root / "test" / "bird")
    with pytest.raises(error, match=message) as raised:
        data.load_image_folders(root, size=(4, 4))
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize("size, channels", [((0, 4), 3), ((4.0, 4), 3), ((4, 4), 2)])
def test_image_folders_bad_arguments(tmp_path, size, channels):
    with pytest.raises(ValueError, match="load_image_folders"):
        data.load_image_folders(tmp_path, size=size, channels=channels)
