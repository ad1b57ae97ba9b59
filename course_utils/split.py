"""Split Dogs vs. Cats images into the book's train / validation / test folders.

    python -m course_utils.split SRC DST [--train 1000] [--validation 500] [--test 1000] [--seed 1337] [--force]

SRC is a folder in either layout that :func:`course_utils.photos.list_photos` reads (Kaggle's ``cat.N.jpg`` /
``dog.N.jpg``, or ``Cat/`` and ``Dog/`` folders). DST receives ``train/``, ``validation/`` and ``test/``, each with
``cat/`` and ``dog/`` holding the requested number of images per class, plus ``manifest.csv`` (file, class, split,
sha256, source) and ``split.json`` (the request, used to recognise a finished split). The defaults are the book's
1,000 / 500 / 1,000; the first edition's split is ``--test 500``. With the same seed both editions share the same
train and validation images, because images are dealt to train, then validation, then test.

Identical images (the same bytes under two names, which the full Kaggle and PetImages sets contain) never land in
two splits: an image whose bytes equal one already dealt is skipped and listed as a duplicate.

Safety: SRC is only read. The split is built in a hidden sibling of DST (``.DST.partial-<pid>-<random>``) and renamed
to DST when complete, so an interrupted run leaves no half-made DST; the hidden leftovers of a run that was killed
are removed by the next run (only those whose process is gone). An existing DST is used as it is when it is the
finished split of the same request (same counts, seed and source images), a fast no-op; an empty folder is replaced;
a split of the same request made by an older version of this tool is rebuilt; anything else is refused unless
``--force``. When DST is replaced, the old DST is deleted only when it is exactly a split this tool made (every file
listed in its manifest with the same sha256, nothing added), and otherwise moved aside to
``DST.backup-<date>-<time>``, never deleted.

The course's own split is the default request (:data:`COURSE_REQUEST`) in the folder the later notebooks read;
:func:`check_course_split` is how they make sure it is that split and no other.
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import hashlib
import io
import json
import os
import random
import shutil
import sys
import time
import warnings
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .files import fresh_dir, remove_leftovers, replace_folder, sha256_of
from .photos import CLASSES, list_photos

SPLITS = ("train", "validation", "test")
DEFAULT_SEED = 1337
MANIFEST_NAME = "manifest.csv"
REQUEST_NAME = "split.json"
MANIFEST_FIELDS = ("file", "class", "split", "sha256", "source")
# Pillow's names for what tf.io.decode_image reads (it goes by content, not suffix). MPO is a camera JPEG with extra
# pictures appended, which TensorFlow decodes as the JPEG it starts with.
TF_IMAGE_FORMATS = frozenset({"JPEG", "MPO", "PNG", "GIF", "BMP"})
# Part of every request: bump it when the selection rule changes, so splits made by the old rule stop being reused.
# 2: identical images (same sha256) are dealt only once.
_RULE_VERSION = 2
# The split notebooks 05-08 train on: the book's 1,000 / 500 / 1,000 images per class, with the course's seed.
COURSE_REQUEST = {"train": 1000, "validation": 500, "test": 1000, "seed": DEFAULT_SEED}
_REQUEST_LABELS = {"counts": "counts", "seed": "seed", "source_fingerprint": "source images", "rule": "tool version"}


class SplitError(Exception):
    """A split request that cannot be carried out; the message says why and what to do."""


@dataclass(frozen=True)
class SplitResult:
    """What :func:`make_split` did.

    ``counts[split][class]`` is the number of images in each folder, ``skipped`` the ``(source file, reason)`` pairs
    of drawn files that do not decode (never copied), ``duplicates`` the ``(source file, identical file)`` pairs of
    drawn files whose bytes equal an image already dealt (never copied), ``reused`` whether ``destination`` already
    held this split, ``backup`` where an old destination that was not this tool's untouched output was moved, and
    ``notes`` what else happened (leftovers of an interrupted run removed, an older split rebuilt).
    """

    destination: Path
    counts: dict[str, dict[str, int]]
    skipped: tuple[tuple[str, str], ...]
    manifest: Path
    reused: bool = False
    backup: Path | None = None
    duplicates: tuple[tuple[str, str], ...] = ()
    notes: tuple[str, ...] = ()


@contextmanager
def _strict_quiet_pillow() -> Iterator[None]:
    # Global switches, so they are set once around a whole run rather than inside threads. A truncated file must count
    # as broken even if someone let Pillow pad such files (TensorFlow rejects them), and EXIF or size warnings about
    # files that do decode would flood the output. Pillow is imported here, not with the module: the data command
    # imports this module (through dogs_vs_cats) on the base Python, which has no Pillow.
    from PIL import ImageFile

    saved = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = saved


def _problem(data: bytes) -> str | None:
    """None when ``data`` is a complete image TensorFlow decodes (JPEG, PNG, GIF, BMP), else the reason why not; to be
    called inside :func:`_strict_quiet_pillow`."""
    from PIL import Image  # not with the module: see _strict_quiet_pillow

    if not data:
        return "empty file"
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format not in TF_IMAGE_FORMATS:
                return f"{image.format} is not a format TensorFlow decodes"
            image.load()
    except Exception as error:  # Pillow raises OSError, SyntaxError, ValueError... for broken files
        return f"does not decode: {error}"
    return None


def _checked_counts(**counts: int) -> dict[str, int]:
    for split, n in counts.items():
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise SplitError(f"the {split} count must be a whole number >= 0, not {n!r}")
    if sum(counts.values()) == 0:
        raise SplitError("all counts are 0: there is nothing to split")
    return counts


def _source_images(source: Path) -> dict[str, list[Path]]:
    if not source.is_dir():
        raise SplitError(f"source folder {source} does not exist" if not source.exists() else f"{source} is a file")
    try:
        pairs = list_photos(source)
    except (OSError, ValueError) as error:
        raise SplitError(f"cannot read source folder {source}: {error}") from None
    images: dict[str, list[Path]] = {name: [] for name in CLASSES}
    for path, name in pairs:
        images[name].append(path)
    return images


def _fingerprint(source: Path, images: dict[str, list[Path]]) -> str:
    # Names and sizes stand for the contents: re-hashing thousands of images would make a re-run slow.
    digest = hashlib.sha256()
    for name in CLASSES:
        for path in images[name]:
            digest.update(f"{name}\t{path.relative_to(source).as_posix()}\t{path.stat().st_size}\n".encode())
    return digest.hexdigest()


def _read_request(folder: Path) -> dict | None:
    try:
        recorded = json.loads((folder / REQUEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return recorded if isinstance(recorded, dict) else None


def _read_manifest(folder: Path) -> list[dict[str, str]] | None:
    try:
        with open(folder / MANIFEST_NAME, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except (OSError, ValueError, csv.Error):
        return None
    return rows if all(set(MANIFEST_FIELDS) <= row.keys() for row in rows) else None


def _count(rows: list[dict[str, str]]) -> dict[str, dict[str, int]]:
    counts = {split: {name: 0 for name in CLASSES} for split in SPLITS}
    for row in rows:
        counts.setdefault(row["split"], {}).setdefault(row["class"], 0)
        counts[row["split"]][row["class"]] += 1
    return counts


def _finished(destination: Path, request: dict) -> SplitResult | None:
    """The result recorded in ``destination`` when it is the complete split of ``request``, else None."""
    recorded = _read_request(destination)
    rows = _read_manifest(destination)
    if recorded is None or recorded.get("request") != request or rows is None:
        return None
    counts = _count(rows)
    if counts != {split: {name: request["counts"][split] for name in CLASSES} for split in SPLITS}:
        return None
    # Existence only: hashing every file again is what a re-run must not spend time on.
    if not all((destination / row["file"]).is_file() for row in rows):
        return None
    skipped = tuple((str(path), str(reason)) for path, reason in recorded.get("skipped", []))
    duplicates = tuple((str(path), str(same)) for path, same in recorded.get("duplicates", []))
    return SplitResult(destination, counts, skipped, destination / MANIFEST_NAME, reused=True, duplicates=duplicates)


def _older_version_of(destination: Path, request: dict) -> bool:
    """True when ``destination`` records the same request as ``request``, made by an older rule of this tool."""
    recorded = (_read_request(destination) or {}).get("request")
    if not isinstance(recorded, dict) or not isinstance(recorded.get("rule"), int):
        return False
    return recorded["rule"] < request["rule"] and {**recorded, "rule": request["rule"]} == request


def _refusal(destination: Path, request: dict) -> str:
    recorded = _read_request(destination)
    if recorded is None:
        what = f"exists and is not a split made by this tool (it has no {REQUEST_NAME})"
    elif recorded.get("request") != request:
        old = recorded.get("request") or {}
        differences = [label for key, label in _REQUEST_LABELS.items() if old.get(key) != request[key]]
        what = f"holds a different split (other {', '.join(differences)})"
    else:
        what = "holds this split, but incomplete (files are missing or its manifest is damaged)"
    return (
        f"{destination} {what}. Choose another destination, or use --force (force=True): the old folder is then "
        f"deleted only if it is exactly a split made by this tool, and otherwise moved aside to "
        f"{destination.name}.backup-<date>-<time>."
    )


def _untouched_own_split(folder: Path) -> bool:
    """True when every file in ``folder`` is this tool's: its manifest and request, or listed there with that sha256."""
    rows = _read_manifest(folder)
    if rows is None or _read_request(folder) is None:
        return False
    expected = {row["file"]: row["sha256"] for row in rows}
    for root, dirs, files in os.walk(folder):
        if any((Path(root) / name).is_symlink() for name in dirs + files):
            return False
        for path in (Path(root) / name for name in files):
            relative = path.relative_to(folder).as_posix()
            if relative in (MANIFEST_NAME, REQUEST_NAME):
                continue
            if relative not in expected or sha256_of(path) != expected[relative]:
                return False
    return True


def _backup_path(destination: Path) -> Path:
    stem = f"{destination.name}.backup-{time.strftime('%Y%m%d-%H%M%S')}"
    candidate, n = destination.with_name(stem), 2
    while candidate.exists():
        candidate, n = destination.with_name(f"{stem}-{n}"), n + 1
    return candidate


def _is_empty_dir(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink() and not any(path.iterdir())


def _check_file(path: Path) -> tuple[str | None, str]:
    """``(problem, sha256)`` for one source file; problem is None when it is a usable image."""
    try:
        data = path.read_bytes()
    except OSError as error:
        return f"cannot be read: {error}", ""
    return _problem(data), hashlib.sha256(data).hexdigest()


def _deal(
    source: Path, images: dict[str, list[Path]], counts: dict[str, int], seed: int, into: Path
) -> tuple[list[dict[str, str]], list[tuple[str, str]], list[tuple[str, str]]]:
    """Copy the drawn images into ``into``; return the manifest rows, the skipped files and the duplicates."""
    rows: list[dict[str, str]] = []
    skipped: list[tuple[str, str]] = []
    duplicates: list[tuple[str, str]] = []
    dealt: dict[str, str] = {}  # sha256 -> source file, over both classes: a photo filed as cat and dog is one photo
    # Pillow decodes without holding the GIL, so threads use every core; results are taken in draw order, which
    # keeps the split independent of timing.
    with _strict_quiet_pillow(), ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        for name in CLASSES:
            slots = [split for split in SPLITS for _ in range(counts[split])]
            # One generator per class, seeded by a string (hashed with SHA-512, stable across runs and machines),
            # so the cats drawn do not depend on how many dogs there are.
            order = random.Random(f"{seed}/{name}").sample(images[name], len(images[name]))
            filled = drawn = 0
            while filled < len(slots) and drawn < len(order):
                # Exactly as many as still needed: a broken file costs one more round, not a decode of everything.
                batch = order[drawn : drawn + len(slots) - filled]
                drawn += len(batch)
                for path, (problem, digest) in zip(batch, pool.map(_check_file, batch)):
                    relative = path.relative_to(source).as_posix()
                    if problem is not None:
                        skipped.append((relative, problem))
                        continue
                    if digest in dealt:
                        duplicates.append((relative, dealt[digest]))
                        continue
                    dealt[digest] = relative
                    split = slots[filled]
                    filled += 1
                    shutil.copyfile(path, into / split / name / path.name)
                    rows.append(
                        {"file": f"{split}/{name}/{path.name}", "class": name, "split": split, "sha256": digest,
                         "source": relative}
                    )
            if filled < len(slots):
                raise SplitError(
                    f"only {filled} of the {len(images[name])} {name} images in {source} are usable (they decode "
                    f"and differ from one another); the request needs {len(slots)}"
                )
    return rows, skipped, duplicates


def _install(partial: Path, destination: Path) -> Path | None:
    """Rename the finished ``partial`` to ``destination``; return where an old destination was kept, if anywhere.

    An old destination that is this tool's untouched split goes to a hidden ``.DST.stale-<pid>-…`` folder and is
    deleted (a killed run leaves only that, which the next run removes); anything else goes to a visible backup, so
    that nothing of the user's ever sits in a folder that is deleted as a leftover.
    """
    backup = None
    if _is_empty_dir(destination):
        destination.rmdir()
    elif os.path.lexists(destination) and (destination.is_symlink() or not _untouched_own_split(destination)):
        backup = _backup_path(destination)
    replace_folder(partial, destination, aside=backup)
    return backup


def make_split(
    source: str | os.PathLike,
    destination: str | os.PathLike,
    train: int = 1000,
    validation: int = 500,
    test: int = 1000,
    *,
    seed: int = DEFAULT_SEED,
    force: bool = False,
) -> SplitResult:
    """Build ``destination/{train,validation,test}/{cat,dog}/`` from the images in ``source``.

    Each class gets ``train``, ``validation`` and ``test`` images, drawn in a random order fixed by ``seed`` and
    dealt to the splits in that order, so no file lands in two splits and the same source and seed always give the
    same split. Every drawn image is decoded first; files that do not decode, or are not JPEG, PNG, GIF or BMP, are
    skipped (listed in the result, never copied) and the next file is drawn instead. ``destination`` also gets
    ``manifest.csv`` and ``split.json``. See the module docstring for what happens to an existing destination.

    Raises SplitError for a missing or unreadable source, negative counts, too few (decodable) images of a class,
    a destination that overlaps the source, is not writable, or holds something else (unless ``force``).
    """
    counts = _checked_counts(train=train, validation=validation, test=test)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise SplitError(f"the seed must be a whole number, not {seed!r}")
    source = Path(source).expanduser().resolve()
    destination = Path(destination).expanduser().resolve()
    if destination == source or source in destination.parents or destination in source.parents:
        raise SplitError(f"the destination {destination} and the source {source} must not contain one another")
    images = _source_images(source)
    need = sum(counts.values())
    for name in CLASSES:
        if len(images[name]) < need:
            raise SplitError(
                f"{source.name}/ has {len(images[name])} {name} images; the request needs {need} per class "
                f"({counts['train']} train + {counts['validation']} validation + {counts['test']} test)"
            )
    fingerprint = _fingerprint(source, images)
    request = {"rule": _RULE_VERSION, "counts": counts, "seed": seed, "source_fingerprint": fingerprint}

    notes = [f"removed {leftover.name}, left by an interrupted run"
             for leftover in remove_leftovers(destination.parent, destination.name)]
    done = _finished(destination, request)
    if done is not None:
        return dataclasses.replace(done, notes=tuple(notes))
    if _older_version_of(destination, request):
        notes.append(f"{destination.name} held this split made by an older version of this tool: rebuilt")
    elif destination.exists() and not _is_empty_dir(destination) and not force:
        raise SplitError(_refusal(destination, request))

    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
        partial = fresh_dir(destination.parent, f".{destination.name}.partial-")
    except OSError as error:
        raise SplitError(f"cannot write to {destination.parent}: {error}") from None
    try:
        for split in SPLITS:
            for name in CLASSES:
                (partial / split / name).mkdir(parents=True)
        rows, skipped, duplicates = _deal(source, images, counts, seed, partial)
        with open(partial / MANIFEST_NAME, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=MANIFEST_FIELDS)
            writer.writeheader()
            writer.writerows(rows)
        # Written last: together with the rename below, its presence means the split is complete.
        recorded = {"tool": "course_utils.split", "request": request, "source": str(source), "skipped": skipped,
                    "duplicates": duplicates}
        (partial / REQUEST_NAME).write_text(json.dumps(recorded, indent=1), encoding="utf-8")
        backup = _install(partial, destination)
    except OSError as error:
        shutil.rmtree(partial, ignore_errors=True)
        raise SplitError(f"cannot write the split to {destination}: {error}") from None
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return SplitResult(destination, _count(rows), tuple(skipped), destination / MANIFEST_NAME, backup=backup,
                       duplicates=tuple(duplicates), notes=tuple(notes))


def folder_for(course_folder: str | os.PathLike, train: int, validation: int, test: int, seed: int) -> Path:
    """Where a split of this request belongs: ``course_folder`` for the course's request, else a sibling named
    after the request (``<course_folder>-1000-500-500-seed1337``), so that another request never takes the place
    of the split the later notebooks read."""
    course_folder = Path(course_folder)
    if dict(train=train, validation=validation, test=test, seed=seed) == COURSE_REQUEST:
        return course_folder
    return course_folder.with_name(f"{course_folder.name}-{train}-{validation}-{test}-seed{seed}")


def check_course_split(folder: str | os.PathLike) -> None:
    """Make sure ``folder`` holds the course's finished split; the notebooks that train on it call this first.

    Raises FileNotFoundError when it holds no finished split, and SplitError, saying what to do, when it holds
    another request (other counts or seed), a split made by an older version of this tool, or an incomplete one.
    Cheap: reads ``split.json`` and the manifest and checks that each listed file exists.
    """
    folder = Path(folder)
    recorded = _read_request(folder)
    if recorded is None:
        raise FileNotFoundError(f"{folder} holds no finished split: run notebook 04 (04_dataset_split) first")
    request = recorded.get("request") if isinstance(recorded.get("request"), dict) else {}
    counts = request.get("counts") if isinstance(request.get("counts"), dict) else {}
    found = {**counts, "seed": request.get("seed")}
    if found != COURSE_REQUEST:
        shown = ", ".join(f"{key} {value}" for key, value in found.items())
        wanted = ", ".join(f"{key} {value}" for key, value in COURSE_REQUEST.items())
        raise SplitError(
            f"{folder} holds another split ({shown}) than the course's ({wanted}), so results would not match the "
            f"recorded ones. Move that folder away and run notebook 04 with its default parameters (it puts any "
            f"other split in a folder of its own)"
        )
    if request.get("rule") != _RULE_VERSION:
        raise SplitError(f"{folder} was made by an older version of the split tool: run notebook 04 again "
                         f"(it rebuilds the split)")
    if _finished(folder, request) is None:
        raise SplitError(f"{folder} is incomplete (files are missing or its manifest is damaged): move it away and "
                         f"run notebook 04 again")


def _format_result(result: SplitResult) -> str:
    """A short report: counts per split and class, the skipped files, and where things are."""
    width = max(len(split) for split in SPLITS)
    lines = [f"{'split':<{width}}  " + "  ".join(f"{name:>5}" for name in CLASSES)]
    for split in SPLITS:
        lines.append(f"{split:<{width}}  " + "  ".join(f"{result.counts[split][name]:>5}" for name in CLASSES))
    lines.append(f"skipped (not copied): {len(result.skipped)}")
    lines.extend(f"  {path}: {reason}" for path, reason in result.skipped)
    lines.append(f"duplicates (not copied): {len(result.duplicates)}")
    lines.extend(f"  {path}: same bytes as {same}" for path, same in result.duplicates)
    lines.append(f"manifest: {_shown(result.manifest)}")
    if result.backup is not None:
        lines.append(f"the previous {result.destination.name} was moved aside to {_shown(result.backup)} (not deleted)")
    done = "already holds this split: nothing to do." if result.reused else "now holds the split:"
    return "\n".join([*result.notes, f"{_shown(result.destination)} {done}", *lines])


def _shown(path: Path) -> str:
    # Relative to the current folder when inside it: what the user typed, and no machine's absolute path in logs.
    try:
        return Path(path).relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return str(path)


def main(argv: Sequence[str] | None = None) -> int:
    """The command line; returns the exit status (0 done, 1 the split failed, 2 bad arguments)."""
    parser = argparse.ArgumentParser(
        prog="python -m course_utils.split",
        description="Split Dogs vs. Cats images into DST/{train,validation,test}/{cat,dog}/.",
    )
    parser.add_argument("source", metavar="SRC", help="folder of cat.N.jpg / dog.N.jpg, or of Cat/ and Dog/")
    parser.add_argument("destination", metavar="DST", help="folder to create")
    parser.add_argument("--train", type=int, default=1000, help="training images per class (default 1000)")
    parser.add_argument("--validation", type=int, default=500, help="validation images per class (default 500)")
    parser.add_argument("--test", type=int, default=1000, help="test images per class (default 1000; 1st edition 500)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})")
    parser.add_argument("--force", action="store_true", help="replace an existing DST (kept aside unless ours)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        result = make_split(
            args.source, args.destination, args.train, args.validation, args.test, seed=args.seed, force=args.force
        )
    except SplitError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(_format_result(result))
    print(f"time: {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
