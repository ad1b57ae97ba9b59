"""Where the Dogs vs. Cats images come from: every lookup path, on small archives built here; no network."""
from __future__ import annotations

import io
import os
import shutil
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from course_utils import data
from course_utils.data import (
    DatasetNotFoundError,
    UnsafeArchiveError,
    extract_archive,
    find_dogs_vs_cats,
    list_dogs_vs_cats,
)


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


def no_get_file(**kwargs):
    pytest.fail("get_file must not be called here")


@pytest.fixture
def env(tmp_path, monkeypatch):
    """A machine with nothing on it: private home, Keras home and work folder; no data folder, no Kaggle login."""
    for name in ("COURSE_DATA_DIR", "KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_API_TOKEN", "KAGGLE_CONFIG_DIR",
                 "XDG_CONFIG_HOME"):
        monkeypatch.delenv(name, raising=False)
    paths = {name: tmp_path / name for name in ("home", "keras", "work", "data")}
    for path in paths.values():
        path.mkdir()
    monkeypatch.setenv("HOME", str(paths["home"]))
    monkeypatch.setenv("KERAS_HOME", str(paths["keras"]))
    monkeypatch.setenv("COURSE_WORK_DIR", str(paths["work"]))
    return paths


# --- listing the two layouts ------------------------------------------------------------------------------------


def test_list_reads_kaggle_flat_layout_in_natural_order(tmp_path):
    for name in ("cat.10.jpg", "cat.2.jpg", "dog.1.jpg", "Dog.3.JPG", "readme.txt", "._cat.5.jpg", "bird.1.jpg"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "cat.7.jpg").mkdir()  # a folder is not an image
    pairs = list_dogs_vs_cats(tmp_path)
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
    pairs = list_dogs_vs_cats(tmp_path)
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
        list_dogs_vs_cats(tmp_path)


# --- local data folder ----------------------------------------------------------------------------------------------


def test_unzipped_folder_in_data_dir_is_used_as_it_is(env, monkeypatch):
    folder = env["data"] / "dogs-vs-cats" / "train"
    folder.mkdir(parents=True)
    for name in ("cat.1.jpg", "dog.1.jpg"):
        (folder / name).write_bytes(jpeg(1))
    monkeypatch.setenv("COURSE_DATA_DIR", str(env["data"]))
    assert find_dogs_vs_cats(kaggle_runner=no_kaggle, get_file=no_get_file) == folder
    assert tree(env["work"]) == {}


def test_zip_in_data_dir_is_extracted_into_work_dir_and_source_left_alone(env, monkeypatch):
    archive = write_zip(env["data"] / "dogs-vs-cats" / "train.zip", kaggle_members(3))
    before = tree(env["data"])
    monkeypatch.setenv("COURSE_DATA_DIR", str(env["data"]))

    found = find_dogs_vs_cats(kaggle_runner=no_kaggle, get_file=no_get_file)

    assert found == env["work"] / "datasets" / "dogs-vs-cats" / "train" / "train"
    assert sorted(p.name for p in found.iterdir()) == sorted(Path(n).name for n in kaggle_members(3))
    assert (found / "cat.2.jpg").read_bytes() == kaggle_members(3)["train/cat.2.jpg"]
    assert tree(env["data"]) == before and archive.is_file()
    assert oct(found.parent.stat().st_mode & 0o777) == oct(0o777 & ~_umask())  # not a private 0700 temp folder
    # A second call reuses the finished extraction instead of unpacking again.
    (found / "sentinel.txt").write_text("still here")
    assert find_dogs_vs_cats(kaggle_runner=no_kaggle, get_file=no_get_file) == found
    assert (found / "sentinel.txt").is_file()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_half_unzipped_folder_beside_its_archive_is_not_taken_for_complete(env, monkeypatch):
    place = env["data"] / "dogs-vs-cats"
    write_zip(place / "train.zip", kaggle_members(3))
    (place / "train").mkdir()
    for name in ("cat.1.jpg", "dog.1.jpg"):  # 2 of the archive's 6 images: an interrupted unzip
        (place / "train" / name).write_bytes(jpeg(1))
    monkeypatch.setenv("COURSE_DATA_DIR", str(env["data"]))
    found = find_dogs_vs_cats(kaggle_runner=no_kaggle, get_file=no_get_file)
    assert found.is_relative_to(env["work"])
    assert len(list_dogs_vs_cats(found)) == 6


def test_data_dir_set_to_a_missing_folder_is_an_error(env, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_DIR", str(env["data"] / "typo"))
    with pytest.raises(FileNotFoundError, match="typo"):
        find_dogs_vs_cats(kaggle_runner=no_kaggle, get_file=no_get_file)


# --- extraction safety ------------------------------------------------------------------------------------------


def test_interrupted_extraction_leaves_nothing_that_looks_finished(env, monkeypatch):
    archive = write_zip(env["data"] / "train.zip", kaggle_members(3))
    target = env["work"] / "out"
    real_copy = shutil.copyfileobj
    calls = []

    def copy_then_fail(source, destination, *args):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_copy(source, destination, *args)

    monkeypatch.setattr(shutil, "copyfileobj", copy_then_fail)
    with pytest.raises(KeyboardInterrupt):
        extract_archive(archive, target)
    assert not target.exists()
    assert list(env["work"].iterdir()) == []  # the partial folder is gone too

    monkeypatch.setattr(shutil, "copyfileobj", real_copy)
    found = extract_archive(archive, target)
    assert found == target / "train" and len(list_dogs_vs_cats(found)) == 6


def test_folder_without_marker_at_target_is_not_reused_nor_deleted(env):
    archive = write_zip(env["data"] / "train.zip", kaggle_members(2))
    target = env["work"] / "out"
    (target / "train").mkdir(parents=True)
    (target / "train" / "cat.1.jpg").write_bytes(b"someone else's")
    with pytest.raises(FileExistsError, match="not unpacked by the course"):
        extract_archive(archive, target)
    assert (target / "train" / "cat.1.jpg").read_bytes() == b"someone else's"


def test_changed_archive_is_extracted_again(env):
    archive = write_zip(env["data"] / "train.zip", kaggle_members(2))
    target = env["work"] / "out"
    assert len(list_dogs_vs_cats(extract_archive(archive, target))) == 4
    write_zip(archive, kaggle_members(3))
    assert len(list_dogs_vs_cats(extract_archive(archive, target))) == 6
    assert [p.name for p in env["work"].iterdir()] == ["out"]  # the stale copy was removed


@pytest.mark.parametrize("bad_name", ["../escape.jpg", "/abs/cat.1.jpg", "train/../../escape.jpg", "C:/x/cat.2.jpg"])
def test_path_traversal_is_refused_before_anything_is_written(env, bad_name):
    members = kaggle_members(2) | {bad_name: jpeg(9)}
    archive = write_zip(env["data"] / "evil.zip", members)
    target = env["work"] / "deep" / "out"
    with pytest.raises(UnsafeArchiveError):
        extract_archive(archive, target)
    assert not (env["work"] / "deep").exists()
    assert not (env["work"] / "escape.jpg").exists() and not (env["data"] / "escape.jpg").exists()


def test_archive_without_pet_images_is_refused(env):
    archive = write_zip(env["data"] / "train.zip", {"train/readme.txt": b"nothing"})
    with pytest.raises(ValueError, match="neither"):
        extract_archive(archive, env["work"] / "out")
    assert list(env["work"].iterdir()) == []


# --- Keras cache ------------------------------------------------------------------------------------------------


def test_zip_in_keras_cache_is_found(env):
    write_zip(env["keras"] / "datasets" / "dogs-vs-cats" / "train.zip", kaggle_members(2))
    found = find_dogs_vs_cats(kaggle_runner=no_kaggle, get_file=no_get_file)
    assert {c for _, c in list_dogs_vs_cats(found)} == {"cat", "dog"} and found.is_relative_to(env["work"])


def test_default_keras_home_is_under_home(env, monkeypatch):
    monkeypatch.delenv("KERAS_HOME")
    assert data.dogs_vs_cats_cache() == env["home"] / ".keras" / "datasets" / "dogs-vs-cats"
    write_zip(data.dogs_vs_cats_cache() / "kagglecatsanddogs_5340.zip", petimages_members(2))
    found = find_dogs_vs_cats(kaggle_runner=no_kaggle, get_file=no_get_file)
    assert found.name == "PetImages"
    assert [(p.name, c) for p, c in list_dogs_vs_cats(found)] == [
        ("0.jpg", "cat"), ("1.jpg", "cat"), ("0.jpg", "dog"), ("1.jpg", "dog")
    ]


def test_full_competition_zip_is_opened_down_to_train_zip(env):
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as archive:
        for name, content in kaggle_members(2).items():
            archive.writestr(name, content)
    write_zip(
        env["keras"] / "datasets" / "dogs-vs-cats" / "dogs-vs-cats.zip",
        {"train.zip": inner.getvalue(), "test1.zip": b"PK unused", "sampleSubmission.csv": b"id,label\n"},
    )
    found = find_dogs_vs_cats(kaggle_runner=no_kaggle, get_file=no_get_file)
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


class FakeGetFile:
    """Stands in for keras.utils.get_file: copies a local zip into cache_dir/cache_subdir/fname."""

    def __init__(self, archive: Path | None = None, error: Exception | None = None):
        self.calls: list[dict] = []
        self.archive, self.error = archive, error

    def __call__(self, **kwargs):
        self.calls.append(kwargs)
        if self.error is not None:
            raise self.error
        target = Path(kwargs["cache_dir"]) / kwargs["cache_subdir"] / kwargs["fname"]
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.archive, target)
        return str(target)


def test_kaggle_download_with_credentials(env, monkeypatch):
    monkeypatch.setenv("KAGGLE_USERNAME", "learner")
    monkeypatch.setenv("KAGGLE_KEY", "secret")
    kaggle = FakeKaggle(kaggle_members(2))
    found = find_dogs_vs_cats(kaggle_runner=kaggle, get_file=no_get_file)
    assert len(kaggle.calls) == 1
    assert kaggle.calls[0][:6] == ["competitions", "download", "-c", "dogs-vs-cats", "-f", "train.zip"]
    cache = env["keras"] / "datasets" / "dogs-vs-cats"
    assert sorted(p.name for p in cache.iterdir()) == ["train.zip"]  # the landing folder is cleaned up
    assert len(list_dogs_vs_cats(found)) == 4
    # Next time the cached download is enough.
    assert find_dogs_vs_cats(kaggle_runner=no_kaggle, get_file=no_get_file) == found


def test_kaggle_json_counts_as_credentials(env):
    assert data.kaggle_credentials() is None
    (env["home"] / ".kaggle").mkdir()
    (env["home"] / ".kaggle" / "kaggle.json").write_text('{"username": "u", "key": "k"}')
    assert data.kaggle_credentials() == str(env["home"] / ".kaggle" / "kaggle.json")


def test_without_kaggle_credentials_petimages_is_downloaded(env):
    local = write_zip(env["data"] / "kagglecatsanddogs_5340.zip", petimages_members(3))
    get_file = FakeGetFile(local)
    found = find_dogs_vs_cats(kaggle_runner=no_kaggle, get_file=get_file)
    assert found.name == "PetImages"
    assert len(get_file.calls) == 1
    call = get_file.calls[0]
    assert call["origin"] == data.PETIMAGES_URL and call["fname"] == "kagglecatsanddogs_5340.zip"
    assert call["file_hash"] is None
    assert Path(call["cache_dir"]) / call["cache_subdir"] == env["keras"] / "datasets" / "dogs-vs-cats"
    pairs = list_dogs_vs_cats(found)
    assert [c for _, c in pairs] == ["cat"] * 3 + ["dog"] * 3  # Thumbs.db and the read-me are not images
    assert find_dogs_vs_cats(kaggle_runner=no_kaggle, get_file=no_get_file) == found


def test_failed_kaggle_download_falls_back_to_petimages(env, monkeypatch):
    monkeypatch.setenv("KAGGLE_API_TOKEN", "token")
    kaggle = FakeKaggle(error=RuntimeError("403 - Forbidden"))
    get_file = FakeGetFile(write_zip(env["data"] / "pets.zip", petimages_members(2)))
    found = find_dogs_vs_cats(kaggle_runner=kaggle, get_file=get_file)
    assert len(kaggle.calls) == 1 and len(get_file.calls) == 1 and found.name == "PetImages"
    assert [p.name for p in (env["keras"] / "datasets" / "dogs-vs-cats").iterdir()] == ["kagglecatsanddogs_5340.zip"]


def test_offline_machine_gets_one_error_saying_where_to_put_the_file(env, monkeypatch):
    monkeypatch.setenv("KAGGLE_USERNAME", "learner")
    monkeypatch.setenv("KAGGLE_KEY", "secret")
    kaggle = FakeKaggle(error=RuntimeError("403 - Forbidden"))
    get_file = FakeGetFile(error=Exception("URL fetch failure: [Errno -3] Temporary failure in name resolution"))
    with pytest.raises(DatasetNotFoundError) as caught:
        find_dogs_vs_cats(kaggle_runner=kaggle, get_file=get_file)
    message = str(caught.value)
    cache = env["keras"] / "datasets" / "dogs-vs-cats"
    assert "Put Kaggle's train.zip (train/cat.N.jpg, train/dog.N.jpg) in $COURSE_DATA_DIR/dogs-vs-cats/" in message
    assert f"or in {cache}/ and run again." in message
    assert "$COURSE_DATA_DIR: not set" in message
    assert f"{cache}: no such folder" in message
    assert "403 - Forbidden" in message and data.KAGGLE_RULES_URL in message
    assert "Temporary failure in name resolution" in message
    assert isinstance(caught.value, FileNotFoundError)


def test_missing_credentials_are_named_and_kaggle_is_not_run(env):
    get_file = FakeGetFile(error=Exception("offline"))
    with pytest.raises(DatasetNotFoundError, match=r"Kaggle API: no credentials\. .*kaggle\.json in ~/\.kaggle/"):
        find_dogs_vs_cats(kaggle_runner=no_kaggle, get_file=get_file)


def test_no_download_when_not_allowed(env):
    with pytest.raises(DatasetNotFoundError, match="download=False"):
        find_dogs_vs_cats(download=False, kaggle_runner=no_kaggle, get_file=no_get_file)


def test_broken_cached_zip_is_reported_and_skipped(env):
    cache = env["keras"] / "datasets" / "dogs-vs-cats"
    cache.mkdir(parents=True)
    (cache / "train.zip").write_bytes(b"half a download")
    with pytest.warns(UserWarning, match="could not be used"), pytest.raises(DatasetNotFoundError) as caught:
        find_dogs_vs_cats(download=False)
    assert "train.zip could not be used: File is not a zip file" in str(caught.value)


def test_run_kaggle_reports_a_missing_install_and_a_failure(monkeypatch):
    monkeypatch.setattr(data.shutil, "which", lambda name: None)
    monkeypatch.setattr(data.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(FileNotFoundError, match="pip install kaggle"):
        data.run_kaggle(["competitions", "list"])

    ran = []

    def fake_run(command, **kwargs):
        ran.append(command)
        return data.subprocess.CompletedProcess(command, 1, stdout="", stderr="Downloading\n403 - Forbidden\n")

    monkeypatch.setattr(data.shutil, "which", lambda name: "/opt/bin/kaggle")
    monkeypatch.setattr(data.subprocess, "run", fake_run)
    with pytest.raises(RuntimeError, match="403 - Forbidden"):
        data.run_kaggle(["competitions", "download", "-c", "dogs-vs-cats"])
    assert ran == [["/opt/bin/kaggle", "competitions", "download", "-c", "dogs-vs-cats"]]


# --- the real data, when this machine has it ------------------------------------------------------------------


@pytest.mark.skipif(
    not (Path(os.environ.get("COURSE_DATA_DIR") or "/nonexistent") / "dogs-vs-cats").is_dir(),
    reason="COURSE_DATA_DIR is not set or has no dogs-vs-cats/",
)
def test_real_data_dir_holds_the_dogs_vs_cats_sample(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_WORK_DIR", str(tmp_path / "work"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    found = find_dogs_vs_cats(kaggle_runner=no_kaggle, get_file=no_get_file)
    pairs = list_dogs_vs_cats(found)
    counts = {name: sum(1 for _, c in pairs if c == name) for name in ("cat", "dog")}
    assert counts["cat"] >= 2500 and counts["dog"] >= 2500, counts
