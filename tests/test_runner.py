import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from course_utils import runner


def make_notebook(path: Path, *sources: str, tags: dict | None = None) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for i, source in enumerate(sources):
        cell = nbformat.v4.new_code_cell(source)
        if tags and i in tags:
            cell.metadata["tags"] = tags[i]
        nb.cells.append(cell)
    nbformat.write(nb, str(path))


@pytest.fixture
def course(tmp_path, monkeypatch):
    """A minimal course repository with two notebooks that record metrics."""
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "convnets-course"\n')
    (tmp_path / "README.md").write_text("# c\n\n<!-- results:start -->\nold\n<!-- results:end -->\ntail\n")
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    record = ("from course_utils import session\n"
              "run = session.start('{name}', PROFILE)\nrun.record('score', {value}, book=0.5, label='score')")
    make_notebook(notebooks / "01_first.ipynb", "PROFILE = None", record.format(name="01_first", value=0.25),
                  tags={0: ["parameters"]})
    make_notebook(notebooks / "02_second.ipynb", "PROFILE = None", record.format(name="02_second", value=0.75),
                  tags={0: ["parameters"]})
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("COURSE_WORK_DIR", raising=False)
    monkeypatch.delenv("COURSE_RESULTS_DIR", raising=False)
    return tmp_path


def test_select_by_prefix():
    paths = [Path("01_a.ipynb"), Path("02_b.ipynb"), Path("03_c.ipynb")]
    assert runner.select(paths, []) == paths
    assert runner.select(paths, ["02", "03_c"]) == paths[1:]
    with pytest.raises(SystemExit):
        runner.select(paths, ["09"])


def test_clean_strips_papermill_noise():
    nb = {"metadata": {"papermill": {"x": 1}, "kernelspec": {}},
          "cells": [{"cell_type": "code", "metadata": {"tags": ["injected-parameters"]}},
                    {"cell_type": "code", "metadata": {"papermill": {}, "execution": {}, "tags": []}},
                    {"cell_type": "code", "metadata": {"tags": ["parameters"]}}]}
    cleaned = runner.clean(nb)
    assert "papermill" not in cleaned["metadata"]
    assert [c["metadata"] for c in cleaned["cells"]] == [{}, {"tags": ["parameters"]}]


def test_update_readme_replaces_only_the_table(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("head\n<!-- results:start -->\nold\n<!-- results:end -->\ntail\n")
    runner.update_readme(readme, "| new |")
    assert readme.read_text() == "head\n<!-- results:start -->\n| new |\n<!-- results:end -->\ntail\n"
    readme.write_text("no markers")
    with pytest.raises(RuntimeError):
        runner.update_readme(readme, "x")


def test_run_collects_ledger_and_writes_back(course, capsys):
    assert runner.main(["run", "--profile", "smoke", "--write-back"]) == 0
    out = capsys.readouterr().out
    assert "[2/2] 02_second (smoke)" in out
    book = json.loads((course / "build" / "smoke" / "results.json").read_text())
    assert book["notebooks"]["01_first"]["metrics"]["score"]["value"] == 0.25
    assert book["notebooks"]["02_second"]["seconds"] > 0
    written = json.loads((course / "notebooks" / "02_second.ipynb").read_text())
    assert "papermill" not in written["metadata"]
    assert not any("injected-parameters" in c["metadata"].get("tags", []) for c in written["cells"])
    assert "recorded score: 0.7500" in "".join(written["cells"][1]["outputs"][-1]["text"])
    assert json.loads((course / "results" / "smoke.json").read_text())["notebooks"].keys() == {"01_first", "02_second"}
    assert "old" in (course / "README.md").read_text()  # only the full profile's table goes into the README


def test_failing_notebook_stops_with_its_cell(course, capsys):
    make_notebook(course / "notebooks" / "01_first.ipynb", "PROFILE = None", "x = 1", "1 / 0",
                  tags={0: ["parameters"]})
    assert runner.main(["run", "--profile", "smoke"]) == 1
    err = capsys.readouterr().err
    assert "FAILED 01_first.ipynb" in err and "ZeroDivisionError" in err
    assert not (course / "build" / "smoke" / "02_second.ipynb").exists()  # stopped at the first failure


def test_runner_outside_the_course_exits_with_a_message(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = subprocess.run([sys.executable, "-m", "course_utils.runner", "run"], capture_output=True, text=True)
    assert result.returncode != 0 and "inside the convnets-course repository" in result.stderr
