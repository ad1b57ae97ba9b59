"""Notebooks 07 and 08 teach code in their cells (tagged ``inline``); the course's helpers must compute the same.

- 07: the book's classifier as the book writes it; the multiply-add count against a hand count; and the whole
  notebook with another base (MobileNetV2, whose weights the data folder holds), so that every base that
  ``pretrained.load_base`` accepts also runs through fine-tuning.
- 08: the book's activation model, gradient-ascent loop and Grad-CAM function against ``course_utils.visualize``.
"""
import matplotlib

matplotlib.use("Agg")  # no display; must precede pyplot's import by course_utils.visualize

import os  # noqa: E402

import keras  # noqa: E402
import matplotlib.cbook  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from keras import layers  # noqa: E402
from notebook_code import lesson_namespace, notebook_path  # noqa: E402
from PIL import Image  # noqa: E402

from course_utils import dogs_vs_cats, efficientnet_lite, imagenet, paths, pretrained  # noqa: E402
from course_utils import visualize as vis  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(0)


# ---------------------------------------------------------------------------------------------------------------
# 07
# ---------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lesson07():
    return lesson_namespace("07")


def test_the_book_classifier_is_the_books(lesson07):
    model = lesson07["book_classifier"]
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["InputLayer", "Flatten", "Dense", "Dropout", "Dense"]
    first, last = model.layers[2], model.layers[4]
    assert first.units == 256 and first.activation is keras.activations.linear  # the book's Dense(256)
    assert model.layers[3].rate == 0.5
    assert last.units == 1 and last.activation is keras.activations.sigmoid
    assert model.input.shape == (None, 5, 5, 512) and model.count_params() == 3_277_313


def test_multiply_adds_count_every_kind_of_layer(lesson07):
    multiply_adds = lesson07["multiply_adds"]
    inputs = keras.Input((10, 10, 3))
    x = layers.Conv2D(4, 3)(inputs)  # 8x8 positions x 3x3x3x4
    x = layers.DepthwiseConv2D(3, strides=2, padding="same")(x)  # 4x4 positions x 3x3x4
    x = layers.SeparableConv2D(5, 1)(x)  # 4x4 x (1x1x4 + 1x1x4x5)
    x = layers.MaxPooling2D()(x)  # no multiply-adds
    inner = keras.Model(inputs, x)
    outer_inputs = keras.Input((10, 10, 3))
    outputs = layers.Dense(2)(layers.Flatten()(inner(outer_inputs)))  # 2x2x5 x 2
    model = keras.Model(outer_inputs, outputs)
    assert multiply_adds(model) == 8 * 8 * 108 + 4 * 4 * 36 + 4 * 4 * (4 + 20) + 20 * 2


def test_multiply_adds_of_vgg16_match_a_hand_count(lesson07):
    vgg16 = keras.applications.VGG16(weights=None, include_top=False, input_shape=(224, 224, 3))
    channels = [3, 64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512]
    sizes = [224, 224, 112, 112, 56, 56, 56, 28, 28, 28, 14, 14, 14]
    by_hand = sum(size * size * 9 * c_in * c_out for size, c_in, c_out in zip(sizes, channels, channels[1:]))
    assert lesson07["multiply_adds"](vgg16) == by_hand
    assert round(by_hand / 1e9, 2) == 15.35  # VGG16's well-known ~15.3 G multiply-adds at 224 px
    lite0 = efficientnet_lite.efficientnet_lite0(include_top=False, weights=None)
    assert 0.35e9 < lesson07["multiply_adds"](lite0) < 0.40e9  # Lite0: ~0.4 G with its 1000-class head


def test_notebook_07_runs_end_to_end_with_mobilenet_v2(tmp_path, monkeypatch):
    """BASE="mobilenet_v2" through feature extraction, augmentation and fine-tuning (smoke profile)."""
    papermill = pytest.importorskip("papermill")
    weights = pretrained.keras_weights_file("mobilenet_v2", include_top=False, input_shape=(112, 112, 3))
    if paths.local_file(f"keras/models/{weights}") is None:
        pytest.skip(f"needs keras/models/{weights} in the data folder")
    try:
        dogs_vs_cats.split_dir(must_exist=True)
    except (FileNotFoundError, ValueError) as error:
        pytest.skip(f"needs the dogs-vs-cats split (notebook 04): {error}")
    monkeypatch.setenv("COURSE_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    executed = tmp_path / "07.ipynb"
    papermill.execute_notebook(
        str(notebook_path("07")), str(executed), kernel_name="python3", progress_bar=False,
        parameters=dict(PROFILE="smoke", BASE="mobilenet_v2", IMAGE_SIZE=112), cwd=str(notebook_path("07").parent))
    text = executed.read_text(encoding="utf-8")
    assert "fine-tuning unfreezes the layers whose names start with ('block_16_', 'Conv_1')" in text
    assert "recorded fine-tuning: test accuracy" in text
    assert os.path.isdir(tmp_path / "keras" / "models")  # its weights came from the data folder


# ---------------------------------------------------------------------------------------------------------------
# 08
# ---------------------------------------------------------------------------------------------------------------


def small_convnet() -> keras.Model:
    """06's architecture in miniature: augmentation, rescaling, conv/pool stack, dropout, a sigmoid unit."""
    inputs = keras.Input((32, 32, 3))
    x = keras.Sequential([layers.RandomFlip("horizontal")], name="augmentation")(inputs)
    x = layers.Rescaling(1 / 255)(x)
    x = layers.Conv2D(4, 3, activation="relu")(x)
    x = layers.MaxPooling2D()(x)
    x = layers.Conv2D(8, 3, activation="relu")(x)
    x = layers.Flatten()(layers.MaxPooling2D()(x))
    outputs = layers.Dense(1, activation="sigmoid")(layers.Dropout(0.5)(x))
    return keras.Model(inputs, outputs)


@pytest.fixture(scope="module")
def convnet():
    keras.utils.set_random_seed(0)
    return small_convnet()


@pytest.fixture(scope="module")
def lesson08(convnet):
    return lesson_namespace("08", model=convnet)


def test_activation_model_inline_equals_helper(lesson08, convnet):
    images = np.random.default_rng(0).uniform(0, 255, (3, 32, 32, 3)).astype("float32")
    inline = lesson08["activation_model"].predict(images, verbose=0)
    helper = vis.activation_model(convnet).predict(images, verbose=0)
    assert lesson08["layer_names"] == vis.activation_layer_names(convnet)
    assert len(inline) == len(helper) == 4
    for a, b in zip(inline, helper):
        np.testing.assert_array_equal(a, b)


def test_gradient_ascent_inline_finds_the_helpers_pattern(lesson08):
    inputs = keras.Input((32, 32, 3))
    x = layers.Rescaling(1 / 255)(inputs)
    x = layers.Conv2D(8, 3, activation="relu")(x)
    x = layers.Conv2D(16, 3, name="target")(x)  # linear, as the course's pattern layers
    extractor = keras.Model(inputs, x)
    lesson08["feature_extractor"] = extractor  # the name the notebook's loss function reads
    for index in (0, 5):
        pattern = lesson08["generate_filter_pattern"](index, size=32, iterations=12)
        assert pattern.shape == (32, 32, 3) and pattern.dtype == np.float32
        helper_image, losses = vis.filter_pattern(extractor, index, steps=12)
        assert losses[-1] > losses[0]  # it climbed
        inline_image = vis.deprocess_image(pattern, crop=4)  # the helper crops 1/8 of the size per side
        assert np.abs(inline_image.astype(int) - helper_image.astype(int)).max() <= 2
        # The raw climb is the same too: its loss is the helper's last one, one step further.
        assert float(np.mean(extractor(pattern[None])[0, 2:-2, 2:-2, index])) > losses[-1]


def test_gradcam_inline_equals_helper_on_a_small_classifier(lesson08):
    inputs = keras.Input((16, 16, 3))
    x = layers.Rescaling(1 / 255)(inputs)
    x = layers.Conv2D(6, 3, padding="same", activation="relu", name="last_conv")(x)
    outputs = layers.Dense(3, activation="softmax")(layers.GlobalAveragePooling2D()(x))
    scorer = vis.with_linear_output(keras.Model(inputs, outputs))
    image = np.random.default_rng(1).uniform(0, 255, (16, 16, 3)).astype("float32")
    for class_index in (None, 0, 2):
        inline = lesson08["make_gradcam_heatmap"](image[None], scorer, "last_conv", pred_index=class_index)
        helper = vis.gradcam_heatmap(scorer, image, "last_conv", class_index=class_index)
        np.testing.assert_allclose(inline, helper, rtol=1e-5, atol=1e-6)


def test_gradcam_inline_equals_helper_on_the_imagenet_classifier(lesson08):
    classifier = efficientnet_lite.efficientnet_lite0(include_top=True)
    scorer = vis.with_linear_output(classifier)
    photo = Image.open(matplotlib.cbook.get_sample_data("grace_hopper.jpg"))
    image = np.asarray(imagenet.central_square(photo, 224), dtype="float32")
    uniform = imagenet.imagenet_classes().index(("n03763968", "military_uniform"))
    assert int(np.argmax(classifier.predict(image[None], verbose=0))) == uniform
    inline = lesson08["make_gradcam_heatmap"](image[None], scorer, efficientnet_lite.LAST_CONV_LAYER, uniform)
    helper = vis.gradcam_heatmap(scorer, image, efficientnet_lite.LAST_CONV_LAYER, class_index=uniform)
    assert inline.shape == (7, 7)
    np.testing.assert_allclose(inline, helper, rtol=1e-4, atol=1e-5)
    # The uniform's evidence lies in the upper half of the portrait (cap and insignia), not in the corners below.
    row, _ = np.unravel_index(np.argmax(helper), helper.shape)
    assert row <= 3
