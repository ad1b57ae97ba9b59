"""What convnets learn: intermediate activations, filter patterns and Grad-CAM heatmaps.

The three techniques of Chollet's *Deep Learning with Python* (ch. 9 of the 2nd edition, 5.4 of the 1st), written
for Keras 3 functional models and ``tf.GradientTape``:

* :func:`activation_model` / :func:`channel_grid_rgb` / :func:`plot_activation_grids`: what each Conv2D / MaxPooling2D
  layer outputs for one picture, every channel side by side, blank channels in grey;
* :func:`filter_pattern` / :func:`filter_patterns`: the input each filter responds to most, found by gradient
  ascent from noise (several filters share one batched pass);
* :func:`with_linear_output` / :func:`gradcam_heatmap` / :func:`overlay_heatmap`: which part of a picture drove
  a class decision, from the class score before the softmax (or sigmoid).

Notebook 08 writes the book's version of each technique in its cells; these are the tested, faster versions that
draw the grids (tests/test_lessons_07_08.py shows that they compute the same).

All of them take the layer they look at by name, so the same code serves a small convnet trained from scratch,
a flat ImageNet classifier and a convolutional base loaded with ``include_top=False``. Layers *inside* a nested
model (a base used as one layer of a bigger model) are not visible from the outer model: work on the base
itself for activations and filters; Grad-CAM handles the nested case (see :func:`gradcam_heatmap`).
"""
from __future__ import annotations

import math
import weakref
from collections.abc import Callable, Sequence

import keras
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf
from matplotlib.figure import Figure

__all__ = [
    "activation_layer_names",
    "activation_model",
    "blank_channels",
    "channel_grid_rgb",
    "deprocess_image",
    "filter_pattern",
    "filter_patterns",
    "gradcam_heatmap",
    "gradcam_heatmap_from_parts",
    "image_grid",
    "layer_output_model",
    "overlay_heatmap",
    "plot_activation_grids",
    "split_model",
    "with_linear_output",
]

DEFAULT_LAYER_TYPES = (keras.layers.Conv2D, keras.layers.MaxPooling2D)


# --------------------------------------------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------------------------------------------


def layer_output_model(model: keras.Model, layer_name: str) -> keras.Model:
    """A model from ``model``'s inputs to the output of its layer ``layer_name`` (a feature extractor)."""
    return keras.Model(model.input, model.get_layer(layer_name).output, name=f"{model.name}_to_{layer_name}")


def image_grid(images: np.ndarray, per_row: int = 8, margin: int = 0, fill=0) -> np.ndarray:
    """Tile ``images`` (N, H, W) or (N, H, W, C) into one (rows, per_row) grid, row by row.

    ``margin`` pixels of ``fill`` separate the tiles; the last row is padded with ``fill`` too. A grid of fewer
    images than ``per_row`` is only as wide as it needs to be.
    """
    images = np.asarray(images)
    if images.ndim not in (3, 4) or len(images) == 0:
        raise ValueError(f"expected a non-empty stack of images (N, H, W[, C]), got shape {images.shape}")
    if per_row < 1 or margin < 0:
        raise ValueError("per_row must be >= 1 and margin >= 0")
    n, h, w = images.shape[:3]
    cols = min(n, per_row)
    rows = math.ceil(n / per_row)
    grid = np.full((rows * h + (rows - 1) * margin, cols * w + (cols - 1) * margin, *images.shape[3:]), fill,
                   images.dtype)
    for i, image in enumerate(images):
        r, c = divmod(i, per_row)
        top, left = r * (h + margin), c * (w + margin)
        grid[top : top + h, left : left + w] = image
    return grid


def _standardize_to_uint8(values: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """The book's display normalisation (mean -> 128, one standard deviation -> 64 grey levels, clipped),
    computed over ``axes`` separately for every other index. Constant slices come out as zeros, since a dead
    channel has no pattern to show and 0/0 would otherwise turn it into NaN."""
    values = np.asarray(values, dtype=np.float64)
    mean = values.mean(axis=axes, keepdims=True)
    std = values.std(axis=axes, keepdims=True)
    # Compare the range, not std, with zero: std of a constant float32 slice can be a rounding-error epsilon.
    alive = (values.max(axis=axes, keepdims=True) - values.min(axis=axes, keepdims=True)) > 0
    scaled = np.where(alive, (values - mean) / np.where(alive, std, 1.0) * 64.0 + 128.0, 0.0)
    return np.clip(scaled, 0, 255).astype(np.uint8)


def _single_image(array: np.ndarray, image_index: int = 0) -> np.ndarray:
    """One (H, W, C) image from (H, W, C) or from a batch (N, H, W, C)."""
    array = np.asarray(array)
    if array.ndim == 4:
        return array[image_index]
    if array.ndim == 3:
        return array
    raise ValueError(f"expected (H, W, C) or (N, H, W, C), got shape {array.shape}")


# --------------------------------------------------------------------------------------------------------------
# 1. Intermediate activations
# --------------------------------------------------------------------------------------------------------------


def _activation_layers(model: keras.Model, layer_types: tuple[type, ...]) -> list[keras.layers.Layer]:
    layers = [layer for layer in model.layers if isinstance(layer, layer_types)]
    if not layers:
        names = ", ".join(t.__name__ for t in layer_types)
        raise ValueError(
            f"{model.name} has no top-level {names} layer (layers of a nested model are not visible from the "
            "outer model: pass the nested model itself)"
        )
    return layers


def activation_layer_names(model: keras.Model, layer_types: tuple[type, ...] = DEFAULT_LAYER_TYPES) -> list[str]:
    """Names of ``model``'s top-level layers of ``layer_types``, in the order of :func:`activation_model`'s outputs."""
    return [layer.name for layer in _activation_layers(model, layer_types)]


def activation_model(model: keras.Model, layer_types: tuple[type, ...] = DEFAULT_LAYER_TYPES) -> keras.Model:
    """A model with ``model``'s inputs and one output per top-level layer of ``layer_types``, in layer order.

    ``activation_model(model).predict(images)`` returns a list of (N, H, W, C) arrays, named by
    :func:`activation_layer_names`. Augmentation and dropout layers in front run in inference mode, i.e. as
    identities, so the activations are those of the picture as given.
    """
    layers = _activation_layers(model, layer_types)
    return keras.Model(model.input, [layer.output for layer in layers], name=f"{model.name}_activations")


def blank_channels(activation: np.ndarray) -> np.ndarray:
    """Which channels of one image's (H, W, C) activation are constant over the whole map (e.g. a ReLU that fires
    nowhere on it): a boolean array of C values."""
    activation = np.asarray(activation, dtype=np.float32)
    return activation.max(axis=(0, 1)) == activation.min(axis=(0, 1))


def channel_grid_rgb(activation: np.ndarray, per_row: int = 16, margin: int = 1, cmap: str = "viridis",
                     blank_colour: float = 0.75) -> np.ndarray:
    """All channels of one layer's activation for ONE image, as a float RGB display grid in [0, 1].

    ``activation`` is (H, W, C), or (1, H, W, C) straight from ``predict``. Each channel is normalised on its
    own (mean at the middle of ``cmap``, one standard deviation = a quarter of its range, clipped) because
    channels differ in scale by orders of magnitude, and coloured with ``cmap``; blank (constant) channels are a
    uniform grey (``blank_colour``) so they cannot be mistaken for a channel that shows a dark pattern. Channels
    run row by row, ``per_row`` to a row, with ``margin`` white pixels between them; the last row is padded white.
    """
    activation = np.asarray(activation, dtype=np.float32)  # a bfloat16 model's activations: compare and colour in float32
    if activation.ndim == 4:
        if activation.shape[0] != 1:
            raise ValueError(f"channel_grid_rgb shows one image; got a batch of {activation.shape[0]}")
        activation = activation[0]
    if activation.ndim != 3:
        raise ValueError(f"expected an (H, W, C) activation, got shape {activation.shape}")
    tiles = _standardize_to_uint8(activation, axes=(0, 1))
    coloured = matplotlib.colormaps[cmap](np.moveaxis(tiles, -1, 0) / 255.0)[..., :3]
    coloured[blank_channels(activation)] = blank_colour
    return image_grid(coloured, per_row=per_row, margin=margin, fill=1.0)


def plot_activation_grids(
    names: Sequence[str],
    activations: Sequence[np.ndarray],
    per_row: int = 16,
    scale: float = 1.0,
    image_index: int = 0,
    cmap: str = "viridis",
    interpolation: str | None = None,
) -> list[Figure]:
    """One figure per layer, titled with its name and its count of blank channels, showing
    :func:`channel_grid_rgb` of its activation (blank channels grey).

    ``activations`` are the arrays of ``activation_model(model).predict(...)`` (batches: image ``image_index`` is
    shown) or single (H, W, C) activations. ``scale`` is the size of one channel tile in inches, so the figures
    stay ``per_row * scale`` inches wide whatever the layer's resolution. ``interpolation`` (matplotlib's) is by
    default "nearest" for a grid drawn larger than its pixels, so that every activation shows as a sharp cell
    (smoothing them would invent values in between, and makes the PNG several times larger), and "antialiased"
    for a grid drawn smaller than its pixels. The figures are pyplot figures (they show inline in a notebook);
    assign the returned list to keep its repr out of the cell output.
    """
    if len(names) != len(activations):
        raise ValueError(f"{len(names)} names for {len(activations)} activations")
    figures = []
    for name, activation in zip(names, activations):
        image = _single_image(activation, image_index)
        grid = channel_grid_rgb(image, per_row=per_row, cmap=cmap)
        tile_h, tile_w = image.shape[:2]
        figure = plt.figure(figsize=(scale * grid.shape[1] / (tile_w + 1), scale * grid.shape[0] / (tile_h + 1)))
        axes = figure.add_subplot()
        enlarged = axes.get_window_extent().width >= grid.shape[1]  # screen pixels per grid pixel >= 1
        chosen = interpolation or ("nearest" if enlarged else "antialiased")
        axes.imshow(grid, aspect="auto", interpolation=chosen)
        blank = int(blank_channels(image).sum())
        axes.set_title(f"{name}: {image.shape[-1]} channels, {blank} blank (grey)", fontsize=10)
        axes.axis("off")
        figures.append(figure)
    return figures


# --------------------------------------------------------------------------------------------------------------
# 2. Filter patterns by gradient ascent
# --------------------------------------------------------------------------------------------------------------

# One compiled ascent step per (feature extractor, settings): tracing a large model takes seconds, and notebooks
# call filter_pattern repeatedly on the same extractor. Weak keys so a dropped model frees its steps too (the
# steps reach the model through a weak reference only, or they would keep their own key alive); a new
# ``preprocess`` object (a fresh lambda) means a new step.
_ASCENT_STEPS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _ascent_step(feature_extractor: keras.Model, border: int, preprocess: Callable | None) -> Callable:
    steps = _ASCENT_STEPS.setdefault(feature_extractor, {})
    key = (border, preprocess)
    if key in steps:
        return steps[key]
    model_ref = weakref.ref(feature_extractor)

    @tf.function
    def step(images: tf.Tensor, filter_indices: tf.Tensor, step_length: tf.Tensor):
        with tf.GradientTape() as tape:
            tape.watch(images)
            inputs = images if preprocess is None else preprocess(images)
            activation = model_ref()(inputs, training=False)
            # Border activations see the edge (or zero padding) rather than the image and would pull the pattern there.
            h, w = activation.shape[1], activation.shape[2]
            bh = border if h is None else min(border, (h - 1) // 2)
            bw = border if w is None else min(border, (w - 1) // 2)
            activation = activation[:, bh : (-bh or None), bw : (-bw or None), :]
            # Image i maximises filter filter_indices[i]: the images do not interact, so the gradient of the sum
            # with respect to image i is that of its own loss, and one batched pass serves them all.
            chosen = tf.gather(activation, filter_indices, axis=3, batch_dims=1)
            losses = tf.reduce_mean(chosen, axis=[1, 2])
            total = tf.reduce_sum(losses)
        grads = tape.gradient(total, images)
        # Normalised per image, so each takes a step of the same length whatever its gradient's scale.
        grads = tf.math.l2_normalize(grads, axis=[1, 2, 3])
        return images + step_length * grads, losses

    steps[key] = step
    return step


def deprocess_image(image: np.ndarray, crop: int = 0) -> np.ndarray:
    """A float image (H, W, C) or batch (N, H, W, C) made displayable: standardised per image (mean at 128, one
    standard deviation = 64 grey levels), clipped to uint8, and ``crop`` pixels cut from every side."""
    image = np.asarray(image)
    axes = tuple(range(image.ndim - 3, image.ndim))
    shown = _standardize_to_uint8(image, axes=axes)
    if crop:
        shown = shown[..., crop:-crop, crop:-crop, :]
    return shown


def _pattern_size(feature_extractor: keras.Model, size: int | tuple[int, int] | None) -> tuple[int, int]:
    """(height, width) of the patterns: ``size`` if given, else the model's own input size, else 128."""
    fixed = tuple(feature_extractor.inputs[0].shape[1:3])
    if size is None:
        return fixed if None not in fixed else (128, 128)
    height, width = (size, size) if isinstance(size, int) else size
    if None not in fixed and (height, width) != fixed:
        raise ValueError(f"{feature_extractor.name} takes {fixed[0]}x{fixed[1]} inputs, not {height}x{width}")
    return int(height), int(width)


def filter_patterns(
    feature_extractor: keras.Model,
    filter_indices: Sequence[int],
    size: int | tuple[int, int] | None = None,
    steps: int = 30,
    step_size: float = 10.0,
    value_range: tuple[float, float] = (0.0, 255.0),
    preprocess: Callable | None = None,
    border: int = 2,
    crop_fraction: float = 0.125,
    batch_size: int | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Patterns that maximise several filters at once: image ``i`` is ascended for ``filter_indices[i]``.

    Returns ``(images, losses)``: uint8 images (N, H', W', C) as :func:`filter_pattern` makes them and the
    losses, (N, steps). The images of one batch go through the model together, which on a CPU costs much less
    than one pass per filter when the model is small for the CPU (measured 2.7x for 8 filters of a small
    convnet at 64x64, 1.6x for MobileNetV2 at 128x128) but nothing at all for a convnet at 180x180, whose
    passes are already compute-bound. ``batch_size`` (default: all at once) bounds the memory. Batching does
    not change the results: the starting images are one draw from ``seed``, cut into chunks, and the first one
    is the image :func:`filter_pattern` starts from. See :func:`filter_pattern` for the other arguments.
    """
    indices = np.asarray(filter_indices, dtype=np.int32).reshape(-1)
    if indices.size == 0:
        raise ValueError("no filter index given")
    channels = feature_extractor.output.shape[-1]
    if channels is not None and (indices.min() < 0 or indices.max() >= channels):
        raise ValueError(f"filter indices must lie in 0..{channels - 1}, got {indices.tolist()}")
    height, width = _pattern_size(feature_extractor, size)
    in_channels = feature_extractor.inputs[0].shape[-1] or 3
    low, high = value_range
    # Grey with a little noise, as in the book (0.4..0.6 of the input range): a blank-ish canvas the filter can
    # paint on, with enough variation to break the symmetry.
    rng = np.random.default_rng(seed)
    noise = rng.uniform(0.4, 0.6, size=(indices.size, height, width, in_channels))
    start = (low + noise * (high - low)).astype(np.float32)

    step = _ascent_step(feature_extractor, border, preprocess)
    # step_size is the book's step length for a 0..1 range; scaling it keeps the same relative change per step.
    step_length = tf.constant(step_size * (high - low), tf.float32)
    crop = int(min(height, width) * crop_fraction)
    chunk = batch_size or indices.size
    images, losses = [], []
    for first in range(0, indices.size, chunk):
        batch = tf.constant(start[first : first + chunk])
        batch_indices = tf.constant(indices[first : first + chunk])
        batch_losses = []
        for _ in range(steps):
            batch, loss = step(batch, batch_indices, step_length)
            batch_losses.append(loss.numpy())
        images.append(deprocess_image(batch.numpy(), crop=crop))
        losses.append(np.stack(batch_losses, axis=1) if batch_losses else np.zeros((len(batch_indices), 0)))
    return np.concatenate(images), np.concatenate(losses).astype(np.float64)


def filter_pattern(
    feature_extractor: keras.Model,
    filter_index: int,
    size: int | tuple[int, int] | None = None,
    steps: int = 30,
    step_size: float = 10.0,
    value_range: tuple[float, float] = (0.0, 255.0),
    preprocess: Callable | None = None,
    border: int = 2,
    crop_fraction: float = 0.125,
    seed: int = 0,
) -> tuple[np.ndarray, list[float]]:
    """The input pattern that filter ``filter_index`` of ``feature_extractor``'s output responds to most.

    Starting from grey noise in ``value_range`` (what the model takes: 0..255 when it rescales inside, else
    give the range and/or a differentiable ``preprocess`` applied inside the ascent), takes ``steps`` gradient
    ascent steps of L2 length ``step_size * (high - low)`` on the mean activation of the filter, ``border``
    feature-map pixels on each side excluded. Each step is one forward and one backward pass at ``size``
    (an int or (height, width); default: the model's input size if fixed, else 128), so size and steps set the
    cost; for several filters use :func:`filter_patterns`, which batches them. A filter that does not fire at
    all on the starting noise (a dead ReLU) gets no gradient: its loss stays 0 and its pattern is the noise.

    Returns the displayable uint8 image (standardised, clipped, ``crop_fraction`` of the size cut from every
    side) and the loss before each step.
    """
    images, losses = filter_patterns(
        feature_extractor,
        [filter_index],
        size=size,
        steps=steps,
        step_size=step_size,
        value_range=value_range,
        preprocess=preprocess,
        border=border,
        crop_fraction=crop_fraction,
        seed=seed,
    )
    return images[0], losses[0].tolist()


# --------------------------------------------------------------------------------------------------------------
# 3. Grad-CAM
# --------------------------------------------------------------------------------------------------------------


def with_linear_output(model: keras.Model) -> keras.Model:
    """A copy of ``model`` (same weights, values copied) whose last layer has no activation: it outputs the class
    scores before the softmax (logits), or the logit before a sigmoid.

    Grad-CAM follows the gradient of the class score before the softmax (Selvaraju et al., 2017; keras.io's
    example sets the last activation to None): a softmax probability near 1 has a vanishing gradient, and it also
    rises when the *other* classes' scores fall. The copy leaves ``model`` as it is, so its predictions still are
    probabilities.
    """
    last = model.layers[-1]
    if not hasattr(last, "activation"):
        raise ValueError(f"the last layer of {model.name}, {last.name}, has no activation to remove")

    def clone(layer):
        config = layer.get_config()
        if layer is last:
            config["activation"] = "linear"
        return layer.__class__.from_config(config)

    copy = keras.models.clone_model(model, clone_function=clone)
    copy.set_weights(model.get_weights())
    return copy


def _as_batch(image: np.ndarray | tf.Tensor) -> tf.Tensor:
    image = tf.convert_to_tensor(image, dtype=tf.float32)
    if image.shape.rank == 3:
        image = image[tf.newaxis]
    if image.shape.rank != 4 or image.shape[0] != 1:
        raise ValueError(f"Grad-CAM explains one image, (H, W, C) or (1, H, W, C); got shape {image.shape}")
    return image


def _binary_threshold(model: keras.Model) -> float | None:
    """Where a one-unit output changes class: 0.5 for a sigmoid probability, 0 for a logit (no activation), None
    when the last layer does not say (then the class must be given)."""
    activation = getattr(model.layers[-1], "activation", None)
    name = getattr(activation, "__name__", str(activation))
    return 0.5 if name == "sigmoid" else 0.0 if name == "linear" else None


def _class_score(predictions: tf.Tensor, class_index: int | None, threshold: float | None = 0.5) -> tf.Tensor:
    """The score whose gradient Grad-CAM follows (see :func:`gradcam_heatmap`)."""
    predictions = tf.reshape(predictions, (1, -1))
    classes = predictions.shape[-1]
    if classes == 1:
        if class_index is None:
            if threshold is None:
                raise ValueError("the model's single output is neither a sigmoid nor a logit: give class_index")
            class_index = int(predictions[0, 0] >= threshold)
        if class_index not in (0, 1):
            raise ValueError(f"a single-output (binary) model has classes 0 and 1, not {class_index}")
        # Negating serves both a probability (gradient of 1 - p) and a logit (the negative class's logit).
        return predictions[0, 0] if class_index == 1 else -predictions[0, 0]
    if class_index is None:
        class_index = int(tf.argmax(predictions[0]))
    if not 0 <= class_index < classes:
        raise ValueError(f"class_index {class_index} outside 0..{classes - 1}")
    return predictions[0, class_index]


def _heatmap(conv_output: tf.Tensor, grads: tf.Tensor | None) -> np.ndarray:
    if grads is None:
        raise ValueError("the class score does not depend on that layer's output")
    if conv_output.shape.rank != 4:
        raise ValueError(f"Grad-CAM needs a convolutional (batch, H, W, C) layer output, got {conv_output.shape}")
    # Each channel weighted by how much the class score rises with it on average over the map.
    weights = tf.reduce_mean(grads, axis=(0, 1, 2))
    heatmap = tf.nn.relu(tf.reduce_sum(conv_output[0] * weights, axis=-1)).numpy()
    peak = heatmap.max()
    # A map with no positive evidence (or gradients that saturated to zero) stays all zero rather than NaN.
    return (heatmap / peak if peak > 0 else np.zeros_like(heatmap)).astype(np.float32)


def split_model(model: keras.Model, layer_name: str) -> tuple[keras.Model, keras.Model]:
    """``model`` cut after its top-level layer ``layer_name`` into (conv_model, classifier_model).

    For chain models (each top-level layer feeds the next, as in a ``Sequential``-like functional model whose
    convolutional base is one nested layer): the layers are re-applied to fresh inputs, sharing their weights
    with ``model``. ``conv_model`` maps the inputs to the layer's output, ``classifier_model`` that output to
    the predictions.
    """
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ValueError("split_model handles models with one input and one output")
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    names = [layer.name for layer in layers]
    if layer_name not in names:
        raise ValueError(f"{model.name} has no top-level layer {layer_name!r}")
    cut = names.index(layer_name) + 1

    def chain(inputs, part, name):
        x = inputs
        try:
            for layer in part:
                x = layer(x)
        except Exception as error:  # a merge layer (Add, Concatenate...) means the model is no chain
            raise ValueError(f"{model.name} is not a chain of single-input layers at {layer.name!r}") from error
        return keras.Model(inputs, x, name=name)

    conv_inputs = keras.Input(shape=model.inputs[0].shape[1:], dtype=model.inputs[0].dtype)
    conv_model = chain(conv_inputs, layers[:cut], f"{model.name}_to_{layer_name}")
    head_inputs = keras.Input(shape=conv_model.outputs[0].shape[1:])
    classifier_model = chain(head_inputs, layers[cut:], f"{model.name}_after_{layer_name}")
    return conv_model, classifier_model


def gradcam_heatmap_from_parts(
    conv_model: keras.Model,
    classifier_model: keras.Model,
    image: np.ndarray,
    class_index: int | None = None,
) -> np.ndarray:
    """Grad-CAM for a model given in two parts, as in the book: ``conv_model`` (image -> last conv feature map)
    and ``classifier_model`` (feature map -> predictions). See :func:`gradcam_heatmap` for the rest."""
    image = _as_batch(image)
    # Only the classifier part needs recording: the gradient is taken with respect to the feature map.
    conv_output = tf.convert_to_tensor(conv_model(image, training=False))
    with tf.GradientTape() as tape:
        tape.watch(conv_output)
        score = _class_score(classifier_model(conv_output, training=False), class_index,
                             _binary_threshold(classifier_model))
    return _heatmap(conv_output, tape.gradient(score, conv_output))


def gradcam_heatmap(
    model: keras.Model,
    image: np.ndarray,
    last_conv_layer_name: str,
    class_index: int | None = None,
) -> np.ndarray:
    """Grad-CAM: where in ``image`` the evidence for a class lies, as an (H', W') map in [0, 1] at the
    resolution of layer ``last_conv_layer_name``'s output (resize it with :func:`overlay_heatmap`).

    ``image`` is one picture (H, W, C) or (1, H, W, C), in the value range ``model`` takes. The channels of the
    layer's output are weighted by the mean gradient of the class score with respect to them, summed, passed
    through a ReLU and divided by their maximum (an all-zero map when no location supports the class).

    The class score is the model's output for ``class_index`` (default: the top predicted class): give the model
    :func:`with_linear_output` makes, so that the score is the one before the softmax (Selvaraju et al.; the
    book differentiates the softmax probability, which saturates). For a single-output binary model,
    class 1 scores with the output itself and class 0 with its negation (the gradient of ``1 - p`` for a
    sigmoid probability, the negative-class logit for a logit); the default class is 1 when a sigmoid output is
    >= 0.5 or a logit output (no activation, as :func:`with_linear_output` makes) is >= 0.

    ``last_conv_layer_name`` names a top-level layer of ``model``. In a flat model (an ImageNet classifier) it
    is the last convolutional activation; when the convolutional base is nested in ``model`` as one layer, give
    the base's name: the model is then cut there with :func:`split_model` (it must be a chain of layers), since
    the base's output is not reachable from the outer model's graph.
    """
    layer = model.get_layer(last_conv_layer_name)
    if isinstance(layer, keras.Model):
        conv_model, classifier_model = split_model(model, last_conv_layer_name)
        return gradcam_heatmap_from_parts(conv_model, classifier_model, image, class_index)
    image = _as_batch(image)
    grad_model = keras.Model(model.inputs, [layer.output, model.outputs[0]])  # a Sequential has them once built
    with tf.GradientTape() as tape:
        conv_output, predictions = grad_model(image, training=False)
        score = _class_score(predictions, class_index, _binary_threshold(model))
    return _heatmap(conv_output, tape.gradient(score, conv_output))


def overlay_heatmap(
    image_uint8: np.ndarray, heatmap: np.ndarray, alpha: float = 0.4, colormap: str = "jet"
) -> np.ndarray:
    """``heatmap`` (values in [0, 1]) resized to the photo, coloured with a matplotlib colormap and blended over
    it: ``(1 - alpha) * photo + alpha * colour``. Returns uint8 (H, W, 3) at the photo's resolution; a
    greyscale photo (H, W) or (H, W, 1) is shown in grey under the colours."""
    photo = np.asarray(image_uint8, dtype=np.float32)
    if photo.ndim == 2:
        photo = photo[:, :, None]
    if photo.ndim != 3 or photo.shape[-1] not in (1, 3):
        raise ValueError(f"expected an (H, W), (H, W, 1) or (H, W, 3) photo, got shape {photo.shape}")
    if photo.shape[-1] == 1:
        photo = np.repeat(photo, 3, axis=-1)
    heatmap = np.asarray(heatmap, dtype=np.float32)
    if heatmap.ndim != 2:
        raise ValueError(f"expected an (H', W') heatmap, got shape {heatmap.shape}")
    # Resize the values and colour afterwards: interpolating colours would invent hues between jet's stops.
    resized = tf.image.resize(heatmap[:, :, None], photo.shape[:2], method="bilinear").numpy()[:, :, 0]
    colours = matplotlib.colormaps[colormap](np.clip(resized, 0.0, 1.0))[:, :, :3] * 255.0
    blended = (1.0 - alpha) * np.clip(photo, 0, 255) + alpha * colours
    return np.clip(np.rint(blended), 0, 255).astype(np.uint8)
