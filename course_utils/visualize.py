"""What convnets learn: intermediate activations, filter patterns and Grad-CAM heatmaps, as notebook 08 draws them.

Notebook 08 writes the three techniques of Chollet's *Deep Learning with Python* (ch. 9 of the 2nd edition, 5.4 of
the 1st) in its own cells, as the book does. This module holds what the notebook uses around those cells: general,
faster versions for Keras 3 models, and the drawing.

* activations: :func:`plot_activation_grids` shows every channel of a layer's output for one picture
  (:func:`channel_grid_rgb`), blank channels (:func:`blank_channels`) in grey;
* filter patterns: :func:`filter_patterns` finds the inputs that several filters respond to most, by gradient ascent
  from noise in one batched pass; :func:`deprocess_image` makes such an input displayable and :func:`tile_images`
  lays a stack of them out in one picture;
* Grad-CAM: :func:`gradcam_heatmap` shows which part of a picture drove a class decision, from the class score
  before the softmax or sigmoid (:func:`with_linear_output`), for flat and Sequential models and for a pretrained
  base nested as one layer; :func:`overlay_heatmap` lays the map over the photo.

The layers looked at are named, so the same code serves a small convnet trained from scratch, an ImageNet
classifier and a convolutional base loaded with ``include_top=False``.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import keras
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf
from matplotlib.figure import Figure

__all__ = [
    "blank_channels",
    "channel_grid_rgb",
    "deprocess_image",
    "filter_patterns",
    "gradcam_heatmap",
    "overlay_heatmap",
    "plot_activation_grids",
    "tile_images",
    "with_linear_output",
]


# --------------------------------------------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------------------------------------------


def tile_images(images: np.ndarray, per_row: int = 8, margin: int = 0, fill: float = 0) -> np.ndarray:
    """``images`` (N, H, W) or (N, H, W, C) laid side by side in one array, ``per_row`` to a row, row by row.

    ``margin`` pixels of ``fill`` separate the tiles; the last row is padded with ``fill`` too. Fewer images than
    ``per_row`` make a row only as wide as it needs to be.
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


# --------------------------------------------------------------------------------------------------------------
# 1. Intermediate activations (notebook 08 builds the activation model itself)
# --------------------------------------------------------------------------------------------------------------


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
    # A bfloat16 model's activations are compared and coloured in float32.
    activation = np.asarray(activation, dtype=np.float32)
    if activation.ndim == 4:
        if activation.shape[0] != 1:
            raise ValueError(f"channel_grid_rgb shows one image; got a batch of {activation.shape[0]}")
        activation = activation[0]
    if activation.ndim != 3:
        raise ValueError(f"expected an (H, W, C) activation, got shape {activation.shape}")
    tiles = _standardize_to_uint8(activation, axes=(0, 1))
    coloured = matplotlib.colormaps[cmap](np.moveaxis(tiles, -1, 0) / 255.0)[..., :3]
    coloured[blank_channels(activation)] = blank_colour
    return tile_images(coloured, per_row=per_row, margin=margin, fill=1.0)


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

    ``activations`` are the arrays an activation model's ``predict`` returns (batches: image ``image_index`` is
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
        image = np.asarray(activation)
        image = image[image_index] if image.ndim == 4 else image
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


def deprocess_image(image: np.ndarray, crop: int = 0) -> np.ndarray:
    """A float image (H, W, C) or batch (N, H, W, C) made displayable: standardised per image (mean at 128, one
    standard deviation = 64 grey levels), clipped to uint8, and ``crop`` pixels cut from every side."""
    image = np.asarray(image)
    shown = _standardize_to_uint8(image, axes=tuple(range(image.ndim - 3, image.ndim)))
    return shown[..., crop:-crop, crop:-crop, :] if crop else shown


def _pattern_size(feature_extractor: keras.Model, size: int | tuple[int, int] | None) -> tuple[int, int]:
    """(height, width) of the patterns: ``size`` if given, else the model's own input size, else 128."""
    fixed = tuple(feature_extractor.inputs[0].shape[1:3])
    if size is None:
        return fixed if None not in fixed else (128, 128)
    height, width = (size, size) if isinstance(size, int) else size
    if None not in fixed and (height, width) != fixed:
        raise ValueError(f"{feature_extractor.name} takes {fixed[0]}x{fixed[1]} inputs, not {height}x{width}")
    return int(height), int(width)


def _ascent_step(feature_extractor: keras.Model, border: int, preprocess: Callable | None) -> Callable:
    """One compiled gradient-ascent step for a batch of images, image i climbing filter ``filter_indices[i]``:
    returns the moved images and each image's loss (its filter's mean activation) before the move."""

    @tf.function
    def step(images: tf.Tensor, filter_indices: tf.Tensor, step_length: tf.Tensor):
        with tf.GradientTape() as tape:
            tape.watch(images)
            inputs = images if preprocess is None else preprocess(images)
            activation = feature_extractor(inputs, training=False)
            # Border activations see the edge (or zero padding) rather than the image and would pull the pattern there.
            h, w = activation.shape[1], activation.shape[2]
            bh = border if h is None else min(border, (h - 1) // 2)
            bw = border if w is None else min(border, (w - 1) // 2)
            activation = activation[:, bh : (-bh or None), bw : (-bw or None), :]
            # The images do not interact, so the gradient of the sum with respect to image i is that of its own
            # loss, and one batched pass serves them all.
            chosen = tf.gather(activation, filter_indices, axis=3, batch_dims=1)
            losses = tf.reduce_mean(chosen, axis=[1, 2])
            total = tf.reduce_sum(losses)
        grads = tape.gradient(total, images)
        # Normalised per image, so each takes a step of the same length whatever its gradient's scale.
        grads = tf.math.l2_normalize(grads, axis=[1, 2, 3])
        return images + step_length * grads, losses

    return step


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
    """The inputs that filters of ``feature_extractor``'s output respond to most: image ``i`` is found by gradient
    ascent on the mean activation of filter ``filter_indices[i]``.

    Each image starts from grey noise in ``value_range`` (what the model takes: 0..255 when it rescales inside,
    else give the range and/or a differentiable ``preprocess`` applied inside the ascent) and takes ``steps``
    steps of L2 length ``step_size * (high - low)``; ``border`` feature-map pixels on each side are left out of
    the mean. Each step is one forward and one backward pass at ``size`` (an int or (height, width); default: the
    model's input size if fixed, else 128), so size and steps set the cost. A filter that does not fire at all on
    the starting noise (a dead ReLU) gets no gradient: its loss stays 0 and its pattern is the noise.

    The images go through the model together, which on a CPU costs much less than one pass per filter when the
    model is small for the CPU (measured 2.7x for 8 filters of a small convnet at 64x64, 1.6x for MobileNetV2 at
    128x128) but nothing for a convnet at 180x180, whose passes are already compute-bound. ``batch_size``
    (default: all at once) bounds the memory without changing the results: the starting images are one draw from
    ``seed``, cut into chunks, so the first filter's pattern is the same whatever the other filters are.

    Returns ``(images, losses)``: displayable uint8 images (N, H', W', C), standardised by
    :func:`deprocess_image` with ``crop_fraction`` of the size cut from every side, and each filter's mean
    activation before each step, (N, steps).
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
    noise = np.random.default_rng(seed).uniform(0.4, 0.6, size=(indices.size, height, width, in_channels))
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


def _run_chain(model: keras.Model, image: tf.Tensor, inner: keras.layers.Layer) -> tuple[tf.Tensor, tf.Tensor]:
    """(output of the top-level layer ``inner``, predictions) of a chain model (each top-level layer feeds the
    next), computed by calling its layers in turn.

    A base nested in ``model`` as one layer has an ``output`` tensor of its own graph, not of ``model``'s, so
    ``keras.Model(model.inputs, base.output)`` cannot be built; calling the layers one by one reaches it.
    """
    x = image
    inner_output = None
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        try:
            x = layer(x, training=False)
        except Exception as error:  # a merge layer (Add, Concatenate...) means the model is no chain
            raise ValueError(f"{model.name} is not a chain of single-input layers at {layer.name!r}") from error
        if layer is inner:
            inner_output = x
    return inner_output, x


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

    ``last_conv_layer_name`` names a top-level layer of ``model``: in a flat or Sequential model (an ImageNet
    classifier) the last convolutional activation; when the convolutional base is nested in ``model`` as one
    layer, the base's name (``model`` must then be a chain of layers, each feeding the next).
    """
    layer = model.get_layer(last_conv_layer_name)
    image = _as_batch(image)
    with tf.GradientTape() as tape:
        # Watching the input records every op after it, so the layer's output has a gradient even when no weight
        # on the way is trainable (a frozen base).
        tape.watch(image)
        if isinstance(layer, keras.Model):
            conv_output, predictions = _run_chain(model, image, layer)
        else:
            # A Sequential model has inputs and outputs once built, as any model handed here has been.
            grad_model = keras.Model(model.inputs, [layer.output, model.outputs[0]])
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
