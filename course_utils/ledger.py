"""The results ledger: what each notebook measured, next to the book's figure.

A notebook records its metrics with :meth:`course_utils.session.Session.record`, which writes one JSON file per
notebook into the profile's results folder. The runner gathers those files, adds each notebook's wall time, and
writes the ledger (``build/<profile>/results.json``; the instructor's full run also commits ``results/full.json``).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from . import paths
from .files import write_atomically

RESULTS_DIR_ENV = "COURSE_RESULTS_DIR"


def results_dir(profile: str) -> Path:
    """Where notebooks of ``profile`` write their metrics: ``$COURSE_RESULTS_DIR`` or the work folder's."""
    value = os.environ.get(RESULTS_DIR_ENV)
    path = Path(value) if value else paths.work_dir() / profile / "results"
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_metric(folder: Path, notebook: str, name: str, value: float, book: float | None, label: str,
                 tolerance: float | None = None, context: dict | None = None) -> None:
    """Add or replace one metric in ``folder/<notebook>.json``.

    ``tolerance``: the largest change from the committed value that still counts as the same result (None: the
    metric is not compared, e.g. a timing). ``context``: what made the run (seed, precision, machine), kept once per
    notebook so that results of several seeds or machines can be told apart.
    """
    if tolerance is not None and not tolerance >= 0:
        raise ValueError(f"tolerance of {name!r} must be a number >= 0, not {tolerance!r}")
    path = folder / f"{notebook}.json"
    entry = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {"notebook": notebook, "metrics": {}}
    if context is not None:
        entry["run"] = context
    entry["metrics"][name] = {"value": value, "book": book, "label": label}
    if tolerance is not None:
        entry["metrics"][name]["tolerance"] = float(tolerance)
    write_atomically(path, json.dumps(entry, indent=2))


def read_metrics(folder: Path, notebook: str) -> dict:
    """The metrics one notebook recorded in ``folder`` ({} when it recorded none)."""
    return read_entry(folder, notebook).get("metrics", {})


def read_entry(folder: Path, notebook: str) -> dict:
    """What one notebook recorded in ``folder``: {"metrics": ..., "run": {seed, precision, machine}} ({} if none)."""
    path = folder / f"{notebook}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def load(path: Path) -> dict:
    """A ledger file: {"profile": ..., "notebooks": {name: {"seconds": s, "metrics": {...}}}}."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def save(ledger: dict, path: Path) -> None:
    """Write a ledger file in one step (a killed run leaves the old file or the new one, never half of one)."""
    write_atomically(Path(path), json.dumps(ledger, indent=2) + "\n")


@dataclass(frozen=True)
class Difference:
    """One metric of a new run set against the committed run."""

    notebook: str
    metric: str
    label: str
    committed: float | None  # None: the committed run did not record it
    new: float | None  # None: the new run did not record it
    tolerance: float | None

    @property
    def outside(self) -> bool:
        """A different result: beyond the tolerance, or a compared metric the new run no longer records."""
        if self.new is None:
            return True
        return self.committed is not None and abs(self.new - self.committed) > self.tolerance + 1e-12

    def describe(self) -> str:
        committed = "–" if self.committed is None else format_number(self.committed)
        new = "missing" if self.new is None else format_number(self.new)
        tolerance = "–" if self.tolerance is None else f"±{self.tolerance:g}"
        return f"{self.notebook}  {self.label}: committed {committed}, new {new}, tolerance {tolerance}"


def compare(committed: dict, new: dict) -> list[Difference]:
    """How the notebooks of ``new`` differ from ``committed`` in the metrics that carry a tolerance.

    The tolerance is the one the new run recorded (the notebook states it), else the committed one. Metrics without
    a tolerance (timings) are not compared; a notebook or metric the committed ledger lacks is listed as new.
    Returns every compared metric whose value moved (within its tolerance or not), is new, or is missing.
    """
    differences = []
    for notebook, entry in new["notebooks"].items():
        before = committed["notebooks"].get(notebook, {}).get("metrics") or {}
        after = entry.get("metrics") or {}
        for name in [*after, *(n for n in before if n not in after)]:
            old_metric, new_metric = before.get(name), after.get(name)
            tolerance = (new_metric or {}).get("tolerance", (old_metric or {}).get("tolerance"))
            if tolerance is None:
                continue
            old_value = None if old_metric is None else old_metric["value"]
            new_value = None if new_metric is None else new_metric["value"]
            if old_value is not None and new_value is not None and old_value == new_value:
                continue
            label = (new_metric or old_metric).get("label", name)
            differences.append(Difference(notebook, name, label, old_value, new_value, tolerance))
    return differences


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


# --- the seed spread ----------------------------------------------------------------------------------------------
# One training run is one draw: the seed (initial weights, shuffling, augmentation, dropout) and the machine (the
# order of floating-point sums) move every accuracy. results/seeds.json keeps the headline metrics of runs made with
# several seeds (``course run --seeds``, and every full run), so that a notebook can print where its run falls.

def add_seed_run(path: Path, notebook: str, entry: dict, seconds: float | None = None) -> None:
    """Put one notebook run (``entry`` as :func:`read_entry` returns it) into the seeds file at ``path``.

    A run of the same notebook, seed, machine and precision replaces the older one.
    """
    context = entry.get("run") or {}
    if "seed" not in context:
        return
    runs = load_seed_runs(path)
    key = (notebook, context.get("seed"), context.get("machine"), context.get("precision"))
    runs = [r for r in runs if (r["notebook"], r["seed"], r.get("machine"), r.get("precision")) != key]
    runs.append({"notebook": notebook, **context, "seconds": seconds,
                 "metrics": {name: m["value"] for name, m in entry.get("metrics", {}).items()}})
    runs.sort(key=lambda r: (r["notebook"], str(r.get("machine")), str(r.get("precision")), r["seed"]))
    write_atomically(Path(path), json.dumps({"runs": runs}, indent=1) + "\n")


def load_seed_runs(path: Path) -> list[dict]:
    """The runs of a seeds file ([] when there is none)."""
    path = Path(path)
    return json.loads(path.read_text(encoding="utf-8"))["runs"] if path.is_file() else []


@dataclass(frozen=True)
class Spread:
    """One metric over several seeds on one machine and precision."""

    values: tuple[float, ...]
    machine: str
    precision: str

    @property
    def mean(self) -> float:
        return sum(self.values) / len(self.values)

    @property
    def sd(self) -> float:
        """The sample standard deviation (n - 1); 0 for a single run."""
        n = len(self.values)
        return (sum((v - self.mean) ** 2 for v in self.values) / (n - 1)) ** 0.5 if n > 1 else 0.0

    def describe(self, digits: int = 3) -> str:
        return (f"{self.mean:.{digits}f} ± {self.sd:.{digits}f} (min {min(self.values):.{digits}f}, "
                f"max {max(self.values):.{digits}f})")


def spread(runs: list[dict], notebook: str, metric: str, machine: str | None = None,
           precision: str | None = None) -> Spread | None:
    """The spread of ``metric`` over the seeds of one machine and precision: the given ones when the file holds
    runs of them, else the machine and precision with the most runs (None when no run recorded the metric)."""
    groups: dict[tuple, dict] = {}
    for r in runs:
        if r["notebook"] == notebook and metric in r["metrics"]:
            groups.setdefault((r.get("machine"), r.get("precision")), {})[r["seed"]] = r["metrics"][metric]
    if not groups:
        return None
    key = (machine, precision) if (machine, precision) in groups else max(groups, key=lambda k: len(groups[k]))
    return Spread(tuple(groups[key][s] for s in sorted(groups[key])), key[0] or "?", key[1] or "?")


def tolerance(value: float, count: int, seed_sd: float = 0.0) -> float:
    """How far a new run's accuracy may fall from the committed one and still be the same result.

    Two runs that scatter independently with standard deviation s differ with standard deviation s·√2; three of
    those (99.7% of such differences) is the tolerance. s is the larger of the measured seed-to-seed spread and
    the binomial standard error of an accuracy measured on ``count`` examples, √(p(1-p)/n): the floor for a
    spread measured with a few seeds that happen to agree.
    """
    binomial = (value * (1 - value) / count) ** 0.5
    return round(3 * 2 ** 0.5 * max(seed_sd, binomial), 4)


def spread_markdown(runs: list[dict]) -> str:
    """The seeds file as a Markdown table: per notebook, metric, machine and precision, the spread over seeds."""
    groups: dict[tuple, dict] = {}
    for r in runs:
        for metric, value in r["metrics"].items():
            groups.setdefault((r["notebook"], metric, r.get("machine"), r.get("precision")), {})[r["seed"]] = value
    lines = ["| notebook | metric | machine, precision | seeds | mean ± sd | min – max |", "|---|---|---|---|---|---|"]
    for (notebook, metric, machine, precision), by_seed in sorted(groups.items(), key=lambda g: tuple(map(str, g[0]))):
        if "seconds" in metric or "margin" in metric or len(by_seed) < 2:
            continue
        found = Spread(tuple(by_seed[s] for s in sorted(by_seed)), machine or "?", precision or "?")
        seeds = ", ".join(str(s) for s in sorted(by_seed))
        lines.append(f"| {notebook} | {metric} | {found.machine}, {found.precision} | {seeds} | "
                     f"{found.mean:.4f} ± {found.sd:.4f} | {min(found.values):.4f} – {max(found.values):.4f} |")
    return "\n".join(lines)
