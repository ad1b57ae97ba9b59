"""MNIST for notebooks 02 and 03: ``mnist.npz`` from the data folder, downloaded there once when missing."""
from __future__ import annotations

import numpy as np

from . import course_data

Arrays = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def load_mnist() -> Arrays:
    """MNIST as ``((x_train, y_train), (x_test, y_test))``, uint8 images 28x28 and integer labels.

    Reads ``mnist.npz`` (Keras' layout) from the data folder, checked by shapes and label counts since rebuilt
    copies differ from Keras' file byte for byte (:func:`course_utils.course_data.mnist_problem`). When it is
    missing, Keras' file (11 MB) is downloaded there first by :func:`course_utils.course_data.fetch` rather than by
    ``keras.utils.get_file``, which writes straight to the final name: a download killed half-way would leave a
    truncated ``mnist.npz`` that passes for the file.
    """
    path = course_data.fetch(course_data.MNIST)
    problem = course_data.mnist_problem(path)
    if problem:
        raise ValueError(problem)
    with np.load(path, allow_pickle=False) as arrays:
        return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])
