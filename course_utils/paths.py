"""Where the course reads its data and writes what it makes.

Two folders matter: the *data folder* (datasets and weights, read; downloads land there) and the *work folder*
(splits, saved models, executed notebooks, results). Both can be moved with an environment variable.
"""
from __future__ import annotations

import os
from pathlib import Path

DATA_DIR_ENV = "COURSE_DATA_DIR"
WORK_DIR_ENV = "COURSE_WORK_DIR"
DATA_FOLDER = "data"  # in the repository
OUTSIDE_DATA_FOLDER = "course_data"  # in the current folder when there is no repository (e.g. Colab)


def repo_root(start: Path | None = None) -> Path | None:
    """The course repository that contains ``start`` (default: the current folder), or None."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file() and 'name = "convnets-course"' in pyproject.read_text(encoding="utf-8"):
            return folder
    return None


def data_dir() -> Path:
    """The data folder: ``$COURSE_DATA_DIR``, else ``data/`` in the repository, else ``course_data/`` in the
    current folder (e.g. on Colab). Not created here.

    Raises FileNotFoundError when the variable names a folder that does not exist, because a typo there would
    otherwise silently fall through to a download.
    """
    value = os.environ.get(DATA_DIR_ENV)
    if value:
        path = Path(value).expanduser()
        if not path.is_dir():
            raise FileNotFoundError(f"${DATA_DIR_ENV} is set to {value!r}, which is not a folder.")
        return path.resolve()
    root = repo_root()
    return root / DATA_FOLDER if root else (Path.cwd() / OUTSIDE_DATA_FOLDER).resolve()


def committed_data_dir() -> Path | None:
    """The repository's ``data/`` folder, which holds the small files committed with the course, or None."""
    return committed_file(DATA_FOLDER)


def committed_file(relative: str) -> Path | None:
    """``relative`` (e.g. ``"results/seeds.json"``) in the course repository, or None outside one.

    The repository around the current folder, else the one this package was installed from (an editable install).
    """
    root = repo_root() or repo_root(Path(__file__).resolve().parent)
    return root / relative if root else None


def local_file(name: str) -> Path | None:
    """``name`` (a path relative to the data folder, e.g. ``"mnist.npz"``) in the data folder, or None."""
    candidate = data_dir() / name
    return candidate if candidate.exists() else None


def work_dir() -> Path:
    """Folder for everything the course creates: ``$COURSE_WORK_DIR``, else ``build/`` in the repository,
    else ``course_work/`` in the current folder (e.g. on Colab). Created on first use."""
    value = os.environ.get(WORK_DIR_ENV)
    if value:
        path = Path(value).expanduser()
    else:
        root = repo_root()
        path = root / "build" if root else Path.cwd() / "course_work"
    path.mkdir(parents=True, exist_ok=True)
    return path.resolve()


def keras_home() -> Path:
    """Keras' own folder, as Keras finds it: ``$KERAS_HOME``, else ``~/.keras``."""
    return Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras").expanduser()

