"""The course's data files: what they are, whether they are here, and the data command that fetches them.

    python -m course_utils.course_data [--dogs-vs-cats ZIP] [--extras] [--check]

(``python3 tasks.py data`` runs it.) Everything lands in the data folder (:func:`course_utils.paths.data_dir`):
MNIST (11 MB), Dogs vs. Cats (Kaggle's ``train.zip``, 545 MB, with Kaggle credentials; else Microsoft's PetImages
archive, about 790 MB) and, outside the repository, the elephant photo that the repository carries in ``data/``.
``--extras`` adds files only optional settings use (MobileNetV2's ImageNet weights, Keras' ImageNet class index).
Each file is downloaded once, resumed when interrupted, and checked against its sha256 where one is known; run it
again any time, it only fetches what is missing. Standard library only, so that it runs on the base Python before
the course's environment exists.
"""
from __future__ import annotations

import argparse
import ast
import collections
import os
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

from . import dogs_vs_cats
from .download import DownloadError, download
from .files import copy_atomically, sha256_of
from .paths import DATA_DIR_ENV, committed_data_dir, data_dir

DATA_COMMAND = "python3 tasks.py data"
MNIST = "mnist.npz"
# Canonical MNIST label counts: a file that matches them (and the shapes) is MNIST, whoever rebuilt it.
MNIST_LABEL_COUNTS = {
    "train": (5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949),
    "test": (980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009),
}
_MNIST_SHAPES = {"x_train": (60000, 28, 28), "y_train": (60000,), "x_test": (10000, 28, 28), "y_test": (10000,)}
_NPY_INTEGERS = {"|u1": "B", "|i1": "b", "<u2": "H", "<i2": "h", "<u4": "I", "<i4": "i", "<u8": "Q", "<i8": "q"}


@dataclass(frozen=True)
class DataFile:
    """One file of the course, by its path in the data folder."""

    name: str
    url: str
    sha256: str | None  # None: the source publishes none (the file is then checked by its use)
    size: int  # bytes (approximate where no checksum fixes the file), for messages
    used_by: str
    optional: bool = False  # only an optional setting uses it: fetched with --extras
    committed: bool = False  # the repository's data/ carries it, so it is there whatever the data folder


MOBILENET_V2_NO_TOP = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5"
FILES = (
    # Keras' own copy (the file keras.datasets.mnist.load_data downloads), with the hash Keras checks it against.
    DataFile(MNIST, "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz",
             "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1", 11_490_434, "02, 03"),
    DataFile(
        "images/african_elephants.jpg",
        "https://raw.githubusercontent.com/google/cameratrapai/main/test_data/african_elephants.jpg",
        "19cd899b473d99fc855bc34369a55860d3b15780c65d42b7b57585fd24d81402", 647_940, "08", committed=True,
    ),
    DataFile(
        f"keras/models/{MOBILENET_V2_NO_TOP}",
        f"https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/{MOBILENET_V2_NO_TOP}",
        None, 9_400_000, "07 with BASE = \"mobilenet_v2\"", optional=True,
    ),
    DataFile(
        "keras/models/imagenet_class_index.json",
        "https://storage.googleapis.com/download.tensorflow.org/data/imagenet_class_index.json",
        "a1e7a966a1f601d39e4b43e119b3e7dd4a2ad3ea08cf69847cbaf021013767bc", 35_363,
        "keras.applications' decode_predictions", optional=True,
    ),
)
_BY_NAME = {item.name: item for item in FILES}


def _find_locally(name: str) -> Path | None:
    """The course file ``name`` in the data folder, else (for a file the repository carries) in the repository's
    ``data/``; None when it is in neither. Never downloads."""
    item = _BY_NAME[name]
    folders = [data_dir(), committed_data_dir() if item.committed else None]
    return next((folder / name for folder in folders if folder is not None and (folder / name).is_file()), None)


def fetch(name: str) -> Path:
    """The local path of the course file ``name`` (e.g. ``"images/african_elephants.jpg"``): in the data folder, or
    for a file the repository carries in its ``data/``; when it is in neither, it is downloaded (and checked) into
    the data folder first."""
    item = _BY_NAME[name]
    return _find_locally(name) or download(item.url, data_dir() / name, sha256=item.sha256, description=name)


def mnist_problem(path: str | os.PathLike) -> str | None:
    """None when ``path`` is an ``mnist.npz`` in Keras' layout with MNIST's shapes and label counts (so a copy rebuilt
    by another tool passes, though its bytes differ from Keras' file), else a sentence saying what is wrong.

    Reads only the arrays' headers and the labels, with the standard library (zipfile and the .npy format).
    """
    try:
        with zipfile.ZipFile(path) as archive:
            arrays = {name: _read_npy(archive, name, values=name.startswith("y_")) for name in _MNIST_SHAPES}
        shapes, expected = tuple(shape for shape, _ in arrays.values()), tuple(_MNIST_SHAPES.values())
        if shapes != expected:
            raise ValueError(f"MNIST arrays have shapes {shapes}, expected {expected}.")
        for split, counts in MNIST_LABEL_COUNTS.items():
            found = tuple(arrays[f"y_{split}"][1][label] for label in range(10))
            if found != counts:
                raise ValueError(f"MNIST {split} label counts {found} differ from MNIST's {counts}.")
    except Exception as error:  # whatever a damaged or foreign file makes zipfile or the header parser raise
        return f"{path} does not hold MNIST ({error}); replace it, e.g. delete it and run `{DATA_COMMAND}`"
    return None


def _read_npy(archive: zipfile.ZipFile, name: str, values: bool) -> tuple[tuple[int, ...], collections.Counter]:
    """The shape of the array ``name`` of an .npz (NumPy's .npy format, version 1-3), and with ``values`` how often
    each of its (integer) values occurs."""
    with archive.open(f"{name}.npy") as member:
        if member.read(6) != b"\x93NUMPY":
            raise ValueError(f"{name} is not a NumPy array")
        major = member.read(2)[0]
        header = ast.literal_eval(member.read(int.from_bytes(member.read(2 if major == 1 else 4), "little")).decode())
        if not values:
            return tuple(header["shape"]), collections.Counter()
        typecode = _NPY_INTEGERS.get(header["descr"]) if sys.byteorder == "little" else None
        if typecode is None:
            raise ValueError(f"{name} holds {header['descr']}, not integers")
        return tuple(header["shape"]), collections.Counter(memoryview(member.read()).cast(typecode))


def _missing() -> list[str]:
    """What the course needs and the data folder (with the repository's ``data/``) lacks, as short descriptions."""
    lacking = [item.name for item in FILES if not item.optional and _find_locally(item.name) is None]
    if dogs_vs_cats.local_source() is None:
        lacking.insert(1, f"{dogs_vs_cats.NAME}/ ({' or '.join(dogs_vs_cats.ARCHIVES)}, or one unzipped)")
    return lacking


def missing_message() -> str | None:
    """One sentence saying what is missing and how to get it, or None when nothing is."""
    lacking = _missing()
    if not lacking:
        return None
    return (f"The course data is missing from {data_dir()} ({'; '.join(lacking)}): run `{DATA_COMMAND}` once "
            f"(or set {DATA_DIR_ENV} to a folder that holds them).")


def _megabytes(size: int) -> str:
    return f"{size / 1e6:,.1f} MB" if size < 1e9 else f"{size / 1e9:,.2f} GB"


def _get_file(item: DataFile) -> str:
    """Make ``item`` present; a one-line report."""
    here = _find_locally(item.name)
    if here is not None:
        problem = None if item.sha256 is None or sha256_of(here) == item.sha256 else (
            mnist_problem(here) if item.name == MNIST  # a rebuilt copy: checked by shapes and label counts instead
            else f"its sha256 is not {item.sha256}")
        if problem:
            raise ValueError(f"{here} is there but unusable: {problem}. Move it away and run again.")
        return f"ok     {item.name} (already there, {'checked' if item.sha256 else 'present'})"
    print(f"fetch  {item.name} ({_megabytes(item.size)}) from {item.url}", flush=True)
    path = download(item.url, data_dir() / item.name, sha256=item.sha256, description=item.name)
    checked = "sha256 checked" if item.sha256 else "no sha256 published"
    return f"ok     {item.name} ({_megabytes(path.stat().st_size)}, {checked})"


def _check_archive(archive: Path) -> str:
    """How many photos a Dogs vs. Cats archive holds; ValueError when it lacks one of the classes."""
    counts = dogs_vs_cats.archive_photo_counts(archive)
    if counts is None:
        return "Kaggle's competition zip"
    if min(counts.values()) == 0:
        raise ValueError(f"{archive} does not hold photos of both classes ({counts})")
    return " + ".join(f"{n:,} {name}s" for name, n in counts.items())


def _get_dogs_vs_cats(local_archive: Path | None) -> str:
    place = dogs_vs_cats.source_dir()
    if local_archive is not None:
        name = local_archive.name if local_archive.name in dogs_vs_cats.ARCHIVES else "train.zip"
        count = _check_archive(local_archive)
        if (place / name).is_file() and sha256_of(place / name) == sha256_of(local_archive):
            return f"ok     {dogs_vs_cats.NAME}/{name} (already there, same bytes as {local_archive.name})"
        if (place / name).exists():
            raise FileExistsError(f"{place / name} exists and differs from {local_archive}: move one of them away")
        copy_atomically(local_archive, place / name)
        return f"ok     {dogs_vs_cats.NAME}/{name} (copied from {local_archive}: {count})"
    present = dogs_vs_cats.local_source()
    if present is not None:
        return f"ok     {present.relative_to(data_dir()).as_posix()} (already there)"
    print(f"fetch  {dogs_vs_cats.NAME}: Kaggle's train.zip (545 MB) with Kaggle credentials, else Microsoft's "
          "PetImages (about 790 MB)", flush=True)
    try:
        archive = dogs_vs_cats.download_archive()
    except dogs_vs_cats.DatasetNotFoundError as error:
        raise DownloadError(str(error), offline=error.offline) from None
    count = _check_archive(archive)
    return f"ok     {archive.relative_to(data_dir()).as_posix()} ({_megabytes(archive.stat().st_size)}: {count})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 tasks.py data",
        description="Fetch the course's datasets into the data folder (see data/README.md); only what is missing.")
    parser.add_argument("--dogs-vs-cats", type=Path, metavar="ZIP",
                        help="a Dogs vs. Cats archive you already have (Kaggle's train.zip or dogs-vs-cats.zip, or "
                             "kagglecatsanddogs_5340.zip): copied in instead of downloading")
    parser.add_argument("--extras", action="store_true",
                        help="also fetch the files only optional settings use (MobileNetV2 weights, class index)")
    parser.add_argument("--check", action="store_true", help="only say what is missing (exit status 1 if anything)")
    args = parser.parse_args(argv)
    folder = data_dir()
    if args.check:
        message = missing_message()
        print(message or f"The course data is complete in {folder}.")
        return 1 if message else 0
    print(f"data folder: {folder}", flush=True)
    steps = [(item.name, lambda item=item: _get_file(item)) for item in FILES if args.extras or not item.optional]
    steps.insert(1, (dogs_vs_cats.NAME, lambda: _get_dogs_vs_cats(args.dogs_vs_cats)))
    failed, offline, first_reason = [], [], ""
    for name, step in steps:
        try:
            print(step(), flush=True)
        except Exception as error:  # one step's failure does not stop the others
            if isinstance(error, DownloadError) and error.offline:
                offline.append(name)
                first_reason = first_reason or str(error).splitlines()[-1].strip(" -")
            else:
                print(f"FAILED {name}: {error}", file=sys.stderr, flush=True)
            failed.append(name)
    if offline:
        print(f"\nThis machine seems to be offline (no connection for {', '.join(offline)}: {first_reason}). "
              f"Nothing half-made was kept; run `{DATA_COMMAND}` again when online, or copy the files listed in "
              f"data/README.md into {folder} by hand.", file=sys.stderr)
    if failed:
        print(f"\nNot done: {', '.join(failed)}.", file=sys.stderr)
        return 1
    print(f"\nThe course data is complete in {folder}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
