"""The train / validation / test split, on small generated image sets with broken files among them."""
from __future__ import annotations

import csv
import functools
import hashlib
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from course_utils import split as split_module
from course_utils.split import SplitError, SplitResult, image_problem, main, make_split

ROOT = Path(__file__).resolve().parents[1]
SPLITS = ("train", "validation", "test")


@functools.cache
def image_bytes(index: int, fmt: str = "JPEG") -> bytes:
    buffer = io.BytesIO()
    # Each file differs, so hashes tell them apart.
    Image.new("RGB", (16, 12), (index * 7 % 256, index * 13 % 256, index * 29 % 256)).save(buffer, fmt)
    return buffer.getvalue()


@functools.cache
def truncated_jpeg() -> bytes:
    """A JPEG cut off in its picture data, as an interrupted download leaves it: headers intact, pixels missing."""
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (48, 48, 3), dtype=np.uint8)).save(buffer, "JPEG")
    return buffer.getvalue()[: buffer.tell() * 2 // 3]


BROKEN = {
    "cat.5.jpg": truncated_jpeg(),
    "cat.7.jpg": image_bytes(7, "TIFF"),  # a real image, but not one TensorFlow decodes
    "dog.3.jpg": b"this is a text file with an image's name\n",
    "dog.8.jpg": b"",
}


@pytest.fixture
def source(tmp_path) -> Path:
    """Kaggle layout: 12 cats and 12 dogs, of which 2 of each do not decode; dog.11 is a PNG named .jpg (fine)."""
    folder = tmp_path / "source"
    folder.mkdir()
    for k, name in enumerate(("cat", "dog")):
        for i in range(1, 13):
            (folder / f"{name}.{i}.jpg").write_bytes(image_bytes(100 * k + i))
    (folder / "dog.11.jpg").write_bytes(image_bytes(111, "PNG"))
    for file_name, content in BROKEN.items():
        (folder / file_name).write_bytes(content)
    (folder / "readme.txt").write_text("not part of the data")
    return folder


def snapshot(folder: Path) -> dict[str, tuple[int, int, str]]:
    return {
        p.relative_to(folder).as_posix(): (
            p.stat().st_size, p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest()
        )
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def folder_names(destination: Path) -> dict[str, dict[str, list[str]]]:
    return {s: {c: sorted(p.name for p in (destination / s / c).iterdir()) for c in ("cat", "dog")} for s in SPLITS}


def read_manifest(destination: Path) -> list[dict[str, str]]:
    with open(destination / "manifest.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_counts_per_split_and_class(source, tmp_path):
    destination = tmp_path / "split"
    result = make_split(source, destination, train=4, validation=2, test=3, seed=1)
    assert isinstance(result, SplitResult)
    expected = {"train": {"cat": 4, "dog": 4}, "validation": {"cat": 2, "dog": 2}, "test": {"cat": 3, "dog": 3}}
    assert result.counts == expected
    assert {s: {c: len(v) for c, v in classes.items()} for s, classes in folder_names(destination).items()} == expected
    assert result.manifest == destination / "manifest.csv" and result.destination == destination
    assert not result.reused and result.backup is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["source", "split"]  # no partial folder left behind


def test_same_seed_same_split_and_another_seed_another(source, tmp_path):
    first = folder_names(make_split(source, tmp_path / "a", 4, 2, 3, seed=7).destination)
    again = folder_names(make_split(source, tmp_path / "b", 4, 2, 3, seed=7).destination)
    other = folder_names(make_split(source, tmp_path / "c", 4, 2, 3, seed=8).destination)
    assert first == again
    assert first != other


def test_no_file_in_two_splits_and_copies_are_exact(source, tmp_path):
    destination = tmp_path / "split"
    make_split(source, destination, 4, 2, 3, seed=3)
    rows = read_manifest(destination)
    assert len(rows) == 18
    assert len({row["source"] for row in rows}) == 18  # each source file used once
    for row in rows:
        copied = (destination / row["file"]).read_bytes()
        assert copied == (source / row["source"]).read_bytes()
        assert hashlib.sha256(copied).hexdigest() == row["sha256"]
        assert row["file"] == f"{row['split']}/{row['class']}/{Path(row['source']).name}"
        assert row["source"].startswith(row["class"] + ".")


def test_broken_files_are_skipped_listed_and_replaced(source, tmp_path):
    # 10 usable images per class and a request for 10: every file is drawn, so every broken one is met.
    destination = tmp_path / "split"
    result = make_split(source, destination, train=5, validation=3, test=2, seed=0)
    assert result.counts["train"] == {"cat": 5, "dog": 5}
    assert sorted(path for path, _ in result.skipped) == sorted(BROKEN)
    reasons = dict(result.skipped)
    assert reasons["dog.8.jpg"] == "empty file"
    assert reasons["cat.7.jpg"] == "TIFF is not a format TensorFlow decodes"
    assert reasons["cat.5.jpg"].startswith("does not decode")
    assert reasons["dog.3.jpg"].startswith("does not decode")
    copied = {p.name for p in destination.rglob("*.jpg")}
    assert not copied & set(BROKEN)
    assert "dog.11.jpg" in copied  # a PNG with a .jpg name decodes in TensorFlow too
    recorded = json.loads((destination / "split.json").read_text())
    assert sorted(path for path, _ in recorded["skipped"]) == sorted(BROKEN)


def test_too_few_decodable_images(source, tmp_path):
    with pytest.raises(SplitError, match=r"only 10 of the 12 cat images .* decode; the request needs 11"):
        make_split(source, tmp_path / "split", train=5, validation=3, test=3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["source"]


def test_too_few_images_is_refused_before_decoding(source, tmp_path, monkeypatch):
    monkeypatch.setattr(split_module, "_check_file", lambda path: pytest.fail("decoded a request that is too big"))
    with pytest.raises(SplitError, match=r"has 12 cat images; the request needs 20 per class \(10 train \+ 5 "):
        make_split(source, tmp_path / "split", train=10, validation=5, test=5)


@pytest.mark.parametrize(
    "counts, message",
    [
        ({"train": -1}, "train count must be a whole number >= 0, not -1"),
        ({"validation": 2.5}, "validation count must be a whole number"),
        ({"train": 0, "validation": 0, "test": 0}, "nothing to split"),
    ],
)
def test_bad_counts(source, tmp_path, counts, message):
    with pytest.raises(SplitError, match=message):
        make_split(source, tmp_path / "split", **counts)
    assert not (tmp_path / "split").exists()


def test_missing_source(tmp_path):
    with pytest.raises(SplitError, match="does not exist"):
        make_split(tmp_path / "nowhere", tmp_path / "split", 1, 1, 1)


def test_source_without_images(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(SplitError, match="has 0 cat images"):
        make_split(tmp_path / "empty", tmp_path / "split", 1, 1, 1)


def test_source_is_never_modified(source, tmp_path):
    before = snapshot(source)
    make_split(source, tmp_path / "split", 5, 3, 2, seed=0)
    make_split(source, tmp_path / "split", 3, 3, 3, seed=1, force=True)
    assert snapshot(source) == before


def test_destination_inside_source_is_refused(source):
    with pytest.raises(SplitError, match="must not contain one another"):
        make_split(source, source / "split", 1, 1, 1)
    assert not (source / "split").exists()


def test_unwritable_destination(source, tmp_path):
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(SplitError, match="cannot write"):
        make_split(source, tmp_path / "a-file" / "split", 1, 1, 1)


def test_manifest_and_request_files(source, tmp_path):
    destination = tmp_path / "split"
    make_split(source, destination, train=3, validation=1, test=2, seed=11)
    with open(destination / "manifest.csv", newline="", encoding="utf-8") as f:
        assert next(csv.reader(f)) == ["file", "class", "split", "sha256", "source"]
    rows = read_manifest(destination)
    assert sorted((r["split"], r["class"]) for r in rows) == sorted(
        (s, c) for s, n in (("train", 3), ("validation", 1), ("test", 2)) for c in ("cat", "dog") for _ in range(n)
    )
    recorded = json.loads((destination / "split.json").read_text())
    assert recorded["request"]["counts"] == {"train": 3, "validation": 1, "test": 2}
    assert recorded["request"]["seed"] == 11
    assert recorded["source"] == str(source.resolve())


def test_rerun_of_a_finished_split_is_a_no_op(source, tmp_path, monkeypatch):
    destination = tmp_path / "split"
    first = make_split(source, destination, 4, 2, 3, seed=5)
    before = snapshot(destination)
    monkeypatch.setattr(split_module, "_check_file", lambda path: pytest.fail("re-run decoded images again"))
    again = make_split(source, destination, 4, 2, 3, seed=5)
    assert again.reused and again.counts == first.counts and again.skipped == first.skipped
    assert snapshot(destination) == before


def test_changed_source_is_not_taken_for_the_same_request(source, tmp_path):
    destination = tmp_path / "split"
    make_split(source, destination, 4, 2, 3, seed=5)
    (source / "cat.13.jpg").write_bytes(image_bytes(13))
    with pytest.raises(SplitError, match=r"holds a different split \(other source images\)"):
        make_split(source, destination, 4, 2, 3, seed=5)


def test_damaged_split_is_not_reused(source, tmp_path):
    destination = tmp_path / "split"
    make_split(source, destination, 4, 2, 3, seed=5)
    next((destination / "test" / "dog").iterdir()).unlink()
    with pytest.raises(SplitError, match="incomplete"):
        make_split(source, destination, 4, 2, 3, seed=5)


def test_different_request_is_refused_and_left_untouched(source, tmp_path):
    destination = tmp_path / "split"
    make_split(source, destination, 4, 2, 3, seed=5)
    before = snapshot(destination)
    with pytest.raises(SplitError, match=r"holds a different split \(other counts, seed\).*--force"):
        make_split(source, destination, 4, 2, 2, seed=6)
    assert snapshot(destination) == before


def test_foreign_folder_is_refused_and_with_force_moved_aside_not_deleted(source, tmp_path):
    destination = tmp_path / "split"
    destination.mkdir()
    (destination / "my-notes.txt").write_text("precious")
    with pytest.raises(SplitError, match="not a split made by this tool"):
        make_split(source, destination, 2, 1, 1)
    assert (destination / "my-notes.txt").read_text() == "precious"

    result = make_split(source, destination, 2, 1, 1, force=True)
    assert result.backup is not None and result.backup.name.startswith("split.backup-")
    assert (result.backup / "my-notes.txt").read_text() == "precious"
    assert result.counts["train"] == {"cat": 2, "dog": 2} and (destination / "split.json").is_file()


def test_force_replaces_an_untouched_split_of_ours_without_backup(source, tmp_path):
    destination = tmp_path / "split"
    make_split(source, destination, 4, 2, 3, seed=5)
    result = make_split(source, destination, 2, 2, 2, seed=6, force=True)
    assert result.backup is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["source", "split"]
    assert json.loads((destination / "split.json").read_text())["request"]["seed"] == 6
    assert result.counts["test"] == {"cat": 2, "dog": 2}


def test_force_keeps_a_split_of_ours_that_the_user_changed(source, tmp_path):
    destination = tmp_path / "split"
    make_split(source, destination, 4, 2, 3, seed=5)
    (destination / "train" / "cat" / "extra.jpg").write_bytes(image_bytes(99))
    result = make_split(source, destination, 4, 2, 3, seed=6, force=True)
    assert result.backup is not None
    assert (result.backup / "train" / "cat" / "extra.jpg").is_file()


def test_empty_destination_folder_is_used(source, tmp_path):
    destination = tmp_path / "split"
    destination.mkdir()
    result = make_split(source, destination, 1, 1, 1)
    assert result.counts["validation"] == {"cat": 1, "dog": 1} and result.backup is None


def test_interrupted_run_leaves_no_half_made_split(source, tmp_path, monkeypatch):
    real_check = split_module._check_file
    calls = []

    def check_then_interrupt(path):
        calls.append(path)
        if len(calls) == 6:
            raise KeyboardInterrupt
        return real_check(path)

    monkeypatch.setattr(split_module, "_check_file", check_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        make_split(source, tmp_path / "split", 4, 2, 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["source"]


def test_first_edition_split_shares_train_and_validation_with_the_book(source, tmp_path):
    book = folder_names(make_split(source, tmp_path / "book", 3, 2, 3, seed=4).destination)
    first = folder_names(make_split(source, tmp_path / "first", 3, 2, 1, seed=4).destination)
    assert book["train"] == first["train"] and book["validation"] == first["validation"]
    for name in ("cat", "dog"):
        assert len(first["test"][name]) == 1 and set(first["test"][name]) <= set(book["test"][name])


def test_class_folder_layout(tmp_path):
    source = tmp_path / "PetImages"
    for k, name in enumerate(("Cat", "Dog")):
        (source / name).mkdir(parents=True)
        for i in range(4):
            (source / name / f"{i}.jpg").write_bytes(image_bytes(10 * k + i))
    (source / "Cat" / "Thumbs.db").write_bytes(b"windows")
    destination = tmp_path / "split"
    result = make_split(source, destination, 2, 1, 1)
    assert result.skipped == ()
    assert sorted(p.relative_to(destination).as_posix() for p in destination.glob("*/*/*")) == sorted(
        f"{r['split']}/{r['class']}/{Path(r['source']).name}" for r in read_manifest(destination)
    )
    assert {r["source"].split("/")[0] for r in read_manifest(destination)} == {"Cat", "Dog"}
    assert sorted(p.name for p in (destination / "train").iterdir()) == ["cat", "dog"]


def test_image_problem(monkeypatch):
    assert image_problem(image_bytes(1)) is None
    assert image_problem(image_bytes(1, "PNG")) is None
    assert image_problem(image_bytes(1, "BMP")) is None
    assert image_problem(image_bytes(1, "GIF")) is None
    assert image_problem(image_bytes(1, "WEBP")) == "WEBP is not a format TensorFlow decodes"
    assert image_problem(truncated_jpeg()).startswith("does not decode: image file is truncated")
    # Even where a notebook told Pillow to pad truncated files: TensorFlow would still reject them.
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    assert image_problem(truncated_jpeg()).startswith("does not decode: image file is truncated")
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True
    assert image_problem(b"") == "empty file"


def test_command_prints_counts_and_skipped_files(source, tmp_path, capsys):
    destination = tmp_path / "split"
    assert main([str(source), str(destination), "--train", "5", "--validation", "3", "--test", "2", "--seed", "0"]) == 0
    out = capsys.readouterr().out
    assert "train           5      5" in out and "validation      3      3" in out and "test            2      2" in out
    assert "skipped (not copied): 4" in out
    for name in BROKEN:
        assert f"  {name}: " in out
    assert main([str(source), str(destination), "--train", "5", "--validation", "3", "--test", "2", "--seed", "0"]) == 0
    assert "already holds this split: nothing to do" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args, message",
    [
        (["--train", "-2"], "train count must be a whole number >= 0"),
        (["--train", "100"], "the request needs 1600 per class"),
    ],
)
def test_command_errors_exit_non_zero(source, tmp_path, capsys, args, message):
    assert main([str(source), str(tmp_path / "split"), *args]) == 1
    assert message in capsys.readouterr().err


def test_command_runs_as_a_module(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "course_utils.split", str(tmp_path / "missing"), str(tmp_path / "split")],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )
    assert done.returncode == 1
    assert "error: source folder" in done.stderr and "does not exist" in done.stderr
