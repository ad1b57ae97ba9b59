"""Temporary: the old names of course_utils.paths, .mnist_data and .dogs_vs_cats, for code not yet switched.

Deleted once no notebook, test or module uses it; import from the new modules instead.
"""
from __future__ import annotations

from .dogs_vs_cats import (  # noqa: F401
    CLASSES as DOGS_VS_CATS_CLASSES,
    KAGGLE_RULES_URL,
    NAME as DOGS_VS_CATS,
    PETIMAGES_URL,
    SPLIT_NAME as SMALL_SPLIT,
    DatasetNotFoundError,
    extract as extract_archive,
    extraction_dir,
    kaggle_credentials,
    list_photos as list_dogs_vs_cats,
    run_kaggle,
    split_dir as dogs_vs_cats_split_dir,
)
from .dogs_vs_cats import find_source
from .mnist_data import TEST_COUNTS as MNIST_TEST_COUNTS, TRAIN_COUNTS as MNIST_TRAIN_COUNTS  # noqa: F401
from .mnist_data import check_mnist, load_mnist  # noqa: F401
from .paths import DATA_DIR_ENV, WORK_DIR_ENV, data_dir, fresh_dir, keras_home, local_file, repo_root, work_dir  # noqa: F401


def find_dogs_vs_cats(download: bool = True, **_ignored):
    """Old name of :func:`course_utils.dogs_vs_cats.find_source`."""
    return find_source(download)
