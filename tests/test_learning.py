"""Learning checks: the course's models, trained briefly on real data, must do far better than chance.

The smoke profile proves that every cell runs; these prove that the models still learn. Each check trains for
seconds on a slice of the real data and asserts a floor well above chance, set below what a healthy run reaches
(measured values in the comments) and far above what a broken one does (a learning rate of 0 or shuffled labels
stay at chance).
"""
from __future__ import annotations

import time

import keras
import numpy as np
import pytest
from notebook_code import lesson_namespace

from course_utils import dogs_vs_cats, efficientnet_lite, mnist_data


@pytest.fixture(autouse=True)
def report_time(request):
    """Print each check's wall time (shown with pytest -s or -rA), to keep the whole test command's budget in view."""
    started = time.perf_counter()
    yield
    print(f"{request.node.name}: {time.perf_counter() - started:.1f} s")


@pytest.mark.needs_data
def test_the_mnist_convnet_of_notebook_02_learns_in_one_epoch():
    (x_train, y_train), (x_test, y_test) = mnist_data.load_mnist()
    keras.utils.set_random_seed(0)
    model = lesson_namespace("02")["model"]  # the book's convnet, compiled as the notebook compiles it
    prepare = lambda images: images.reshape((-1, 28, 28, 1)).astype("float32") / 255  # noqa: E731 (the notebook's)
    model.fit(prepare(x_train[:4000]), y_train[:4000], epochs=1, batch_size=32, verbose=0)
    accuracy = model.evaluate(prepare(x_test[:2000]), y_test[:2000], verbose=0)[1]
    # measured: 0.89 after 125 steps; chance: 0.10 (learning rate 0: 0.07, shuffled labels: 0.12)
    assert accuracy > 0.75, f"the MNIST convnet reached only {accuracy:.3f} test accuracy after one epoch"


def photo_sample(per_class: int, size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``per_class`` cats and as many dogs from the raw photos, resized to ``size`` pixels, RGB 0-255; labels 1 = dog."""
    rng = np.random.default_rng(seed)
    photos = dogs_vs_cats.list_photos(dogs_vs_cats.find_source(download=False))
    images, labels = [], []
    for label, name in enumerate(dogs_vs_cats.CLASSES):
        paths = [path for path, class_name in photos if class_name == name]
        for index in rng.permutation(len(paths)):
            if len(images) == (label + 1) * per_class:
                break
            try:
                image = keras.utils.load_img(paths[index], target_size=(size, size))
            except (OSError, ValueError):  # the full Kaggle/PetImages sets hold a few undecodable files
                continue
            images.append(keras.utils.img_to_array(image))
            labels.append(label)
    return np.stack(images), np.array(labels)


@pytest.mark.needs_data
def test_offline_base_features_and_a_linear_head_tell_cats_from_dogs():
    images, labels = photo_sample(per_class=150, size=128)
    base = efficientnet_lite.efficientnet_lite0(include_top=False, input_shape=(128, 128, 3))
    features = base.predict(images, batch_size=50, verbose=0).mean(axis=(1, 2))  # global average pooling
    order = np.random.default_rng(1).permutation(len(labels))
    train, test = order[:200], order[200:]
    keras.utils.set_random_seed(0)
    head = keras.Sequential([keras.Input(features.shape[1:]), keras.layers.Dense(1, activation="sigmoid")])
    head.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy", metrics=["accuracy"])
    head.fit(features[train], labels[train], epochs=30, batch_size=32, verbose=0)
    accuracy = head.evaluate(features[test], labels[test], verbose=0)[1]
    # measured: 0.96 on 100 held-out photos; chance: 0.50 (learning rate 0: 0.37, shuffled labels: 0.59)
    assert accuracy > 0.8, f"ImageNet features + a linear head reached only {accuracy:.3f} on cats vs dogs"


@pytest.fixture(scope="module")
def cats_and_dogs():
    """2,000 training and 600 held-out photos at 80 px (the smallest size the book's convnet takes is 78), decoded
    once for the checks below; labels 1 = dog."""
    images, labels = photo_sample(per_class=1300, size=80)
    order = np.random.default_rng(1).permutation(len(labels))
    return images[order[:2000]], labels[order[:2000]], images[order[2000:]], labels[order[2000:]]


def held_out_after_training(notebook: str, data, learning_rate: float = 1e-3, shuffle_labels: bool = False):
    """(loss, accuracy) on the held-out photos of the notebook's inline model after 6 epochs of RMSprop."""
    import contextlib
    import io

    x_train, y_train, x_test, y_test = data
    if shuffle_labels:
        y_train = np.random.default_rng(2).permutation(y_train)
    keras.utils.set_random_seed(0)
    with contextlib.redirect_stdout(io.StringIO()):  # the inline cell prints the model's summary
        model = lesson_namespace(notebook, IMAGE_SIZE=80)["model"]
    model.compile(loss="binary_crossentropy", optimizer=keras.optimizers.RMSprop(learning_rate),
                  metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=6, batch_size=32, verbose=0)
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    return loss, accuracy


@pytest.mark.needs_data
def test_the_dogs_vs_cats_convnet_of_notebook_05_learns(cats_and_dogs):
    loss, accuracy = held_out_after_training("05", cats_and_dogs)
    # measured with seeds 0 / 1 / 2: held-out loss 0.563 / 0.578 / 0.619, accuracy 0.715 / 0.687 / 0.682 (600
    # photos: an accuracy is known to about ±0.04); chance: loss 0.693 (log 2), accuracy 0.50. Broken, both stay at
    # chance: learning rate 0 gives 0.693 and 0.500, shuffled training labels 0.693 and 0.500.
    assert loss < 0.65 and accuracy > 0.62, (
        f"notebook 05's convnet reached held-out loss {loss:.3f}, accuracy {accuracy:.3f} after 6 epochs")


@pytest.mark.needs_data
def test_the_augmented_convnet_of_notebook_06_learns(cats_and_dogs):
    loss, accuracy = held_out_after_training("06", cats_and_dogs)
    # augmentation and dropout slow the first epochs: measured with seeds 0 / 1, loss 0.633 / 0.616, accuracy
    # 0.623 / 0.662; learning rate 0: 0.693 and 0.495, shuffled training labels: 0.693 and 0.500
    assert loss < 0.675 and accuracy > 0.56, (
        f"notebook 06's augmented convnet reached held-out loss {loss:.3f}, accuracy {accuracy:.3f} after 6 epochs")


def bright_squares(count: int, rng: np.random.Generator, size: int = 32, side: int = 6):
    """Dim noise images; half hold a bright ``side`` x ``side`` square at a random place (class 1)."""
    images = rng.uniform(0.0, 0.3, size=(count, size, size, 1)).astype("float32")
    labels = np.arange(count) % 2
    corners = rng.integers(0, size - side + 1, size=(count, 2))
    for image, label, (row, col) in zip(images, labels, corners):
        if label:
            image[row:row + side, col:col + side] = 1.0
    return images, labels, corners


def test_grad_cam_of_notebook_08_peaks_on_the_evidence_a_model_learned():
    rng = np.random.default_rng(0)
    keras.utils.set_random_seed(0)
    inputs = keras.Input((32, 32, 1))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="last_conv")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(x))
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    images, labels, _ = bright_squares(600, rng)
    model.fit(images, labels, epochs=5, batch_size=32, verbose=0)
    test_images, test_labels, corners = bright_squares(40, rng)
    accuracy = model.evaluate(test_images, test_labels, verbose=0)[1]
    assert accuracy > 0.9, f"the square detector reached only {accuracy:.3f}; chance is 0.50"

    make_gradcam_heatmap = lesson_namespace("08", model=model)["make_gradcam_heatmap"]

    def peaks_on_the_square(class_index: int) -> list[bool]:
        hits = []
        for image, (row, col) in zip(test_images[test_labels == 1], corners[test_labels == 1]):
            heatmap = make_gradcam_heatmap(image[np.newaxis], model, "last_conv", pred_index=class_index)
            peak_row, peak_col = np.unravel_index(np.argmax(heatmap), heatmap.shape)  # of 16 x 16 cells
            # the peak cell (2 x 2 pixels) overlaps the 6 x 6 square
            hits.append(row - 1 <= 2 * peak_row <= row + 5 and col - 1 <= 2 * peak_col <= col + 5)
        return hits

    square, no_square = peaks_on_the_square(1), peaks_on_the_square(0)
    # healthy: 20 of 20 for the class "square", 0 of 20 for "no square"; an untrained model: 0 of 20
    assert np.mean(square) >= 0.9, f"Grad-CAM of 'square' peaked on it in {sum(square)} of {len(square)} images"
    assert np.mean(no_square) <= 0.5, f"Grad-CAM of 'no square' peaked on the square in {sum(no_square)} images"
