"""The course runner: execute notebooks with papermill under a profile and print the results ledger.

    course run                         # every notebook, full profile, executed copies in build/full/
    course run --profile smoke 01 02   # a quick check of two notebooks
    course run 02 -p EPOCHS=2          # override a parameter of the notebook's parameters cell
    course run --write-back            # instructors: refresh the committed outputs, results/full.json, README
    course run 02 05 --seeds 1 2 3     # the spread over seeds: each run's metrics go to results/seeds.json

A full-profile run without overrides is compared with the committed ledger (results/full.json): every metric that
a notebook records with a tolerance must stay within it of the committed value. Exit status is non-zero when a
notebook fails (the message names the notebook and the cell) or when a metric leaves its tolerance; with
--write-back the differences are reported and the new results written instead.
"""
from __future__ import annotations

import argparse
import ast
import json
import os
import re
import sys
import time
from pathlib import Path

from . import ledger, paths
from .files import write_atomically
from .session import PROFILE_ENV, PROFILES

README_START, README_END = "<!-- results:start -->", "<!-- results:end -->"
SEEDS_START, SEEDS_END = "<!-- seeds:start -->", "<!-- seeds:end -->"
NOISY_CELL_METADATA = ("papermill", "execution", "ExecuteTime")
# The kernel's own log is about the local connection between the runner and its kernel, not about the lesson: a
# warning on every start ("running over TCP without encryption"), and under load an error line when it is stopped
# at the end ("KeyboardInterrupt caught in kernel"). Errors in the notebook's code are cell outputs, and a kernel
# that dies is reported by papermill, so the log shows only critical messages.
KERNEL_ARGUMENTS = ["--IPKernelApp.log_level=CRITICAL"]
SLOW_CELL_SECONDS = 5.0  # without a terminal, one progress line per code cell that takes at least this long
PROFILE_PARAMETER = "PROFILE"  # set by --profile, never by -p


class UsageError(Exception):
    """A command line the runner refuses before running anything."""


def course_root() -> Path:
    root = paths.repo_root()
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


def notebook_text(notebook: dict) -> str:
    """A notebook as the course commits it (the layout Jupyter writes)."""
    return json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"


def failure_message(path: Path, error: Exception) -> str:
    """Name the notebook and cell that failed, from papermill's error."""
    cell = getattr(error, "exec_count", None)
    where = f"cell [{cell}]" if cell is not None else "a cell"
    ename, evalue = getattr(error, "ename", type(error).__name__), getattr(error, "evalue", str(error))
    return f"FAILED {path.name}, {where}: {ename}: {evalue}"


# --- parameters -------------------------------------------------------------------------------------------------

def parse_parameter(text: str) -> tuple[str, object]:
    """``NAME=VALUE`` with VALUE read as JSON (3, 0.5, true, null, "x"); anything else is a string."""
    name, equals, value = text.partition("=")
    if not equals or not name.strip():
        raise UsageError(f"-p {text!r}: write NAME=VALUE, e.g. -p EPOCHS=3")
    try:
        return name.strip(), json.loads(value)
    except json.JSONDecodeError:
        return name.strip(), value


def declared_types(parameter: dict) -> tuple[type, ...] | None:
    """The types a parameters-cell entry accepts, from its annotation (``EPOCHS: int = None``), its type comment
    (``EPOCHS = None  # type: int``) or its default value; None when the cell says nothing (``X = None``)."""
    names = {"int": (int,), "float": (float, int), "str": (str,), "bool": (bool,), "list": (list,),
             "dict": (dict,)}
    declared = (parameter.get("inferred_type_name") or "None").replace(" ", "")
    optional = declared.startswith("Optional[") and declared.endswith("]")
    declared = declared[len("Optional["):-1] if optional else declared
    if declared in names:
        return names[declared] + ((type(None),) if optional or parameter.get("default") == "None" else ())
    try:
        default = ast.literal_eval(parameter.get("default", "None"))
    except (ValueError, SyntaxError):
        return None
    if default is None:
        return None
    found = type(default)
    return (float, int) if found is float else (found,)


def check_parameters(notebooks: list[Path], parameters: dict) -> None:
    """Refuse overrides that a notebook's parameters cell does not declare, or values of the wrong type."""
    import papermill

    if PROFILE_PARAMETER in parameters:
        raise UsageError("-p PROFILE=... is not allowed: choose the profile with --profile")
    if not parameters:
        return
    for path in notebooks:
        declared = papermill.inspect_notebook(str(path))
        for name, value in parameters.items():
            if name not in declared:
                known = ", ".join(n for n in declared if n != PROFILE_PARAMETER) or "none"
                raise UsageError(f"{path.stem} has no parameter {name} (its parameters: {known})")
            types = declared_types(declared[name])
            wrong_bool = isinstance(value, bool) and bool not in (types or ())
            if types is not None and (wrong_bool or not isinstance(value, types)):
                wanted = " or ".join("None" if t is type(None) else t.__name__ for t in types)
                raise UsageError(f"-p {name}={json.dumps(value)}: {path.stem} expects {wanted}")
            if types is None and not isinstance(value, (int, float, str, bool, type(None))):
                raise UsageError(f"-p {name}: {path.stem} expects a single value, not {json.dumps(value)}")


# --- execution --------------------------------------------------------------------------------------------------

def kernel_environment(profile: str, results: Path) -> dict[str, str]:
    """The environment the notebooks' kernels start with: ours, plus the profile and where to record metrics."""
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env[PROFILE_ENV] = profile
    env[ledger.RESULTS_DIR_ENV] = str(results)
    return env


def cell_reporter(path: Path, threshold: float | None = None, out=None):
    """A callback that prints one line for each code cell that ran ``threshold`` seconds or more
    (default: ``SLOW_CELL_SECONDS``, read when the callback is made)."""
    threshold = SLOW_CELL_SECONDS if threshold is None else threshold

    def report(cell: dict, number: int, total: int, seconds: float) -> None:
        if seconds < threshold:
            return
        first_line = next((line for line in "".join(cell.get("source", "")).splitlines() if line.strip()), "")
        first_line = first_line if len(first_line) <= 60 else first_line[:57] + "..."
        print(f"        cell {number}/{total}  {seconds:4.0f} s  {first_line}", file=out or sys.stdout, flush=True)
    return report


class FitProgress:
    """A stream for the notebook's standard output that prints, as they arrive, the epoch lines of every
    ``fit(..., verbose=2)`` with the time the fit has taken and, at the pace so far, how long its remaining epochs
    would take (an early stop can end it sooner): a 15-minute training shows progress instead of silence."""

    EPOCH = re.compile(r"^Epoch (\d+)/(\d+)$")
    SUMMARY = re.compile(r"^\d+/\d+ - ")  # "63/63 - 22s - 342ms/step - accuracy: ..."

    def __init__(self, out=None, clock=time.perf_counter):
        self.out, self.clock = out, clock
        self.pending, self.epoch, self.fit_started = "", None, None

    def write(self, text: str) -> None:
        self.pending += text
        *lines, self.pending = self.pending.split("\n")
        for line in lines:
            self._line(line.strip())

    def _line(self, line: str) -> None:
        found = self.EPOCH.match(line)
        if found:
            self.epoch = int(found.group(1)), int(found.group(2))
            if self.epoch[0] == 1:
                self.fit_started = self.clock()
            return
        if self.epoch and self.fit_started is not None and self.SUMMARY.match(line):
            done, total = self.epoch
            elapsed = self.clock() - self.fit_started
            left = elapsed / done * (total - done)
            print(f"        epoch {done}/{total}  {line}  [{elapsed / 60:.1f} min so far"
                  + (f", {left / 60:.1f} min for the {total - done} epochs left]" if total > done else "]"),
                  file=self.out or sys.stdout, flush=True)
            self.epoch = None

    def flush(self) -> None:
        (self.out or sys.stdout).flush()


def _engine():
    """papermill's nbclient engine, starting the kernel with a given environment and reporting each code cell."""
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine
    from papermill.log import logger

    class CourseEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, log_output=False, stdout_file=None,
                                     stderr_file=None, start_timeout=60, execution_timeout=None, kernel_env=None,
                                     on_cell=None, **kwargs):
            if on_cell is not None:
                _watch_cells(nb_man, on_cell)
            kwargs.pop("input_path", None)
            client = PapermillNotebookClient(
                nb_man, kernel_name=kernel_name, log=logger, log_output=log_output, stdout_file=stdout_file,
                stderr_file=stderr_file, startup_timeout=start_timeout, timeout=execution_timeout,
                extra_arguments=list(KERNEL_ARGUMENTS), **kwargs)
            return client.execute(env=kernel_env)  # reaches jupyter_client's start_kernel(env=...)

    return CourseEngine


def _watch_cells(nb_man, on_cell) -> None:
    """Call ``on_cell(cell, number, total, seconds)`` after each code cell of papermill's execution manager."""
    code_cells = [i for i, cell in enumerate(nb_man.nb.cells) if cell.cell_type == "code"]
    started: dict[int, float] = {}
    cell_start, cell_complete = nb_man.cell_start, nb_man.cell_complete

    def start(cell, cell_index=None, **kwargs):
        started[cell_index] = time.perf_counter()
        return cell_start(cell, cell_index, **kwargs)

    def complete(cell, cell_index=None, **kwargs):
        result = cell_complete(cell, cell_index=cell_index, **kwargs)
        if cell_index in started and cell.cell_type == "code":
            on_cell(cell, code_cells.index(cell_index) + 1, len(code_cells), time.perf_counter() - started[cell_index])
        return result

    nb_man.cell_start, nb_man.cell_complete = start, complete


def execute(path: Path, output: Path, parameters: dict, env: dict[str, str], progress: str = "auto") -> float:
    """Run one notebook with papermill in a kernel started with ``env``; return its wall time in seconds.

    ``progress``: "bar" (papermill's progress bar), "cells" (a line per slow code cell) or "auto" (the bar on a
    terminal, lines otherwise, e.g. in CI logs).
    """
    import papermill
    from papermill.engines import papermill_engines

    if progress == "auto":
        progress = "bar" if sys.stderr.isatty() else "cells"
    papermill_engines.register("course", _engine())
    started = time.perf_counter()
    papermill.execute_notebook(str(path), str(output), parameters=parameters, kernel_name="python3",
                               cwd=str(path.parent), engine_name="course", progress_bar=progress == "bar",
                               kernel_env=env, on_cell=cell_reporter(path) if progress == "cells" else None,
                               stdout_file=FitProgress())
    return time.perf_counter() - started


# --- results ----------------------------------------------------------------------------------------------------

def readme_with_table(text: str, table: str, name: str = "README.md", start: str = README_START,
                      end: str = README_END) -> str:
    """``text`` with the table between the README's markers (the results table by default) replaced by ``table``."""
    if start not in text or end not in text:
        raise RuntimeError(f"{name} lacks the {start} / {end} markers")
    head, rest = text.split(start, 1)
    tail = rest.split(end, 1)[1]
    return f"{head}{start}\n{table}\n{end}{tail}"


def update_readme(readme: Path, table: str) -> None:
    """Replace the results table between the README's markers."""
    write_atomically(readme, readme_with_table(readme.read_text(encoding="utf-8"), table, readme.name))


def report_differences(differences: list[ledger.Difference], committed_path: str, write_back: bool) -> bool:
    """Print how the run differs from the committed ledger; True when a metric left its tolerance."""
    outside = [d for d in differences if d.outside]
    if write_back:
        if differences:
            print(f"\nchanges against {committed_path} (written back):")
            for difference in differences:
                flag = "  OUTSIDE TOLERANCE" if difference.outside else ""
                print(f"  {difference.describe()}{flag}")
        else:
            print(f"\nno compared metric changed against {committed_path}")
        return False
    if outside:
        print(f"\n{len(outside)} metric(s) outside their tolerance of {committed_path}:", file=sys.stderr)
        for difference in outside:
            print(f"  {difference.describe()}", file=sys.stderr)
        print("A model may have stopped learning, or the results really changed: an instructor who accepts them "
              "runs the course again with --write-back.", file=sys.stderr)
        return True
    moved = f" ({len(differences)} moved within it)" if differences else ""
    print(f"\nevery compared metric is within its tolerance of {committed_path}{moved}")
    return False


def write_back_all(root: Path, executed: dict[Path, Path], merged: dict) -> None:
    """Write the executed notebooks over notebooks/, the merged ledger and the README table, each atomically.

    Every text is prepared before the first file is touched, so a bad notebook or README stops with nothing written.
    """
    texts = {path: notebook_text(clean(json.loads(output.read_text(encoding="utf-8"))))
             for path, output in executed.items()}
    readme = root / "README.md"
    texts[root / "results" / "full.json"] = json.dumps(merged, indent=2) + "\n"
    texts[readme] = readme_with_table(readme.read_text(encoding="utf-8"), ledger.as_markdown(merged))
    for path, text in texts.items():
        write_atomically(path, text)


SEEDS_PARAMETER = "SEED"  # the notebooks' seed parameter, set by --seeds


def execute_all(notebooks: list[Path], profile: str, parameters: dict, results: Path, out_dir: Path,
                progress: str, on_done=None) -> tuple[dict, dict[Path, Path], int]:
    """Run ``notebooks`` in order; stop at the first failure. Returns this run's ledger, the executed copies and
    the exit status. ``on_done(name, entry)`` is called as each notebook finishes (a run stopped later keeps it)."""
    env = kernel_environment(profile, results)
    this_run: dict = {"profile": profile, "notebooks": {}}
    executed: dict[Path, Path] = {}
    for i, path in enumerate(notebooks, 1):
        name = path.stem
        (results / f"{name}.json").unlink(missing_ok=True)  # this run's metrics only, never an older run's
        print(f"[{i}/{len(notebooks)}] {name} ({profile}) ...", flush=True)
        output = out_dir / path.name
        try:
            seconds = execute(path, output, {PROFILE_PARAMETER: profile, **parameters}, env, progress)
        except Exception as error:  # papermill raises its own error type carrying the failing cell
            print(failure_message(path, error), file=sys.stderr)
            print(f"        the executed copy with the error is {output}", file=sys.stderr)
            return this_run, executed, 1
        entry = ledger.read_entry(results, name)
        this_run["notebooks"][name] = {"seconds": round(seconds, 1), "metrics": entry.get("metrics", {})}
        if entry.get("run"):
            this_run["notebooks"][name]["run"] = entry["run"]
        executed[path] = output
        if on_done is not None:
            on_done(name, this_run["notebooks"][name])
        print(f"        done in {seconds:.0f} s", flush=True)
    return this_run, executed, 0


def record_seed_runs(root: Path, this_run: dict) -> None:
    """Add a full-profile run's notebooks to the committed seed spread (results/seeds.json) and its table in the
    README (where the README has the table's markers)."""
    seeds = root / "results" / "seeds.json"
    for name, entry in this_run["notebooks"].items():
        ledger.add_seed_run(seeds, name, entry, entry.get("seconds"))
    readme = root / "README.md"
    text = readme.read_text(encoding="utf-8") if readme.exists() else ""
    if SEEDS_START in text and SEEDS_END in text:
        table = ledger.spread_markdown(ledger.load_seed_runs(seeds))
        write_atomically(readme, readme_with_table(text, table, readme.name, SEEDS_START, SEEDS_END))


def run_seeds(profile: str, wanted: list[str], seeds: list[int], parameters: dict, progress: str = "auto") -> int:
    """Run the selected notebooks once per seed (full profile) and add every run to results/seeds.json."""
    root = course_root()
    notebooks = select(sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb")), wanted)
    check_parameters(notebooks, {**parameters, SEEDS_PARAMETER: seeds[0]})
    for seed in seeds:
        print(f"--- seed {seed}", flush=True)
        out_dir = paths.work_dir() / profile / "seeds" / f"seed-{seed}"
        results = out_dir / "results"
        results.mkdir(parents=True, exist_ok=True)
        # Each seed works in its own folder (the kernels inherit it): a seed's checkpoints and histories must never
        # replace those of the committed run, which later notebooks (06 reads 05's, 08 reads 06's) would then read.
        before = os.environ.get(paths.WORK_DIR_ENV)
        os.environ[paths.WORK_DIR_ENV] = str(out_dir / "work")
        try:
            _, _, status = execute_all(notebooks, profile, {**parameters, SEEDS_PARAMETER: seed}, results, out_dir,
                                       progress,
                                       on_done=lambda name, entry: record_seed_runs(root, {"notebooks": {name: entry}}))
        finally:
            if before is None:
                os.environ.pop(paths.WORK_DIR_ENV)
            else:
                os.environ[paths.WORK_DIR_ENV] = before
        if status:
            return status
    runs = ledger.load_seed_runs(root / "results" / "seeds.json")
    print("\nspread over seeds (results/seeds.json):")
    for path in notebooks:
        names = sorted({m for r in runs if r["notebook"] == path.stem for m in r["metrics"]})
        for metric in names:
            found = ledger.spread(runs, path.stem, metric)
            if found:
                print(f"  {path.stem}  {metric}: {len(found.values)} seeds, {found.describe(4)}")
    return 0


def run(profile: str, wanted: list[str], write_back: bool, parameters: dict, progress: str = "auto") -> int:
    root = course_root()
    notebooks = select(sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb")), wanted)
    check_parameters(notebooks, parameters)
    out_dir = paths.work_dir() / profile
    out_dir.mkdir(parents=True, exist_ok=True)
    results = ledger.results_dir(profile)
    ledger_path = out_dir / "results.json"
    book = ledger.load(ledger_path) if ledger_path.exists() else {"profile": profile, "notebooks": {}}
    this_run, executed, status = execute_all(notebooks, profile, parameters, results, out_dir, progress)
    book["notebooks"].update(this_run["notebooks"])
    ledger.save(book, ledger_path)
    print()
    print(ledger.as_text(book))
    print(f"\nledger: {ledger_path}")
    if status:
        if write_back:
            print("nothing written back: notebooks/, results/ and README.md are unchanged", file=sys.stderr)
        return status
    committed_path = root / "results" / "full.json"
    shown = committed_path.relative_to(root).as_posix()
    committed = ledger.load(committed_path) if committed_path.exists() else {"profile": "full", "notebooks": {}}
    if profile == "full" and not parameters:
        if report_differences(ledger.compare(committed, this_run), shown, write_back):
            status = 1
    elif profile == "full":
        print(f"\nparameters overridden: not compared with {shown}")
    if write_back:
        committed["notebooks"].update(this_run["notebooks"])
        write_back_all(root, executed, committed)
        record_seed_runs(root, this_run)
        print(f"outputs written back to notebooks/, the ledger to {shown}, the table to README.md, the run's "
              "results to results/seeds.json")
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="course", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    run_cmd = sub.add_parser("run", help="execute notebooks and print the results ledger")
    run_cmd.add_argument("notebooks", nargs="*", help="name prefixes such as 02 or 05_training (default: all)")
    run_cmd.add_argument("--profile", choices=PROFILES, default="full")
    run_cmd.add_argument("--write-back", action="store_true",
                         help="full profile only: once every notebook succeeded, write the executed notebooks over "
                              "notebooks/ and update results/full.json and the README")
    run_cmd.add_argument("-p", "--parameter", action="append", default=[], metavar="NAME=VALUE",
                         help="override a parameter of the notebooks' parameters cell (JSON value), e.g. -p EPOCHS=3")
    run_cmd.add_argument("--progress", choices=("auto", "bar", "cells"), default="auto",
                         help="progress within a notebook: papermill's bar, a line per slow cell, or auto (the bar "
                              "on a terminal)")
    run_cmd.add_argument("--seeds", nargs="+", type=int, metavar="SEED",
                         help="full profile: run the notebooks once per seed (their SEED parameter) and add each "
                              "run's metrics to results/seeds.json, the spread the notebooks print")
    table_cmd = sub.add_parser("results", help="print a ledger file as a table")
    table_cmd.add_argument("path", nargs="?", help="default: results/full.json")
    args = parser.parse_args(argv)
    if args.command == "results":
        path = Path(args.path) if args.path else course_root() / "results" / "full.json"
        print(ledger.as_text(ledger.load(path)))
        return 0
    if args.write_back and args.profile != "full":
        parser.error("--write-back writes the committed outputs, which come from the full profile only")
    if args.write_back and args.parameter:
        parser.error("--write-back commits the profile's own settings; drop the -p overrides")
    if args.seeds and (args.write_back or args.profile != "full"):
        parser.error("--seeds measures the full profile's spread; it cannot be combined with --write-back or smoke")
    try:
        parameters = dict(map(parse_parameter, args.parameter))
        if SEEDS_PARAMETER in parameters and args.seeds:
            raise UsageError("give the seeds with --seeds or -p SEED=..., not both")
        if args.seeds:
            return run_seeds(args.profile, args.notebooks, args.seeds, parameters, args.progress)
        return run(args.profile, args.notebooks, args.write_back, parameters, args.progress)
    except UsageError as error:
        parser.error(str(error))


if __name__ == "__main__":
    sys.exit(main())
