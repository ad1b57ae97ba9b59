"""Files and folders replaced in one step: a reader, or a run killed mid-way, sees the old version or the new one,
never half of one. Standard library only (``tasks.py`` imports it before any environment exists).

A file is written beside its target and renamed over it (:func:`atomic_path`); a folder is built in a hidden sibling
(:func:`fresh_dir`) and renamed into place (:func:`replace_folder`); :func:`remove_leftovers` deletes what a killed
run left of such folders.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

_LEFTOVER_MARKS = (".partial-", ".stale-")
_LEFTOVER_AGE_S = 24 * 3600  # where a leftover's process cannot be checked (Windows), it is removed after a day


def sha256_of(path: str | os.PathLike) -> str:
    """The sha256 of a file's bytes, hex."""
    with open(path, "rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def _new_file_mode(path: Path) -> int:
    """``path``'s permissions, or for a new file those the umask gives."""
    if path.exists():
        return path.stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """A hidden temporary path beside ``target`` for the block to write; when the block ends without an error it is
    renamed over ``target``, otherwise deleted. The temporary name ends with ``target``'s name, so writers that go by
    the suffix (Keras' ``.weights.h5``) accept it."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=target.parent, prefix=".partial-", suffix=f"-{target.name}")
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        temporary.chmod(_new_file_mode(target))  # mkstemp makes it private; keep the file's own (or usual) mode
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write_atomically(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8, ``\\n`` line ends) to ``path`` in one step (see :func:`atomic_path`)."""
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding="utf-8", newline="\n")


def copy_atomically(source: str | os.PathLike, target: str | os.PathLike) -> Path:
    """Copy the file ``source`` to ``target`` in one step (see :func:`atomic_path`); ``target``."""
    with atomic_path(target) as temporary:
        shutil.copyfile(source, temporary)
    return Path(target)


def fresh_dir(parent: str | os.PathLike, prefix: str) -> Path:
    """A new, empty folder ``parent/<prefix><pid>-<random>``, readable like ``parent``.

    For work in progress that becomes a finished folder by a rename: ``prefix`` should contain ``.partial-`` or
    ``.stale-`` (e.g. ``".train.partial-"``) so that :func:`remove_leftovers` recognises it if the run is killed.
    tempfile.mkdtemp makes it private (0700); it gets the parent's permissions so that the finished folder does not
    end up readable only by whoever ran the course first.
    """
    folder = Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=parent))
    folder.chmod(Path(parent).stat().st_mode & 0o777)
    return folder


def replace_folder(finished: Path, target: Path, aside: Path | None = None) -> None:
    """Rename the folder ``finished`` to ``target``, replacing whatever ``target`` is.

    An existing ``target`` is first renamed to ``aside`` (and kept there), or, without ``aside``, into a hidden
    ``.<name>.stale-<pid>-…`` folder that is deleted once ``finished`` is in place (a run killed in between leaves
    only that, which :func:`remove_leftovers` deletes). When the last rename fails, the old ``target`` is put back.
    """
    stale = None
    if os.path.lexists(target):
        if aside is None:  # ".venv" too gets ".venv.stale-": one dot, as remove_leftovers(parent, "venv") expects
            stale = fresh_dir(target.parent, f".{target.name.lstrip('.')}.stale-")
            aside = stale / target.name
        os.replace(target, aside)
    try:
        os.replace(finished, target)
    except OSError:
        if aside is not None:
            with suppress(OSError):  # something else may have taken the place meanwhile: then the old one stays aside
                os.replace(aside, target)
                if stale is not None:
                    stale.rmdir()
        raise
    if stale is not None:
        shutil.rmtree(stale, ignore_errors=True)


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


def remove_leftovers(parent: str | os.PathLike, name: str) -> list[Path]:
    """Delete the hidden ``.<name>.partial-<pid>-*`` / ``.<name>.stale-<pid>-*`` folders and files in ``parent`` that
    a killed run left behind (their process is gone, or on Windows they are over a day old); return what was removed.

    Only names made by :func:`fresh_dir` for ``name`` match, so nothing else is ever touched; the work in progress of
    a process that is still running is left alone.
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
