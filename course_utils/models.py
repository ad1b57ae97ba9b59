"""Notebooks 05 and 06's dogs-vs-cats convnet and augmentation, built by the notebooks' own cells
(``course_utils.lessons``), and 06's model trained for notebooks that run without 06's file."""
from __future__ import annotations

from pathlib import Path

import keras

from . import lessons

SMALLEST_IMAGE = 78  # five 3x3 convolutions and four poolings leave the last convolution a 3x3 input


def data_augmentation() -> keras.Sequential:
    """Notebook 06's augmentation layers (random flips, rotations up to ±10% of a turn, zooms up to ±20%), from
    its cell; active only in training."""
    return lessons.load("06", "data_augmentation")["data_augmentation"]


def cats_dogs_convnet(image_size: int = 180, augmented: bool = False) -> keras.Model:
    """The book's dogs-vs-cats convnet for ``image_size`` pixel RGB photos (0-255), as notebook 05 builds it, or
    with ``augmented`` as notebook 06 builds it (augmentation in front, dropout before the classifier)."""
    if image_size < SMALLEST_IMAGE:
        raise ValueError(f"image_size must be at least {SMALLEST_IMAGE} pixels for five 3x3 convolutions and four "
                         f"poolings, not {image_size}")
    notebook = "06" if augmented else "05"
    return lessons.load(notebook, "model", IMAGE_SIZE=image_size, quiet=True)["model"]


def train_augmented_convnet(path: str | Path, epochs: int, image_size: int = 180, limits: dict | None = None,
                            seed: int = 42, precision: str | None = None) -> None:
    """Notebook 06's model (augmentation + dropout), trained for ``epochs`` on the course's split (made if missing)
    and saved to ``path`` at its lowest validation loss: what notebook 08 opens up when it runs without 06.

    ``precision`` as notebook 06 resolves it (None: ``$COURSE_PRECISION``, else "auto"); the global Keras policy is
    restored afterwards."""
    from . import dogs_vs_cats, measure, pipeline, session

    before = keras.mixed_precision.global_policy()
    chosen, _ = session.choose_precision(precision)
    keras.mixed_precision.set_global_policy(session.KERAS_POLICIES[chosen])
    try:
        keras.utils.set_random_seed(seed)
        datasets = pipeline.split_datasets(dogs_vs_cats.course_split(), image_size, batch_size=32,
                                           limits=limits or {}, seed=seed)
        model = cats_dogs_convnet(image_size, augmented=True)
        model.compile(loss="binary_crossentropy", optimizer="rmsprop", metrics=["accuracy"])
        checkpoint = keras.callbacks.ModelCheckpoint(path, save_best_only=True, monitor="val_loss")
        model.fit(datasets["train"], epochs=epochs, validation_data=datasets["validation"],
                  callbacks=[checkpoint, measure.TimeLeft()], verbose=2)
    finally:
        keras.mixed_precision.set_global_policy(before)
