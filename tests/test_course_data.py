"""The data folder, MNIST, downloads and the data command, against a stand-in web server on 127.0.0.1."""
from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest

from course_utils import course_data, dogs_vs_cats, mnist_data, paths
from course_utils.download import DownloadError, download
from local_server import serve

REPO = Path(__file__).resolve().parent.parent
MNIST_COUNTS = course_data.MNIST_LABEL_COUNTS


def fake_mnist(train_counts=MNIST_COUNTS["train"], test_counts=MNIST_COUNTS["test"], label_type="uint8"):
    y_train = np.repeat(np.arange(10), train_counts).astype(label_type)
    y_test = np.repeat(np.arange(10), test_counts).astype(label_type)
    return ((np.zeros((len(y_train), 28, 28), "uint8"), y_train), (np.zeros((len(y_test), 28, 28), "uint8"), y_test))


def npz_bytes(arrays) -> bytes:
    (xt, yt), (xs, ys) = arrays
    buffer = io.BytesIO()
    np.savez_compressed(buffer, x_train=xt, y_train=yt, x_test=xs, y_test=ys)
    return buffer.getvalue()


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def photos_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for folder in ("Cat", "Dog"):
            for i in range(3):
                archive.writestr(f"PetImages/{folder}/{i}.jpg", b"\xff\xd8 not decoded here")
    return buffer.getvalue()


def point_catalogue_at(monkeypatch, name: str, url: str, sha256: str | None) -> None:
    """Make the data catalogue fetch ``name`` from ``url``, checked against ``sha256``."""
    items = tuple(dataclasses.replace(item, url=url, sha256=sha256) if item.name == name else item
                  for item in course_data.FILES)
    monkeypatch.setattr(course_data, "FILES", items)
    monkeypatch.setattr(course_data, "_BY_NAME", {item.name: item for item in items})


@pytest.fixture
def data(tmp_path, monkeypatch):
    """An empty data folder and work folder; no Kaggle login."""
    for name in ("KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_API_TOKEN", "KAGGLE_CONFIG_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(Path, "home", lambda: tmp_path / "home")
    folder = tmp_path / "data"
    folder.mkdir()
    monkeypatch.setenv("COURSE_DATA_DIR", str(folder))
    monkeypatch.setenv("COURSE_WORK_DIR", str(tmp_path / "work"))
    return folder


# --- folders -------------------------------------------------------------------------------------------------------


def test_data_dir_choices(tmp_path, monkeypatch):
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    assert paths.data_dir() == tmp_path.resolve() / "course_data"  # outside a repository, e.g. on Colab
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "convnets-course"\n')
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")
    assert paths.data_dir() == tmp_path.resolve() / "data"  # the repository's data/
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "nope"))
    with pytest.raises(FileNotFoundError, match="not a folder"):
        paths.data_dir()


def test_work_dir_choices(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_WORK_DIR", str(tmp_path / "w"))
    assert paths.work_dir() == (tmp_path / "w").resolve() and (tmp_path / "w").is_dir()
    monkeypatch.delenv("COURSE_WORK_DIR")
    monkeypatch.chdir(tmp_path)
    assert paths.work_dir() == (tmp_path / "course_work").resolve()
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "convnets-course"\n')
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")
    assert paths.work_dir() == (tmp_path / "build").resolve()


def test_committed_files_are_found_whatever_the_data_folder(data):
    """The elephant photo is in the repository: every learner gets the same bytes, with or without a data folder."""
    photo = course_data._find_locally("images/african_elephants.jpg")
    assert photo == REPO / "data" / "images" / "african_elephants.jpg"
    assert course_data.fetch("images/african_elephants.jpg") == photo
    item = next(item for item in course_data.FILES if item.name == "images/african_elephants.jpg")
    assert sha256(photo.read_bytes()) == item.sha256 and photo.stat().st_size == item.size
    (data / "images").mkdir()
    (data / "images" / "african_elephants.jpg").write_bytes(b"a learner's own copy")
    assert course_data._find_locally("images/african_elephants.jpg") == data / "images" / "african_elephants.jpg"


def test_downloads_in_the_repository_do_not_stand_in_for_another_data_folder(data):
    """Only committed files come from the repository's data/; what was downloaded there is not looked at when
    COURSE_DATA_DIR names another folder."""
    assert paths.local_file("mnist.npz") is None and course_data._find_locally("mnist.npz") is None
    assert "mnist.npz" in course_data._missing()


# --- MNIST ---------------------------------------------------------------------------------------------------------


def test_mnist_is_recognised_by_shapes_and_label_counts_whoever_rebuilt_it(tmp_path):
    path = tmp_path / "mnist.npz"
    for label_type in ("uint8", "int64"):  # Keras' labels, and those of a copy rebuilt with another tool
        path.write_bytes(npz_bytes(fake_mnist(label_type=label_type)))
        assert course_data.mnist_problem(path) is None
    wrong = list(MNIST_COUNTS["train"])
    wrong[0], wrong[1] = wrong[0] + 1, wrong[1] - 1
    path.write_bytes(npz_bytes(fake_mnist(wrong)))
    assert "train label counts" in course_data.mnist_problem(path)
    (xt, yt), test = fake_mnist()
    path.write_bytes(npz_bytes(((xt[:, :27], yt), test)))
    assert "shapes" in course_data.mnist_problem(path)
    path.write_bytes(b"truncated")
    assert course_data.mnist_problem(path).startswith(f"{path} does not hold MNIST (")


def test_load_mnist_from_the_data_folder(data):
    (xt, yt), (xs, ys) = fake_mnist()
    xt[0, 0, 0] = 7
    np.savez(data / "mnist.npz", x_train=xt, y_train=yt, x_test=xs, y_test=ys)
    (x_train, _), _ = mnist_data.load_mnist()
    assert x_train[0, 0, 0] == 7
    np.savez(data / "mnist.npz", x_train=xt[:100], y_train=yt[:100], x_test=xs, y_test=ys)
    with pytest.raises(ValueError, match="does not hold MNIST.*tasks.py data"):
        mnist_data.load_mnist()
    (data / "mnist.npz").write_bytes(b"truncated")
    with pytest.raises(ValueError, match="does not hold MNIST"):
        mnist_data.load_mnist()


def test_load_mnist_downloads_into_the_data_folder_and_checks_the_hash(data, monkeypatch):
    content = npz_bytes(fake_mnist())
    with serve({"/mnist.npz": content}) as site:
        point_catalogue_at(monkeypatch, "mnist.npz", f"{site.url}/mnist.npz", sha256(content))
        (x_train, y_train), _ = mnist_data.load_mnist()
        assert x_train.shape == (60000, 28, 28) and (data / "mnist.npz").read_bytes() == content
        mnist_data.load_mnist()
        assert len(site.requests) == 1  # the second call reads the file

        (data / "mnist.npz").unlink()
        point_catalogue_at(monkeypatch, "mnist.npz", f"{site.url}/mnist.npz", "0" * 64)
        with pytest.raises(ValueError, match="sha256"):
            mnist_data.load_mnist()
    assert sorted(p.name for p in data.iterdir()) == []  # the bad download is not kept


# --- one download ----------------------------------------------------------------------------------------------


def test_an_interrupted_download_resumes_where_it_stopped(tmp_path):
    content = os.urandom(3 * 1024 * 1024 + 17)
    target, partial = tmp_path / "big.zip", tmp_path / ".big.zip.partial-download"
    with serve({"/big.zip": content}) as site:
        site.cut_after = 1024 * 1024
        with pytest.raises(DownloadError, match="run again to resume"):
            download(f"{site.url}/big.zip", target, sha256=sha256(content))
        assert not target.exists() and partial.stat().st_size == 1024 * 1024
        site.cut_after = None
        assert download(f"{site.url}/big.zip", target, sha256=sha256(content)) == target
        assert site.requests[-1] == ("/big.zip", f"bytes={1024 * 1024}-")
    assert target.read_bytes() == content and not partial.exists()


def test_download_errors_say_which_url_and_whether_offline(tmp_path):
    with serve({}) as site:
        with pytest.raises(DownloadError, match="404") as caught:
            download(f"{site.url}/missing.zip", tmp_path / "missing.zip")
        assert not caught.value.offline
        closed = site.url
    with pytest.raises(DownloadError) as caught:
        download(f"{closed}/gone.zip", tmp_path / "gone.zip")
    assert caught.value.offline and "gone.zip" in str(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_file_urls_work_too(tmp_path):
    source = tmp_path / "source.bin"
    source.write_bytes(b"local")
    assert download(source.as_uri(), tmp_path / "copy.bin", sha256=sha256(b"local")).read_bytes() == b"local"


# --- the data command ----------------------------------------------------------------------------------------------


def stand_in_sources(site, monkeypatch) -> dict[str, bytes]:
    """Point every source of the catalogue at the stand-in server; the files it serves."""
    files = {"/mnist.npz": npz_bytes(fake_mnist()), "/PetImages.zip": photos_zip(),
             "/weights.h5": b"fake weights", "/class_index.json": b"{}"}
    site.files.update(files)
    replaced = []
    for item in course_data.FILES:
        path = {"mnist.npz": "/mnist.npz", "images/african_elephants.jpg": None}.get(item.name)
        if item.name.endswith(".h5"):
            path = "/weights.h5"
        elif item.name.endswith(".json"):
            path = "/class_index.json"
        if path is None:
            replaced.append(item)
            continue
        replaced.append(type(item)(item.name, site.url + path, sha256(files[path]), len(files[path]), item.used_by,
                                   item.optional))
    monkeypatch.setattr(course_data, "FILES", tuple(replaced))
    monkeypatch.setattr(course_data, "_BY_NAME", {item.name: item for item in replaced})
    monkeypatch.setattr(dogs_vs_cats, "PETIMAGES_URL", site.url + "/PetImages.zip")
    return files


def test_data_command_fetches_everything_once(data, monkeypatch, capsys):
    assert course_data.main(["--check"]) == 1
    assert "run `python3 tasks.py data`" in capsys.readouterr().out
    with serve({}) as site:
        files = stand_in_sources(site, monkeypatch)
        assert course_data.main([]) == 0
        out = capsys.readouterr().out
        assert "The course data is complete" in out and "Kaggle" in out
        assert (data / "mnist.npz").read_bytes() == files["/mnist.npz"]
        assert (data / "dogs-vs-cats" / "kagglecatsanddogs_5340.zip").read_bytes() == files["/PetImages.zip"]
        assert not (data / "keras").exists()  # optional files only with --extras
        assert not (data / "images").exists()  # the repository has the photo
        assert course_data._missing() == [] and course_data.main(["--check"]) == 0

        count = len(site.requests)
        assert course_data.main(["--extras"]) == 0
        assert len(site.requests) == count + 2  # only the two optional files
        assert (data / "keras" / "models" / "imagenet_class_index.json").read_bytes() == b"{}"
        assert course_data.main([]) == 0 and len(site.requests) == count + 2
    assert sorted(p.name for p in data.rglob(".*")) == []  # no partial files left


def test_data_command_copies_a_local_archive(data, tmp_path, monkeypatch, capsys):
    archive = tmp_path / "train.zip"
    with zipfile.ZipFile(archive, "w") as opened:
        for name in ("cat.1.jpg", "cat.2.jpg", "dog.1.jpg"):
            opened.writestr(f"train/{name}", b"jpeg")
    (data / "mnist.npz").write_bytes(npz_bytes(fake_mnist()))
    assert course_data.main(["--dogs-vs-cats", str(archive)]) == 0
    assert "2 cats + 1 dogs" in capsys.readouterr().out
    assert (data / "dogs-vs-cats" / "train.zip").read_bytes() == archive.read_bytes()
    assert course_data.main(["--dogs-vs-cats", str(archive)]) == 0  # again: already there


def test_data_command_offline_says_so_once(data, monkeypatch, capsys):
    with serve({}) as site:
        stand_in_sources(site, monkeypatch)
    # The server is gone: every connection is refused, as on a machine without internet.
    assert course_data.main([]) == 1
    err = capsys.readouterr().err
    assert len(re.findall("seems to be offline", err)) == 1
    assert "mnist.npz" in err and "dogs-vs-cats" in err
    assert "FAILED" not in err  # no traceback-like line per file
    assert sorted(p.name for p in data.rglob("*") if p.is_file()) == []


def test_test_session_stops_with_one_sentence_when_data_is_missing(data, monkeypatch):
    message = course_data.missing_message()
    assert message.startswith("The course data is missing from ") and message.count(". ") == 0
    assert "mnist.npz" in message and "dogs-vs-cats/" in message and "python3 tasks.py data" in message
    (data / "mnist.npz").write_bytes(b"x")
    (data / "dogs-vs-cats").mkdir()
    (data / "dogs-vs-cats" / "train.zip").write_bytes(b"x")
    assert course_data.missing_message() is None


def test_data_readme_lists_every_file_with_its_checksum():
    readme = (REPO / "data" / "README.md").read_text(encoding="utf-8")
    for item in course_data.FILES:
        assert f"`{item.name}`" in readme, item.name
        if item.sha256:
            assert item.sha256 in readme, item.name
    mnist = next(item for item in course_data.FILES if item.name == course_data.MNIST)
    assert dogs_vs_cats.PETIMAGES_URL in readme and mnist.url in readme
