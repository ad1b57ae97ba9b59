"""Files written in one step, folders swapped into place: what a failure in the middle leaves behind."""
from __future__ import annotations

import hashlib
import os

import pytest

from course_utils import files


def test_sha256_of_a_file(tmp_path):
    path = tmp_path / "bytes.bin"
    path.write_bytes(os.urandom(3 * 1024 * 1024 + 5))
    assert files.sha256_of(path) == hashlib.sha256(path.read_bytes()).hexdigest()


def test_an_atomic_write_keeps_the_mode_and_a_failed_one_the_old_file(tmp_path):
    target = tmp_path / "results" / "model.weights.h5"
    files.write_atomically(target, "one\n")
    target.chmod(0o640)
    files.copy_atomically(target, tmp_path / "copy.txt")
    with files.atomic_path(target) as temporary:
        assert temporary.name.endswith(".weights.h5")  # Keras goes by the suffix
        temporary.write_text("two\n")
    assert target.read_text() == "two\n" and target.stat().st_mode & 0o777 == 0o640
    with pytest.raises(KeyboardInterrupt), files.atomic_path(target) as temporary:
        temporary.write_text("half")
        raise KeyboardInterrupt
    assert target.read_text() == "two\n" and [p.name for p in target.parent.iterdir()] == [target.name]
    assert (tmp_path / "copy.txt").read_text() == "one\n"


def test_a_folder_replaces_another_and_the_old_one_goes_or_is_kept_aside(tmp_path):
    target = tmp_path / "split"
    for content, aside in (("first", None), ("second", None), ("third", tmp_path / "split.backup")):
        finished = files.fresh_dir(tmp_path, ".split.partial-")
        (finished / "content.txt").write_text(content)
        files.replace_folder(finished, target, aside=aside)
        assert (target / "content.txt").read_text() == content
    assert (tmp_path / "split.backup" / "content.txt").read_text() == "second"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["split", "split.backup"]


def test_a_failed_swap_puts_the_old_folder_back(tmp_path, monkeypatch):
    target = tmp_path / "train"
    target.mkdir()
    (target / "old.txt").write_text("old")
    finished = files.fresh_dir(tmp_path, ".train.partial-")
    real_replace = os.replace

    def refuse_the_new_folder(source, destination):
        if source == finished:
            raise PermissionError("locked")
        real_replace(source, destination)

    monkeypatch.setattr(os, "replace", refuse_the_new_folder)
    with pytest.raises(PermissionError):
        files.replace_folder(finished, target)
    assert (target / "old.txt").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == [finished.name, "train"]  # no stale folder left
