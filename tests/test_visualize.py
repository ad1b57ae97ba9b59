"""Tests for course_utils.visualize, on tiny models whose right answers are known."""
import matplotlib

matplotlib.use("Agg")  # no display in CI; must precede pyplot's import by course_utils.visualize

import keras  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

from course_utils import visualize as vis  # noqa: E402

SIZE = 16
HALF = SIZE // 2


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(0)


def small_convnet() -> keras.Model:
    """The course's cats-vs-dogs architecture in miniature: augmentation, rescaling, conv/pool stack, head."""
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.Sequential([keras.layers.RandomFlip("horizontal")], name="augmentation")(inputs)
    x = keras.layers.Rescaling(1 / 255)(x)
    x = keras.layers.Conv2D(4, 3, activation="relu", name="c1")(x)
    x = keras.layers.MaxPooling2D(name="p1")(x)
    x = keras.layers.Conv2D(8, 3, activation="relu", name="c2")(x)
    x = keras.layers.MaxPooling2D(name="p2")(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dropout(0.5)(x)
    outputs = keras.layers.Dense(1, activation="sigmoid")(x)
    return keras.Model(inputs, outputs)


# ---------------------------------------------------------------------------------------------------------------
# Activations
# ---------------------------------------------------------------------------------------------------------------


def test_activation_model_returns_conv_and_pool_outputs_in_order():
    model = small_convnet()
    images = np.random.default_rng(0).uniform(0, 255, (2, SIZE, SIZE, 3)).astype("float32")
    names = vis.activation_layer_names(model)
    activations = vis.activation_model(model)(images)
    assert names == ["c1", "p1", "c2", "p2"]
    assert [tuple(a.shape) for a in activations] == [(2, 14, 14, 4), (2, 7, 7, 4), (2, 5, 5, 8), (2, 2, 2, 8)]
    # Only the requested types: here the pooling layers alone.
    assert vis.activation_layer_names(model, (keras.layers.MaxPooling2D,)) == ["p1", "p2"]


def test_activation_model_without_such_layers_says_so():
    inputs = keras.Input((4,))
    with pytest.raises(ValueError, match="no top-level"):
        vis.activation_model(keras.Model(inputs, keras.layers.Dense(2)(inputs)))


def test_channel_grid_layout_blank_channels_grey_and_range():
    activation = np.random.default_rng(1).normal(size=(5, 6, 20)).astype("float32")
    activation[:, :, 3] = 0.0  # a dead ReLU channel
    activation[:, :, 7] = 2.5  # constant but not zero: just as patternless
    assert np.flatnonzero(vis.blank_channels(activation)).tolist() == [3, 7]
    grid = vis.channel_grid_rgb(activation, per_row=16, margin=0, blank_colour=0.75)
    assert grid.shape == (2 * 5, 16 * 6, 3) and grid.min() >= 0 and grid.max() <= 1

    def tile(i):
        r, c = divmod(i, 16)
        return grid[r * 5 : (r + 1) * 5, c * 6 : (c + 1) * 6]

    assert np.all(tile(3) == 0.75) and np.all(tile(7) == 0.75)  # blank: uniform grey
    assert all(np.all(tile(i) == 1.0) for i in range(20, 32))  # last row padded white
    live = tile(0)
    assert live.std() > 0.05 and not np.all(live == 0.75)  # a live channel shows a pattern in colour
    # Batch of one from predict, and white margins between tiles.
    with_margin = vis.channel_grid_rgb(activation[None], per_row=16, margin=1)
    assert with_margin.shape == (2 * 5 + 1, 16 * 6 + 15, 3) and np.all(with_margin[5] == 1.0)
    with pytest.raises(ValueError, match="one image"):
        vis.channel_grid_rgb(np.stack([activation, activation]))


def test_plot_activation_grids_one_titled_figure_per_layer():
    model = small_convnet()
    image = np.full((1, SIZE, SIZE, 3), 128, "float32")
    names = vis.activation_layer_names(model)
    figures = vis.plot_activation_grids(names, vis.activation_model(model)(image), per_row=4, scale=0.5)
    try:
        assert [f.axes[0].get_title().split(":")[0] for f in figures] == names
        assert figures[0].axes[0].get_title().endswith("blank (grey)")
    finally:
        for figure in figures:
            plt.close(figure)


def test_plot_activation_grids_sharp_cells_when_enlarged_smooth_when_shrunk():
    activation = np.random.default_rng(2).normal(size=(1, 40, 40, 4)).astype("float32")
    # Tiles of 40 pixels drawn in 2 inches (enlarged) and in 0.1 inch (shrunk), at the figure's dpi.
    figures = [vis.plot_activation_grids(["layer"], [activation], scale=scale)[0] for scale in (2.0, 0.1)]
    forced = vis.plot_activation_grids(["layer"], [activation], scale=0.1, interpolation="bilinear")[0]
    try:
        shown = [f.axes[0].images[0].get_interpolation() for f in (*figures, forced)]
        assert shown == ["nearest", "antialiased", "bilinear"]
    finally:
        for figure in (*figures, forced):
            plt.close(figure)


# ---------------------------------------------------------------------------------------------------------------
# Filter patterns
# ---------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def feature_extractor() -> keras.Model:
    keras.utils.set_random_seed(0)
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.Conv2D(8, 3, activation="relu")(x)
    x = keras.layers.Conv2D(16, 3, activation="relu", name="target")(x)
    return vis.layer_output_model(keras.Model(inputs, x), "target")


def live_filters(extractor, count):
    """Filters that fire on grey noise: a dead one gets no gradient to climb (its loss stays at 0)."""
    grey = np.full((1, 32, 32, 3), 127.5, "float32")
    means = np.asarray(extractor(grey)).mean(axis=(0, 1, 2))
    live = [int(i) for i in np.argsort(-means) if means[i] > 0]
    assert len(live) >= count
    return live[:count]


def test_filter_pattern_climbs_and_is_cropped_uint8(feature_extractor):
    (index,) = live_filters(feature_extractor, 1)
    image, losses = vis.filter_pattern(feature_extractor, index, steps=12)
    assert image.dtype == np.uint8 and image.shape == (32 - 2 * 4, 32 - 2 * 4, 3)  # 12.5 % cut per side
    assert len(losses) == 12
    assert losses[-1] > 2 * losses[0] + 0.05
    assert np.all(np.diff(losses) > 0)


def test_batched_patterns_climb_and_match_single(feature_extractor):
    indices = live_filters(feature_extractor, 3)
    images, losses = vis.filter_patterns(feature_extractor, indices, steps=12)
    assert images.shape == (3, 24, 24, 3) and losses.shape == (3, 12)
    assert np.all(losses[:, -1] > 2 * losses[:, 0] + 0.05)
    # The first image starts from the same noise as a one-filter call: the same ascent, batched or not.
    single_image, single_losses = vis.filter_pattern(feature_extractor, indices[0], steps=12)
    np.testing.assert_allclose(losses[0], single_losses, rtol=1e-3, atol=1e-5)
    assert np.abs(images[0].astype(int) - single_image).max() <= 2
    # Chunked batches give the same result again.
    _, chunked = vis.filter_patterns(feature_extractor, indices, steps=12, batch_size=2)
    np.testing.assert_allclose(chunked, losses, rtol=1e-3, atol=1e-5)


def test_filter_pattern_argument_checks(feature_extractor):
    with pytest.raises(ValueError, match="takes 32x32"):
        vis.filter_pattern(feature_extractor, 0, size=40, steps=1)
    with pytest.raises(ValueError, match="filter indices"):
        vis.filter_pattern(feature_extractor, 16, steps=1)


# ---------------------------------------------------------------------------------------------------------------
# Grad-CAM
# ---------------------------------------------------------------------------------------------------------------


def two_region_image() -> np.ndarray:
    """Red in the top-left quadrant (8x8 pixels), blue in the bottom-right one (6x6, so less of it)."""
    image = np.zeros((SIZE, SIZE, 3), "float32")
    image[:HALF, :HALF, 0] = 255
    image[-6:, -6:, 2] = 255
    return image


def colour_detector(inputs):
    """A 1x1 convolution with set weights: channel 0 = redness, channel 1 = blueness."""
    conv = keras.layers.Conv2D(2, 1, activation="relu", use_bias=False, name="last_conv")
    x = conv(inputs)
    conv.set_weights([np.array([[[[1, 0], [0, 0], [0, 1]]]], "float32")])
    return x


def head(x, units, weights, activation):
    dense = keras.layers.Dense(units, activation=activation)
    y = dense(keras.layers.GlobalAveragePooling2D()(x))
    dense.set_weights([np.asarray(weights, "float32"), np.zeros(units, "float32")])
    return y


def peak_quadrant(heatmap):
    row, col = np.unravel_index(np.argmax(heatmap), heatmap.shape)
    return ("top" if row < HALF else "bottom") + ("-left" if col < HALF else "-right")


def test_gradcam_finds_the_evidence_of_each_class():
    inputs = keras.Input((SIZE, SIZE, 3))
    x = colour_detector(keras.layers.Rescaling(1 / 255)(inputs))
    model = keras.Model(inputs, head(x, 2, 4 * np.eye(2), "softmax"))  # class 0 = red, class 1 = blue
    image = two_region_image()

    red = vis.gradcam_heatmap(model, image, "last_conv", class_index=0)
    blue = vis.gradcam_heatmap(model, image[None], "last_conv", class_index=1)
    assert red.shape == (SIZE, SIZE) and red.dtype == np.float32
    assert red.min() >= 0 and red.max() == pytest.approx(1.0)
    assert peak_quadrant(red) == "top-left" and peak_quadrant(blue) == "bottom-right"
    # Default: the top predicted class, red (more red pixels than blue ones).
    np.testing.assert_allclose(vis.gradcam_heatmap(model, image, "last_conv"), red)
    with pytest.raises(ValueError, match="class_index"):
        vis.gradcam_heatmap(model, image, "last_conv", class_index=2)


def test_gradcam_on_a_binary_sigmoid_model_with_augmentation():
    inputs = keras.Input((SIZE, SIZE, 3))
    # Augmentation must be off at inference, else the flip would move the heatmap at random.
    x = keras.layers.RandomFlip("horizontal_and_vertical")(inputs)
    x = colour_detector(keras.layers.Rescaling(1 / 255)(x))
    model = keras.Model(inputs, head(x, 1, [[2.0], [-2.0]], "sigmoid"))  # positive class = red
    image = two_region_image()

    positive = vis.gradcam_heatmap(model, image, "last_conv", class_index=1)
    negative = vis.gradcam_heatmap(model, image, "last_conv", class_index=0)
    assert peak_quadrant(positive) == "top-left" and peak_quadrant(negative) == "bottom-right"
    assert float(model(image[None])[0, 0]) > 0.5
    np.testing.assert_allclose(vis.gradcam_heatmap(model, image, "last_conv"), positive)


def test_gradcam_through_a_nested_base_and_from_parts():
    base_inputs = keras.Input((SIZE, SIZE, 3))
    base = keras.Model(base_inputs, colour_detector(base_inputs), name="conv_base")
    inputs = keras.Input((SIZE, SIZE, 3))
    x = base(keras.layers.Rescaling(1 / 255)(inputs))
    model = keras.Model(inputs, head(x, 2, 4 * np.eye(2), "softmax"))
    image = two_region_image()

    nested = [vis.gradcam_heatmap(model, image, "conv_base", class_index=k) for k in (0, 1)]
    assert [peak_quadrant(h) for h in nested] == ["top-left", "bottom-right"]
    conv_model, classifier_model = vis.split_model(model, "conv_base")
    parts = vis.gradcam_heatmap_from_parts(conv_model, classifier_model, image, class_index=1)
    np.testing.assert_allclose(parts, nested[1], atol=1e-6)


def test_gradcam_without_positive_evidence_is_zero_not_nan():
    inputs = keras.Input((SIZE, SIZE, 3))
    x = colour_detector(keras.layers.Rescaling(1 / 255)(inputs))
    model = keras.Model(inputs, head(x, 2, 4 * np.eye(2), "softmax"))
    heatmap = vis.gradcam_heatmap(model, np.zeros((SIZE, SIZE, 3), "float32"), "last_conv", class_index=0)
    assert np.all(heatmap == 0)


def test_overlay_heatmap_shape_dtype_and_colours():
    photo = np.full((40, 30, 3), 100, np.uint8)
    heatmap = np.zeros((5, 4), "float32")
    heatmap[0, 0] = 1.0
    overlay = vis.overlay_heatmap(photo, heatmap, alpha=0.5)
    assert overlay.shape == (40, 30, 3) and overlay.dtype == np.uint8
    hot, cold = overlay[0, 0].astype(int), overlay[-1, -1].astype(int)
    assert hot[0] > hot[2] and cold[2] > cold[0]  # jet: red where the heat is, blue where there is none
    np.testing.assert_array_equal(vis.overlay_heatmap(photo, heatmap, alpha=0.0), photo)
    assert vis.overlay_heatmap(photo[:, :, 0], heatmap).shape == (40, 30, 3)  # greyscale photo


def test_with_linear_output_gives_the_scores_before_the_softmax_and_leaves_the_model_alone():
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.RandomFlip("horizontal")(inputs)  # a layer with no weights and a training mode
    x = colour_detector(keras.layers.Rescaling(1 / 255)(x))
    model = keras.Model(inputs, head(x, 2, 4 * np.eye(2), "softmax"))
    image = two_region_image()[None]
    scores = vis.with_linear_output(model)
    logits = np.asarray(scores(image))
    np.testing.assert_allclose(np.asarray(keras.ops.softmax(logits)), np.asarray(model(image)), rtol=1e-5)
    assert not np.allclose(logits.sum(), 1.0)
    assert model.layers[-1].activation is keras.activations.softmax  # the original still gives probabilities
    # On a binary sigmoid model, the logit.
    sigmoid = keras.Model(inputs, head(x, 1, [[2.0], [-2.0]], "sigmoid"))
    logit = float(vis.with_linear_output(sigmoid)(image)[0, 0])
    assert float(sigmoid(image)[0, 0]) == pytest.approx(1 / (1 + np.exp(-logit)), rel=1e-5)


def test_gradcam_default_class_of_a_one_unit_logit_is_its_sign():
    inputs = keras.Input((SIZE, SIZE, 3))
    x = colour_detector(keras.layers.Rescaling(1 / 255)(inputs))
    # positive class = blue; on the two-region image red wins, so the logit is negative and p = sigmoid < 0.5
    model = keras.Model(inputs, head(x, 1, [[-2.0], [2.0]], "sigmoid"))
    logits = vis.with_linear_output(model)
    image = two_region_image()
    assert float(logits(image[None])[0, 0]) < 0 < float(model(image[None])[0, 0]) < 0.5
    red = vis.gradcam_heatmap(logits, image, "last_conv", class_index=0)
    # the default follows the logit's sign (class 0); with the old ">= 0.5" rule a logit of -0.3 picked class 0
    # too, but a positive logit below 0.5 picked the wrong one: check both sides
    np.testing.assert_allclose(vis.gradcam_heatmap(logits, image, "last_conv"), red)
    assert vis._class_score(tf.constant([[0.3]]), None, vis._binary_threshold(logits)).numpy() == pytest.approx(0.3)
    assert vis._class_score(tf.constant([[0.3]]), None, vis._binary_threshold(model)).numpy() == pytest.approx(-0.3)


def test_gradcam_on_a_sequential_model():
    model = keras.Sequential([keras.Input((SIZE, SIZE, 3)), keras.layers.Rescaling(1 / 255),
                              keras.layers.Conv2D(2, 1, activation="relu", use_bias=False, name="last_conv"),
                              keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(2, activation="softmax")])
    model.get_layer("last_conv").set_weights([np.array([[[[1, 0], [0, 0], [0, 1]]]], "float32")])
    model.layers[-1].set_weights([4 * np.eye(2, dtype="float32"), np.zeros(2, "float32")])
    heatmaps = [vis.gradcam_heatmap(model, two_region_image(), "last_conv", class_index=k) for k in (0, 1)]
    assert [peak_quadrant(h) for h in heatmaps] == ["top-left", "bottom-right"]
