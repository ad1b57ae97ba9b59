"""What notebooks 03 and 04 teach, run from their ``inline`` cells: the models, the parameter formulas, the receptive
field rule (checked against what really influences a unit), the book's make_subset and the first-edition
augmentation."""
from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from notebook_code import lesson_namespace, notebook_path


@pytest.fixture(scope="module")
def lesson03() -> dict:
    return lesson_namespace("03")


def kinds(model) -> list[str]:
    return [type(layer).__name__ for layer in model.layers]


def test_the_book_models_and_their_counts(lesson03):
    model, no_pool = lesson03["model"], lesson03["model_no_max_pool"]
    assert kinds(model) == ["InputLayer", "Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D", "Conv2D", "Flatten",
                            "Dense"]
    assert kinds(no_pool) == ["InputLayer", "Conv2D", "Conv2D", "Conv2D", "Flatten", "Dense"]
    assert [layer.filters for layer in model.layers if hasattr(layer, "filters")] == [32, 64, 128]
    assert model.count_params() == 104_202 and no_pool.count_params() == 712_202
    assert lesson03["lenet5"].count_params() == 61_706
    assert lesson03["residual_block"].count_params() == 73_856


def test_parameter_formulas_match_keras_for_every_layer(lesson03):
    by_formula = lesson03["params_by_formula"]
    for name in ("model", "model_no_max_pool", "lenet5", "residual_block"):
        for layer in lesson03[name].layers:
            if type(layer).__name__ in ("Conv2D", "Dense", "MaxPooling2D", "AveragePooling2D", "Flatten"):
                assert by_formula(layer) == layer.count_params(), (name, layer.name)
    assert lesson03["conv_params"](3, 64, 128) == 73_856
    assert lesson03["dense_params"](1152, 10) == 11_530


def influence_box(model, layer_name: str, row: int, col: int) -> tuple[int, int, int, int]:
    """(top, left, bottom, right) of the input pixels whose change moves one unit of ``layer_name``, found by raising
    each pixel in turn (positive weights keep every ReLU open, and a raised pixel always wins its max-pooling window)."""
    import keras

    probe = keras.Model(model.inputs, model.get_layer(layer_name).output)
    weights = [np.full(w.shape, 0.01, "float32") if w.ndim > 1 else np.zeros(w.shape, "float32")
               for w in probe.get_weights()]
    probe.set_weights(weights)
    height, width = model.input_shape[1:3]
    base = np.random.default_rng(0).uniform(0, 1, (1, height, width, 1)).astype("float32")
    raised = np.repeat(base, height * width, axis=0)
    raised[np.arange(height * width), np.repeat(np.arange(height), width), np.tile(np.arange(width), height), 0] += 100
    before = probe.predict(base, verbose=0)[0, row, col].sum()
    after = probe.predict(raised, batch_size=256, verbose=0)[:, row, col].sum(axis=-1)
    moved = np.argwhere(np.abs(after - before).reshape(height, width) > 1e-3)
    (top, left), (bottom, right) = moved.min(axis=0), moved.max(axis=0)
    assert len(moved) == (bottom - top + 1) * (right - left + 1)  # a full rectangle
    return int(top), int(left), int(bottom), int(right)


@pytest.mark.parametrize("name, expected", [("model", [3, 4, 8, 10, 18]), ("model_no_max_pool", [3, 5, 7])])
def test_receptive_fields_are_the_pixels_that_influence_a_unit(lesson03, name, expected):
    model = lesson03[name]
    fields = lesson03["receptive_fields"](model)
    assert [field for field, _ in fields.values()] == expected
    last = [layer for layer in model.layers if type(layer).__name__ == "Conv2D"][-1]
    field, jump = fields[last.name]
    centre = last.output.shape[1] // 2  # the unit the notebook draws
    top = centre * jump
    assert influence_box(model, last.name, centre, centre) == (top, top, top + field - 1, top + field - 1)


def test_notebook_03_writes_its_models_itself():
    cells = json.loads(notebook_path("03").read_text(encoding="utf-8"))["cells"]
    code = "\n".join("".join(cell["source"]) for cell in cells if cell["cell_type"] == "code")
    assert not re.search(r"\bmodels\.\w+\(", code)  # no course_utils.models builder
    assert "from course_utils import mnist_data, plots, session" in code


@pytest.fixture
def kaggle_folder(tmp_path) -> Path:
    folder = tmp_path / "train"
    folder.mkdir()
    for name in ("cat", "dog"):
        for i in range(6):
            (folder / f"{name}.{i}.jpg").write_bytes(f"{name} {i}".encode())
    return folder


def lesson04(raw: Path, work: Path) -> dict:
    return lesson_namespace("04", raw=raw, run=SimpleNamespace(work_dir=work), Path=Path, os=os, shutil=shutil,
                            tempfile=tempfile)


def test_the_book_make_subset_splits_by_file_number(kaggle_folder, tmp_path):
    lesson = lesson04(kaggle_folder, tmp_path)
    lesson["make_subset"]("train", start_index=0, end_index=3)
    lesson["make_subset"]("test", start_index=3, end_index=5)
    base = lesson["new_base_dir"]
    assert base.parent.parent == tmp_path and base.parent.name.startswith("book-split-")
    assert sorted(p.name for p in (base / "train" / "dog").iterdir()) == ["dog.0.jpg", "dog.1.jpg", "dog.2.jpg"]
    assert sorted(p.name for p in (base / "test" / "cat").iterdir()) == ["cat.3.jpg", "cat.4.jpg"]
    assert (base / "test" / "cat" / "cat.4.jpg").read_bytes() == b"cat 4"
    with pytest.raises(FileExistsError):  # the book's version cannot run twice: what the split command fixes
        lesson["make_subset"]("train", start_index=0, end_index=3)


def test_first_edition_augmentation_follows_the_mapping_table(kaggle_folder, tmp_path):
    augmentation = lesson04(kaggle_folder, tmp_path)["first_edition_augmentation"]
    configs = {type(layer).__name__: layer.get_config() for layer in augmentation.layers}
    assert configs["RandomRotation"]["factor"] == pytest.approx((-40 / 360, 40 / 360))  # rotation_range=40 degrees
    assert (configs["RandomTranslation"]["height_factor"], configs["RandomTranslation"]["width_factor"]) == (0.2, 0.2)
    assert configs["RandomZoom"]["height_factor"] == 0.2 and configs["RandomFlip"]["mode"] == "horizontal"
    assert all(config["fill_mode"] == "nearest" for name, config in configs.items() if name != "RandomFlip")
    images = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    assert np.asarray(augmentation(images, training=False)) == pytest.approx(images)  # inference: unchanged
    assert np.asarray(augmentation(images, training=True)).shape == images.shape
