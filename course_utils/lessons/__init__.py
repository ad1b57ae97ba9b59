"""The code the notebooks teach, reused from the one place it is written: the notebook cell.

A notebook marks the code cells that *define* what it teaches (a loop, a function, a model, a callback) with the
cell tag ``inline``. ``python -m course_utils.lessons`` copies those cells, unchanged, into
``course_utils/lessons/cells.py``, so that later notebooks, the tests and the benchmarks use the notebook's own
code, also where the notebooks folder is absent (Colab, a notebook opened alone); ``--check`` fails when that
copy is stale. Nothing here is written by hand twice: edit the notebook, then regenerate.

``load("06", "model", IMAGE_SIZE=180)`` runs, in notebook order, just the tagged cells needed for the names asked
for (the cell that defines ``model`` and the cells defining what it reads, here ``data_augmentation``), in a
fresh namespace that starts with the notebooks' usual imports (``np``, ``tf``, ``keras``, ``layers``) and the
names given.
"""
from __future__ import annotations

import argparse
import ast
import contextlib
import io
import json
import symtable
import sys
from pathlib import Path

INLINE_TAG = "inline"
CELLS_MODULE = Path(__file__).with_name("cells.py")
NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"  # present in a checkout, absent when installed


def _top_level_names(tree: ast.Module) -> set[str]:
    """Names a cell binds at its top level: assignments, loops, imports, functions and classes."""
    bound: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        else:
            bound.update(n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store))
    return bound


def _names_read(source: str) -> set[str]:
    """The global names a cell reads, its functions' and classes' bodies included (they read them when called);
    a function's parameters and locals are not among them."""
    def walk(table: symtable.SymbolTable, top: bool) -> set[str]:
        read = {symbol.get_name() for symbol in table.get_symbols()
                if symbol.is_referenced() and (top or symbol.is_global())}
        for child in table.get_children():
            read |= walk(child, False)
        return read

    return walk(symtable.symtable(source, "<cell>", "exec"), True)


def _cells(prefix: str) -> list[tuple[int, str]]:
    from .cells import CELLS

    matches = [name for name in CELLS if name.startswith(prefix)]
    if len(matches) != 1:
        raise LookupError(f"no notebook starting with {prefix!r} has cells tagged {INLINE_TAG!r} "
                          f"(known: {', '.join(sorted(CELLS))})")
    return CELLS[matches[0]]


def _needed_cells(cells: list[tuple[int, str]], wanted: set[str]) -> list[tuple[int, str]]:
    """The cells that define ``wanted`` and, transitively, the names those cells read from earlier cells."""
    parsed = [(index, source, ast.parse(source)) for index, source in cells]
    needed: set[int] = set()
    missing = set(wanted)
    for position in range(len(parsed) - 1, -1, -1):  # latest definition first, as a notebook run would see
        index, source, tree = parsed[position]
        defines = _top_level_names(tree)
        if defines & missing:
            needed.add(index)
            missing = (missing - defines) | (_names_read(source) - defines)
    unknown = wanted - set().union(*(_top_level_names(tree) for _, _, tree in parsed))
    if unknown:
        raise LookupError(f"no tagged cell defines {', '.join(sorted(unknown))}")
    return [(index, source) for index, source, _ in parsed if index in needed]


def load(prefix: str, *names: str, quiet: bool = False, **given) -> dict:
    """Run the notebook's tagged cells that define ``names`` (all tagged cells when none are named) and return
    the namespace they ran in.

    ``prefix`` is the notebook's number ("05"); ``given`` adds names the cells read but do not define (for example
    ``IMAGE_SIZE``). ``quiet`` hides what the cells print (a model's ``summary()``).
    """
    import keras
    import numpy as np
    import tensorflow as tf
    from keras import layers

    cells = _cells(prefix)
    chosen = _needed_cells(cells, set(names)) if names else cells
    namespace: dict = {"__name__": f"course_utils.lessons.notebook_{prefix}",
                       "np": np, "tf": tf, "keras": keras, "layers": layers, **given}
    output = contextlib.redirect_stdout(io.StringIO()) if quiet else contextlib.nullcontext()
    with output:
        for index, source in chosen:
            code = compile(source, f"<notebook {prefix}, cell {index}>", "exec")
            exec(code, namespace)  # noqa: S102 - the course's own notebook code, run on purpose
    return namespace


# --- generating cells.py from the notebooks ------------------------------------------------------------------

def notebook_cells(notebooks: Path | None = None) -> dict[str, list[tuple[int, str]]]:
    """{notebook name: [(cell index, source)]} of the code cells tagged ``inline``, in notebook order."""
    found = {}
    for path in sorted((notebooks or NOTEBOOKS).glob("[0-9][0-9]_*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        tagged = [(index, "".join(cell["source"])) for index, cell in enumerate(cells)
                  if cell["cell_type"] == "code" and INLINE_TAG in cell.get("metadata", {}).get("tags", [])]
        if tagged:
            found[path.stem] = tagged
    return found


def render(cells: dict[str, list[tuple[int, str]]]) -> str:
    """The text of cells.py for ``cells``."""
    lines = ['"""Generated by `python -m course_utils.lessons` from the notebooks\' code cells tagged "inline".',
             "", "Do not edit: change the notebook and regenerate. {notebook: [(cell index, source)]}", '"""',
             "CELLS: dict[str, list[tuple[int, str]]] = {"]
    for notebook, tagged in cells.items():
        lines.append(f"    {notebook!r}: [")
        for index, source in tagged:
            lines.append(f"        ({index}, {_string_literal(source)}),")
        lines.append("    ],")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _string_literal(source: str) -> str:
    """The source as a readable triple-quoted literal where that is exact, else as repr."""
    for quote in ('"""', "'''"):
        literal = quote + "\\\n" + source.replace("\\", "\\\\") + quote
        if quote not in source and not source.endswith(quote[0]) and ast.literal_eval(literal) == source:
            return literal
    return repr(source)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils.lessons", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="fail if cells.py differs from the notebooks")
    args = parser.parse_args(argv)
    if not NOTEBOOKS.is_dir():
        print(f"no notebooks folder next to the package ({NOTEBOOKS.name}/): run this in a checkout")
        return 2
    text = render(notebook_cells())
    current = CELLS_MODULE.read_text(encoding="utf-8") if CELLS_MODULE.exists() else ""
    if args.check:
        if text != current:
            print("course_utils/lessons/cells.py is stale: a notebook's tagged cells changed; "
                  "run `python -m course_utils.lessons`")
            return 1
        print("course_utils/lessons/cells.py matches the notebooks")
        return 0
    if text != current:
        CELLS_MODULE.write_text(text, encoding="utf-8")
        print("wrote course_utils/lessons/cells.py")
    else:
        print("course_utils/lessons/cells.py was up to date")
    return 0

