import numpy as np
import pytest

from course_utils import plots


def test_table_formatting():
    text = plots.table([{"model": "a", "params": 1234, "acc": 0.5}, {"model": "bb", "params": 5, "acc": None}])
    lines = text.splitlines()
    assert lines[0] == "model  params     acc"
    assert lines[2] == "a       1,234  0.5000"
    assert lines[3] == "bb          5       –"


def test_figures():
    import matplotlib
    matplotlib.use("Agg")
    fig = plots.plot_history({"accuracy": [0.5, 0.6], "val_accuracy": [0.4, 0.5], "loss": [1, 0.8]})
    assert len(fig.axes) == 2 and len(fig.axes[0].lines) == 2 and len(fig.axes[1].lines) == 1
    fig = plots.image_grid([np.zeros((4, 4))] * 7, [str(i) for i in range(7)], ncols=5)
    assert len(fig.axes) == 10 and sum(bool(ax.images) for ax in fig.axes) == 7
    fig = plots.side_by_side({"a": np.zeros((3, 3)), "b": np.ones((3, 3, 3))})
    assert [ax.get_title() for ax in fig.axes] == ["a", "b"]


def test_plots_draw_bfloat16_arrays_as_float32():
    import ml_dtypes
    import numpy as np

    from course_utils import plots

    ramp = np.linspace(0, 1, 16, dtype="float32").reshape(4, 4)
    drawn = plots.plottable(ramp.astype(ml_dtypes.bfloat16))
    assert drawn.dtype == np.float32 and np.allclose(drawn, ramp, atol=1e-2)
    assert plots.plottable(np.zeros((2, 2), "uint8")).dtype == np.uint8  # photos keep their dtype
    figure = plots.image_grid([ramp.astype(ml_dtypes.bfloat16)], ["channel"], ncols=1)
    assert figure.axes[0].images[0].get_array().dtype == np.float32
