import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from course_utils import ledger, paths, runner


def make_notebook(path: Path, *sources: str, tags: dict | None = None) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for i, source in enumerate(sources):
        cell = nbformat.v4.new_code_cell(source)
        if tags and i in tags:
            cell.metadata["tags"] = tags[i]
        nb.cells.append(cell)
    nbformat.write(nb, str(path))


PARAMETERS = 'PROFILE = None\nEPOCHS: int = None  # None: the profile\'s choice\nBASE = "small"'
RECORD = ("import os\nfrom course_utils import session\n"
          "run = session.start('{name}', PROFILE)\n"
          "run.record('score', {value}, book=0.5, label='score', tolerance=0.01)\n"
          "run.record('seconds', 3.5, label='seconds')\n"
          "print('results in', os.environ['COURSE_RESULTS_DIR'])")


# Without TensorFlow (importing course_utils in a kernel imports it, ~10 s): the ledger file session.record writes.
RECORD_PLAIN = ("import json, os, pathlib\n"
                "metrics = {{'score': dict(value={value}, book=0.5, label='score', tolerance=0.01),\n"
                "            'seconds': dict(value=3.5, book=None, label='seconds')}}\n"
                "folder = pathlib.Path(os.environ['COURSE_RESULTS_DIR'])\n"
                "(folder / '{name}.json').write_text(json.dumps(dict(notebook='{name}', metrics=metrics)))\n"
                "print('recorded score: {value:.4f}')\n"
                "print('results in', folder)")


def record_notebook(path: Path, value: float, with_session: bool = False) -> None:
    record = (RECORD if with_session else RECORD_PLAIN).format(name=path.stem, value=value)
    make_notebook(path, PARAMETERS, record, tags={0: ["parameters"]})


@pytest.fixture
def course(tmp_path, monkeypatch):
    """A minimal course repository with two notebooks that record metrics (01 through course_utils.session)."""
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "convnets-course"\n')
    (tmp_path / "README.md").write_text("# c\n\n<!-- results:start -->\nold\n<!-- results:end -->\ntail\n")
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    record_notebook(notebooks / "01_first.ipynb", 0.25, with_session=True)
    record_notebook(notebooks / "02_second.ipynb", 0.75)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("COURSE_WORK_DIR", raising=False)
    monkeypatch.delenv("COURSE_RESULTS_DIR", raising=False)
    monkeypatch.delenv("COURSE_PROFILE", raising=False)
    return tmp_path


def committed_files(course: Path) -> dict[str, bytes]:
    """Everything a write-back may touch, to prove that it did not."""
    paths = [*sorted((course / "notebooks").iterdir()), course / "README.md", *sorted(course.glob("results/*"))]
    return {str(p.relative_to(course)): p.read_bytes() for p in paths}


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
    assert [p.name for p in tmp_path.iterdir()] == ["README.md"]  # no temporary file left behind
    readme.write_text("no markers")
    with pytest.raises(RuntimeError):
        runner.update_readme(readme, "x")


def test_parameter_values_are_json_or_text():
    assert runner.parse_parameter("EPOCHS=3") == ("EPOCHS", 3)
    assert runner.parse_parameter("RATE=0.5") == ("RATE", 0.5)
    assert runner.parse_parameter("BASE=vgg16") == ("BASE", "vgg16")
    assert runner.parse_parameter("EPOCHS=null") == ("EPOCHS", None)
    with pytest.raises(runner.UsageError, match="NAME=VALUE"):
        runner.parse_parameter("EPOCHS")


# A parameters cell that declares a type in each way the notebooks do: annotation, Optional[...], default value.
DECLARED = ('EPOCHS: int = None\nRATE: Optional[float] = None\nPHOTOS = 1000\nBASE = "efficientnet_lite0"\n'
            'AUGMENT = True\nX = None')


@pytest.fixture(scope="module")
def declared(tmp_path_factory) -> list[Path]:
    path = tmp_path_factory.mktemp("declared") / "01_x.ipynb"
    make_notebook(path, DECLARED, tags={0: ["parameters"]})
    return [path]


@pytest.mark.parametrize("name, value", [
    ("EPOCHS", 3), ("EPOCHS", None), ("RATE", 0.5), ("RATE", 1), ("RATE", None), ("PHOTOS", 500),
    ("BASE", "vgg16"), ("AUGMENT", False), ("X", 3), ("X", "text"), ("X", None),
])
def test_overrides_of_the_declared_type_are_accepted(declared, name, value):
    assert runner.check_parameters(declared, {name: value}) is None


@pytest.mark.parametrize("name, value, message", [
    ("EPOCHS", "3", '-p EPOCHS="3": 01_x expects int or None'),
    ("EPOCHS", 2.5, "-p EPOCHS=2.5: 01_x expects int or None"),
    ("EPOCHS", True, "-p EPOCHS=true: 01_x expects int or None"),  # a bool is an int to isinstance, not here
    ("RATE", "x", '-p RATE="x": 01_x expects float or int or None'),
    ("RATE", False, "-p RATE=false: 01_x expects float or int or None"),
    ("PHOTOS", None, "-p PHOTOS=null: 01_x expects int"),  # the default's type, without None
    ("PHOTOS", "500", '-p PHOTOS="500": 01_x expects int'),
    ("PHOTOS", 0.5, "-p PHOTOS=0.5: 01_x expects int"),
    ("BASE", 3, "-p BASE=3: 01_x expects str"),
    ("BASE", None, "-p BASE=null: 01_x expects str"),
    ("AUGMENT", 0, "-p AUGMENT=0: 01_x expects bool"),
    ("AUGMENT", "no", '-p AUGMENT="no": 01_x expects bool'),
    ("X", [1, 2], "-p X: 01_x expects a single value, not [1, 2]"),  # declared without a type
])
def test_overrides_of_another_type_are_refused(declared, name, value, message):
    with pytest.raises(runner.UsageError) as refused:
        runner.check_parameters(declared, {name: value})
    assert str(refused.value) == message


def test_bad_command_lines_are_refused_before_anything_runs(course, capsys):
    before = committed_files(course)
    refused = {
        ("run", "-p", "PROFILE=smoke"): "choose the profile with --profile",
        ("run", "-p", "EPOCH=3"): "01_first has no parameter EPOCH (its parameters: EPOCHS, BASE)",
        ("run", "-p", "EPOCHS=three"): 'EPOCHS="three": 01_first expects int or None',
        ("run", "-p", "EPOCHS=2.5"): "expects int or None",
        ("run", "-p", "BASE=3"): "expects str",
        ("run", "--profile", "smoke", "--write-back"): "full profile only",
        ("run", "--write-back", "-p", "EPOCHS=1"): "drop the -p overrides",
    }
    for argv, message in refused.items():
        with pytest.raises(SystemExit) as stop:
            runner.main(list(argv))
        assert stop.value.code == 2
        assert message in capsys.readouterr().err, argv
    assert not (course / "build").exists()  # nothing ran
    assert committed_files(course) == before


def test_run_passes_the_kernel_its_environment_quietly(course, capfd, monkeypatch):
    monkeypatch.setattr(runner, "SLOW_CELL_SECONDS", 0.0)
    before = committed_files(course)
    assert runner.main(["run", "--profile", "smoke", "--progress", "cells", "-p", "EPOCHS=2"]) == 0
    out, err = capfd.readouterr()  # file-descriptor level: includes what the kernel process writes
    assert "[2/2] 02_second (smoke)" in out
    assert "cell 3/3" in out and "import os" in out  # one progress line per cell, with its first line
    assert "encryption" not in out + err and "IPKernelApp" not in err, err
    results = course / "build" / "smoke" / "results"
    book = json.loads((course / "build" / "smoke" / "results.json").read_text())
    assert book["notebooks"]["01_first"]["metrics"]["score"] == {
        "value": 0.25, "book": 0.5, "label": "score", "tolerance": 0.01}
    assert book["notebooks"]["02_second"]["seconds"] > 0
    executed = json.loads((course / "build" / "smoke" / "02_second.ipynb").read_text())
    injected = "".join(executed["cells"][1]["source"])
    assert 'PROFILE = "smoke"' in injected and "EPOCHS = 2" in injected
    assert f"results in {results}" in "".join("".join(o.get("text", "")) for o in executed["cells"][-1]["outputs"])
    # the kernel got the profile and results folder; the runner's own process did not change
    assert "COURSE_RESULTS_DIR" not in os.environ and "COURSE_PROFILE" not in os.environ
    assert committed_files(course) == before  # without --write-back nothing committed changes


def test_write_back_then_a_full_run_is_compared_with_the_committed_ledger(course, capsys):
    assert runner.main(["run", "--write-back", "--progress", "cells"]) == 0
    out = capsys.readouterr().out
    assert "01_first  score: committed –, new 0.2500, tolerance ±0.01" in out
    assert "seconds" not in out.split("changes against")[1].split("outputs written")[0]  # timings not compared
    written = json.loads((course / "notebooks" / "02_second.ipynb").read_text())
    assert "papermill" not in written["metadata"]
    assert not any("injected-parameters" in c["metadata"].get("tags", []) for c in written["cells"])
    assert "recorded score: 0.7500" in "".join("".join(o.get("text", "")) for o in written["cells"][1]["outputs"])
    committed = json.loads((course / "results" / "full.json").read_text())
    assert committed["notebooks"].keys() == {"01_first", "02_second"}
    assert "| 02_second |" in (course / "README.md").read_text()
    assert not list(course.rglob("*.partial"))

    # the same result again: within tolerance, exit 0
    committed["notebooks"]["02_second"]["metrics"]["score"]["value"] = 0.755
    (course / "results" / "full.json").write_text(json.dumps(committed))
    assert runner.main(["run", "02"]) == 0
    assert "every compared metric is within its tolerance" in capsys.readouterr().out

    # a model that "stopped learning": the committed value is far from the new one
    committed["notebooks"]["02_second"]["metrics"]["score"]["value"] = 0.5
    (course / "results" / "full.json").write_text(json.dumps(committed))
    assert runner.main(["run", "02"]) == 1
    err = capsys.readouterr().err
    assert "02_second  score: committed 0.5000, new 0.7500, tolerance ±0.01" in err
    assert json.loads((course / "results" / "full.json").read_text()) == committed  # not written without -w


def test_failing_notebook_stops_and_write_back_writes_nothing(course, capsys):
    make_notebook(course / "notebooks" / "03_third.ipynb", PARAMETERS, "x = 1", "1 / 0", tags={0: ["parameters"]})
    record_notebook(course / "notebooks" / "04_fourth.ipynb", 0.5)
    before = committed_files(course)
    assert runner.main(["run", "--write-back", "02", "03", "04"]) == 1
    err = capsys.readouterr().err
    assert "FAILED 03_third.ipynb, cell [4]: ZeroDivisionError" in err
    assert "nothing written back" in err
    assert (course / "build" / "full" / "02_second.ipynb").exists()
    assert not (course / "build" / "full" / "04_fourth.ipynb").exists()  # stopped at the first failure
    assert committed_files(course) == before  # 02 succeeded, yet nothing was written back


def test_ledger_differences_are_reported():
    difference = ledger.Difference("05_x", "acc", "test accuracy", 0.70, 0.52, 0.03)
    assert runner.report_differences([difference], "results/full.json", write_back=True) is False
    assert runner.report_differences([difference], "results/full.json", write_back=False) is True
    assert runner.report_differences([], "results/full.json", write_back=False) is False


def test_runner_outside_the_course_exits_with_a_message(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = subprocess.run([sys.executable, "-m", "course_utils.runner", "run"], capture_output=True, text=True)
    assert result.returncode != 0 and "inside the convnets-course repository" in result.stderr


def test_fit_progress_prints_each_epoch_with_the_time_left(capsys):
    clock = iter([0.0, 30.0, 60.0]).__next__
    progress = runner.FitProgress(clock=clock)
    progress.write("Epoch 1/4\n63/63 - 30s - loss: 0.69")  # a line arrives in pieces
    progress.write(" - val_loss: 0.68\nEpoch 2/4\n")
    progress.write("63/63 - 30s - loss: 0.60 - val_loss: 0.62\nsome other print\n")
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["        epoch 1/4  63/63 - 30s - loss: 0.69 - val_loss: 0.68  [0.5 min so far, 1.5 min for "
                     "the 3 epochs left]",
                     "        epoch 2/4  63/63 - 30s - loss: 0.60 - val_loss: 0.62  [1.0 min so far, 1.0 min for "
                     "the 2 epochs left]"]


SEEDED = ("from course_utils import session\n"
          "run = session.start('{name}', PROFILE, seed=SEED)\n"
          "run.record('score', 0.5 + SEED / 100, book=0.5, label='score', count=1000)")


def test_seeds_run_each_seed_and_write_the_spread(course, capsys):
    make_notebook(course / "notebooks" / "03_seeded.ipynb", "PROFILE = None\nSEED: int = 42",
                  SEEDED.format(name="03_seeded"), tags={0: ["parameters"]})
    assert runner.main(["run", "03", "--seeds", "1", "3", "--progress", "cells"]) == 0
    out = capsys.readouterr().out
    assert "03_seeded  score: 2 seeds, 0.5200 ± 0.0141 (min 0.5100, max 0.5300)" in out
    runs = ledger.load_seed_runs(course / "results" / "seeds.json")
    assert [(r["seed"], r["metrics"]["score"]) for r in runs] == [(1, 0.51), (3, 0.53)]
    assert not (course / "results" / "full.json").exists()  # a seed run is not the committed run


def test_seeds_refuse_write_back_smoke_and_a_second_seed(course, capsys):
    for argv in (["run", "--seeds", "1", "--write-back"], ["run", "--seeds", "1", "--profile", "smoke"],
                 ["run", "--seeds", "1", "-p", "SEED=2"]):
        with pytest.raises(SystemExit):
            runner.main(argv)
    assert "--seeds" in capsys.readouterr().err


def test_a_seed_run_keeps_its_files_out_of_the_committed_runs_folder(course, capsys):
    # 08 reads the checkpoint 06 saves: a seed run of 06 that replaced it would change what 08 shows.
    writes = ("from course_utils import session\n"
              "run = session.start('03_writer', PROFILE, seed=SEED)\n"
              "run.model_path('checkpoint.keras').write_text(str(SEED))")
    make_notebook(course / "notebooks" / "03_writer.ipynb", "PROFILE = None\nSEED: int = 42", writes,
                  tags={0: ["parameters"]})
    committed = paths.work_dir() / "full" / "models" / "checkpoint.keras"
    committed.parent.mkdir(parents=True, exist_ok=True)
    committed.write_text("42")
    assert runner.main(["run", "03", "--seeds", "1", "--progress", "cells"]) == 0
    assert committed.read_text() == "42"
    seed_folder = paths.work_dir() / "full" / "seeds" / "seed-1" / "work"
    assert (seed_folder / "full" / "models" / "checkpoint.keras").read_text() == "1"
    assert os.environ.get(paths.WORK_DIR_ENV) != str(seed_folder)  # the runner's own setting is back
