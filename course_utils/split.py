"""Split Dogs vs. Cats images into the book's train / validation / test folders.

    python -m course_utils.split SRC DST [--train 1000] [--validation 500] [--test 1000] [--seed 1337] [--force]

SRC is a folder in either layout that :func:`course_utils.data.list_dogs_vs_cats` reads (Kaggle's ``cat.N.jpg`` /
``dog.N.jpg``, or ``Cat/`` and ``Dog/`` folders). DST receives ``train/``, ``validation/`` and ``test/``, each with
``cat/`` and ``dog/`` holding the requested number of images per class, plus ``manifest.csv`` (file, class, split,
sha256, source) and ``split.json`` (the request, used to recognise a finished split). The defaults are the book's
1,000 / 500 / 1,000; the first edition's split is ``--test 500``. With the same seed both editions share the same
train and validation images, because images are dealt to train, then validation, then test.

Safety: SRC is only read. The split is built in a hidden sibling of DST and renamed to DST when complete, so an
interrupted run leaves no half-made DST. An existing DST is used as it is when it is the finished split of the same
request (same counts, seed and source images), a fast no-op; an empty folder is replaced; anything else is refused
unless ``--force``. With ``--force`` the new split is built first; the old DST is then deleted only when it is exactly
a split this tool made (every file listed in its manifest with the same sha256, nothing added), and otherwise moved
aside to ``DST.backup-<date>-<time>``, never deleted.
"""
from __future__ import annotations

import argparse
import csv
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

from PIL import Image, ImageFile

from .data import DOGS_VS_CATS_CLASSES, fresh_dir, list_dogs_vs_cats

SPLITS = ("train", "validation", "test")
CLASSES = DOGS_VS_CATS_CLASSES
DEFAULT_SEED = 1337
MANIFEST_NAME = "manifest.csv"
REQUEST_NAME = "split.json"
MANIFEST_FIELDS = ("file", "class", "split", "sha256", "source")
# Pillow's names for what tf.io.decode_image reads (it goes by content, not suffix). MPO is a camera JPEG with extra
# pictures appended, which TensorFlow decodes as the JPEG it starts with.
TF_IMAGE_FORMATS = frozenset({"JPEG", "MPO", "PNG", "GIF", "BMP"})
# Part of every request: bump it when the selection rule changes, so splits made by the old rule stop being reused.
_RULE_VERSION = 1
_REQUEST_LABELS = {"counts": "counts", "seed": "seed", "source_fingerprint": "source images", "rule": "tool version"}


class SplitError(Exception):
    """A split request that cannot be carried out; the message says why and what to do."""


@dataclass(frozen=True)
class SplitResult:
    """What :func:`make_split` did.

    ``counts[split][class]`` is the number of images in each folder, ``skipped`` the ``(source file, reason)`` pairs
    of drawn files that do not decode (never copied), ``reused`` whether ``destination`` already held this split,
    and ``backup`` where ``force`` moved an old destination that was not this tool's untouched output.
    """

    destination: Path
    counts: dict[str, dict[str, int]]
    skipped: tuple[tuple[str, str], ...]
    manifest: Path
    reused: bool = False
    backup: Path | None = None


@contextmanager
def _strict_quiet_pillow() -> Iterator[None]:
    # Global switches, so they are set once around a whole run rather than inside threads. A truncated file must count
    # as broken even if someone let Pillow pad such files (TensorFlow rejects them), and EXIF or size warnings about
    # files that do decode would flood the output.
    saved = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = saved


def _problem(data: bytes) -> str | None:
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


def image_problem(data: bytes) -> str | None:
    """None when ``data`` is a complete image TensorFlow decodes (JPEG, PNG, GIF, BMP), else the reason why not.

    Not for concurrent use (it sets Pillow's and the warnings module's global switches while it runs).
    """
    with _strict_quiet_pillow():
        return _problem(data)


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
        pairs = list_dogs_vs_cats(source)
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
    return SplitResult(destination, counts, skipped, destination / MANIFEST_NAME, reused=True)


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


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _untouched_own_split(folder: Path) -> bool:
    """True when every file in ``folder`` is this tool's: its manifest and request, or listed there with that sha256."""
    rows = _read_manifest(folder)
    if rows is None or _read_request(folder) is None:
        return False
    expected = {row["file"]: row["sha256"] for row in rows}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = Path(root) / name
            if path.is_symlink():
                return False
        for name in files:
            path = Path(root) / name
            relative = path.relative_to(folder).as_posix()
            if relative in (MANIFEST_NAME, REQUEST_NAME):
                continue
            if relative not in expected or _sha256(path) != expected[relative]:
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
) -> tuple[list[dict[str, str]], list[tuple[str, str]]]:
    """Copy the drawn images into ``into``; return the manifest rows and the skipped files."""
    rows: list[dict[str, str]] = []
    skipped: list[tuple[str, str]] = []
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
                    split = slots[filled]
                    filled += 1
                    shutil.copyfile(path, into / split / name / path.name)
                    rows.append(
                        {"file": f"{split}/{name}/{path.name}", "class": name, "split": split, "sha256": digest,
                         "source": relative}
                    )
            if filled < len(slots):
                raise SplitError(
                    f"only {filled} of the {len(images[name])} {name} images in {source} decode; "
                    f"the request needs {len(slots)}"
                )
    return rows, skipped


def _install(partial: Path, destination: Path) -> Path | None:
    """Rename the finished ``partial`` to ``destination``; return where an old destination was kept, if anywhere."""
    aside = None
    if _is_empty_dir(destination):
        destination.rmdir()
    elif destination.exists() or destination.is_symlink():
        aside = _backup_path(destination)
        os.rename(destination, aside)
    try:
        os.rename(partial, destination)
    except OSError:
        if aside is not None:
            os.rename(aside, destination)
        raise
    if aside is not None and _untouched_own_split(aside):
        shutil.rmtree(aside)
        return None
    return aside


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
                f"{source} has {len(images[name])} {name} images; the request needs {need} per class "
                f"({counts['train']} train + {counts['validation']} validation + {counts['test']} test)"
            )
    fingerprint = _fingerprint(source, images)
    request = {"rule": _RULE_VERSION, "counts": counts, "seed": seed, "source_fingerprint": fingerprint}

    done = _finished(destination, request)
    if done is not None:
        return done
    if destination.exists() and not _is_empty_dir(destination) and not force:
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
        rows, skipped = _deal(source, images, counts, seed, partial)
        with open(partial / MANIFEST_NAME, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=MANIFEST_FIELDS)
            writer.writeheader()
            writer.writerows(rows)
        # Written last: together with the rename below, its presence means the split is complete.
        recorded = {"tool": "course_utils.split", "request": request, "source": str(source), "skipped": skipped}
        (partial / REQUEST_NAME).write_text(json.dumps(recorded, indent=1), encoding="utf-8")
        backup = _install(partial, destination)
    except OSError as error:
        shutil.rmtree(partial, ignore_errors=True)
        raise SplitError(f"cannot write the split to {destination}: {error}") from None
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return SplitResult(destination, _count(rows), tuple(skipped), destination / MANIFEST_NAME, backup=backup)


def format_result(result: SplitResult) -> str:
    """A short report: counts per split and class, the skipped files, and where things are."""
    width = max(len(split) for split in SPLITS)
    lines = [f"{'split':<{width}}  " + "  ".join(f"{name:>5}" for name in CLASSES)]
    for split in SPLITS:
        lines.append(f"{split:<{width}}  " + "  ".join(f"{result.counts[split][name]:>5}" for name in CLASSES))
    lines.append(f"skipped (not copied): {len(result.skipped)}")
    lines.extend(f"  {path}: {reason}" for path, reason in result.skipped)
    lines.append(f"manifest: {result.manifest}")
    if result.reused:
        lines.insert(0, f"{result.destination} already holds this split: nothing to do.")
    if result.backup is not None:
        lines.append(f"the previous {result.destination.name} was moved aside to {result.backup} (not deleted)")
    return "\n".join(lines)


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
    print(format_result(result))
    print(f"time: {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
