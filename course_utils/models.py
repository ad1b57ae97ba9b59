"""Fast, tested versions of models the notebooks first write inline (tests prove helper = inline)."""
from __future__ import annotations

from pathlib import Path

import keras
from keras import layers


def data_augmentation(seed: int | None = None) -> keras.Sequential:
    """The book's augmentation stack, as notebook 06 writes it: random horizontal flips, rotations up to ±10% of a
    turn, zooms up to ±20%.

    Active only in training (``fit``); at inference (``predict``, ``evaluate``) these layers pass images through.
    """
    return keras.Sequential([
        layers.RandomFlip("horizontal", seed=seed),
        layers.RandomRotation(0.1, seed=seed),
        layers.RandomZoom(0.2, seed=seed),
    ], name="data_augmentation")


def cats_dogs_convnet(image_size: int = 180, augmentation: keras.Layer | None = None,
                      dropout: float | None = None) -> keras.Model:
    """The book's dogs-vs-cats convnet, as notebooks 05 (plain) and 06 (``augmentation`` in front, ``dropout``
    before the classifier) write it: Rescaling, five Conv2D (32-64-128-256-256) with four MaxPooling2D, a sigmoid
    unit that computes in float32 even under a mixed-precision policy.

    Takes 0-255 RGB images of ``image_size`` pixels (at least 78, so the last convolution still has a 3x3 input).
    """
    if image_size < 78:
        raise ValueError(f"image_size must be at least 78 pixels for five 3x3 convolutions and four poolings, "
                         f"not {image_size}")
    inputs = keras.Input(shape=(image_size, image_size, 3))
    x = augmentation(inputs) if augmentation is not None else inputs
    x = layers.Rescaling(1.0 / 255)(x)
    for i, filters in enumerate((32, 64, 128, 256, 256)):
        if i:
            x = layers.MaxPooling2D(pool_size=2)(x)
        x = layers.Conv2D(filters, kernel_size=3, activation="relu")(x)
    x = layers.Flatten()(x)
    if dropout:
        x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(1, activation="sigmoid", dtype="float32")(x)  # float32 even under mixed precision
    name = "cats_dogs_convnet" + ("_augmented" if augmentation is not None else "")
    return keras.Model(inputs, outputs, name=name)


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
        model = cats_dogs_convnet(image_size, augmentation=data_augmentation(), dropout=0.5)
        model.compile(loss="binary_crossentropy", optimizer="rmsprop", metrics=["accuracy"])
        checkpoint = keras.callbacks.ModelCheckpoint(path, save_best_only=True, monitor="val_loss")
        model.fit(datasets["train"], epochs=epochs, validation_data=datasets["validation"],
                  callbacks=[checkpoint, measure.TimeLeft()], verbose=2)
    finally:
        keras.mixed_precision.set_global_policy(before)
