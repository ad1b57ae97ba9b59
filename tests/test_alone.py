"""Every notebook opens alone: copied by itself into an empty folder outside the repository (the way a learner
opens one chapter in a fresh Colab runtime), with only the data folder provided, it runs top to bottom in the smoke
profile. It makes what earlier notebooks would have left behind (the split, 06's model for 08) and says so."""
from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from course_utils import paths, runner
from course_utils.session import PROFILE_ENV

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("[0-9][0-9]_*.ipynb"))
# What each notebook announces when it has to make something itself, alone.
MAKES = {"05": "made the course's split", "06": "made the course's split", "07": "made the course's split",
         "08": "training a shorter version now"}


def printed(notebook: Path) -> str:
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    return "".join("".join(o.get("text", "")) for c in cells if c["cell_type"] == "code" for o in c["outputs"])


@pytest.mark.needs_data
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_alone_in_an_empty_folder(notebook, tmp_path_factory):
    folder = tmp_path_factory.mktemp(f"alone-{notebook.stem[:2]}")
    assert paths.repo_root(folder) is None, "the test folder must lie outside the repository"
    copy = folder / notebook.name
    shutil.copy(notebook, copy)
    env = {k: v for k, v in os.environ.items() if k not in ("COURSE_WORK_DIR", "COURSE_RESULTS_DIR")}
    env.update({PROFILE_ENV: "smoke", "TF_CPP_MIN_LOG_LEVEL": "2"})
    env["COURSE_DATA_DIR"] = str(paths.data_dir())  # the data folder, and nothing else of the repository
    started = time.perf_counter()
    runner.execute(copy, folder / "executed.ipynb", {runner.PROFILE_PARAMETER: "smoke"}, env, progress="cells")
    print(f"{notebook.stem} alone: {time.perf_counter() - started:.0f} s")
    made = {p.name for p in folder.iterdir()} - {notebook.name, "executed.ipynb"}
    assert made <= {"course_work"}, f"{notebook.name} wrote {sorted(made)} beside itself (only course_work/ belongs there)"
    expected = MAKES.get(notebook.stem[:2])
    if expected:
        assert expected in printed(folder / "executed.ipynb")
