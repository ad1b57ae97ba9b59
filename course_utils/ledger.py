"""The results ledger: what each notebook measured, next to the book's figure.

A notebook records its metrics with :meth:`course_utils.session.Session.record`, which writes one JSON file per
notebook into the profile's results folder. The runner gathers those files, adds each notebook's wall time, and
writes the ledger (``build/<profile>/results.json``; the instructor's full run also commits ``results/full.json``).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from . import data

RESULTS_DIR_ENV = "COURSE_RESULTS_DIR"


def results_dir(profile: str) -> Path:
    """Where notebooks of ``profile`` write their metrics: ``$COURSE_RESULTS_DIR`` or the work folder's."""
    value = os.environ.get(RESULTS_DIR_ENV)
    path = Path(value) if value else data.work_dir() / profile / "results"
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_metric(folder: Path, notebook: str, name: str, value: float, book: float | None, label: str) -> None:
    """Add or replace one metric in ``folder/<notebook>.json``."""
    path = folder / f"{notebook}.json"
    entry = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {"notebook": notebook, "metrics": {}}
    entry["metrics"][name] = {"value": value, "book": book, "label": label}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(entry, indent=2), encoding="utf-8")
    tmp.replace(path)


def read_metrics(folder: Path, notebook: str) -> dict:
    """The metrics one notebook recorded in ``folder`` ({} when it recorded none)."""
    path = folder / f"{notebook}.json"
    return json.loads(path.read_text(encoding="utf-8"))["metrics"] if path.exists() else {}


def load(path: Path) -> dict:
    """A ledger file: {"profile": ..., "notebooks": {name: {"seconds": s, "metrics": {...}}}}."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def save(ledger: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(ledger, indent=2) + "\n", encoding="utf-8")


def rows(ledger: dict) -> list[tuple[str, str, str, str, str]]:
    """Table rows (notebook, time, metric, measured, book), one per metric, notebooks in course order."""
    out = []
    for name in sorted(ledger["notebooks"]):
        entry = ledger["notebooks"][name]
        seconds = entry.get("seconds")
        time_text = f"{seconds / 60:.1f} min" if seconds is not None else "–"
        metrics = entry.get("metrics") or {}
        if not metrics:
            out.append((name, time_text, "–", "–", "–"))
        for i, metric in enumerate(metrics.values()):
            book = metric.get("book")
            out.append((name if i == 0 else "", time_text if i == 0 else "", metric["label"],
                        format_number(metric["value"]), format_number(book) if book is not None else "–"))
    return out


def format_number(value: float) -> str:
    """A metric as the ledger shows it: integers with thousands separators, 4 decimals below 10."""
    return f"{value:,}" if isinstance(value, int) else f"{value:.4f}" if abs(value) < 10 else f"{value:,.1f}"


HEADER = ("notebook", "time", "metric", "measured", "book")


def as_markdown(ledger: dict) -> str:
    """The ledger as a Markdown table (the README's results section)."""
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(row) + " |" for row in rows(ledger)]
    return "\n".join(lines)


def as_text(ledger: dict) -> str:
    """The ledger as an aligned plain-text table (the runner's summary)."""
    table = [HEADER, *rows(ledger)]
    widths = [max(len(row[i]) for row in table) for i in range(len(HEADER))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in table)
