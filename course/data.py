"""Real data that needs no download, and loaders for larger data sets kept in a local folder.

- scikit-learn's handwritten digits (1797 images of 8x8 pixels, 10 classes) with seeded train/validation/test splits;
- scikit-learn's two sample photographs (china.jpg and flower.jpg, 427x640x3);
- MNIST in its IDX files and CIFAR-10 in its "python" batches, read from a folder you downloaded yourself;
- any image data set laid out as root/{train,validation,test}/<class>/*.png|*.jpg (lecture 000's cats vs dogs, for
  instance), resized to one size, as Keras' image_dataset_from_directory reads it.
"""

from __future__ import annotations

import functools
import gzip
import importlib.util
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np


class DatasetNotFound(FileNotFoundError):
    """A data folder or one of its files is missing; the message says which and what is expected."""


@dataclass(frozen=True)
class Split:
    """Features and labels of a train/validation/test split. X_*: (n, d) float64, y_*: (n,) int64."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


def split_indices(n: int, val_fraction: float = 0.2, test_fraction: float = 0.2, seed: int = 0):
    """Seeded shuffle of range(n) cut into (train, val, test) index arrays; disjoint, and together they cover range(n)."""
    if not (0 <= val_fraction < 1 and 0 <= test_fraction < 1 and val_fraction + test_fraction < 1):
        raise ValueError("split_indices: fractions must be in [0, 1) and add up to less than 1")
    order = np.random.default_rng(seed).permutation(n)
    n_test = int(round(n * test_fraction))
    n_val = int(round(n * val_fraction))
    return order[n_test + n_val:], order[n_test:n_test + n_val], order[:n_test]


def _sklearn_file(*parts: str) -> Path:
    """A data file that ships with scikit-learn, found without importing scikit-learn (that takes a second)."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        raise DatasetNotFound("scikit-learn is not installed; its data files are where the digits and the sample "
                              "images come from")
    path = Path(list(spec.submodule_search_locations)[0], "datasets", *parts)
    if not path.is_file():
        raise DatasetNotFound(f"{path} is missing from the scikit-learn installation")
    return path


@functools.lru_cache(maxsize=1)
def _digits_table() -> np.ndarray:
    """The digits file, parsed once per process (reading it costs ~20 ms): (1797, 65), 64 pixels then the label."""
    table = np.loadtxt(_sklearn_file("data", "digits.csv.gz"), delimiter=",")
    table.setflags(write=False)
    return table


def load_digits(val_fraction: float = 0.2, test_fraction: float = 0.2, seed: int = 0, scale: bool = True) -> Split:
    """scikit-learn's digits as a seeded Split. X: (n, 64) pixels in [0, 1] when scale (else 0..16); y: (n,) in 0..9."""
    table = _digits_table()
    X = table[:, :-1] / (16.0 if scale else 1.0)  # new arrays: the cached table stays as read
    y = table[:, -1].astype(np.int64)
    tr, va, te = split_indices(len(y), val_fraction, test_fraction, seed)
    return Split(X[tr], y[tr], X[va], y[va], X[te], y[te])


def digit_images(X: np.ndarray) -> np.ndarray:
    """Rows of 64 pixels -> images (n, 8, 8)."""
    return np.asarray(X).reshape(-1, 8, 8)


def load_sample_images() -> dict[str, np.ndarray]:
    """scikit-learn's sample photographs by name: {'china': (427, 640, 3) uint8, 'flower': (427, 640, 3) uint8}."""
    return {name: image.copy() for name, image in _decoded_sample_images().items()}  # copies: callers may edit


@functools.lru_cache(maxsize=1)
def _decoded_sample_images() -> dict[str, np.ndarray]:
    """The two JPEG files, decoded once per process."""
    from PIL import Image

    images = {}
    for name in ("china", "flower"):
        with Image.open(_sklearn_file("images", f"{name}.jpg")) as image:
            images[name] = np.asarray(image.convert("RGB"), dtype=np.uint8)
            images[name].setflags(write=False)
    return images


# --- local data sets -------------------------------------------------------------------------------------------

MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _find(folder: Path, name: str, hint: str) -> Path:
    for candidate in (folder / name, folder / (name + ".gz")):
        if candidate.is_file():
            return candidate
    raise DatasetNotFound(f"{folder}: missing {name} (or {name}.gz); {hint}")


def read_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file (optionally gzipped), the format of MNIST: magic 0 0 dtype ndim, big-endian sizes, data."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ValueError(f"{path}: not an IDX file (bad magic number)")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    offset = 4 + 4 * ndim
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - offset != expected:
        raise ValueError(f"{path}: IDX header promises {expected} bytes of data, file has {len(raw) - offset}")
    return np.frombuffer(raw, dtype=dtype, offset=offset).reshape(shape).astype(dtype.newbyteorder("="))


def load_mnist(folder: str | Path, kind: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """MNIST from a local folder. kind: 'train' or 'test'. Returns images (n, 28, 28) uint8 and labels (n,) int64."""
    folder = Path(folder)
    if kind not in MNIST_FILES:
        raise ValueError(f"load_mnist: kind must be 'train' or 'test', not {kind!r}")
    hint = "put the four MNIST IDX files there (downloaded by hand; the course downloads nothing)"
    if not folder.is_dir():
        raise DatasetNotFound(f"{folder}: no such folder; {hint}")
    images_name, labels_name = MNIST_FILES[kind]
    images = read_idx(_find(folder, images_name, hint))
    labels = read_idx(_find(folder, labels_name, hint)).astype(np.int64)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(f"{folder}: MNIST {kind} images {images.shape} and labels {labels.shape} do not fit together")
    return images, labels


CIFAR10_BATCHES = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}


def load_cifar10(folder: str | Path, kind: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-10 "python version" batches from a local folder (cifar-10-batches-py).

    Returns images (n, 3, 32, 32) uint8 in (N, C, H, W) order and labels (n,) int64.
    """
    folder = Path(folder)
    if kind not in CIFAR10_BATCHES:
        raise ValueError(f"load_cifar10: kind must be 'train' or 'test', not {kind!r}")
    hint = "put the CIFAR-10 python batches there (cifar-10-batches-py, downloaded by hand)"
    if not folder.is_dir():
        raise DatasetNotFound(f"{folder}: no such folder; {hint}")
    images, labels = [], []
    for name in CIFAR10_BATCHES[kind]:
        path = folder / name
        if not path.is_file():
            raise DatasetNotFound(f"{folder}: missing {name}; {hint}")
        with open(path, "rb") as f:
            batch = pickle.load(f, encoding="bytes")  # the data set's own format; only open files you trust
        data = np.asarray(batch[b"data"], dtype=np.uint8)
        if data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
            raise ValueError(f"{path}: expected data of shape (n, 3072), found {data.shape}")
        images.append(data.reshape(-1, 3, 32, 32))
        labels.append(np.asarray(batch[b"labels"], dtype=np.int64))
    return np.concatenate(images), np.concatenate(labels)


# --- image folders (lecture 000's pipeline) -----------------------------------------------------------------------

IMAGE_SPLITS = ("train", "validation", "test")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


class ImageFolderError(ValueError):
    """An image data set's folder or file cannot be used (an empty class, an unreadable image); the message says which."""


@dataclass(frozen=True)
class ImageSplit(Split):
    """A Split of images: X_*: (n, C, H, W), channels first, float32 in [0, 1] (or uint8 0..255 unscaled);
    y_*: (n,) int64 indices into class_names, the class folders' names in sorted order."""

    class_names: tuple[str, ...] = ()


def _image_files(class_folder: Path) -> list[Path]:
    """The image files of one class folder, sorted by name (other files and hidden files are ignored, as Keras does)."""
    files = sorted(path for path in class_folder.iterdir()
                   if path.is_file() and not path.name.startswith(".") and path.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ImageFolderError(f"{class_folder}: no images in this class folder (expected *.png or *.jpg files)")
    return files


def _read_image(path: Path, size: tuple[int, int], channels: int) -> np.ndarray:
    """One image file, converted to RGB (channels 3) or grayscale (channels 1), resized to size = (height, width)
    bilinearly: (channels, height, width) uint8."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image = image.convert("RGB" if channels == 3 else "L")
            image = image.resize((size[1], size[0]), Image.Resampling.BILINEAR)  # PIL takes (width, height)
            pixels = np.asarray(image, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as error:  # truncated, corrupt, not an image
        reason = " ".join(str(error).replace(f" {str(path)!r}", "").split()) or type(error).__name__
        raise ImageFolderError(f"{path}: not a readable image ({reason})") from None
    return pixels[None] if channels == 1 else pixels.transpose(2, 0, 1)


def load_image_folders(root: str | Path, size: tuple[int, int] = (180, 180), channels: int = 3,
                       scale: bool = True) -> ImageSplit:
    """Images from root/train, root/validation and root/test, one subfolder per class, as lecture 000 reads the
    cats-vs-dogs images with Keras' image_dataset_from_directory(..., image_size=size) and Rescaling(1./255).

    root: a folder holding train/, validation/ and test/, each with the same class folders of *.png / *.jpg files;
    size: (height, width) every image is resized to (bilinear); channels: 3 (RGB) or 1 (grayscale);
    scale: True divides the pixels by 255 (float32 in [0, 1]), False keeps uint8 0..255.
    Returns an ImageSplit: X_train, X_val, X_test (n, channels, height, width), channels first as PyTorch wants;
    y_* (n,) int64 labels; class_names: the class folders in sorted order (label k is class_names[k]).
    Images come in sorted order of class, then file name. Raises DatasetNotFound for a missing folder and
    ImageFolderError for an empty class, an unreadable image or classes that differ between the splits.
    """
    root = Path(root)
    height, width = size
    if not (isinstance(height, int) and isinstance(width, int) and height > 0 and width > 0):
        raise ValueError(f"load_image_folders: size must be (height, width) in positive ints, not {size!r}")
    if channels not in (1, 3):
        raise ValueError(f"load_image_folders: channels must be 1 (grayscale) or 3 (RGB), not {channels!r}")
    layout = "expected train/, validation/ and test/ folders with one subfolder of images per class"
    if not root.is_dir():
        raise DatasetNotFound(f"{root}: no such folder; {layout}")
    arrays, class_names = {}, None
    for split in IMAGE_SPLITS:
        folder = root / split
        if not folder.is_dir():
            raise DatasetNotFound(f"{folder}: no such folder; {layout}")
        names = tuple(sorted(path.name for path in folder.iterdir() if path.is_dir() and not path.name.startswith(".")))
        if not names:
            raise ImageFolderError(f"{folder}: no class folders; {layout}")
        if class_names is None:
            class_names = names
        elif names != class_names:
            raise ImageFolderError(f"{folder}: classes {list(names)} differ from train's {list(class_names)}")
        images, labels = [], []
        for label, name in enumerate(names):
            for path in _image_files(folder / name):
                images.append(_read_image(path, (height, width), channels))
                labels.append(label)
        X = np.stack(images)
        arrays[split] = (X.astype(np.float32) / 255 if scale else X, np.asarray(labels, dtype=np.int64))
    return ImageSplit(*arrays["train"], *arrays["validation"], *arrays["test"], class_names=class_names)
