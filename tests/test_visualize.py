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


def test_tile_images_layout_margin_and_fill():
    images = np.repeat(np.arange(1, 6, dtype=np.uint8), 6).reshape(5, 2, 3)  # five 2x3 tiles of values 1..5
    grid = vis.tile_images(images, per_row=3, margin=1, fill=255)
    assert grid.shape == (2 * 2 + 1, 3 * 3 + 2) and grid.dtype == np.uint8
    np.testing.assert_array_equal(grid[0], [1, 1, 1, 255, 2, 2, 2, 255, 3, 3, 3])  # row by row, margins of fill
    assert np.all(grid[2] == 255)  # the margin between the rows
    np.testing.assert_array_equal(grid[3], [4, 4, 4, 255, 5, 5, 5, 255, 255, 255, 255])  # last row padded
    assert vis.tile_images(images[:2], per_row=8).shape == (2, 6)  # no wider than the images need
    assert vis.tile_images(np.zeros((3, 2, 2, 3)), per_row=2).shape == (4, 4, 3)  # colour tiles
    with pytest.raises(ValueError, match="non-empty"):
        vis.tile_images(np.zeros((0, 2, 2)))


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
    image = np.random.default_rng(0).uniform(0, 255, (1, SIZE, SIZE, 3)).astype("float32")
    names = ["c1", "p1", "c2", "p2"]
    activations = keras.Model(model.input, [model.get_layer(name).output for name in names])(image)
    figures = vis.plot_activation_grids(names, activations, per_row=4, scale=0.5)
    try:
        titles = [f.axes[0].get_title() for f in figures]
        blank = [int(vis.blank_channels(np.asarray(a)[0]).sum()) for a in activations]
        assert titles == [f"{name}: {a.shape[-1]} channels, {k} blank (grey)"
                          for name, a, k in zip(names, activations, blank)]
        # Each figure shows its layer's channel grid.
        shown = [f.axes[0].images[0].get_array() for f in figures]
        for picture, activation in zip(shown, activations):
            np.testing.assert_array_equal(picture, vis.channel_grid_rgb(np.asarray(activation), per_row=4))
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
    return keras.Model(inputs, keras.layers.Conv2D(16, 3, activation="relu")(x))


def live_filters(extractor, count):
    """Filters that fire on grey noise: a dead one gets no gradient to climb (its loss stays at 0)."""
    grey = np.full((1, 32, 32, 3), 127.5, "float32")
    means = np.asarray(extractor(grey)).mean(axis=(0, 1, 2))
    live = [int(i) for i in np.argsort(-means) if means[i] > 0]
    assert len(live) >= count
    return live[:count]


def test_filter_pattern_climbs_and_is_cropped_uint8(feature_extractor):
    (index,) = live_filters(feature_extractor, 1)
    images, losses = vis.filter_patterns(feature_extractor, [index], steps=12)
    assert images.dtype == np.uint8 and images.shape == (1, 32 - 2 * 4, 32 - 2 * 4, 3)  # 12.5 % cut per side
    assert losses.shape == (1, 12)
    assert losses[0, -1] > 2 * losses[0, 0] + 0.05
    assert np.all(np.diff(losses[0]) > 0)


def test_batched_patterns_climb_and_match_single(feature_extractor):
    indices = live_filters(feature_extractor, 3)
    images, losses = vis.filter_patterns(feature_extractor, indices, steps=12)
    assert images.shape == (3, 24, 24, 3) and losses.shape == (3, 12)
    assert np.all(losses[:, -1] > 2 * losses[:, 0] + 0.05)
    # The first image starts from the same noise as a one-filter call: the same ascent, batched or not.
    single_images, single_losses = vis.filter_patterns(feature_extractor, indices[:1], steps=12)
    np.testing.assert_allclose(losses[:1], single_losses, rtol=1e-3, atol=1e-5)
    assert np.abs(images[:1].astype(int) - single_images).max() <= 2
    # Chunked batches give the same result again.
    _, chunked = vis.filter_patterns(feature_extractor, indices, steps=12, batch_size=2)
    np.testing.assert_allclose(chunked, losses, rtol=1e-3, atol=1e-5)


def test_filter_pattern_argument_checks(feature_extractor):
    with pytest.raises(ValueError, match="takes 32x32"):
        vis.filter_patterns(feature_extractor, [0], size=40, steps=1)
    with pytest.raises(ValueError, match="filter indices"):
        vis.filter_patterns(feature_extractor, [16], steps=1)
    with pytest.raises(ValueError, match="no filter index"):
        vis.filter_patterns(feature_extractor, [], steps=1)


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


def test_gradcam_through_a_nested_base_equals_the_flat_model():
    def pooled_colours(x):  # the base: the colour detector, then a pooling that halves the resolution
        return keras.layers.MaxPooling2D(name="pooled")(colour_detector(x))

    base_inputs = keras.Input((SIZE, SIZE, 3))
    base = keras.Model(base_inputs, pooled_colours(base_inputs), name="conv_base")
    base.trainable = False  # frozen, as a pretrained base is for feature extraction
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.RandomFlip("horizontal_and_vertical")(inputs)  # must be off at inference here too
    x = base(keras.layers.Rescaling(1 / 255)(x))
    nested = keras.Model(inputs, head(x, 2, 4 * np.eye(2), "softmax"))
    # The same network with the base's layers at the top level.
    flat_inputs = keras.Input((SIZE, SIZE, 3))
    flat = keras.Model(flat_inputs, head(pooled_colours(keras.layers.Rescaling(1 / 255)(flat_inputs)), 2,
                                         4 * np.eye(2), "softmax"))
    image = two_region_image()

    for k in (0, 1):
        expected = vis.gradcam_heatmap(flat, image, "pooled", class_index=k)
        np.testing.assert_allclose(vis.gradcam_heatmap(nested, image, "conv_base", class_index=k), expected,
                                   atol=1e-6)
    assert expected.shape == (HALF, HALF)  # the base's output, not its input
    row, col = np.unravel_index(np.argmax(expected), expected.shape)
    assert row >= HALF // 2 and col >= HALF // 2  # the blue square, bottom-right
    # A base nested in a model that is no chain of layers cannot be reached.
    branch = keras.layers.Add()([base(inputs), inputs[:, ::2, ::2, :2]])
    with pytest.raises(ValueError, match="not a chain"):
        vis.gradcam_heatmap(keras.Model(inputs, head(branch, 2, np.eye(2), "softmax")), image, "conv_base")


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
