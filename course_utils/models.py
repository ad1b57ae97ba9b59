"""The course's model builders and the arithmetic that explains their sizes."""
from __future__ import annotations

import keras
from keras import layers


def mnist_dense() -> keras.Model:
    """The book's first MNIST network: flattened pixels -> Dense 512 relu -> Dense 10 softmax."""
    inputs = keras.Input(shape=(28, 28, 1))
    x = layers.Flatten()(inputs)
    x = layers.Dense(512, activation="relu")(x)
    outputs = layers.Dense(10, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="mnist_dense")


def mnist_convnet(pooling: bool = True) -> keras.Model:
    """The book's MNIST convnet (functional API); ``pooling=False`` drops its two MaxPooling2D layers."""
    inputs = keras.Input(shape=(28, 28, 1))
    x = layers.Conv2D(32, 3, activation="relu")(inputs)
    for filters in (64, 128):
        if pooling:
            x = layers.MaxPooling2D(2)(x)
        x = layers.Conv2D(filters, 3, activation="relu")(x)
    x = layers.Flatten()(x)
    outputs = layers.Dense(10, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="mnist_convnet" if pooling else "mnist_convnet_no_pooling")


def mnist_sequential_dropout() -> keras.Sequential:
    """The Keras-examples style MNIST convnet, written with Sequential, regularised with Dropout."""
    return keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(32, 3, activation="relu"),
        layers.Conv2D(64, 3, activation="relu"),
        layers.MaxPooling2D(2),
        layers.Dropout(0.25),
        layers.Flatten(),
        layers.Dense(128, activation="relu"),
        layers.Dropout(0.5),
        layers.Dense(10, activation="softmax"),
    ], name="mnist_sequential_dropout")


def conv_params(kernel_size: int, channels_in: int, filters: int) -> int:
    """Weights of a Conv2D layer: (k·k·c_in + 1)·c_out, the +1 being each filter's bias."""
    return (kernel_size * kernel_size * channels_in + 1) * filters


def dense_params(units_in: int, units: int) -> int:
    """Weights of a Dense layer: (n_in + 1)·n_out."""
    return (units_in + 1) * units


def expected_params(layer: keras.layers.Layer) -> int | None:
    """The parameter count a Conv2D or Dense layer should have by formula; None for other layers."""
    if isinstance(layer, layers.Conv2D):
        return conv_params(layer.kernel_size[0], layer.input.shape[-1], layer.filters)
    if isinstance(layer, layers.Dense):
        return dense_params(layer.input.shape[-1], layer.units)
    return None


def receptive_fields(model: keras.Model) -> dict[str, int]:
    """Receptive field (in input pixels, along one side) of one unit in each layer's output.

    A layer with kernel k and the stride product ``jump`` of the layers before it widens the field by
    (k - 1)·jump; its own stride multiplies the jump for the layers after it.
    """
    field, jump, result = 1, 1, {}
    for layer in model.layers:
        if isinstance(layer, layers.Conv2D):
            kernel, stride = layer.kernel_size[0], layer.strides[0]
        elif isinstance(layer, (layers.MaxPooling2D, layers.AveragePooling2D)):
            kernel, stride = layer.pool_size[0], layer.strides[0]
        else:
            continue
        field += (kernel - 1) * jump
        jump *= stride
        result[layer.name] = field
    return result


def layer_table(model: keras.Model) -> list[dict]:
    """One row per layer: name, output shape, parameters, the formula's count and receptive field."""
    fields = receptive_fields(model)
    rows = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        params = layer.count_params()
        rows.append({
            "layer": layer.name,
            "output shape": tuple(layer.output.shape[1:]),
            "params": params,
            "by formula": expected_params(layer),
            "share": params / model.count_params(),
            "receptive field": fields.get(layer.name),
        })
    return rows


def data_augmentation(seed: int | None = None) -> keras.Sequential:
    """The book's augmentation stack: random horizontal flips, rotations up to ±10% of a turn, zooms up to 20%.

    Active only in training (``fit``); at inference (``predict``, ``evaluate``) these layers pass images through.
    """
    return keras.Sequential([
        layers.RandomFlip("horizontal", seed=seed),
        layers.RandomRotation(0.1, seed=seed),
        layers.RandomZoom(0.2, seed=seed),
    ], name="data_augmentation")


def cats_dogs_convnet(image_size: int = 180, augmentation: keras.Layer | None = None,
                      dropout: float | None = None) -> keras.Model:
    """The book's dogs-vs-cats convnet: Rescaling, five Conv2D (32-64-128-256-256) with four MaxPooling2D, a
    sigmoid unit; optionally augmentation in front and Dropout before the classifier.

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
    outputs = layers.Dense(1, activation="sigmoid")(x)
    name = "cats_dogs_convnet" + ("_augmented" if augmentation is not None else "")
    return keras.Model(inputs, outputs, name=name)
