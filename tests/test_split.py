"""The train / validation / test split, on small generated image sets with broken files among them."""
from __future__ import annotations

import csv
import functools
import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from course_utils import split as split_module
from course_utils.split import SplitError, SplitResult, main, make_split

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
    with pytest.raises(SplitError, match=r"only 10 of the 12 cat images .* are usable \(they decode and differ from one another\); the request "
                       r"needs 11"):
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


def image_problem(data: bytes) -> str | None:
    """What the split says of one file's bytes: None for an image it copies, else why it skips the file."""
    with split_module._strict_quiet_pillow():
        return split_module._problem(data)


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


# --- identical images, leftovers of killed runs, the course's split ---------------------------------------------


def dead_pid() -> int:
    """The id of a process that has finished (ids are reused only after the system wraps around)."""
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    return int(done.stdout)


def test_identical_images_never_land_in_two_splits(tmp_path):
    # 8 distinct photos per class, plus copies under other names: of cats, of dogs, and a dog filed as a cat.
    folder = tmp_path / "source"
    folder.mkdir()
    for k, name in enumerate(("cat", "dog")):
        for i in range(1, 9):
            (folder / f"{name}.{i}.jpg").write_bytes(image_bytes(100 * k + i))
    copies = {"cat.9.jpg": "cat.1.jpg", "cat.10.jpg": "cat.1.jpg", "cat.11.jpg": "cat.2.jpg",
              "dog.9.jpg": "dog.3.jpg", "cat.12.jpg": "dog.4.jpg"}
    for copy, original in copies.items():
        (folder / copy).write_bytes((folder / original).read_bytes())
    destination = tmp_path / "split"
    # 7 per class: 9 distinct cat photos among 12 files, and at least 7 distinct dogs whichever side gets dog.4.
    result = make_split(folder, destination, train=3, validation=2, test=2, seed=5)
    rows = read_manifest(destination)
    assert len(rows) == 14
    digests = [row["sha256"] for row in rows]
    assert len(set(digests)) == len(digests)  # in particular never in two splits
    groups = {}
    for path in folder.iterdir():
        groups.setdefault(hashlib.sha256(path.read_bytes()).hexdigest(), set()).add(path.name)
    dealt = {row["source"] for row in rows}
    assert all(len(names & dealt) <= 1 for names in groups.values())  # at most one of identical files
    # This seed draws copies of each kind, including the dog filed as a cat: the checks are not vacuous.
    assert len(result.duplicates) == 4 and ("dog.4.jpg", "cat.12.jpg") in result.duplicates
    for path, same in result.duplicates:
        assert (folder / path).read_bytes() == (folder / same).read_bytes() and same in dealt
    recorded = json.loads((destination / "split.json").read_text())
    assert [tuple(pair) for pair in recorded["duplicates"]] == list(result.duplicates)
    again = make_split(folder, destination, train=3, validation=2, test=2, seed=5)
    assert again.reused and again.duplicates == result.duplicates
    out = split_module._format_result(result)
    assert f"duplicates (not copied): {len(result.duplicates)}" in out and "same bytes as" in out


def test_copies_do_not_count_as_images(tmp_path):
    folder = tmp_path / "source"
    folder.mkdir()
    for k, name in enumerate(("cat", "dog")):
        for i in range(1, 5):
            (folder / f"{name}.{i}.jpg").write_bytes(image_bytes(10 * k + (i if name == "dog" else 1)))
    with pytest.raises(SplitError, match=r"only 1 of the 4 cat images .* are usable"):
        make_split(folder, tmp_path / "split", 1, 1, 1)


def test_leftovers_of_a_killed_run_are_removed_and_live_ones_kept(source, tmp_path):
    gone = dead_pid()
    partial = tmp_path / f".split.partial-{gone}-abcd1234"
    (partial / "train" / "cat").mkdir(parents=True)
    (partial / "train" / "cat" / "cat.1.jpg").write_bytes(image_bytes(1))
    stale = tmp_path / f".split.stale-{gone}-efgh5678"
    (stale / "split").mkdir(parents=True)
    running = tmp_path / f".split.partial-{os.getpid()}-ijkl9012"  # a run still at work (this process)
    running.mkdir()
    mine = tmp_path / ".split.notes"  # a hidden folder of the user's with a similar name
    mine.mkdir()
    (mine / "keep.txt").write_text("precious")
    other = tmp_path / f".other.partial-{gone}-mnop3456"  # a leftover of another destination: not this run's
    other.mkdir()

    result = make_split(source, tmp_path / "split", 2, 1, 1)
    assert sorted(result.notes) == sorted(f"removed {p.name}, left by an interrupted run" for p in (partial, stale))
    assert not partial.exists() and not stale.exists()
    assert running.is_dir() and other.is_dir() and (mine / "keep.txt").read_text() == "precious"
    assert "left by an interrupted run" in split_module._format_result(result)


KILLED_RUN = """
import sys, time
from course_utils import split
real = split._check_file
def slow(path):
    time.sleep(0.2)
    return real(path)
split._check_file = slow
split.make_split(sys.argv[1], sys.argv[2], 4, 2, 3)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="kills a process with SIGKILL")
def test_a_run_killed_mid_way_is_cleaned_up_by_the_next(source, tmp_path):
    import signal
    import time

    destination = tmp_path / "split"
    process = subprocess.Popen([sys.executable, "-c", KILLED_RUN, str(source), str(destination)], cwd=ROOT)
    try:
        deadline = time.monotonic() + 60
        while not list(tmp_path.glob(".split.partial-*/train/*/*.jpg")):
            assert process.poll() is None and time.monotonic() < deadline, "the run ended before it was killed"
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait()
    assert not destination.exists() and len(list(tmp_path.glob(".split.partial-*"))) == 1
    result = make_split(source, destination, 4, 2, 3)
    assert len(result.notes) == 1 and ".split.partial-" in result.notes[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["source", "split"]
    assert result.counts["test"] == {"cat": 3, "dog": 3}


def test_replacing_our_split_leaves_no_hidden_folder(source, tmp_path):
    destination = tmp_path / "split"
    make_split(source, destination, 4, 2, 3, seed=5)
    make_split(source, destination, 2, 2, 2, seed=6, force=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["source", "split"]


def test_user_data_is_never_put_where_leftovers_are_deleted(source, tmp_path, monkeypatch):
    # Killed right after the old destination was moved aside: a foreign folder must sit in a visible backup.
    destination = tmp_path / "split"
    destination.mkdir()
    (destination / "my-notes.txt").write_text("precious")

    real_replace = os.replace
    renames = []

    def rename_then_kill(src, dst):
        real_replace(src, dst)
        renames.append(Path(dst))
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", rename_then_kill)
    with pytest.raises(KeyboardInterrupt):
        make_split(source, destination, 2, 1, 1, force=True)
    monkeypatch.setattr(os, "replace", real_replace)
    assert renames[0].name.startswith("split.backup-") and (renames[0] / "my-notes.txt").read_text() == "precious"


def test_a_split_of_an_older_version_is_rebuilt(source, tmp_path):
    destination = tmp_path / "split"
    make_split(source, destination, 4, 2, 3, seed=5)
    recorded = json.loads((destination / "split.json").read_text())
    recorded["request"]["rule"] = split_module._RULE_VERSION - 1
    (destination / "split.json").write_text(json.dumps(recorded))
    result = make_split(source, destination, 4, 2, 3, seed=5)
    assert not result.reused and result.backup is None
    assert result.notes == ("split held this split made by an older version of this tool: rebuilt",)
    assert json.loads((destination / "split.json").read_text())["request"]["rule"] == split_module._RULE_VERSION
    assert sorted(p.name for p in tmp_path.iterdir()) == ["source", "split"]
    # Another request of an older version is still refused: only the same request is rebuilt unasked.
    recorded["request"]["seed"] = 6
    (destination / "split.json").write_text(json.dumps(recorded))
    with pytest.raises(SplitError, match="holds a different split"):
        make_split(source, destination, 4, 2, 3, seed=5)


@pytest.fixture
def small_course(monkeypatch):
    request = {"train": 4, "validation": 2, "test": 3, "seed": 9}
    monkeypatch.setattr(split_module, "COURSE_REQUEST", request)
    return request


def test_check_course_split_accepts_only_the_course_request(source, tmp_path, small_course):
    counts = {key: small_course[key] for key in SPLITS}
    with pytest.raises(FileNotFoundError, match="run notebook 04"):
        split_module.check_course_split(tmp_path / "split")
    course = make_split(source, tmp_path / "split", **counts, seed=9).destination
    split_module.check_course_split(course)
    other_seed = make_split(source, tmp_path / "seed", **counts, seed=8).destination
    with pytest.raises(SplitError, match=r"another split \(train 4, validation 2, test 3, seed 8\)"):
        split_module.check_course_split(other_seed)
    other_counts = make_split(source, tmp_path / "first", 4, 2, 2, seed=9).destination
    with pytest.raises(SplitError, match=r"another split \(train 4, validation 2, test 2, seed 9\)"):
        split_module.check_course_split(other_counts)
    next((course / "validation" / "dog").iterdir()).unlink()
    with pytest.raises(SplitError, match="incomplete"):
        split_module.check_course_split(course)


def test_check_course_split_refuses_an_older_version(source, tmp_path, small_course):
    course = make_split(source, tmp_path / "split", 4, 2, 3, seed=9).destination
    recorded = json.loads((course / "split.json").read_text())
    recorded["request"]["rule"] = 1
    (course / "split.json").write_text(json.dumps(recorded))
    with pytest.raises(SplitError, match="older version of the split tool: run notebook 04 again"):
        split_module.check_course_split(course)


def test_other_requests_get_a_folder_of_their_own(tmp_path):
    course = tmp_path / "dogs-vs-cats-small"
    assert split_module.folder_for(course, 1000, 500, 1000, 1337) == course
    assert split_module.folder_for(course, 1000, 500, 500, 1337) == tmp_path / "dogs-vs-cats-small-1000-500-500-seed1337"
    assert split_module.folder_for(course, 1000, 500, 1000, 7) == tmp_path / "dogs-vs-cats-small-1000-500-1000-seed7"


def test_report_shows_paths_relative_to_the_current_folder(source, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = make_split(source, "split", 2, 1, 1)
    out = split_module._format_result(result)
    assert out.splitlines()[0] == "split now holds the split:"
    assert "manifest: split/manifest.csv" in out and str(tmp_path) not in out
    assert split_module._format_result(make_split(source, "split", 2, 1, 1)).startswith(
        "split already holds this split: nothing to do.")


def test_the_later_notebooks_folder_refuses_another_split(source, tmp_path, monkeypatch, small_course):
    from course_utils import dogs_vs_cats

    monkeypatch.setenv("COURSE_WORK_DIR", str(tmp_path / "work"))
    folder = dogs_vs_cats.split_dir()
    with pytest.raises(FileNotFoundError, match="run notebook 04"):
        dogs_vs_cats.split_dir(must_exist=True)
    make_split(source, folder, 4, 2, 2, seed=9)  # e.g. the first edition's test size, made by hand into that folder
    with pytest.raises(SplitError, match="another split"):
        dogs_vs_cats.split_dir(must_exist=True)
    make_split(source, folder, 4, 2, 3, seed=9, force=True)
    assert dogs_vs_cats.split_dir(must_exist=True) == folder
