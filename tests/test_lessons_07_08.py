"""Notebooks 07 and 08 teach code in their cells (tagged ``inline``); the course's helpers must compute the same.

- 07: the book's classifier as the book writes it; the multiply-add count against a hand count; and the whole
  notebook with another base (MobileNetV2, whose weights the data folder holds), so that every base that
  ``pretrained.load_base`` accepts also runs through fine-tuning.
- 08: the book's activation model, gradient-ascent loop and Grad-CAM function against what they must compute (the
  layers called by hand, a rising activation, a model whose evidence is known), and against the faster
  ``course_utils.visualize`` helpers that draw the notebook's grids.
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
    x = layers.Conv2D(4, 3, activation="relu", name="c1")(x)
    x = layers.MaxPooling2D(name="p1")(x)
    x = layers.Conv2D(8, 3, activation="relu", name="c2")(x)
    x = layers.Flatten()(layers.MaxPooling2D(name="p2")(x))
    outputs = layers.Dense(1, activation="sigmoid")(layers.Dropout(0.5)(x))
    return keras.Model(inputs, outputs)


@pytest.fixture(scope="module")
def convnet():
    keras.utils.set_random_seed(0)
    return small_convnet()


@pytest.fixture(scope="module")
def lesson08(convnet):
    return lesson_namespace("08", model=convnet)


def test_activation_model_inline_gives_each_conv_and_pool_output(lesson08, convnet):
    images = np.random.default_rng(0).uniform(0, 255, (3, 32, 32, 3)).astype("float32")
    assert lesson08["layer_names"] == ["c1", "p1", "c2", "p2"]
    inline = lesson08["activation_model"].predict(images, verbose=0)
    # By hand: the augmentation is off at inference, then rescaling and the conv/pool stack, layer by layer.
    x = images * np.float32(1 / 255)
    by_hand = []
    for name in ("c1", "p1", "c2", "p2"):
        x = convnet.get_layer(name)(x)
        by_hand.append(np.asarray(x))
    assert [a.shape for a in inline] == [(3, 30, 30, 4), (3, 15, 15, 4), (3, 13, 13, 8), (3, 6, 6, 8)]
    for a, b in zip(inline, by_hand):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def pattern_extractor() -> keras.Model:
    inputs = keras.Input((32, 32, 3))
    x = layers.Rescaling(1 / 255)(inputs)
    x = layers.Conv2D(8, 3, activation="relu")(x)
    return keras.Model(inputs, layers.Conv2D(16, 3)(x))  # linear, as the course's pattern layers


def test_gradient_ascent_inline_raises_the_filters_activation(lesson08):
    extractor = pattern_extractor()
    lesson08["feature_extractor"] = extractor  # the name the notebook's loss function reads
    start = np.random.default_rng(0).uniform(0.4, 0.6, size=(1, 32, 32, 3)).astype("float32") * 255  # its noise

    def mean_activation(image, index):  # the loss: the filter's mean activation, 2 border pixels left out
        return float(np.mean(extractor(image[None] if image.ndim == 3 else image)[0, 2:-2, 2:-2, index]))

    for index in (0, 5):
        climbs = [lesson08["generate_filter_pattern"](index, size=32, iterations=n) for n in (4, 12)]
        assert all(p.shape == (32, 32, 3) and p.dtype == np.float32 for p in climbs)
        before, after_4, after_12 = (mean_activation(image, index) for image in (start, *climbs))
        assert before < after_4 < after_12 and after_12 > before + 1.0
        # The helper that draws the notebook's grids climbs the same way: same start, same steps.
        helper_images, losses = vis.filter_patterns(extractor, [index], steps=12)
        np.testing.assert_allclose(losses[0, 0], before, rtol=1e-4, atol=1e-5)
        assert after_12 > losses[0, -1]  # its last loss is taken before its last step
        inline_image = vis.deprocess_image(climbs[1], crop=4)  # the helper crops 1/8 of the size per side
        assert np.abs(inline_image.astype(int) - helper_images[0].astype(int)).max() <= 2


def test_gradcam_inline_finds_the_evidence_of_a_colour_detector(lesson08):
    """A model whose answer is known: channel 0 of a 1x1 convolution is the redness of a pixel, channel 1 its
    blueness, and the class scores are 4 x their averages. Every location's gradient is then the same, so the
    class's map is its colour's mask: 1 where the colour is, 0 elsewhere."""
    inputs = keras.Input((16, 16, 3))
    conv = layers.Conv2D(2, 1, activation="relu", use_bias=False, name="last_conv")
    dense = layers.Dense(2)
    outputs = dense(layers.GlobalAveragePooling2D()(conv(layers.Rescaling(1 / 255)(inputs))))
    model = keras.Model(inputs, outputs)
    conv.set_weights([np.array([[[[1, 0], [0, 0], [0, 1]]]], "float32")])
    dense.set_weights([4 * np.eye(2, dtype="float32"), np.zeros(2, "float32")])
    image = np.zeros((16, 16, 3), "float32")
    image[:8, :8, 0] = 255  # red top-left quadrant
    image[-6:, -6:, 2] = 255  # a smaller blue square bottom-right
    red, blue = (image[:, :, channel] / 255 for channel in (0, 2))
    make_gradcam_heatmap = lesson08["make_gradcam_heatmap"]
    np.testing.assert_allclose(make_gradcam_heatmap(image[None], model, "last_conv", pred_index=0), red, atol=1e-6)
    np.testing.assert_allclose(make_gradcam_heatmap(image[None], model, "last_conv", pred_index=1), blue, atol=1e-6)
    # Default: the top class, red (64 red pixels against 36 blue ones).
    np.testing.assert_allclose(make_gradcam_heatmap(image[None], model, "last_conv"), red, atol=1e-6)


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
