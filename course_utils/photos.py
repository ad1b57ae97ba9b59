"""Which files of a Dogs vs. Cats source are photos, and of which class, in its two layouts.

Kaggle's flat ``cat.N.jpg`` / ``dog.N.jpg``, or one folder per class (Microsoft's ``Cat/`` and ``Dog/``; ``cats/``
and ``dogs/`` too, any case). Both the split (:mod:`course_utils.split`) and the archives of
:mod:`course_utils.dogs_vs_cats` read sources by these rules.
"""
from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

CLASSES = ("cat", "dog")
_IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".gif", ".bmp"})
_CLASS_FOLDERS = {"cat": "cat", "cats": "cat", "dog": "dog", "dogs": "dog"}
_FLAT_NAME = re.compile(r"^(cat|dog)\.", re.IGNORECASE)


def is_image_name(name: str) -> bool:
    """Whether a file name has an image suffix and is not hidden (macOS' ``._cat.1.jpg`` forks are not images)."""
    return not name.startswith(".") and Path(name).suffix.lower() in _IMAGE_SUFFIXES


def photo_class(parts: Sequence[str]) -> str | None:
    """The class of a photo by the parts of its path inside a source: its innermost class folder, else its Kaggle
    name (``cat.N.jpg``); None when neither says."""
    by_folder = [_CLASS_FOLDERS[part.lower()] for part in parts[:-1] if part.lower() in _CLASS_FOLDERS]
    match = _FLAT_NAME.match(parts[-1])
    return by_folder[-1] if by_folder else (match.group(1).lower() if match else None)


def _natural_key(name: str) -> list:
    # cat.2 sorts before cat.10, so the order (and with it a seeded draw) is the same on every file system.
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def list_photos(folder: str | os.PathLike) -> list[tuple[Path, str]]:
    """The photos in a Dogs vs. Cats source folder as ``(path, class_name)`` pairs, class "cat" or "dog".

    Reads either layout (see the module doc); with class folders, only the files in them count. Only files with an
    image suffix count, so ``Thumbs.db`` and read-me files are left out; whether a file really is an image is checked
    later, by the split. Sorted by class, then naturally by name. Raises ValueError when a class has two folders
    (``Cat/`` and ``cats/``), since which one is meant would be a guess.
    """
    folder = Path(folder)
    entries = sorted((entry for entry in folder.iterdir() if not entry.name.startswith(".")), key=lambda p: p.name)
    class_folders: dict[str, Path] = {}
    for entry in entries:
        name = _CLASS_FOLDERS.get(entry.name.lower())
        if name and entry.is_dir():
            if name in class_folders:
                both = f"{class_folders[name].name}, {entry.name}"
                raise ValueError(f"{folder} has two folders for class {name!r}: {both}")
            class_folders[name] = entry
    candidates = [path for sub in class_folders.values() for path in sub.iterdir()] if class_folders else entries
    pairs = [(path, photo_class(path.relative_to(folder).parts))
             for path in candidates if is_image_name(path.name) and path.is_file()]
    photos = [(path, name) for path, name in pairs if name]
    return sorted(photos, key=lambda pair: (pair[1], _natural_key(pair[0].name)))
