"""tf.data input pipelines for a split image folder: decode each JPEG once, then train from memory.

The book reads ``DST/{train,validation,test}/{cat,dog}/`` with ``keras.utils.image_dataset_from_directory``, which
decodes and resizes every image again in every epoch. Here the same call reads the files once; the decoded,
resized images are cached in memory, and only shuffling, batching (and, in a model, augmentation) happen per
epoch. tf.data's autotuner is switched off: on a 2-core machine it left ``fit`` idle for seconds at the start of
epochs, and fixed small buffers lose nothing here. ``quiet_array_inputs`` does the same for the pipelines Keras
builds itself when ``fit`` is given NumPy arrays (notebooks 02, 03 and 07).
"""
from __future__ import annotations

import functools
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from .split import SPLITS


def _quiet_options() -> tf.data.Options:
    """Options with tf.data's autotuning disabled (see module doc)."""
    options = tf.data.Options()
    options.autotune.enabled = False
    return options


def quiet_array_inputs() -> bool:
    """Switch tf.data's autotuner off in the pipelines Keras makes from NumPy arrays, e.g. ``model.fit(x, y)``.

    Keras wraps arrays in a tf.data pipeline whose parallelism and prefetching are autotuned. On a 2-core machine
    that autotuner stalled some MNIST epochs by about 9 s at their start (20.5 s epochs among 11.5 s ones); with it
    off, every epoch took the same 11 s, on the same batches in the same order. Applying it twice changes nothing.
    Returns whether it is in effect: False, changing nothing, on a Keras without the adapter method it wraps.
    """
    try:
        from keras.src.trainers.data_adapters.array_data_adapter import ArrayDataAdapter
    except ImportError:
        return False
    make_dataset = getattr(ArrayDataAdapter, "get_tf_dataset", None)
    if make_dataset is None:
        return False
    if getattr(make_dataset, "quiet", False):
        return True

    @functools.wraps(make_dataset)  # keeps the original reachable as __wrapped__
    def get_tf_dataset(self):
        return make_dataset(self).with_options(_quiet_options())

    get_tf_dataset.quiet = True
    ArrayDataAdapter.get_tf_dataset = get_tf_dataset
    return True


def image_dataset(folder: str | Path, image_size: int, batch_size: int = 32, shuffle: bool = False,
                  limit: int | None = None, seed: int = 42) -> tf.data.Dataset:
    """Batches of (images, labels) from one class-per-subfolder directory, decoded once and cached.

    Images are float32 0-255 of shape (image_size, image_size, 3) (rescaling belongs in the model), labels are
    int32 0/1 in alphabetical class order (cat = 0, dog = 1), as in the book. ``limit`` keeps a class-mixed subset of that
    many images (the file order is shuffled once with ``seed``). ``shuffle`` reshuffles the cached images every
    epoch, for training. Read the dataset to its end once (an epoch, ``to_arrays``) before reading a part of it
    (``take``, ``next(iter(...))``): the cache holds what its first pass read, and a count check raises an error
    rather than letting a truncated dataset through.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder: run the split (notebook 04) first")
    dataset = keras.utils.image_dataset_from_directory(
        folder, image_size=(image_size, image_size), batch_size=None,
        shuffle=limit is not None, seed=seed, verbose=False)
    if limit is not None:
        dataset = dataset.take(limit)
    count = int(dataset.cardinality()) if dataset.cardinality() >= 0 else None
    dataset = dataset.cache()
    if count is not None:
        # tf.data's in-memory cache keeps only what its first reader read: a first pass broken off early (a
        # next(iter(dataset)) before training) would leave a truncated dataset for good. Fail loudly instead.
        dataset = dataset.apply(tf.data.experimental.assert_cardinality(count))
    if shuffle:
        dataset = dataset.shuffle(count or 2048, seed=seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size).prefetch(2).with_options(_quiet_options())


def split_datasets(split_dir: str | Path, image_size: int, batch_size: int = 32,
                   limits: dict[str, int | None] | None = None, seed: int = 42) -> dict[str, tf.data.Dataset]:
    """The train (reshuffled each epoch), validation and test datasets of a split made by ``course_utils.split``."""
    limits = limits or {}
    return {name: image_dataset(Path(split_dir) / name, image_size, batch_size, shuffle=name == "train",
                                limit=limits.get(name), seed=seed)
            for name in SPLITS}


def to_arrays(dataset: tf.data.Dataset) -> tuple:
    """All batches of a (finite) dataset concatenated into NumPy arrays (images, labels)."""
    images, labels = zip(*((x.numpy(), y.numpy()) for x, y in dataset))
    return np.concatenate(images), np.concatenate(labels)
