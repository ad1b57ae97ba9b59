"""Notebooks 05 and 06 write the book's dogs-vs-cats convnet, its augmentation block, the epoch timer and the
accuracy interval in their cells; later notebooks and the benchmarks get them from those cells
(course_utils.lessons, through models and measure). The cells must hold the book's architecture and numbers."""

import keras
import numpy as np
import pytest

from course_utils import measure, models
from notebook_code import lesson_namespace

SIZE = 96  # small enough to be quick, large enough for five 3x3 convolutions and four poolings


@pytest.fixture(scope="module")
def lesson_05():
    return lesson_namespace("05", IMAGE_SIZE=SIZE)


@pytest.fixture(scope="module")
def lesson_06():
    return lesson_namespace("06", IMAGE_SIZE=SIZE)


def books_convnet(model: keras.Model) -> None:
    """Five Conv2D (32-64-128-256-256, 3x3, ReLU), four MaxPooling2D, one sigmoid unit computing in float32."""
    convolutions = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [layer.filters for layer in convolutions] == [32, 64, 128, 256, 256]
    assert all(layer.kernel_size == (3, 3) and layer.get_config()["activation"] == "relu" for layer in convolutions)
    assert sum(isinstance(layer, keras.layers.MaxPooling2D) for layer in model.layers) == 4
    last = model.layers[-1]
    assert last.get_config()["activation"] == "sigmoid" and last.units == 1 and last.dtype_policy.compute_dtype == "float32"


def test_05_model_is_the_books(lesson_05):
    books_convnet(lesson_05["model"])
    assert not any(isinstance(layer, keras.layers.Dropout) for layer in lesson_05["model"].layers)


def test_05_model_has_the_books_parameter_count_at_180_px():
    assert models.cats_dogs_convnet(180).count_params() == 991_041  # the book's summary


def test_06_augmentation_block_is_the_books_and_idle_at_inference(lesson_06):
    block = models.data_augmentation()
    assert [type(layer).__name__ for layer in block.layers] == ["RandomFlip", "RandomRotation", "RandomZoom"]
    flip, rotation, zoom = block.layers
    assert (flip.mode, rotation.factor, zoom.height_factor) == ("horizontal", (-0.1, 0.1), 0.2)
    photo = np.random.default_rng(1).uniform(0, 255, (1, SIZE, SIZE, 3)).astype("float32")
    np.testing.assert_array_equal(block(photo, training=False), photo)
    assert not np.array_equal(block(photo, training=True), photo)


def test_06_model_puts_augmentation_first_and_dropout_last(lesson_06):
    model = lesson_06["model"]
    books_convnet(model)
    assert model.layers[1] is lesson_06["data_augmentation"]
    assert isinstance(model.layers[-2], keras.layers.Dropout) and model.layers[-2].rate == 0.5
    assert models.cats_dogs_convnet(SIZE, augmented=True).count_params() == model.count_params()


def test_06_adds_no_parameter_to_05(lesson_05, lesson_06):
    assert lesson_06["model"].count_params() == lesson_05["model"].count_params()


def test_accuracy_interval_is_the_95_percent_normal_interval():
    assert measure.accuracy_interval(0.70, 2000) == pytest.approx(0.0201, abs=1e-4)  # "about 2 points"
    assert measure.accuracy_interval(0.5, 100) == pytest.approx(0.098)  # 1.96 * 0.5 / 10
    assert measure.accuracy_interval(1.0, 100) == 0.0


def test_epoch_timer_times_each_epoch_on_its_own(monkeypatch):
    from types import SimpleNamespace

    x, y = np.zeros((8, 4), "float32"), np.zeros(8)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(loss="mse")
    # The clock the timer reads (the `time` of the cell that defines it): three epochs that start at 10, 12.5 and
    # 20 s and last 2, 5 and 1 s. Timed from the start of training they would read 2, 7.5, 11; from the end of
    # the previous epoch 2, 5.5, 3.5. (Real sleeps were tried: a busy machine adds up to 0.3 s to an epoch.)
    clock = iter([10.0, 12.0, 12.5, 17.5, 20.0, 21.0])
    monkeypatch.setitem(measure.EpochTimer.on_epoch_end.__globals__, "time",
                        SimpleNamespace(perf_counter=lambda: next(clock)))
    timer = measure.EpochTimer()
    model.fit(x, y, epochs=3, verbose=0, callbacks=[timer])
    assert timer.seconds == [2.0, 5.0, 1.0]


def test_typical_epoch_skips_the_first():
    assert measure.typical_epoch_seconds([30.0, 10.0, 12.0, 11.0]) == 11.0
    with pytest.raises(ValueError):
        measure.typical_epoch_seconds([5.0])


def test_sizes_too_small_for_the_architecture_are_refused_with_a_reason():
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
