"""What a learner reads in the committed notebooks stays true when an instructor runs them again.

- Prose: no markdown cell quotes a number that a re-run changes (a value of the results ledger in its printed
  forms, an epoch the run chose) or a phrase that describes one particular run. The code cells print those numbers
  and choose the words of their verdicts from them; the book's own figures may be quoted.
- Solutions: after the Solutions heading, every exercise has at least one executed code cell, none ends in an
  error, and no solution writes a file a later notebook reads or records a metric under the lesson's name.
- Korean readers: every opening names the sections it follows in the book's 2nd edition, the Korean edition and the
  dlp2 notes, and links GLOSSARY.md; every glossary term gets its Korean name where a notebook first uses it, and
  every Korean name written beside an English term is the glossary's.
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


# Korean readers. The sections each opening names: the 2nd edition's (the Korean edition keeps its numbers) and the
# dlp2 notes' (numbered differently). The dlp2 notes have no section on interpreting convnets (the book's 9.4).
SECTIONS = {
    "01_convolution_arithmetic": (["8.1.1", "8.1.2"], ["9.1.2", "9.1.3"]),
    "02_mnist_convnet": (["8.1"], ["9.1"]),
    "03_pooling_and_parameters": (["8.1.2"], ["9.1.3"]),
    "04_dataset_split": (["8.2.2", "8.2.4"], ["9.2.2", "9.2.4"]),
    "05_training_from_scratch": (["8.2", "8.2.3", "8.2.4"], ["9.2"]),
    "06_data_augmentation": (["8.2.5"], ["9.3"]),
    "07_transfer_learning": (["8.3", "8.3.1", "8.3.2"], ["9.4", "9.4.1", "9.4.2"]),
    "08_visualizing_convnets": (["9.4"], []),
}
GLOSSARY = ROOT / "GLOSSARY.md"
GLOSSARY_LINK = "](https://github.com/convnets-course/convnets-course/blob/main/GLOSSARY.md)"
HANGUL = "가-힣"
# One item of the opening's list of sources ("- **Korean edition**, ...: 8.1.1 합성곱 연산"), with its indented lines.
SOURCE_ITEM = r"^- \*\*{}\*\*.*(?:\n  .*)*"
# A Korean name beside an English term: "feature map (특성 맵)", "(정밀도: of the photos ...)" or "특성 맵 (feature map)".
KOREAN_BESIDE_ENGLISH = re.compile(rf"\(([{HANGUL}][{HANGUL} ]*)[),;:]|([{HANGUL}][{HANGUL} ]*) \([A-Za-z]")


def source_item(opening: str, label: str) -> str:
    found = re.search(SOURCE_ITEM.format(re.escape(label)), opening, re.M)
    return found.group(0) if found else ""


def section_numbers(item: str) -> set[str]:
    return set(re.findall(r"(?<![\d.])\d+(?:\.\d+)+", item))


def glossary() -> dict[str, str]:
    """English term -> its Korean name, from the rows of GLOSSARY.md's table."""
    rows = re.findall(r"^\| ([^|]+?) \| ([^|]+?) \| [^|]+ \| [^|]+ \|$", GLOSSARY.read_text(encoding="utf-8"), re.M)
    return {english: korean for english, korean in rows if english != "English"}


def prose(path: Path) -> str:
    """The markdown a learner reads as running text, whitespace collapsed: no headings, no list of sources in the
    opening (titles, not uses of a term), no code, math or link targets, no emphasis marks."""
    chunks = []
    for cell in cells(path):
        if cell["cell_type"] != "markdown":
            continue
        body = re.sub(SOURCE_ITEM.format("(?:2nd edition|Korean edition|dlp2)"), "", text(cell), flags=re.M)
        body = re.sub(r"^#.*$", "", body, flags=re.M)
        body = re.sub(r"```.*?```|`[^`]*`|\$\$.*?\$\$|\$[^$]*\$", " ", body, flags=re.S)
        chunks.append(re.sub(r"\]\([^)]*\)", "]", body).replace("*", ""))
    return re.sub(r"\s+", " ", " ".join(chunks))


def term_pattern(english: str) -> re.Pattern:
    """The term as a whole word, singular or plural ("feature maps", "spatial hierarchies")."""
    word = re.escape(english[:-1]) + "(?:y|ies)" if english.endswith("y") else re.escape(english) + "(?:e?s)?"
    return re.compile(rf"(?<![\w-]){word}(?![\w-])", re.I)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_opening_names_its_sections_in_the_book_the_korean_edition_and_dlp2(path):
    opening = text(cells(path)[0])
    book, dlp2 = SECTIONS[path.stem]
    english, korean, notes = (source_item(opening, label) for label in ("2nd edition", "Korean edition", "dlp2"))
    assert english and korean and notes, f"{path.name}: the opening lacks its 2nd edition, Korean edition or dlp2 item"
    missing = [f"2nd edition {n}" for n in book if n not in section_numbers(english)]
    missing += [f"Korean edition {n} with its title" for n in book
                if not re.search(rf"(?<![\d.]){re.escape(n)} [{HANGUL}]", korean)]
    missing += [f"dlp2 {n}" for n in dlp2 if n not in section_numbers(notes)]
    assert not missing, f"{path.name}: the opening does not name " + ", ".join(missing)
    assert GLOSSARY_LINK in opening, f"{path.name}: the opening does not link GLOSSARY.md"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_first_use_of_each_glossary_term_gives_its_korean_name(path):
    body = prose(path)
    missing = []
    for english, korean in glossary().items():
        first = term_pattern(english).search(body)
        if first and korean not in body[:first.end() + 40]:  # beside it ("feature map (특성 맵)") or before
            missing.append(f"{korean} for {body[first.start():first.end() + 30]!r}")
    assert not missing, f"{path.name}: a first use lacks its Korean name: " + "; ".join(missing)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_korean_names_beside_english_terms_are_the_glossarys(path):
    written = {(found.group(1) or found.group(2)).strip() for found in KOREAN_BESIDE_ENGLISH.finditer(prose(path))}
    unknown = sorted(written - set(glossary().values()))
    assert not unknown, f"{path.name}: Korean names not in GLOSSARY.md (or spelled differently): {unknown}"


def test_the_glossary_pairs_every_term_with_a_korean_name():
    terms = glossary()
    assert len(terms) >= 40
    assert all(re.fullmatch(f"[{HANGUL} ]+", korean) for korean in terms.values()), terms
