"""What a learner reads in the committed notebooks stays true when an instructor runs them again.

- Prose: no markdown cell quotes a number that a re-run changes (a value of the results ledger in its printed
  forms, an epoch the run chose) or a phrase that describes one particular run. The code cells print those numbers
  and choose the words of their verdicts from them; the book's own figures may be quoted.
- Solutions: after the Solutions heading, every exercise has at least one executed code cell, none ends in an
  error, and no solution writes a file a later notebook reads or records a metric under the lesson's name.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
IDS = [path.stem for path in NOTEBOOKS]
# Phrases that speak of one run; prose says "the cell above prints" instead.
RUN_PHRASES = ("the committed run", "this run reached", "the run reached", "just below the interval",
               "just above the interval", "lies inside the interval", "lies below the interval",
               "lies above the interval")
# What later notebooks read: an exercise that overwrites one of these changes the next notebook's lesson.
SHARED_FILES = ("history_05.json", "convnet_augmented.keras", "dogs-vs-cats-small")
WRITES = re.compile(r"\.save\(|ModelCheckpoint|write_text|json\.dump|open\([^)]*['\"]w|make_split|shutil\.")


def cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def text(cell: dict) -> str:
    return "".join(cell["source"])


def printed_forms(value: float) -> set[str]:
    """How a notebook prints a metric: 0.744 / 0.7440 / 74.4 % / 74.4%."""
    forms = {f"{value:.3f}", f"{value:.4f}"}
    if 0 < value < 1:
        forms |= {f"{100 * value:.1f} %", f"{100 * value:.1f}%"}
    return {form for form in forms if len(form.strip("0.% ")) >= 2}  # "0.000" or "1.0 %" say nothing particular


def run_dependent_quotes(prose: str, metrics: dict) -> list[str]:
    """The ledger values (not equal to the book's figure at the printed precision) that ``prose`` quotes."""
    hits = []
    for name, metric in metrics.items():
        value, book = metric.get("value"), metric.get("book")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if isinstance(value, int):  # counts the lesson chose (epochs) are quoted as "epoch N" / "N epochs"
            forms = {f"epoch {value}", f"{value} epochs"} if "epoch" in name else set()
        else:
            forms = printed_forms(value) if value < 10 else set()
            if book is not None:
                forms -= printed_forms(float(book))
        hits += [f"{name} = {form}" for form in forms
                 if re.search(r"(?<![\d.])" + re.escape(form) + r"(?![\d])", prose)]
    return hits


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_prose_quotes_no_number_a_rerun_changes(path):
    ledger = json.loads((ROOT / "results" / "full.json").read_text(encoding="utf-8"))["notebooks"]
    prose = "\n".join(text(cell) for cell in cells(path) if cell["cell_type"] == "markdown")
    hits = run_dependent_quotes(prose, ledger.get(path.stem, {}).get("metrics", {}))
    hits += [f"the phrase {phrase!r}" for phrase in RUN_PHRASES if phrase in prose.lower()]
    assert not hits, f"{path.name}: markdown quotes what a re-run changes: " + "; ".join(sorted(hits))


def test_the_prose_check_finds_a_quoted_accuracy_and_spares_the_books():
    metrics = {"test_accuracy": {"value": 0.8495, "book": 0.83}, "best_epoch": {"value": 40, "book": None},
               "book_level": {"value": 0.8300001, "book": 0.83}}
    assert run_dependent_quotes("reached 0.850 ± 0.016", metrics) == ["test_accuracy = 0.850"]
    assert run_dependent_quotes("reached 85.0 % of the photos", metrics) == ["test_accuracy = 85.0 %"]
    assert run_dependent_quotes("the lowest loss fell at epoch 40", metrics) == ["best_epoch = epoch 40"]
    assert run_dependent_quotes("the book reached 0.830; at epoch 400", metrics) == []


def exercises_and_solutions(path: Path) -> tuple[int, list[dict]]:
    """The number of exercises (numbered items under the Exercises heading) and the cells after Solutions."""
    all_cells = cells(path)
    heading = lambda word: next((i for i, c in enumerate(all_cells) if c["cell_type"] == "markdown"  # noqa: E731
                                 and re.search(rf"^#+ .*{word}", text(c), re.M)), None)
    start, solutions = heading("[Ee]xercises"), heading("[Ss]olutions")
    assert start is not None and solutions is not None, f"{path.name} has no Exercises or Solutions heading"
    body = text(all_cells[start])
    if start == solutions:
        body = body[:re.search(r"^#+ .*[Ss]olutions", body, re.M).start()]
    else:
        body = "\n".join(text(c) for c in all_cells[start:solutions] if c["cell_type"] == "markdown")
    return len(re.findall(r"^\s*\d+\.\s", body, re.M)), all_cells[solutions:]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_every_exercise_has_an_executed_solution(path):
    count, after = exercises_and_solutions(path)
    code = [c for c in after if c["cell_type"] == "code" and text(c).strip()]
    executed = [c for c in code if c.get("execution_count") is not None]
    assert count > 0, f"{path.name}: no numbered exercises"
    assert len(executed) >= count, f"{path.name}: {count} exercises, {len(executed)} executed solution cells"
    errors = [text(c).splitlines()[0] for c in code if any(o.get("output_type") == "error" for o in c["outputs"])]
    assert not errors, f"{path.name}: solutions end in an error: {errors}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_solutions_keep_out_of_what_later_notebooks_read(path):
    ledger = json.loads((ROOT / "results" / "full.json").read_text(encoding="utf-8"))["notebooks"]
    lesson_metrics = ledger.get(path.stem, {}).get("metrics", {})
    problems = []
    for cell in exercises_and_solutions(path)[1]:
        if cell["cell_type"] != "code":
            continue
        for line in text(cell).splitlines():
            if WRITES.search(line) and any(name in line for name in SHARED_FILES):
                problems.append(f"writes a shared file: {line.strip()}")
            recorded = re.search(r"\.record\(\s*['\"](\w+)['\"]", line)
            if recorded and recorded.group(1) in lesson_metrics:
                problems.append(f"records the lesson's metric {recorded.group(1)!r}")
    assert not problems, f"{path.name}: " + "; ".join(problems)
