"""The course runner: execute notebooks with papermill under a profile and print the results ledger.

    course run                         # every notebook, full profile, executed copies in build/full/
    course run --profile smoke 01 02   # a quick check of two notebooks
    course run --write-back            # instructors: refresh the committed outputs, results/full.json, README

Exit status is non-zero when a notebook fails; the message names the notebook and the cell.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from . import data, ledger
from .session import PROFILE_ENV, PROFILES

README_START, README_END = "<!-- results:start -->", "<!-- results:end -->"
NOISY_CELL_METADATA = ("papermill", "execution", "ExecuteTime")


def course_root() -> Path:
    root = data.repo_root()
    if root is None:
        sys.exit("course: run me inside the convnets-course repository (no pyproject.toml found above here)")
    return root


def select(notebooks: list[Path], wanted: list[str]) -> list[Path]:
    """Notebooks whose file name starts with one of ``wanted`` (e.g. "02" or "02_mnist"), all if none."""
    if not wanted:
        return notebooks
    chosen = [nb for nb in notebooks if any(nb.name.startswith(w) for w in wanted)]
    missing = [w for w in wanted if not any(nb.name.startswith(w) for nb in notebooks)]
    if missing:
        sys.exit(f"course: no notebook matches {', '.join(missing)}")
    return chosen


def clean(notebook: dict) -> dict:
    """Strip what only adds noise to a committed notebook: papermill's metadata, timings, injected parameters."""
    notebook["metadata"].pop("papermill", None)
    cells = []
    for cell in notebook["cells"]:
        tags = cell.get("metadata", {}).get("tags", [])
        if "injected-parameters" in tags:
            continue
        for key in NOISY_CELL_METADATA:
            cell["metadata"].pop(key, None)
        if tags == []:
            cell["metadata"].pop("tags", None)
        cells.append(cell)
    notebook["cells"] = cells
    return notebook


def failure_message(path: Path, error: Exception) -> str:
    """Name the notebook and cell that failed, from papermill's error."""
    cell = getattr(error, "exec_count", None)
    where = f"cell [{cell}]" if cell is not None else "a cell"
    ename, evalue = getattr(error, "ename", type(error).__name__), getattr(error, "evalue", str(error))
    return f"FAILED {path.name}, {where}: {ename}: {evalue}"


def execute(path: Path, output: Path, profile: str, parameters: dict) -> float:
    """Run one notebook with papermill and return its wall time in seconds."""
    import papermill

    started = time.perf_counter()
    papermill.execute_notebook(str(path), str(output), parameters={"PROFILE": profile, **parameters},
                               kernel_name="python3", cwd=str(path.parent), progress_bar=sys.stderr.isatty())
    return time.perf_counter() - started


def update_readme(readme: Path, table: str) -> None:
    """Replace the results table between the README's markers."""
    text = readme.read_text(encoding="utf-8")
    if README_START not in text or README_END not in text:
        raise RuntimeError(f"{readme} lacks the {README_START} / {README_END} markers")
    head, rest = text.split(README_START, 1)
    tail = rest.split(README_END, 1)[1]
    readme.write_text(f"{head}{README_START}\n{table}\n{README_END}{tail}", encoding="utf-8")


def run(profile: str, wanted: list[str], write_back: bool, parameters: dict) -> int:
    root = course_root()
    notebooks = select(sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb")), wanted)
    out_dir = data.work_dir() / profile
    out_dir.mkdir(parents=True, exist_ok=True)
    results = ledger.results_dir(profile)
    os.environ[PROFILE_ENV] = profile
    os.environ[ledger.RESULTS_DIR_ENV] = str(results)
    ledger_path = out_dir / "results.json"
    book = ledger.load(ledger_path) if ledger_path.exists() else {"profile": profile, "notebooks": {}}
    status = 0
    for i, path in enumerate(notebooks, 1):
        name = path.stem
        (results / f"{name}.json").unlink(missing_ok=True)  # this run's metrics only, never an older run's
        print(f"[{i}/{len(notebooks)}] {name} ({profile}) ...", flush=True)
        output = out_dir / path.name
        try:
            seconds = execute(path, output, profile, parameters)
        except Exception as error:  # papermill raises its own error type carrying the failing cell
            print(failure_message(path, error), file=sys.stderr)
            print(f"        the executed copy with the error is {output}", file=sys.stderr)
            status = 1
            break
        book["notebooks"][name] = {"seconds": round(seconds, 1), "metrics": ledger.read_metrics(results, name)}
        print(f"        done in {seconds:.0f} s", flush=True)
        if write_back:
            executed = json.loads(output.read_text(encoding="utf-8"))
            path.write_text(json.dumps(clean(executed), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    ledger.save(book, ledger_path)
    print()
    print(ledger.as_text(book))
    print(f"\nledger: {ledger_path}")
    if write_back and status == 0:
        committed = root / "results" / f"{profile}.json"
        merged = ledger.load(committed) if committed.exists() else {"profile": profile, "notebooks": {}}
        merged["notebooks"].update({k: v for k, v in book["notebooks"].items() if k in {p.stem for p in notebooks}})
        ledger.save(merged, committed)
        if profile == "full":
            update_readme(root / "README.md", ledger.as_markdown(merged))
        print(f"outputs written back to notebooks/, ledger to {committed}")
    return status


def parse_parameter(text: str) -> tuple[str, object]:
    name, _, value = text.partition("=")
    try:
        return name, json.loads(value)
    except json.JSONDecodeError:
        return name, value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="course", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    run_cmd = sub.add_parser("run", help="execute notebooks and print the results ledger")
    run_cmd.add_argument("notebooks", nargs="*", help="name prefixes such as 02 or 05_training (default: all)")
    run_cmd.add_argument("--profile", choices=PROFILES, default="full")
    run_cmd.add_argument("--write-back", action="store_true",
                         help="write the executed notebooks over notebooks/ and update results/ and the README")
    run_cmd.add_argument("-p", "--parameter", action="append", default=[], metavar="NAME=VALUE",
                         help="override a notebook parameter (JSON value), e.g. -p EPOCHS=3")
    table_cmd = sub.add_parser("results", help="print a ledger file as a table")
    table_cmd.add_argument("path", nargs="?", help="default: results/full.json")
    args = parser.parse_args(argv)
    if args.command == "results":
        path = Path(args.path) if args.path else course_root() / "results" / "full.json"
        print(ledger.as_text(ledger.load(path)))
        return 0
    if args.write_back and args.parameter:
        parser.error("--write-back commits the profile's own settings; drop the -p overrides")
    return run(args.profile, args.notebooks, args.write_back, dict(map(parse_parameter, args.parameter)))


if __name__ == "__main__":
    sys.exit(main())
