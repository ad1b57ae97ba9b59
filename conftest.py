"""Checks for the whole test session (tests/ and the notebooks under nbval)."""
from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "needs_data: the test reads the course data (MNIST, Dogs vs. Cats photos)")


def pytest_collection_finish(session: pytest.Session) -> None:
    """Stop with one sentence before anything runs when a notebook or a ``needs_data`` test lacks the data,
    instead of letting a notebook start a download in the middle of the tests."""
    if not any(item.path.suffix == ".ipynb" or item.get_closest_marker("needs_data") for item in session.items):
        return
    from course_utils.course_data import missing_message

    try:
        message = missing_message()
    except FileNotFoundError as error:  # COURSE_DATA_DIR names no folder
        message = str(error)
    if message:
        raise pytest.UsageError(message)
