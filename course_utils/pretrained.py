"""Pretrained convolutional bases by name, each with what transfer learning needs to know about it.

``load_base(name)`` gives an ImageNet-trained base, either the offline EfficientNet-Lite0
(:mod:`course_utils.efficientnet_lite`) or a ``keras.applications`` model, with the preprocessing its inputs
need. ``BASES[name]`` says how notebook 07 treats it: which top layers fine-tuning unfreezes, and whether the
book's classifier flattens the base's map (VGG16, as in the book) or averages it.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import keras

from . import paths
from .files import copy_atomically
from .efficientnet_lite import efficientnet_lite0, keras_cache_dir


def no_preprocessing(x):
    """The preprocessing of models that scale their input themselves: none, ``x`` is returned as it is."""
    return x


def _mobilenet_v2_file(include_top: bool, input_shape: tuple) -> str:
    rows, cols = input_shape[:2]
    # Keras has files for these square sizes only, and loads the 224 one otherwise.
    size = rows if rows == cols and rows in (96, 128, 160, 192, 224) else 224
    return f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_{size}{'' if include_top else '_no_top'}.h5"


@dataclass(frozen=True)
class Base:
    """A pretrained base and the transfer-learning choices that belong to it."""

    constructor: Callable[..., keras.Model]  # (include_top=, weights=, input_shape=) like keras.applications
    preprocess: Callable  # what its inputs need, from RGB 0-255
    fine_tune: tuple[str, ...]  # name prefixes of the top layers that fine-tuning unfreezes
    native_size: int  # the image size its ImageNet weights were trained at
    flatten: bool = False  # the book's Flatten before the classifier (VGG16); else global average pooling
    weights_file: Callable[[bool, tuple], str] | None = None  # Keras' cache file name (keras.applications only)


BASES: dict[str, Base] = {
    "efficientnet_lite0": Base(
        lambda include_top, weights, input_shape: efficientnet_lite0(include_top, input_shape, weights),
        no_preprocessing,
        fine_tune=("block7a_", "top_"),  # the last MBConv block and the 1x1 head convolution
        native_size=224,
    ),
    "vgg16": Base(
        keras.applications.VGG16,
        keras.applications.vgg16.preprocess_input,
        fine_tune=("block5_",),  # the book's choice: the last three convolutions
        native_size=224,
        flatten=True,
        weights_file=lambda top, shape: f"vgg16_weights_tf_dim_ordering_tf_kernels{'' if top else '_notop'}.h5",
    ),
    "xception": Base(
        keras.applications.Xception,
        keras.applications.xception.preprocess_input,
        fine_tune=("block14_",),  # the exit flow's last two separable convolutions
        native_size=299,
        weights_file=lambda top, shape: f"xception_weights_tf_dim_ordering_tf_kernels{'' if top else '_notop'}.h5",
    ),
    "mobilenet_v2": Base(
        keras.applications.MobileNetV2,
        keras.applications.mobilenet_v2.preprocess_input,
        fine_tune=("block_16_", "Conv_1"),  # the last inverted-residual block and the 1x1 head convolution
        native_size=224,
        weights_file=_mobilenet_v2_file,
    ),
}


def keras_weights_file(name: str, include_top: bool, input_shape: tuple) -> str:
    """The file name under which Keras caches the ImageNet weights of application ``name``."""
    return BASES[name].weights_file(include_top, tuple(input_shape))


def _stage_local_weights(file_name: str) -> Path | None:
    """Copy ``keras/models/<file_name>`` from the data folder into Keras' cache; the cached path, or None."""
    source = paths.local_file(f"keras/models/{file_name}")
    if source is None or not source.is_file():
        return None
    target = keras_cache_dir() / file_name
    if not target.is_file() or target.stat().st_size != source.stat().st_size:
        copy_atomically(source, target)
    return target


def load_base(
    name: str, input_shape: tuple[int, int, int] = (224, 224, 3), include_top: bool = False
) -> tuple[keras.Model, Callable]:
    """An ImageNet-trained network by name, with the preprocessing its inputs need: ``(model, preprocess)``.

    ``name`` is a key of :data:`BASES`. "efficientnet_lite0" works offline and scales its input itself
    (``preprocess`` returns its input unchanged); the others are ``keras.applications`` models with their
    ``preprocess_input``. Their weights come from the data folder's ``keras/models/`` when the file Keras looks
    for is there (it is copied into Keras' cache), else Keras downloads them.
    """
    if name not in BASES:
        raise ValueError(f"unknown base {name!r}; choose one of {', '.join(BASES)}")
    base = BASES[name]
    weights = "imagenet"
    if base.weights_file is not None:
        local = _stage_local_weights(keras_weights_file(name, include_top, input_shape))
        # Keras only looks in the cache it found at import time, so the local copy is handed over by path.
        weights = str(local) if local else "imagenet"
    model = base.constructor(include_top=include_top, weights=weights, input_shape=tuple(input_shape))
    return model, base.preprocess
