import numpy as np
import pytest

from course_utils import data, models, plots


def test_mnist_parameter_counts_of_the_book():
    assert models.mnist_convnet().count_params() == 104_202
    assert models.mnist_convnet(pooling=False).count_params() == 712_202
    assert models.mnist_dense().count_params() == 407_050
    assert models.mnist_sequential_dropout().count_params() == 1_199_882


def test_formulas_match_keras_for_every_layer():
    for model in (models.mnist_convnet(), models.mnist_convnet(pooling=False), models.mnist_dense()):
        rows = models.layer_table(model)
        assert sum(row["params"] for row in rows) == model.count_params()
        assert all(row["by formula"] in (None, row["params"]) for row in rows)
        assert sum(row["share"] for row in rows) == pytest.approx(1.0)
    assert models.conv_params(3, 64, 128) == 73_856
    assert models.dense_params(1152, 10) == 11_530


def test_receptive_fields():
    assert list(models.receptive_fields(models.mnist_convnet()).values()) == [3, 4, 8, 10, 18]
    assert list(models.receptive_fields(models.mnist_convnet(pooling=False)).values()) == [3, 5, 7]


def fake_mnist(train_counts, test_counts):
    y_train = np.repeat(np.arange(10), train_counts).astype("uint8")
    y_test = np.repeat(np.arange(10), test_counts).astype("uint8")
    return ((np.zeros((len(y_train), 28, 28), "uint8"), y_train), (np.zeros((len(y_test), 28, 28), "uint8"), y_test))


def test_check_mnist_accepts_mnist_and_rejects_others():
    data.check_mnist(fake_mnist(data.MNIST_TRAIN_COUNTS, data.MNIST_TEST_COUNTS))
    wrong = list(data.MNIST_TRAIN_COUNTS)
    wrong[0], wrong[1] = wrong[0] + 1, wrong[1] - 1
    with pytest.raises(ValueError, match="label counts"):
        data.check_mnist(fake_mnist(wrong, data.MNIST_TEST_COUNTS))
    (xt, yt), test = fake_mnist(data.MNIST_TRAIN_COUNTS, data.MNIST_TEST_COUNTS)
    with pytest.raises(ValueError, match="shapes"):
        data.check_mnist(((xt[:, :27], yt), test))


def test_load_mnist_from_the_data_folder(tmp_path, monkeypatch):
    (xt, yt), (xs, ys) = fake_mnist(data.MNIST_TRAIN_COUNTS, data.MNIST_TEST_COUNTS)
    xt[0, 0, 0] = 7
    np.savez(tmp_path / "mnist.npz", x_train=xt, y_train=yt, x_test=xs, y_test=ys)
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    (x_train, _), _ = data.load_mnist()
    assert x_train[0, 0, 0] == 7
    np.savez(tmp_path / "mnist.npz", x_train=xt[:100], y_train=yt[:100], x_test=xs, y_test=ys)
    with pytest.raises(ValueError, match="does not hold MNIST"):
        data.load_mnist()


def test_load_mnist_falls_back_to_keras(tmp_path, monkeypatch):
    import keras
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))  # a data folder without mnist.npz
    arrays = fake_mnist(data.MNIST_TRAIN_COUNTS, data.MNIST_TEST_COUNTS)
    monkeypatch.setattr(keras.datasets.mnist, "load_data", lambda: arrays)
    assert data.load_mnist() is arrays


def test_data_dir_setting(tmp_path, monkeypatch):
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    assert data.data_dir() is None
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "nope"))
    with pytest.raises(FileNotFoundError, match="not a folder"):
        data.data_dir()


def test_work_dir_choices(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_WORK_DIR", str(tmp_path / "w"))
    assert data.work_dir() == (tmp_path / "w").resolve() and (tmp_path / "w").is_dir()
    monkeypatch.delenv("COURSE_WORK_DIR")
    monkeypatch.chdir(tmp_path)
    assert data.work_dir() == (tmp_path / "course_work").resolve()
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "convnets-course"\n')
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")
    assert data.work_dir() == (tmp_path / "build").resolve()


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
