"""Run the code a notebook teaches (its code cells tagged ``inline``), as course_utils.lessons does for the course.

The tests run the cells through ``course_utils.lessons``, whose copy of them (cells.py) a test keeps equal to the
notebooks, so what is tested is what the notebooks and the package run.
"""
from __future__ import annotations

from pathlib import Path

from course_utils import lessons

NOTEBOOKS = lessons.NOTEBOOKS


def notebook_path(prefix: str) -> Path:
    """The notebook whose file name starts with ``prefix`` (e.g. "05")."""
    matches = sorted(NOTEBOOKS.glob(f"{prefix}*.ipynb"))
    if len(matches) != 1:
        raise LookupError(f"expected one notebook starting with {prefix!r} in {NOTEBOOKS}, found {len(matches)}")
    return matches[0]


def lesson_namespace(prefix: str, **given) -> dict:
    """Execute the notebook's ``inline`` cells in a fresh namespace (with ``np``, ``tf``, ``keras``, ``layers`` and
    ``given``) and return it."""
    return lessons.load(prefix, **given)
