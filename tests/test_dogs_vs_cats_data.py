"""Where the Dogs vs. Cats photos come from: every lookup path, on small archives built here; no network."""
from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np

import pytest
from PIL import Image

from course_utils import dogs_vs_cats
from course_utils.dogs_vs_cats import DatasetNotFoundError, _extract, find_source, list_photos


def jpeg(shade: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (shade, 255 - shade, 64)).save(buffer, "JPEG")
    return buffer.getvalue()


def kaggle_members(n: int = 3) -> dict[str, bytes]:
    return {f"train/{name}.{i}.jpg": jpeg(i * 20 + k) for k, name in enumerate(("cat", "dog")) for i in range(1, n + 1)}


def petimages_members(n: int = 3) -> dict[str, bytes]:
    members = {f"PetImages/{name}/{i}.jpg": jpeg(i * 20 + k) for k, name in enumerate(("Cat", "Dog")) for i in range(n)}
    members["PetImages/Cat/Thumbs.db"] = b"not an image"
    members["readme[1].txt"] = b"Microsoft PetImages"
    return members


def write_zip(path: Path, members: dict[str, bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return path


def tree(folder: Path) -> dict[str, int]:
    return {p.relative_to(folder).as_posix(): p.stat().st_size for p in sorted(folder.rglob("*")) if p.is_file()}


# pytest.fail raises a BaseException, which the lookup's "try the next source" handlers do not swallow.
def no_kaggle(args):
    pytest.fail("the Kaggle API must not be called here")


def no_fetch(*args, **kwargs):
    pytest.fail("nothing may be downloaded here")


@pytest.fixture
def env(tmp_path, monkeypatch):
    """A machine with nothing on it: an empty data folder, a private work folder and home; no Kaggle login."""
    for name in ("KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_API_TOKEN", "KAGGLE_CONFIG_DIR", "XDG_CONFIG_HOME"):
        monkeypatch.delenv(name, raising=False)
    paths = {name: tmp_path / name for name in ("home", "work", "data", "elsewhere")}
    for path in paths.values():
        path.mkdir()
    monkeypatch.setattr(Path, "home", lambda: paths["home"])  # HOME alone would not do on Windows
    monkeypatch.setenv("COURSE_DATA_DIR", str(paths["data"]))
    monkeypatch.setenv("COURSE_WORK_DIR", str(paths["work"]))
    monkeypatch.chdir(tmp_path)
    return paths


# --- listing the two layouts ------------------------------------------------------------------------------------


def test_list_reads_kaggle_flat_layout_in_natural_order(tmp_path):
    for name in ("cat.10.jpg", "cat.2.jpg", "dog.1.jpg", "Dog.3.JPG", "readme.txt", "._cat.5.jpg", "bird.1.jpg"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "cat.7.jpg").mkdir()  # a folder is not an image
    pairs = list_photos(tmp_path)
    assert [(p.name, c) for p, c in pairs] == [
        ("cat.2.jpg", "cat"),
        ("cat.10.jpg", "cat"),
        ("dog.1.jpg", "dog"),
        ("Dog.3.JPG", "dog"),
    ]


def test_list_reads_class_folders_and_normalises_names(tmp_path):
    layout = {"Cat": ["1.jpg", "0.jpg", "Thumbs.db"], "Dog": ["12.jpg", "2.png"], "other": ["9.jpg"]}
    for folder, names in layout.items():
        (tmp_path / folder).mkdir()
        for name in names:
            (tmp_path / folder / name).write_bytes(b"x")
    pairs = list_photos(tmp_path)
    assert [(p.relative_to(tmp_path).as_posix(), c) for p, c in pairs] == [
        ("Cat/0.jpg", "cat"),
        ("Cat/1.jpg", "cat"),
        ("Dog/2.png", "dog"),
        ("Dog/12.jpg", "dog"),
    ]


def test_list_refuses_two_folders_for_one_class(tmp_path):
    (tmp_path / "Cat").mkdir()
    (tmp_path / "cats").mkdir()
    with pytest.raises(ValueError, match="two folders"):
        list_photos(tmp_path)


# --- the data folder ------------------------------------------------------------------------------------------------


def test_unzipped_folder_in_data_dir_is_used_as_it_is(env):
    folder = env["data"] / "dogs-vs-cats" / "train"
    folder.mkdir(parents=True)
    for name in ("cat.1.jpg", "dog.1.jpg"):
        (folder / name).write_bytes(jpeg(1))
    assert find_source(kaggle_runner=no_kaggle, fetch=no_fetch) == folder
    assert dogs_vs_cats.local_source() == folder
    assert tree(env["work"]) == {}


def test_zip_in_data_dir_is_extracted_into_work_dir_and_source_left_alone(env):
    archive = write_zip(env["data"] / "dogs-vs-cats" / "train.zip", kaggle_members(3))
    before = tree(env["data"])

    found = find_source(kaggle_runner=no_kaggle, fetch=no_fetch)

    assert found == env["work"] / "datasets" / "dogs-vs-cats" / "train" / "train"
    assert sorted(p.name for p in found.iterdir()) == sorted(Path(n).name for n in kaggle_members(3))
    assert (found / "cat.2.jpg").read_bytes() == kaggle_members(3)["train/cat.2.jpg"]
    assert tree(env["data"]) == before and archive.is_file()
    if os.name == "posix":  # a private 0700 temporary folder would lock other users out
        assert oct(found.parent.stat().st_mode & 0o777) == oct(found.parent.parent.stat().st_mode & 0o777)
    # A second call reuses the finished extraction instead of unpacking again.
    (found / "sentinel.txt").write_text("still here")
    assert find_source(kaggle_runner=no_kaggle, fetch=no_fetch) == found
    assert (found / "sentinel.txt").is_file()


def test_half_unzipped_folder_beside_its_archive_is_not_taken_for_complete(env):
    place = env["data"] / "dogs-vs-cats"
    write_zip(place / "train.zip", kaggle_members(3))
    (place / "train").mkdir()
    for name in ("cat.1.jpg", "dog.1.jpg"):  # 2 of the archive's 6 photos: an interrupted unzip
        (place / "train" / name).write_bytes(jpeg(1))
    found = find_source(kaggle_runner=no_kaggle, fetch=no_fetch)
    assert found.is_relative_to(env["work"])
    assert len(list_photos(found)) == 6


def test_data_dir_set_to_a_missing_folder_is_an_error(env, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_DIR", str(env["data"] / "typo"))
    with pytest.raises(FileNotFoundError, match="typo"):
        find_source(kaggle_runner=no_kaggle, fetch=no_fetch)


def test_archive_photo_counts_read_the_directory_only(env):
    assert dogs_vs_cats.archive_photo_counts(write_zip(env["elsewhere"] / "k.zip", kaggle_members(3))) == \
        {"cat": 3, "dog": 3}
    assert dogs_vs_cats.archive_photo_counts(write_zip(env["elsewhere"] / "p.zip", petimages_members(2))) == \
        {"cat": 2, "dog": 2}


# --- extraction safety ------------------------------------------------------------------------------------------


def test_interrupted_extraction_leaves_nothing_that_looks_finished(env, monkeypatch):
    archive = write_zip(env["elsewhere"] / "train.zip", kaggle_members(3))
    target = env["work"] / "out"
    real_copy = shutil.copyfileobj
    calls = []

    def copy_then_fail(source, destination, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_copy(source, destination, *args, **kwargs)

    monkeypatch.setattr(shutil, "copyfileobj", copy_then_fail)
    with pytest.raises(KeyboardInterrupt):
        _extract(archive, target)
    assert not target.exists()
    assert list(env["work"].iterdir()) == []  # the partial folder is gone too

    monkeypatch.setattr(shutil, "copyfileobj", real_copy)
    found = _extract(archive, target)
    assert found == target / "train" and len(list_photos(found)) == 6


def test_leftovers_of_a_killed_extraction_are_removed_by_the_next_one(env):
    """A run killed outright (no exception handler runs) leaves hidden folders behind; the next run deletes those of
    dead processes only, and never anything that is not ours."""
    archive = write_zip(env["elsewhere"] / "train.zip", kaggle_members(2))
    work = env["work"]
    dead_pid = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                                  capture_output=True, text=True, check=True).stdout)
    leftovers = [work / f".out.partial-{dead_pid}-abc", work / f".out.stale-{dead_pid}-def"]
    for folder in leftovers:
        (folder / "train").mkdir(parents=True)
        (folder / "train" / "cat.1.jpg").write_bytes(jpeg(3))
    running = work / f".out.partial-{os.getpid()}-xyz"  # a live process' work in progress
    running.mkdir()
    others = [work / ".out.backup", work / "out.partial-1-x", work / ".other.partial-1-x"]
    for folder in others:
        folder.mkdir()

    _extract(archive, work / "out")

    if os.name == "posix":  # on Windows only day-old leftovers are removed
        assert not any(folder.exists() for folder in leftovers)
    assert running.is_dir() and all(folder.is_dir() for folder in others)


def test_folder_without_marker_at_target_is_not_reused_nor_deleted(env):
    archive = write_zip(env["elsewhere"] / "train.zip", kaggle_members(2))
    target = env["work"] / "out"
    (target / "train").mkdir(parents=True)
    (target / "train" / "cat.1.jpg").write_bytes(b"someone else's")
    with pytest.raises(FileExistsError, match="not unpacked by the course"):
        _extract(archive, target)
    assert (target / "train" / "cat.1.jpg").read_bytes() == b"someone else's"


def test_changed_archive_is_extracted_again(env):
    archive = write_zip(env["elsewhere"] / "train.zip", kaggle_members(2))
    target = env["work"] / "out"
    assert len(list_photos(_extract(archive, target))) == 4
    write_zip(archive, kaggle_members(3))
    assert len(list_photos(_extract(archive, target))) == 6
    assert [p.name for p in env["work"].iterdir()] == ["out"]  # the stale copy was removed


@pytest.mark.parametrize("bad_name", ["../escape.jpg", "/abs/cat.9.jpg", "train/../../escape.jpg", "../../cat.9.jpg"])
def test_members_pointing_outside_stay_inside(env, bad_name):
    members = kaggle_members(2) | {bad_name: jpeg(9)}
    archive = write_zip(env["elsewhere"] / "evil.zip", members)
    target = env["work"] / "deep" / "out"
    found = _extract(archive, target)
    assert {p.name for p in found.iterdir()} >= {"cat.1.jpg", "dog.2.jpg"}
    outside = [p for p in env["work"].parent.rglob("*") if p.is_file() and not p.is_relative_to(target)
               and p.suffix == ".jpg" and not p.is_relative_to(env["data"])]
    assert outside == []


def test_archive_without_pet_images_is_refused(env):
    archive = write_zip(env["elsewhere"] / "train.zip", {"train/readme.txt": b"nothing"})
    with pytest.raises(ValueError, match="neither"):
        _extract(archive, env["work"] / "out")
    assert list(env["work"].iterdir()) == []


def test_petimages_layout_in_the_data_folder(env):
    write_zip(env["data"] / "dogs-vs-cats" / "kagglecatsanddogs_5340.zip", petimages_members(2))
    found = find_source(kaggle_runner=no_kaggle, fetch=no_fetch)
    assert found.name == "PetImages"
    assert [(p.name, c) for p, c in list_photos(found)] == [
        ("0.jpg", "cat"), ("1.jpg", "cat"), ("0.jpg", "dog"), ("1.jpg", "dog")
    ]


def test_full_competition_zip_is_opened_down_to_train_zip(env):
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as archive:
        for name, content in kaggle_members(2).items():
            archive.writestr(name, content)
    write_zip(
        env["data"] / "dogs-vs-cats" / "dogs-vs-cats.zip",
        {"train.zip": inner.getvalue(), "test1.zip": b"PK unused", "sampleSubmission.csv": b"id,label\n"},
    )
    found = find_source(kaggle_runner=no_kaggle, fetch=no_fetch)
    assert sorted(p.name for p in found.iterdir()) == ["cat.1.jpg", "cat.2.jpg", "dog.1.jpg", "dog.2.jpg"]
    assert not list(found.parent.rglob("*.zip"))


# --- downloads (stand-ins; no network) --------------------------------------------------------------------------


class FakeKaggle:
    """Stands in for the kaggle command: records its arguments and writes train.zip where -p says."""

    def __init__(self, members: dict[str, bytes] | None = None, error: Exception | None = None):
        self.calls: list[list[str]] = []
        self.members, self.error = members, error

    def __call__(self, args):
        self.calls.append(list(args))
        if self.error is not None:
            raise self.error
        write_zip(Path(args[args.index("-p") + 1]) / "train.zip", self.members)


class FakeFetch:
    """Stands in for course_utils.download.download: copies a local zip to the target."""

    def __init__(self, archive: Path | None = None, error: Exception | None = None):
        self.calls: list[tuple] = []
        self.archive, self.error = archive, error

    def __call__(self, url, target, sha256=None, **kwargs):
        self.calls.append((url, Path(target), sha256))
        if self.error is not None:
            raise self.error
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.archive, target)
        return Path(target)


def test_kaggle_download_with_credentials(env, monkeypatch):
    monkeypatch.setenv("KAGGLE_USERNAME", "learner")
    monkeypatch.setenv("KAGGLE_KEY", "secret")
    kaggle = FakeKaggle(kaggle_members(2))
    found = find_source(kaggle_runner=kaggle, fetch=no_fetch)
    assert len(kaggle.calls) == 1
    assert kaggle.calls[0][:6] == ["competitions", "download", "-c", "dogs-vs-cats", "-f", "train.zip"]
    place = env["data"] / "dogs-vs-cats"
    assert sorted(p.name for p in place.iterdir()) == ["train.zip"]  # the hidden landing folder is cleaned up
    assert len(list_photos(found)) == 4
    # Next time the download is found where it landed.
    assert find_source(kaggle_runner=no_kaggle, fetch=no_fetch) == found


def test_kaggle_json_counts_as_credentials(env, monkeypatch):
    assert dogs_vs_cats._kaggle_credentials() is None
    (env["home"] / ".kaggle").mkdir()
    (env["home"] / ".kaggle" / "kaggle.json").write_text('{"username": "u", "key": "k"}')
    assert dogs_vs_cats._kaggle_credentials() == str(env["home"] / ".kaggle" / "kaggle.json")
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(env["elsewhere"]))
    (env["elsewhere"] / "kaggle.json").write_text("{}")
    assert dogs_vs_cats._kaggle_credentials() == str(env["elsewhere"] / "kaggle.json")


def test_without_kaggle_credentials_petimages_is_downloaded_into_the_data_folder(env):
    fetch = FakeFetch(write_zip(env["elsewhere"] / "pets.zip", petimages_members(3)))
    found = find_source(kaggle_runner=no_kaggle, fetch=fetch)
    assert found.name == "PetImages"
    assert fetch.calls == [(dogs_vs_cats.PETIMAGES_URL, env["data"] / "dogs-vs-cats" / "kagglecatsanddogs_5340.zip",
                            dogs_vs_cats.PETIMAGES_SHA256)]
    pairs = list_photos(found)
    assert [c for _, c in pairs] == ["cat"] * 3 + ["dog"] * 3  # Thumbs.db and the read-me are not photos
    assert find_source(kaggle_runner=no_kaggle, fetch=no_fetch) == found


def test_failed_kaggle_download_falls_back_to_petimages(env, monkeypatch):
    monkeypatch.setenv("KAGGLE_API_TOKEN", "token")
    kaggle = FakeKaggle(error=RuntimeError("403 - Forbidden"))
    fetch = FakeFetch(write_zip(env["elsewhere"] / "pets.zip", petimages_members(2)))
    found = find_source(kaggle_runner=kaggle, fetch=fetch)
    assert len(kaggle.calls) == 1 and len(fetch.calls) == 1 and found.name == "PetImages"
    assert [p.name for p in (env["data"] / "dogs-vs-cats").iterdir()] == ["kagglecatsanddogs_5340.zip"]


def test_offline_machine_gets_one_error_saying_where_to_put_the_file(env, monkeypatch):
    from course_utils.download import DownloadError

    monkeypatch.setenv("KAGGLE_USERNAME", "learner")
    monkeypatch.setenv("KAGGLE_KEY", "secret")
    kaggle = FakeKaggle(error=RuntimeError("403 - Forbidden"))
    fetch = FakeFetch(error=DownloadError("https://x: [Errno -3] Temporary failure in name resolution", True))
    with pytest.raises(DatasetNotFoundError) as caught:
        find_source(kaggle_runner=kaggle, fetch=fetch)
    message = str(caught.value)
    place = env["data"] / "dogs-vs-cats"
    assert f"Put Kaggle's train.zip (train/cat.N.jpg, train/dog.N.jpg) in {place}/" in message
    assert "403 - Forbidden" in message and dogs_vs_cats.KAGGLE_RULES_URL in message
    assert "Temporary failure in name resolution" in message
    assert caught.value.offline and isinstance(caught.value, FileNotFoundError)


def test_missing_credentials_are_named_and_kaggle_is_not_run(env):
    fetch = FakeFetch(error=OSError("offline"))
    with pytest.raises(DatasetNotFoundError, match=r"Kaggle API: no credentials\. .*kaggle\.json in ~/\.kaggle/"):
        find_source(kaggle_runner=no_kaggle, fetch=fetch)


def test_no_download_when_not_allowed(env):
    with pytest.raises(DatasetNotFoundError, match="download=False"):
        find_source(download=False, kaggle_runner=no_kaggle, fetch=no_fetch)


def test_broken_zip_is_reported_and_skipped(env):
    place = env["data"] / "dogs-vs-cats"
    place.mkdir(parents=True)
    (place / "train.zip").write_bytes(b"half a download")
    with pytest.warns(UserWarning, match="could not be used"), pytest.raises(DatasetNotFoundError) as caught:
        find_source(download=False)
    assert "train.zip could not be used: File is not a zip file" in str(caught.value)


def test_run_kaggle_reports_a_missing_install_and_a_failure(monkeypatch):
    monkeypatch.setattr(dogs_vs_cats.shutil, "which", lambda name: None)
    monkeypatch.setattr(dogs_vs_cats.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(FileNotFoundError, match="pip install kaggle"):
        dogs_vs_cats._run_kaggle(["competitions", "list"])

    ran = []

    def fake_run(command, **kwargs):
        ran.append(command)
        return subprocess.CompletedProcess(command, 1, stdout=None, stderr="Downloading\n403 - Forbidden\n")

    monkeypatch.setattr(dogs_vs_cats.shutil, "which", lambda name: "/opt/bin/kaggle")
    monkeypatch.setattr(dogs_vs_cats.subprocess, "run", fake_run)
    with pytest.raises(RuntimeError, match="403 - Forbidden"):
        dogs_vs_cats._run_kaggle(["competitions", "download", "-c", "dogs-vs-cats"])
    assert ran == [["/opt/bin/kaggle", "competitions", "download", "-c", "dogs-vs-cats"]]


def test_split_dir_says_how_to_make_a_missing_split(env):
    assert dogs_vs_cats.split_dir() == env["work"] / "dogs-vs-cats-small"
    with pytest.raises(FileNotFoundError, match="run notebook 04"):
        dogs_vs_cats.split_dir(must_exist=True)


# --- the real data, when this machine has it ------------------------------------------------------------------


@pytest.mark.skipif(dogs_vs_cats.local_source() is None, reason="the data folder holds no Dogs vs. Cats photos")
def test_real_data_folder_holds_the_dogs_vs_cats_sample():
    source = dogs_vs_cats.local_source()
    if source.is_dir():
        pairs = list_photos(dogs_vs_cats.find_source(download=False))
        counts = {name: sum(1 for _, c in pairs if c == name) for name in dogs_vs_cats.CLASSES}
    else:  # the archive's directory says it without unpacking 5,000 photos here
        counts = dogs_vs_cats.archive_photo_counts(source)
    assert counts is None or (counts["cat"] >= 2500 and counts["dog"] >= 2500), counts


def test_course_split_is_made_when_missing_and_equals_notebook_04s(tmp_path, monkeypatch, capsys):
    """A notebook opened alone makes the split itself: the same files in the same parts as notebook 04's call."""
    from course_utils import split

    monkeypatch.setattr(split, "COURSE_REQUEST", {"train": 10, "validation": 5, "test": 10, "seed": 1337})
    source = tmp_path / "data" / "dogs-vs-cats" / "train"
    source.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in ("cat", "dog"):
        for number in range(1, 41):
            Image.fromarray(rng.integers(0, 255, (4, 4, 3), dtype=np.uint8)).save(source / f"{name}.{number}.jpg")
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("COURSE_WORK_DIR", str(tmp_path / "alone"))
    folder = dogs_vs_cats.course_split()
    assert "made the course's split, the photos notebook 04 chooses (50 photos" in capsys.readouterr().out
    split.check_course_split(folder)
    assert dogs_vs_cats.course_split() == folder and capsys.readouterr().out == ""  # found: nothing to say
    monkeypatch.setenv("COURSE_WORK_DIR", str(tmp_path / "by_04"))
    by_04 = split.make_split(source, dogs_vs_cats.split_dir(), 10, 5, 10, seed=1337)  # notebook 04's call
    rows = lambda f: sorted(r.split(",", 1)[1] for r in (f / "manifest.csv").read_text().splitlines()[1:])  # noqa: E731
    assert rows(folder) == rows(by_04.destination)
    with pytest.raises(FileNotFoundError, match="run notebook 04"):
        monkeypatch.setenv("COURSE_WORK_DIR", str(tmp_path / "empty"))
        dogs_vs_cats.course_split(make=False)
