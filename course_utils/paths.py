"""Where the course reads its data and writes what it makes.

Two folders matter: the *data folder* (datasets and weights, read; downloads land there) and the *work folder*
(splits, saved models, executed notebooks, results). Both can be moved with an environment variable.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

DATA_DIR_ENV = "COURSE_DATA_DIR"
WORK_DIR_ENV = "COURSE_WORK_DIR"
DATA_FOLDER = "data"  # in the repository
OUTSIDE_DATA_FOLDER = "course_data"  # in the current folder when there is no repository (e.g. Colab)
# Leftovers of a run killed mid-way are recognised by these name parts (see fresh_dir) and removed by later runs.
_LEFTOVER_MARKS = (".partial-", ".stale-")
_LEFTOVER_AGE_S = 24 * 3600  # where a leftover's process cannot be checked (Windows), it is removed after a day


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


def fresh_dir(parent: Path, prefix: str) -> Path:
    """A new, empty folder ``parent/<prefix><pid>-<random>``, readable like ``parent``.

    For work in progress that becomes a finished folder by a rename: ``prefix`` should contain ``.partial-`` or
    ``.stale-`` (e.g. ``".train.partial-"``) so that :func:`remove_leftovers` recognises it if the run is killed.
    tempfile.mkdtemp makes it private (0700); it gets the parent's permissions so that the finished folder does not
    end up readable only by whoever ran the course first.
    """
    folder = Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=parent))
    folder.chmod(Path(parent).stat().st_mode & 0o777)
    return folder


def _process_is_gone(pid: int) -> bool | None:
    """True when no process ``pid`` runs, False when one does, None when this cannot be told (Windows)."""
    if os.name == "nt":  # os.kill(pid, 0) would send CTRL_C_EVENT there
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # e.g. PermissionError: it exists, under another user
        return False
    return False


def remove_leftovers(parent: Path, name: str) -> list[Path]:
    """Delete the hidden ``.<name>.partial-<pid>-*`` / ``.<name>.stale-<pid>-*`` folders and files in ``parent`` that
    a killed run left behind (their process is gone, or on Windows they are over a day old); return what was removed.

    Only names made by :func:`fresh_dir` (and downloads) for ``name`` match, so nothing else is ever touched; the
    work in progress of a process that is still running is left alone.
    """
    removed = []
    try:
        entries = list(Path(parent).iterdir())
    except OSError:
        return removed
    for entry in entries:
        mark = next((m for m in _LEFTOVER_MARKS if entry.name.startswith(f".{name}{m}")), None)
        if mark is None:
            continue
        pid_text = entry.name[len(f".{name}{mark}"):].split("-", 1)[0]
        gone = _process_is_gone(int(pid_text)) if pid_text.isdigit() else None
        if gone is None:
            try:
                gone = time.time() - entry.stat().st_mtime > _LEFTOVER_AGE_S
            except OSError:
                continue
        if not gone:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed
