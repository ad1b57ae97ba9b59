"""Kaggle's Dogs vs. Cats photos for notebooks 04-08: finding them, downloading them, unpacking them.

The raw photos live in ``<data folder>/dogs-vs-cats/``: Kaggle's ``train.zip`` (or the competition's
``dogs-vs-cats.zip``, or Microsoft's ``kagglecatsanddogs_5340.zip``), or one of those already unzipped. Archives are
unpacked into the work folder (never next to the source, which may be read-only). The two layouts they hold
(Kaggle's flat ``cat.N.jpg`` / ``dog.N.jpg``, Microsoft's ``Cat/`` and ``Dog/`` folders) are both read by
:func:`course_utils.photos.list_photos`. Notebook 04 splits them into :func:`split_dir` with :mod:`course_utils.split`.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
import warnings
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path, PurePosixPath

from . import download as downloading
from . import split
from .files import fresh_dir, remove_leftovers, replace_folder
from .paths import DATA_DIR_ENV, data_dir, work_dir
from .photos import CLASSES, is_image_name, list_photos, photo_class

NAME = "dogs-vs-cats"
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
SPLIT_NAME = "dogs-vs-cats-small"
# Archives in the order they are tried, and the folder each unzips to, which is used instead of the archive when
# someone has already unzipped it there.
ARCHIVES = ("train.zip", "dogs-vs-cats.zip", PETIMAGES_ZIP)
_UNZIPPED = {"train": "train.zip", "PetImages": PETIMAGES_ZIP}
_MARKER = ".extracted.json"

KaggleRunner = Callable[[Sequence[str]], None]
Fetch = Callable[..., Path]


class DatasetNotFoundError(FileNotFoundError):
    """The photos are neither on this machine nor downloadable; the message lists what was tried."""


def source_dir() -> Path:
    """Where the raw photos (an archive or an unzipped folder) belong: ``<data folder>/dogs-vs-cats``."""
    return data_dir() / NAME


def split_dir(must_exist: bool = False) -> Path:
    """The course's train/validation/test split of the photos: ``<work folder>/dogs-vs-cats-small``.

    Notebook 04 makes it. With ``must_exist`` it must be the course's finished split (see
    :func:`course_utils.split.check_course_split`): a missing split raises FileNotFoundError, another or an
    unfinished one split.SplitError, each saying what to do.
    """
    folder = work_dir() / SPLIT_NAME
    if must_exist:
        split.check_course_split(folder)
    return folder


def course_split(make: bool = True) -> Path:
    """The course's finished split, ready to train on: :func:`split_dir`, checked.

    A notebook opened on its own (a fresh Colab runtime, a folder outside the repository) finds no split there.
    With ``make`` it then makes the course's split itself, exactly as notebook 04 does (same photos, counts and
    seed, so the same files land in the same parts), from the photos :func:`find_source` finds or downloads, and
    says so in one line. Another or an unfinished split in that folder is never replaced: split.SplitError says
    what to do.
    """
    folder = split_dir()
    try:
        split.check_course_split(folder)
    except FileNotFoundError:
        if not make:
            raise
        started = time.perf_counter()
        result = split.make_split(find_source(), folder, **split.COURSE_REQUEST)
        print(f"no split in {folder.name}/ yet: made the course's split, the photos notebook 04 chooses "
              f"({sum(n for counts in result.counts.values() for n in counts.values()):,} photos, "
              f"{time.perf_counter() - started:.0f} s)")
    return folder


# --- unpacking -----------------------------------------------------------------------------------------------------


def _image_root(folder: Path, depth: int = 2) -> Path | None:
    """``folder``, or the first folder up to ``depth`` levels below it, that holds photos of both classes."""
    try:
        classes = {name for _, name in list_photos(folder)}
    except (OSError, ValueError):
        return None
    if classes == set(CLASSES):
        return folder
    if depth > 0:
        subfolders = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith((".", "__MACOSX")))
        for sub in subfolders:
            found = _image_root(sub, depth - 1)
            if found is not None:
                return found
    return None


def _is_image_member(info: zipfile.ZipInfo) -> bool:
    parts = PurePosixPath(info.filename.replace("\\", "/")).parts
    return (not info.is_dir() and bool(parts) and is_image_name(parts[-1])
            and not any(p.startswith(".") or p == "__MACOSX" for p in parts))


def _zip_fingerprint(archive: zipfile.ZipFile) -> str:
    # Names, CRCs and sizes from the central directory identify the contents cheaply, wherever the file was copied to.
    digest = hashlib.sha256()
    for info in sorted(archive.infolist(), key=lambda info: info.filename):
        digest.update(f"{info.filename}\t{info.CRC}\t{info.file_size}\n".encode())
    return digest.hexdigest()


def archive_photo_counts(archive: str | os.PathLike) -> dict[str, int] | None:
    """Photos per class in an archive, read from its directory without unpacking; None for Kaggle's competition
    zip, whose photos sit in a ``train.zip`` inside it. Raises zipfile.BadZipFile for a broken archive."""
    counts = dict.fromkeys(CLASSES, 0)
    with zipfile.ZipFile(archive) as opened:
        infos = opened.infolist()
    if any(PurePosixPath(info.filename).name == "train.zip" for info in infos):
        return None
    for info in infos:
        if _is_image_member(info) and (label := photo_class(PurePosixPath(info.filename.replace("\\", "/")).parts)):
            counts[label] += 1
    return counts


def _unpack_images(archive: zipfile.ZipFile, into: Path) -> None:
    """Extract the image members of ``archive`` below ``into``; Kaggle's competition zip is opened down to the
    ``train.zip`` inside it (its ``test1.zip`` is unlabelled and not needed). zipfile drops ``..``, drive letters
    and leading slashes from member names, so nothing lands outside ``into``."""
    images = [info for info in archive.infolist() if _is_image_member(info)]
    if images:
        for info in images:
            archive.extract(info, into)
        return
    inner = next((info for info in archive.infolist() if PurePosixPath(info.filename).name == "train.zip"), None)
    if inner is not None:
        # A seekable copy on disk: seeking inside a compressed member re-reads it from the start every time.
        nested = Path(archive.extract(inner, into))
        with zipfile.ZipFile(nested) as opened:
            _unpack_images(opened, into)
        nested.unlink()


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
    if target.exists() and not (target / _MARKER).is_file():
        raise FileExistsError(
            f"{target} exists but was not unpacked by the course (it has no {_MARKER}); move it away and retry")
    try:
        replace_folder(partial, target)  # an existing target is an extraction of an older archive: ours to replace
    except OSError:
        # Another process may have finished the same extraction first; then its result is as good as ours.
        if _finished_extraction(target, fingerprint) is None:
            raise
        shutil.rmtree(partial, ignore_errors=True)


def _extract(archive: str | os.PathLike, target: str | os.PathLike | None = None) -> Path:
    """Unzip a Dogs vs. Cats archive and return the folder of photos inside the extraction.

    ``target`` defaults to ``<work folder>/datasets/dogs-vs-cats/<archive name without .zip>``. Only image files are
    unpacked, into a hidden sibling folder that is renamed to ``target`` once complete and carries a marker naming
    the archive's contents: an interrupted run therefore never leaves a folder that passes for finished (the next
    run deletes its leftovers), and an unchanged archive is not unpacked twice. Raises zipfile.BadZipFile for a broken archive
    and ValueError when it holds no cat and dog photos.
    """
    archive = Path(archive).resolve()
    target = Path(target) if target is not None else work_dir() / "datasets" / NAME / archive.name.removesuffix(".zip")
    with zipfile.ZipFile(archive) as opened:
        fingerprint = _zip_fingerprint(opened)
        found = _finished_extraction(target, fingerprint)
        if found is not None:
            return found
        target.parent.mkdir(parents=True, exist_ok=True)
        remove_leftovers(target.parent, target.name)
        partial = fresh_dir(target.parent, f".{target.name}.partial-")
        try:
            _unpack_images(opened, partial)
            root = _image_root(partial)
            if root is None:
                raise ValueError(f"{archive} holds neither cat.N.jpg / dog.N.jpg photos nor Cat/ and Dog/ folders")
            marker = {"archive": archive.name, "fingerprint": fingerprint, "root": root.relative_to(partial).as_posix()}
            (partial / _MARKER).write_text(json.dumps(marker, indent=1), encoding="utf-8")
            _move_into_place(partial, target, fingerprint)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
    found = _finished_extraction(target, fingerprint)
    if found is None:
        raise FileNotFoundError(f"the extraction into {target} vanished while it was being used")
    return found


# --- finding -------------------------------------------------------------------------------------------------------


def local_source(place: Path | None = None) -> Path | None:
    """The unzipped folder or archive of photos in ``place`` (default :func:`source_dir`) that :func:`find_source`
    would use, without unpacking anything; None when there is none."""
    place = source_dir() if place is None else place
    for folder_name in _UNZIPPED:
        if (place / folder_name).is_dir():
            return place / folder_name
    return next((place / name for name in ARCHIVES if (place / name).is_file()), None)


def _look_in(place: Path) -> tuple[Path | None, str]:
    """The photos in ``place`` (an unzipped folder, else an archive unpacked now), or None and what was found."""
    if not place.is_dir():
        return None, f"{place}: no such folder"
    notes = []
    for folder_name, archive_name in _UNZIPPED.items():
        folder = place / folder_name
        if not folder.is_dir():
            continue
        root = _image_root(folder, depth=1)
        if root is None:
            notes.append(f"{folder} holds no cat and dog photos")
            continue
        archive = place / archive_name
        try:
            in_archive = sum((archive_photo_counts(archive) or {}).values()) if archive.is_file() else 0
            unfinished = len(list_photos(root)) < in_archive
        except (OSError, ValueError, zipfile.BadZipFile):
            unfinished = False
        if unfinished:
            notes.append(f"{folder} has fewer photos than {archive_name} beside it (an unfinished unzip?)")
            continue
        return root, ""
    for name in ARCHIVES:
        archive = place / name
        if not archive.is_file():
            continue
        try:
            return _extract(archive), ""
        except (OSError, ValueError, zipfile.BadZipFile) as error:
            notes.append(f"{archive} could not be used: {error}")
            warnings.warn(f"{archive} could not be used: {error}", stacklevel=3)
    if not notes:
        notes.append(f"{place}: no train/, PetImages/, {', '.join(ARCHIVES)}")
    return None, "; ".join(notes)


def find_source(
    download: bool = True, *, kaggle_runner: KaggleRunner | None = None, fetch: Fetch | None = None
) -> Path:
    """A folder of raw Dogs vs. Cats photos, in either layout that :func:`list_photos` reads.

    Looks in :func:`source_dir` for an unzipped ``train/`` or ``PetImages/`` folder, then ``train.zip``, Kaggle's
    full ``dogs-vs-cats.zip`` or Microsoft's ``kagglecatsanddogs_5340.zip`` (unpacked into the work folder).
    When there is none and ``download`` is true, it downloads one there first, see :func:`download_archive`.

    Raises DatasetNotFoundError, listing everything tried, when nothing worked.
    """
    found, note = _look_in(source_dir())
    if found is not None:
        return found
    tried = [note]
    if download:
        try:
            return _extract(download_archive(kaggle_runner=kaggle_runner, fetch=fetch))
        except DatasetNotFoundError as error:
            tried.extend(error.tried)
            raise _not_found(tried, error.offline) from None
        except (OSError, ValueError, zipfile.BadZipFile) as error:
            tried.append(f"the downloaded archive could not be used: {error}; delete it and run again")
    else:
        tried.append("downloads: not allowed (download=False)")
    raise _not_found(tried)


def _not_found(tried: list[str], offline: bool = False) -> DatasetNotFoundError:
    error = DatasetNotFoundError(
        "No Dogs vs. Cats photos were found on this machine, and none could be downloaded.\n"
        f"Put Kaggle's train.zip (train/cat.N.jpg, train/dog.N.jpg) in {source_dir()}/ (or point ${DATA_DIR_ENV} "
        "at a folder whose dogs-vs-cats/ holds it) and run again.\nTried, in order:\n"
        + "\n".join(f"  - {line}" for line in tried)
    )
    error.tried, error.offline = tried, offline
    return error


# --- downloading ---------------------------------------------------------------------------------------------------


def _kaggle_credentials() -> str | None:
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


def _run_kaggle(args: Sequence[str]) -> None:
    """Run the Kaggle command line with ``args`` (its progress shows).

    Raises FileNotFoundError when neither the ``kaggle`` command nor the package is installed, and RuntimeError when
    it fails (e.g. "403 - Forbidden" before the competition rules are accepted).
    """
    executable = shutil.which("kaggle")
    if executable:
        command = [executable, *args]
    elif importlib.util.find_spec("kaggle") is not None:
        # Installed without its script on PATH (pip --user, some notebooks): kaggle.cli.main is that script.
        command = [sys.executable, "-c", "from kaggle.cli import main; main()", *args]
    else:
        raise FileNotFoundError("the kaggle package is not installed (pip install kaggle)")
    done = subprocess.run(command, stderr=subprocess.PIPE, text=True, check=False)
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        raise RuntimeError(" / ".join(lines[-3:]) or f"kaggle exited with status {done.returncode}")


def _with_kaggle(runner: KaggleRunner, place: Path) -> tuple[Path | None, str]:
    credentials = _kaggle_credentials()
    if credentials is None:
        return None, (
            "Kaggle API: no credentials. Create a token at https://www.kaggle.com/settings (API > Create New Token) "
            "and put kaggle.json in ~/.kaggle/, or set KAGGLE_USERNAME and KAGGLE_KEY; the competition rules must "
            f"also be accepted at {KAGGLE_RULES_URL}"
        )
    remove_leftovers(place, "kaggle")
    # Downloaded into a hidden folder and moved when done, so an interrupted download is never taken for train.zip.
    landing = fresh_dir(place, ".kaggle.partial-")
    try:
        try:
            runner(["competitions", "download", "-c", KAGGLE_COMPETITION, "-f", "train.zip", "-p", str(landing)])
        except FileNotFoundError as error:
            return None, f"Kaggle API: {error}"
        except Exception as error:  # whatever the runner raises, the other source is still worth trying
            return None, (
                f"Kaggle API (credentials: {credentials}) failed: {error}. A 403 / Forbidden means the competition "
                f"rules are not accepted yet: sign in and accept them at {KAGGLE_RULES_URL}"
            )
        for name in ("train.zip", "dogs-vs-cats.zip"):
            if (landing / name).is_file():
                os.replace(landing / name, place / name)
                return place / name, ""
        return None, "Kaggle API: the download finished but left no train.zip"
    finally:
        shutil.rmtree(landing, ignore_errors=True)


def download_archive(*, kaggle_runner: KaggleRunner | None = None, fetch: Fetch | None = None) -> Path:
    """Download the photos into :func:`source_dir` and return the archive (not unpacked).

    Tries Kaggle's ``train.zip`` (about 545 MB) through the Kaggle API, which needs credentials and the competition
    rules accepted, then Microsoft's PetImages archive (about 790 MB; resumable). ``kaggle_runner`` (default
    :func:`_run_kaggle`) and ``fetch`` (default :func:`course_utils.download.download`) are the only calls that
    touch the network; tests pass stand-ins. Raises DatasetNotFoundError listing what was tried.
    """
    place = source_dir()
    place.mkdir(parents=True, exist_ok=True)
    tried = []
    archive, note = _with_kaggle(kaggle_runner or _run_kaggle, place)
    if archive is not None:
        return archive
    tried.append(note)
    try:
        return (fetch or downloading.download)(PETIMAGES_URL, place / PETIMAGES_ZIP, sha256=PETIMAGES_SHA256)
    except (OSError, ValueError) as error:
        tried.append(f"Microsoft PetImages download failed: {error}")
        offline = getattr(error, "offline", False)
    if not any(place.iterdir()):
        place.rmdir()  # made for the download above; an empty folder would only mislead
    raise _not_found(tried, offline)
