"""course_utils.lessons: the package's copy of the notebooks' tagged cells is current, and ``load`` runs the cells
a name needs, no more."""
import json
import shutil

import pytest

from course_utils import lessons


def test_the_copy_of_the_tagged_cells_matches_the_notebooks(capsys):
    assert lessons.main(["--check"]) == 0, capsys.readouterr().out


def test_a_changed_tagged_cell_makes_the_copy_stale(tmp_path, monkeypatch):
    for notebook in lessons.NOTEBOOKS.glob("0[56]_*.ipynb"):
        shutil.copy(notebook, tmp_path)
    copy = tmp_path / "cells.py"
    copy.write_text(lessons.render(lessons.notebook_cells(tmp_path)), encoding="utf-8")
    path = next(tmp_path.glob("06_*.ipynb"))
    content = json.loads(path.read_text(encoding="utf-8"))
    tagged = next(cell for cell in content["cells"] if "inline" in cell["metadata"].get("tags", []))
    tagged["source"] = "".join(tagged["source"]).replace("RandomZoom(0.2)", "RandomZoom(0.3)")
    path.write_text(json.dumps(content), encoding="utf-8")
    monkeypatch.setattr(lessons, "NOTEBOOKS", tmp_path)
    monkeypatch.setattr(lessons, "CELLS_MODULE", copy)
    assert lessons.main(["--check"]) == 1
    assert lessons.main([]) == 0 and "RandomZoom(0.3)" in copy.read_text(encoding="utf-8")
    assert lessons.main(["--check"]) == 0


def test_the_copy_is_exact_python():
    from course_utils.lessons.cells import CELLS

    assert CELLS == lessons.notebook_cells()


def test_load_runs_only_the_cells_a_name_needs():
    augmentation_only = lessons.load("06", "data_augmentation")
    assert "data_augmentation" in augmentation_only and "model" not in augmentation_only
    model_cell = lessons.load("06", "model", IMAGE_SIZE=80, quiet=True)  # reads data_augmentation: both cells run
    assert model_cell["model"].layers[1] is model_cell["data_augmentation"]
    interval_only = lessons.load("05", "accuracy_interval")
    assert "model" not in interval_only and interval_only["accuracy_interval"](0.70, 2000) == pytest.approx(0.0201,
                                                                                                             abs=1e-4)


def test_load_names_what_no_cell_defines():
    with pytest.raises(LookupError, match="no tagged cell defines not_taught"):
        lessons.load("06", "not_taught")
    with pytest.raises(LookupError, match="no notebook starting with '99'"):
        lessons.load("99")
