"""Where the course finds its data, and the datasets themselves.

Raw datasets are looked up in the folder named by ``COURSE_DATA_DIR`` (CI and offline classrooms point it at a
local copy), and otherwise come from their public sources through Keras' download cache. Everything the course
*makes* (splits, saved models, results) goes to the work folder, see :func:`work_dir`.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import warnings
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path, PurePosixPath

import numpy as np

DATA_DIR_ENV = "COURSE_DATA_DIR"
WORK_DIR_ENV = "COURSE_WORK_DIR"

# Canonical MNIST label counts: a file that matches them (and the shapes) is MNIST, whoever rebuilt it.
MNIST_TRAIN_COUNTS = (5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949)
MNIST_TEST_COUNTS = (980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009)


def data_dir() -> Path | None:
    """The local data folder named by ``$COURSE_DATA_DIR``, or None when the variable is unset.

    Raises FileNotFoundError when the variable names a folder that does not exist, because a typo there
    would otherwise silently fall through to a download.
    """
    value = os.environ.get(DATA_DIR_ENV)
    if not value:
        return None
    path = Path(value).expanduser()
    if not path.is_dir():
        raise FileNotFoundError(f"${DATA_DIR_ENV} is set to {value!r}, which is not a folder.")
    return path.resolve()


def repo_root(start: Path | None = None) -> Path | None:
    """The course repository that contains ``start`` (default: the current folder), or None."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file() and 'name = "convnets-course"' in pyproject.read_text(encoding="utf-8"):
            return folder
    return None


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


def local_file(name: str) -> Path | None:
    """``name`` inside the local data folder if both exist, else None."""
    folder = data_dir()
    if folder is None:
        return None
    candidate = folder / name
    return candidate if candidate.exists() else None


def check_mnist(arrays: tuple) -> None:
    """Raise ValueError unless ``((x_train, y_train), (x_test, y_test))`` has MNIST's shapes and label counts."""
    (x_train, y_train), (x_test, y_test) = arrays
    shapes = (x_train.shape, y_train.shape, x_test.shape, y_test.shape)
    expected = ((60000, 28, 28), (60000,), (10000, 28, 28), (10000,))
    if shapes != expected:
        raise ValueError(f"MNIST arrays have shapes {shapes}, expected {expected}.")
    for split, labels, counts in (("train", y_train, MNIST_TRAIN_COUNTS), ("test", y_test, MNIST_TEST_COUNTS)):
        found = tuple(int(n) for n in np.bincount(labels, minlength=10))
        if found != counts:
            raise ValueError(f"MNIST {split} label counts {found} differ from MNIST's {counts}.")


def load_mnist() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """MNIST as ``((x_train, y_train), (x_test, y_test))``, uint8 images 28x28 and integer labels.

    Uses ``mnist.npz`` from the local data folder when there is one (checked by shapes and label counts),
    otherwise ``keras.datasets.mnist.load_data()``, which downloads once into Keras' cache.
    """
    local = local_file("mnist.npz")
    if local is not None:
        with np.load(local) as f:
            arrays = ((f["x_train"], f["y_train"]), (f["x_test"], f["y_test"]))
        source = str(local)
    else:
        import keras

        arrays = keras.datasets.mnist.load_data()
        source = "keras.datasets.mnist"
    try:
        check_mnist(arrays)
    except ValueError as error:
        raise ValueError(f"{source} does not hold MNIST: {error}") from None
    return arrays


# --- Dogs vs. Cats ------------------------------------------------------------------------------------------------
#
# The raw images come from the first of: the local data folder, Keras' cache, the Kaggle API, Microsoft's PetImages
# archive. Archives are unpacked into the work folder (never next to the source, which may be read-only), and the
# two layouts they hold (Kaggle's flat cat.N.jpg / dog.N.jpg, Microsoft's Cat/ and Dog/ folders) are both read by
# list_dogs_vs_cats().

DOGS_VS_CATS = "dogs-vs-cats"
DOGS_VS_CATS_CLASSES = ("cat", "dog")
KAGGLE_COMPETITION = "dogs-vs-cats"
KAGGLE_RULES_URL = f"https://www.kaggle.com/competitions/{KAGGLE_COMPETITION}/rules"
PETIMAGES_URL = (
    "https://download.microsoft.com/download/3/E/1/3E1C3F21-ECDB-4869-8368-6DEBA77B919F/kagglecatsanddogs_5340.zip"
)
PETIMAGES_ZIP = "kagglecatsanddogs_5340.zip"
# No checksum of kagglecatsanddogs_5340.zip could be established without downloading it (TensorFlow Datasets records
# one only for the older kagglecatsanddogs_3367a.zip), so the download is unchecked: a broken archive fails to unzip,
# and course_utils.split decodes every image it uses.
PETIMAGES_SHA256: str | None = None
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".gif", ".bmp"})

_CLASS_FOLDERS = {"cat": "cat", "cats": "cat", "dog": "dog", "dogs": "dog"}
_FLAT_NAME = re.compile(r"^(cat|dog)\.", re.IGNORECASE)
# Archives in the order they are tried within one place, and the folder each unzips to, which is used instead of the
# archive when someone has already unzipped it there.
_ARCHIVES = ("train.zip", "dogs-vs-cats.zip", PETIMAGES_ZIP)
_UNZIPPED = {"train": "train.zip", "PetImages": PETIMAGES_ZIP}
_MARKER = ".extracted.json"

GetFile = Callable[..., str]
KaggleRunner = Callable[[Sequence[str]], None]


class DatasetNotFoundError(FileNotFoundError):
    """The dataset is neither on this machine nor downloadable; the message lists what was tried."""


class UnsafeArchiveError(ValueError):
    """An archive member would be written outside the extraction folder (absolute path or ``..``)."""


def keras_home() -> Path:
    """Keras' own folder, as Keras finds it: ``$KERAS_HOME``, else ``~/.keras``."""
    return Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras").expanduser()


def dogs_vs_cats_cache() -> Path:
    """The user's download cache for this dataset, ``<Keras home>/datasets/dogs-vs-cats`` (not created here)."""
    return keras_home() / "datasets" / DOGS_VS_CATS


def extraction_dir() -> Path:
    """Where archives are unpacked: ``<work folder>/datasets/dogs-vs-cats`` (not created here)."""
    return work_dir() / "datasets" / DOGS_VS_CATS


def fresh_dir(parent: Path, prefix: str) -> Path:
    """A new, empty folder ``parent/<prefix><random>``, made with the usual permissions.

    Unlike tempfile.mkdtemp (mode 0700), the folder is readable by whoever may read ``parent``: it becomes the
    finished extraction or split by a rename, and must not end up private to whoever ran the course first.
    """
    while True:
        candidate = parent / f"{prefix}{os.urandom(4).hex()}"
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            continue


def _natural_key(name: str) -> list:
    # cat.2 sorts before cat.10, so the order (and with it a seeded draw) is the same on every file system.
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def _is_image_name(name: str) -> bool:
    # Hidden files include macOS' "._cat.1.jpg" resource forks, which are not images.
    return not name.startswith(".") and Path(name).suffix.lower() in IMAGE_SUFFIXES


def list_dogs_vs_cats(folder: str | os.PathLike) -> list[tuple[Path, str]]:
    """The images in a Dogs vs. Cats source folder as ``(path, class_name)`` pairs, class "cat" or "dog".

    Reads either layout: Kaggle's flat ``cat.N.jpg`` / ``dog.N.jpg``, or one folder per class (Microsoft's ``Cat/``
    and ``Dog/``; ``cats/`` and ``dogs/`` too, any case). Only files with an image suffix count, so ``Thumbs.db`` and
    read-me files are left out; whether a file really is an image is checked later, by the split. Sorted by class,
    then naturally by name. Raises ValueError when a class has two folders (``Cat/`` and ``cats/``), since which one
    is meant would be a guess.
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
    if class_folders:
        pairs = [
            (path, name)
            for name, sub in class_folders.items()
            for path in sub.iterdir()
            if _is_image_name(path.name) and path.is_file()
        ]
    else:
        pairs = [
            (path, match.group(1).lower())
            for path in entries
            if _is_image_name(path.name) and (match := _FLAT_NAME.match(path.name)) and path.is_file()
        ]
    return sorted(pairs, key=lambda pair: (pair[1], _natural_key(pair[0].name)))


def _image_root(folder: Path, depth: int = 2) -> Path | None:
    """``folder``, or the first folder up to ``depth`` levels below it, that holds images of both classes."""
    try:
        classes = {name for _, name in list_dogs_vs_cats(folder)}
    except (OSError, ValueError):
        return None
    if classes == set(DOGS_VS_CATS_CLASSES):
        return folder
    if depth > 0:
        subfolders = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith((".", "__MACOSX")))
        for sub in subfolders:
            found = _image_root(sub, depth - 1)
            if found is not None:
                return found
    return None


def _member_parts(name: str) -> tuple[str, ...]:
    """The path parts of an archive member, refusing any that would leave the extraction folder."""
    normalised = name.replace("\\", "/")
    path = PurePosixPath(normalised)
    if path.is_absolute() or ".." in path.parts or re.match(r"^[A-Za-z]:", normalised):
        raise UnsafeArchiveError(f"archive member {name!r} would be written outside the extraction folder")
    return path.parts


def _is_image_member(parts: tuple[str, ...]) -> bool:
    return bool(parts) and _is_image_name(parts[-1]) and not any(p.startswith(".") or p == "__MACOSX" for p in parts)


def _zip_fingerprint(archive: zipfile.ZipFile) -> str:
    # Names, CRCs and sizes from the central directory identify the contents cheaply, wherever the file was copied to.
    digest = hashlib.sha256()
    for info in sorted(archive.infolist(), key=lambda info: info.filename):
        digest.update(f"{info.filename}\t{info.CRC}\t{info.file_size}\n".encode())
    return digest.hexdigest()


def _zip_image_count(archive: Path) -> int:
    with zipfile.ZipFile(archive) as opened:
        members = [info for info in opened.infolist() if not info.is_dir()]
        return sum(1 for info in members if _is_image_member(_member_parts(info.filename)))


def _unpack_images(archive: zipfile.ZipFile, into: Path) -> None:
    """Write the image members of ``archive`` below ``into``; Kaggle's competition zip is opened down to the
    ``train.zip`` inside it (its ``test1.zip`` is unlabelled and not needed)."""
    members = [(info, _member_parts(info.filename)) for info in archive.infolist() if not info.is_dir()]
    images = [(info, parts) for info, parts in members if _is_image_member(parts)]
    if not images:
        inner = next((info for info, parts in members if parts[-1] == "train.zip"), None)
        if inner is not None:
            # A seekable copy on disk: seeking inside a compressed member re-reads it from the start every time.
            nested = into / ".train.zip"
            with archive.open(inner) as source, open(nested, "wb") as target:
                shutil.copyfileobj(source, target)
            with zipfile.ZipFile(nested) as opened:
                _unpack_images(opened, into)
            nested.unlink()
        return
    for info, parts in images:
        target = into.joinpath(*parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        with archive.open(info) as source, open(target, "wb") as out:
            shutil.copyfileobj(source, out)


def _finished_extraction(target: Path, fingerprint: str) -> Path | None:
    """The image folder of a complete extraction of the archive with ``fingerprint`` at ``target``, else None."""
    try:
        marker = json.loads((target / _MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(marker, dict):
        return None
    root = target / marker.get("root", "")
    return root if marker.get("fingerprint") == fingerprint and root.is_dir() else None


def _move_into_place(partial: Path, target: Path, fingerprint: str) -> None:
    try:
        if target.exists():
            if not (target / _MARKER).is_file():
                raise FileExistsError(
                    f"{target} exists but was not unpacked by the course (it has no {_MARKER}); move it away and retry"
                )
            # An extraction of an older version of the archive: ours to replace.
            stale = fresh_dir(target.parent, f".{target.name}.stale-")
            os.replace(target, stale / target.name)
            os.rename(partial, target)
            shutil.rmtree(stale, ignore_errors=True)
        else:
            os.rename(partial, target)
    except OSError:
        # Another process may have finished the same extraction first; then its result is as good as ours.
        if _finished_extraction(target, fingerprint) is None:
            raise
        shutil.rmtree(partial, ignore_errors=True)


def extract_archive(archive: str | os.PathLike, target: str | os.PathLike | None = None) -> Path:
    """Unzip a Dogs vs. Cats archive and return the folder of images inside the extraction.

    ``target`` defaults to ``extraction_dir() / <archive name without .zip>``. Only image files are unpacked, into a
    temporary sibling folder that is renamed to ``target`` once complete and carries a marker naming the archive's
    contents: an interrupted run therefore never leaves a folder that passes for finished, and an unchanged archive
    is not unpacked twice. Raises UnsafeArchiveError (before writing anything) when a member would land outside
    ``target``, zipfile.BadZipFile for a broken archive, and ValueError when it holds no cat and dog images.
    """
    archive = Path(archive).resolve()
    target = Path(target) if target is not None else extraction_dir() / archive.name.removesuffix(".zip")
    with zipfile.ZipFile(archive) as opened:
        fingerprint = _zip_fingerprint(opened)
        found = _finished_extraction(target, fingerprint)
        if found is not None:
            return found
        for info in opened.infolist():
            _member_parts(info.filename)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = fresh_dir(target.parent, f".{target.name}.partial-")
        try:
            _unpack_images(opened, partial)
            root = _image_root(partial)
            if root is None:
                raise ValueError(f"{archive} holds neither cat.N.jpg / dog.N.jpg images nor Cat/ and Dog/ folders")
            marker = {"archive": str(archive), "fingerprint": fingerprint, "root": root.relative_to(partial).as_posix()}
            (partial / _MARKER).write_text(json.dumps(marker, indent=1), encoding="utf-8")
            _move_into_place(partial, target, fingerprint)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
    found = _finished_extraction(target, fingerprint)
    assert found is not None, f"extraction into {target} vanished"
    return found


def _look_in(place: Path) -> tuple[Path | None, str]:
    """The images in ``place`` (an unzipped folder, else an archive unpacked now), or None and what was found."""
    if not place.is_dir():
        return None, f"{place}: no such folder"
    notes = []
    for folder_name, archive_name in _UNZIPPED.items():
        folder = place / folder_name
        if not folder.is_dir():
            continue
        root = _image_root(folder, depth=1)
        if root is None:
            notes.append(f"{folder} holds no cat and dog images")
            continue
        archive = place / archive_name
        try:
            unfinished = archive.is_file() and len(list_dogs_vs_cats(root)) < _zip_image_count(archive)
        except (OSError, ValueError, zipfile.BadZipFile):
            unfinished = False
        if unfinished:
            notes.append(f"{folder} has fewer images than {archive_name} beside it (an unfinished unzip?)")
            continue
        return root, ""
    for name in _ARCHIVES:
        archive = place / name
        if not archive.is_file():
            continue
        try:
            return extract_archive(archive), ""
        except (OSError, ValueError, zipfile.BadZipFile) as error:
            notes.append(f"{archive} could not be used: {error}")
            warnings.warn(f"{archive} could not be used: {error}", stacklevel=3)
    if not notes:
        notes.append(f"{place}: no train/, PetImages/, {', '.join(_ARCHIVES)}")
    return None, "; ".join(notes)


def kaggle_credentials() -> str | None:
    """Where the Kaggle API will find credentials (a description), or None when it will find none.

    Checks what the ``kaggle`` package reads: ``KAGGLE_USERNAME`` with ``KAGGLE_KEY``, ``KAGGLE_API_TOKEN``, and
    ``kaggle.json`` in ``$KAGGLE_CONFIG_DIR``, ``~/.kaggle`` or ``~/.config/kaggle``.
    """
    if os.environ.get("KAGGLE_USERNAME") and os.environ.get("KAGGLE_KEY"):
        return "KAGGLE_USERNAME and KAGGLE_KEY"
    if os.environ.get("KAGGLE_API_TOKEN"):
        return "KAGGLE_API_TOKEN"
    config = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    folders = [os.environ.get("KAGGLE_CONFIG_DIR"), Path.home() / ".kaggle", config / "kaggle"]
    for folder in filter(None, folders):
        for name in ("kaggle.json", "access_token"):
            if (Path(folder) / name).is_file():
                return str(Path(folder) / name)
    return None


def run_kaggle(args: Sequence[str]) -> None:
    """Run the Kaggle command line with ``args``.

    Raises FileNotFoundError when neither the ``kaggle`` command nor the package is installed, and RuntimeError with
    the last lines of its output when it fails (e.g. "403 - Forbidden" before the competition rules are accepted).
    """
    executable = shutil.which("kaggle")
    if executable:
        command = [executable, *args]
    elif importlib.util.find_spec("kaggle") is not None:
        # Installed without its script on PATH (pip --user, some notebooks): kaggle.cli.main is that script.
        command = [sys.executable, "-c", "from kaggle.cli import main; main()", *args]
    else:
        raise FileNotFoundError("the kaggle package is not installed (pip install kaggle)")
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        lines = (done.stderr.strip() or done.stdout.strip()).splitlines()
        raise RuntimeError(" / ".join(lines[-3:]) or f"kaggle exited with status {done.returncode}")


def _download_with_kaggle(runner: KaggleRunner) -> tuple[Path | None, str]:
    credentials = kaggle_credentials()
    if credentials is None:
        return None, (
            "Kaggle API: no credentials. Create a token at https://www.kaggle.com/settings (API > Create New Token) "
            "and put kaggle.json in ~/.kaggle/, or set KAGGLE_USERNAME and KAGGLE_KEY; the competition rules must "
            f"also be accepted at {KAGGLE_RULES_URL}"
        )
    cache = dogs_vs_cats_cache()
    cache.mkdir(parents=True, exist_ok=True)
    # Downloaded into a private folder and moved when done, so an interrupted download is never taken for train.zip.
    landing = fresh_dir(cache, ".kaggle-download-")
    try:
        try:
            runner(["competitions", "download", "-c", KAGGLE_COMPETITION, "-f", "train.zip", "-p", str(landing)])
        except FileNotFoundError as error:
            return None, f"Kaggle API: {error}"
        except Exception as error:  # whatever the runner raises, the other sources are still worth trying
            return None, (
                f"Kaggle API (credentials: {credentials}) failed: {error}. A 403 / Forbidden means the competition "
                f"rules are not accepted yet: sign in and accept them at {KAGGLE_RULES_URL}"
            )
        for name in ("train.zip", "dogs-vs-cats.zip"):
            if (landing / name).is_file():
                os.replace(landing / name, cache / name)
                try:
                    return extract_archive(cache / name), ""
                except (OSError, ValueError, zipfile.BadZipFile) as error:
                    return None, f"Kaggle API: the downloaded {cache / name} could not be used: {error}"
        return None, "Kaggle API: the download finished but left no train.zip"
    finally:
        shutil.rmtree(landing, ignore_errors=True)


def _keras_get_file(**kwargs) -> str:
    import keras  # imported here: loading TensorFlow takes seconds, and most runs never download

    return keras.utils.get_file(**kwargs)


def _download_petimages(get_file: GetFile) -> tuple[Path | None, str]:
    try:
        archive = Path(
            get_file(
                fname=PETIMAGES_ZIP,
                origin=PETIMAGES_URL,
                file_hash=PETIMAGES_SHA256,
                cache_dir=str(keras_home()),
                cache_subdir=f"datasets/{DOGS_VS_CATS}",
            )
        )
    except Exception as error:  # get_file raises plain Exception for network failures
        return None, f"Microsoft PetImages download ({PETIMAGES_URL}) failed: {error}"
    try:
        return extract_archive(archive), ""
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        return None, f"Microsoft PetImages: {archive} could not be unpacked ({error}); delete it and run again"


def find_dogs_vs_cats(
    download: bool = True, *, kaggle_runner: KaggleRunner | None = None, get_file: GetFile | None = None
) -> Path:
    """A folder of raw Dogs vs. Cats images, in either layout that :func:`list_dogs_vs_cats` reads.

    Looks, in order, in ``$COURSE_DATA_DIR/dogs-vs-cats/`` and then in Keras' cache ``<Keras home>/datasets/
    dogs-vs-cats/``, each for an unzipped ``train/`` or ``PetImages/`` folder, then ``train.zip``, Kaggle's full
    ``dogs-vs-cats.zip`` or Microsoft's ``kagglecatsanddogs_5340.zip`` (unpacked into :func:`extraction_dir`). Then,
    when ``download`` is true, it downloads: Kaggle's ``train.zip`` through the Kaggle API (needs credentials and
    the competition rules accepted), else Microsoft's PetImages archive through ``keras.utils.get_file``, both into
    Keras' cache. ``kaggle_runner`` (default :func:`run_kaggle`) and ``get_file`` (default
    ``keras.utils.get_file``) are the only calls that touch the network; tests pass stand-ins.

    Raises DatasetNotFoundError, listing everything tried, when nothing worked.
    """
    tried = []
    places = [dogs_vs_cats_cache()]
    local = data_dir()
    if local is None:
        tried.append(f"${DATA_DIR_ENV}: not set")
    else:
        places.insert(0, local / DOGS_VS_CATS)
    for place in places:
        found, note = _look_in(place)
        if found is not None:
            return found
        tried.append(note)
    if download:
        for attempt in (
            lambda: _download_with_kaggle(kaggle_runner or run_kaggle),
            lambda: _download_petimages(get_file or _keras_get_file),
        ):
            found, note = attempt()
            if found is not None:
                return found
            tried.append(note)
    else:
        tried.append("downloads: not allowed (download=False)")
    raise DatasetNotFoundError(
        "No Dogs vs. Cats images were found on this machine, and none could be downloaded.\n"
        f"Put Kaggle's train.zip (train/cat.N.jpg, train/dog.N.jpg) in ${DATA_DIR_ENV}/{DOGS_VS_CATS}/ or in "
        f"{dogs_vs_cats_cache()}/ and run again.\nTried, in order:\n" + "\n".join(f"  - {line}" for line in tried)
    )


SMALL_SPLIT = "dogs-vs-cats-small"


def dogs_vs_cats_split_dir(must_exist: bool = False) -> Path:
    """The course's train/validation/test split of Dogs vs. Cats: ``<work folder>/dogs-vs-cats-small``.

    Notebook 04 makes it; with ``must_exist`` a missing split raises FileNotFoundError saying so.
    """
    folder = work_dir() / SMALL_SPLIT
    if must_exist and not (folder / "split.json").is_file():
        raise FileNotFoundError(f"{folder} holds no finished split: run notebook 04 (04_dataset_split) first, "
                                f"or `python -m course_utils.split SRC {folder}`")
    return folder
