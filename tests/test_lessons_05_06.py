"""Notebooks 05 and 06 write the book's dogs-vs-cats convnet and augmentation block inline; the helpers that later
notebooks and the benchmark use (models.cats_dogs_convnet, models.data_augmentation, measure.*) must equal them."""

import keras
import numpy as np
import pytest

from course_utils import measure, models
from notebook_code import lesson_namespace

SIZE = 96  # small enough to be quick, large enough for five 3x3 convolutions and four poolings


def architecture(model: keras.Model, shapes: bool = True) -> list[tuple]:
    """Each layer's class, configuration without its name (and output shape): what makes two models the same."""
    rows = []
    for layer in model.layers:
        config = {k: v for k, v in layer.get_config().items() if k not in ("name", "seed")}
        if isinstance(layer, keras.Sequential):
            config = architecture(layer, shapes=False)  # the layers of a block have shapes only once it is called
        rows.append((type(layer).__name__, str(config), tuple(layer.output.shape) if shapes else None))
    return rows


def same_network(inline: keras.Model, helper: keras.Model) -> None:
    assert architecture(helper) == architecture(inline)
    assert helper.count_params() == inline.count_params()
    helper.set_weights(inline.get_weights())
    photos = np.random.default_rng(0).uniform(0, 255, (4, SIZE, SIZE, 3)).astype("float32")
    np.testing.assert_allclose(helper.predict(photos, verbose=0), inline.predict(photos, verbose=0), rtol=1e-5)


@pytest.fixture(scope="module")
def lesson_05():
    return lesson_namespace("05", IMAGE_SIZE=SIZE)


@pytest.fixture(scope="module")
def lesson_06():
    return lesson_namespace("06", IMAGE_SIZE=SIZE)


def test_05_model_is_the_books_and_equals_the_helper(lesson_05):
    model = lesson_05["model"]
    convolutions = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [layer.filters for layer in convolutions] == [32, 64, 128, 256, 256]
    assert sum(isinstance(layer, keras.layers.MaxPooling2D) for layer in model.layers) == 4
    assert model.layers[-1].get_config()["activation"] == "sigmoid"
    same_network(model, models.cats_dogs_convnet(SIZE))


def test_05_model_has_the_books_parameter_count_at_180_px():
    assert lesson_namespace("05", IMAGE_SIZE=180)["model"].count_params() == 991_041  # the book's summary
    assert models.cats_dogs_convnet(180).count_params() == 991_041


def test_06_augmentation_block_equals_the_helper(lesson_06):
    inline, helper = lesson_06["data_augmentation"], models.data_augmentation()
    assert [type(layer).__name__ for layer in inline.layers] == ["RandomFlip", "RandomRotation", "RandomZoom"]
    assert architecture(helper, shapes=False) == architecture(inline, shapes=False)
    photo = np.random.default_rng(1).uniform(0, 255, (1, SIZE, SIZE, 3)).astype("float32")
    for block in (inline, helper):  # both pass photos through untouched at inference
        np.testing.assert_array_equal(block(photo, training=False), photo)


def test_06_model_equals_the_helper_with_augmentation_and_dropout(lesson_06):
    model = lesson_06["model"]
    assert any(isinstance(layer, keras.layers.Dropout) and layer.rate == 0.5 for layer in model.layers)
    helper = models.cats_dogs_convnet(SIZE, augmentation=models.data_augmentation(), dropout=0.5)
    same_network(model, helper)


def test_06_adds_no_parameter_to_05(lesson_05, lesson_06):
    assert lesson_06["model"].count_params() == lesson_05["model"].count_params()


def test_accuracy_interval_equals_the_inline_formula(lesson_05):
    inline = lesson_05["accuracy_interval"]
    for accuracy, n in ((0.70, 2000), (0.98, 2000), (0.5, 64), (1.0, 100)):
        assert measure.accuracy_interval(accuracy, n) == pytest.approx(inline(accuracy, n))
    assert measure.accuracy_interval(0.70, 2000) == pytest.approx(0.0201, abs=1e-4)  # "about 2 points"
    with pytest.raises(ValueError):
        measure.accuracy_interval(0.5, 0)


def test_epoch_timer_equals_the_inline_callback(lesson_05):
    x, y = np.zeros((8, 4), "float32"), np.zeros(8)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(loss="mse")
    timers = [lesson_05["EpochTimer"](), measure.EpochTimer()]
    model.fit(x, y, epochs=3, verbose=0, callbacks=timers)
    assert [len(timer.seconds) for timer in timers] == [3, 3]
    # the same three epochs, timed by both: positive and equal to within the callbacks' own overhead
    assert all(s > 0 for s in timers[0].seconds + timers[1].seconds)
    np.testing.assert_allclose(timers[0].seconds, timers[1].seconds, atol=0.05)
    assert all(0 <= s < 60 for timer in timers for s in timer.seconds)


def test_typical_epoch_skips_the_first():
    assert measure.typical_epoch_seconds([30.0, 10.0, 12.0, 11.0]) == 11.0
    with pytest.raises(ValueError):
        measure.typical_epoch_seconds([5.0])


def test_helper_refuses_sizes_too_small_for_the_architecture():
    with pytest.raises(ValueError, match="at least 78"):
        models.cats_dogs_convnet(64)


def test_curves_mark_the_checkpoint_on_integer_epochs():
    import matplotlib.pyplot as plt
    from course_utils import plots

    logs = {"loss": [0.7, 0.6, 0.5, 0.4], "val_loss": [0.7, 0.6, 0.65, 0.8]}
    fig = plots.plot_history(logs, metrics=("loss",), checkpoint_epoch=2)
    ax = fig.axes[0]
    marks = [line for line in ax.lines if line.get_label() == "checkpoint (epoch 2)"]
    assert len(marks) == 1 and list(marks[0].get_xdata()) == [2, 2]
    fig.canvas.draw()
    assert all(float(tick).is_integer() for tick in ax.get_xticks())
    plt.close(fig)


def test_compare_curves_draws_each_run_and_circles_its_mark():
    import matplotlib.pyplot as plt
    from course_utils import plots

    fig = plots.compare_curves({"a": [0.7, 0.5, 0.6], "b": [0.7, 0.6, 0.5, 0.45]}, "validation loss",
                               marks={"a": 2, "b": 4})
    lines = fig.axes[0].lines
    assert [line.get_label() for line in lines if not line.get_label().startswith("_")] == ["a", "b"]
    circles = [(float(line.get_xdata()[0]), float(line.get_ydata()[0])) for line in lines if line.get_marker() == "o"]
    assert circles == [(2.0, 0.5), (4.0, 0.45)]
    plt.close(fig)
