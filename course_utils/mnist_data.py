"""MNIST for notebooks 02 and 03: ``mnist.npz`` from the data folder, downloaded there once when missing."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from . import download as downloading
from .paths import data_dir, local_file

FILE_NAME = "mnist.npz"
# Keras' own copy (the file keras.datasets.mnist.load_data downloads), with the hash Keras checks it against.
URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
SIZE = 11_490_434
# Canonical MNIST label counts: a file that matches them (and the shapes) is MNIST, whoever rebuilt it.
TRAIN_COUNTS = (5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949)
TEST_COUNTS = (980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009)

Arrays = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def check_mnist(arrays: Arrays) -> None:
    """Raise ValueError unless ``((x_train, y_train), (x_test, y_test))`` has MNIST's shapes and label counts."""
    (x_train, y_train), (x_test, y_test) = arrays
    shapes = (x_train.shape, y_train.shape, x_test.shape, y_test.shape)
    expected = ((60000, 28, 28), (60000,), (10000, 28, 28), (10000,))
    if shapes != expected:
        raise ValueError(f"MNIST arrays have shapes {shapes}, expected {expected}.")
    for split, labels, counts in (("train", y_train, TRAIN_COUNTS), ("test", y_test, TEST_COUNTS)):
        found = tuple(int(n) for n in np.bincount(labels, minlength=10))
        if found != counts:
            raise ValueError(f"MNIST {split} label counts {found} differ from MNIST's {counts}.")


def download() -> Path:
    """Download Keras' ``mnist.npz`` into the data folder, checked against its sha256; its path.

    Through :func:`course_utils.download.download` rather than ``keras.utils.get_file``, which writes straight to
    the final name: a download killed half-way would leave a truncated ``mnist.npz`` that passes for the file.
    """
    return downloading.download(URL, data_dir() / FILE_NAME, sha256=SHA256, description=FILE_NAME)


def load_mnist_file(path: str | Path) -> Arrays:
    """The four arrays of an ``mnist.npz`` in Keras' layout; ValueError when the file is not MNIST."""
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = ((f["x_train"], f["y_train"]), (f["x_test"], f["y_test"]))
        check_mnist(arrays)
    except (OSError, ValueError, KeyError) as error:
        raise ValueError(f"{path} does not hold MNIST ({error}); replace it, e.g. delete it and run "
                         "`python3 tasks.py data`") from None
    return arrays


def load_mnist() -> Arrays:
    """MNIST as ``((x_train, y_train), (x_test, y_test))``, uint8 images 28x28 and integer labels.

    Reads ``mnist.npz`` (Keras' layout) from the data folder, checked by shapes and label counts since rebuilt
    copies differ from Keras' file byte for byte; when it is missing, downloads Keras' file there first
    (11 MB, see :func:`download`).
    """
    return load_mnist_file(local_file(FILE_NAME) or download())
