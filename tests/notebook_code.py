"""Run the code a notebook teaches, so tests can prove that a course_utils helper equals it.

A notebook marks the code cells that *define* what it teaches (a model, a loop, a function) with the cell tag
``inline``. Such a cell must run on its own given the usual imports and the names a test passes in (for example
``IMAGE_SIZE``): it defines things and may print, but it does not load data or train.
"""
from __future__ import annotations

import json
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
INLINE_TAG = "inline"


def notebook_path(prefix: str) -> Path:
    """The notebook whose file name starts with ``prefix`` (e.g. "05")."""
    matches = sorted(NOTEBOOKS.glob(f"{prefix}*.ipynb"))
    if len(matches) != 1:
        raise LookupError(f"expected one notebook starting with {prefix!r} in {NOTEBOOKS}, found {len(matches)}")
    return matches[0]


def inline_sources(prefix: str) -> list[str]:
    """The sources of the notebook's code cells tagged ``inline``, in notebook order."""
    notebook = json.loads(notebook_path(prefix).read_text(encoding="utf-8"))
    sources = ["".join(cell["source"]) for cell in notebook["cells"]
               if cell["cell_type"] == "code" and INLINE_TAG in cell.get("metadata", {}).get("tags", [])]
    if not sources:
        raise LookupError(f"{notebook_path(prefix).name} has no code cell tagged {INLINE_TAG!r}")
    return sources


def lesson_namespace(prefix: str, **given) -> dict:
    """Execute the notebook's ``inline`` cells in a fresh namespace and return it.

    The namespace starts with ``np``, ``tf``, ``keras`` and ``layers`` (the names the notebooks import) plus
    ``given``; IPython magics are not supported in inline cells.
    """
    import keras
    import numpy as np
    import tensorflow as tf
    from keras import layers

    namespace: dict = {"np": np, "tf": tf, "keras": keras, "layers": layers, **given}
    for index, source in enumerate(inline_sources(prefix)):
        code = compile(source, f"<{notebook_path(prefix).name} inline cell {index}>", "exec")
        exec(code, namespace)  # noqa: S102 - the course's own notebook code, run on purpose
    return namespace
