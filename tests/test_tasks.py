"""tasks.py's environment handling: the interpreter check, the stamp, the lock and a failed venv creation; the data
command on the base Python."""
from __future__ import annotations

import hashlib
import importlib.metadata
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import tasks
from test_course_data import fake_mnist, npz_bytes

LOCK_LINE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*==[^=\s;]+( ; .+)?$")  # a pin, maybe for some platforms only


def lock_pins() -> dict[str, str]:
    lines = tasks.LOCK.read_text(encoding="utf-8").splitlines()
    pins = [line for line in lines if line and not line.startswith("#")]
    assert all(LOCK_LINE.match(line) for line in pins), [line for line in pins if not LOCK_LINE.match(line)]
    return {name.lower().replace("_", "-"): version.split(" ; ")[0] for name, version in (line.split("==", 1) for line in pins)}


def test_lock_pins_exact_versions_and_tensorflow_under_both_names():
    pins = lock_pins()
    assert pins["tensorflow"] == pins["tensorflow-cpu"] and pins["tensorflow"].startswith("2.21.")
    assert "setuptools" not in pins and "convnets-course" not in pins
    assert "sys_platform == 'linux'" in next(line for line in tasks.LOCK.read_text().splitlines()
                                             if line.startswith("tensorflow-cpu=="))
    for name in ("keras", "numpy", "scipy", "matplotlib", "rich", "pytest", "nbval", "papermill", "jupyterlab", "uv"):
        assert name in pins, name


@pytest.mark.skipif(os.environ.get("COURSE_TF") == "none", reason="COURSE_TF=none keeps a TensorFlow of one's own")
def test_this_environment_has_the_locked_versions_of_what_shapes_checked_outputs():
    """The committed outputs were made with the lock's versions; nbval compares them with this environment's."""
    pins = lock_pins()
    for name in ("keras", "numpy", "matplotlib", "rich", "pillow", "nbval", "ipykernel"):
        assert importlib.metadata.version(name) == pins[name], name


def test_the_stamp_changes_with_the_lock_and_names_the_python(tmp_path, monkeypatch):
    monkeypatch.setattr(tasks, "LOCK", tmp_path / "constraints.txt")
    tasks.LOCK.write_text("numpy==2.4.6\n")
    before = tasks.wanted_stamp("tf")
    assert before["python"] == ".".join(map(str, sys.version_info[:3]))
    tasks.LOCK.write_text("numpy==2.4.7\n")
    assert tasks.wanted_stamp("tf")["lock"] != before["lock"]
    assert tasks.wanted_stamp("gpu") != tasks.wanted_stamp("tf")


def test_an_unsupported_python_is_refused_with_the_reason(monkeypatch):
    monkeypatch.setattr(tasks, "SUPPORTED_PYTHONS", ((3, 98), (3, 99)))
    with pytest.raises(SystemExit) as caught:
        tasks.check_python()
    message = str(caught.value.code)
    assert "needs Python 3.98 or 3.99" in message and "TensorFlow 2.21 supports 3.10-3.13" in message


def test_a_failed_venv_creation_leaves_nothing_behind(tmp_path, monkeypatch):
    monkeypatch.setattr(tasks, "ROOT", tmp_path)
    monkeypatch.setattr(tasks, "VENV", tmp_path / ".venv")

    def no_ensurepip(folder, **kwargs):
        (Path(folder) / "bin").mkdir()
        raise subprocess.CalledProcessError(1, ["python", "-m", "ensurepip"])

    monkeypatch.setattr(tasks.venv, "create", no_ensurepip)
    with pytest.raises(SystemExit) as caught:
        tasks.create_venv()
    assert "Could not create a virtual environment" in str(caught.value.code)
    if Path("/etc/debian_version").exists():
        assert "python3-venv" in str(caught.value.code)
    assert list(tmp_path.iterdir()) == []


def test_the_lock_is_uvs_universal_resolution_under_the_header(tmp_path, monkeypatch):
    monkeypatch.setattr(tasks, "LOCK", tmp_path / "constraints.txt")
    tasks.LOCK.write_text("# old\nnumpy==2.4.5\n")
    monkeypatch.setattr(tasks, "ensure_environment", lambda: None)
    calls = []

    def fake_uv(command, **kwargs):  # what uv writes: it found the old lock in its output file
        output = Path(command[command.index("-o") + 1])
        calls.append((command, output.read_text() if output.exists() else ""))
        output.write_text("numpy==2.4.6\ntensorflow-cpu==2.21.0 ; sys_platform == 'linux'\n")
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(tasks.subprocess, "run", fake_uv)
    assert tasks.write_lock(upgrade=False) == 0
    (command, seen), = calls
    assert seen == "# old\nnumpy==2.4.5\n" and "--upgrade" not in command  # the old versions are uv's preferences
    assert command[command.index("--no-emit-package") + 1] == "setuptools" and "--universal" in command
    assert [command[i + 1] for i, arg in enumerate(command) if arg == "--extra"] == ["tf", "lab", "dev"]
    text = tasks.LOCK.read_text()
    assert text.startswith(tasks.LOCK_HEADER)
    assert text[len(tasks.LOCK_HEADER):] == "numpy==2.4.6\ntensorflow-cpu==2.21.0 ; sys_platform == 'linux'\n"
    calls.clear()
    tasks.write_lock(upgrade=True)
    assert "--upgrade" in calls[0][0] and calls[0][1] == ""  # no preferences: the newest allowed


def test_the_test_command_runs_only_the_paths_it_is_given(monkeypatch):
    monkeypatch.chdir(tasks.ROOT)
    whole = tasks.test_command([])
    assert whole[:4] == ["-m", "pytest", "tests", "notebooks"] and "--nbval-lax" in whole
    one = tasks.test_command(["tests/test_tasks.py", "-k", "pool"])
    assert "tests" not in one and "notebooks" not in one and one[-3:] == ["tests/test_tasks.py", "-k", "pool"]
    assert "tests" not in tasks.test_command(["tests/test_tasks.py::test_x"])
    assert tasks.test_command(["-k", "pool"])[2:4] == ["tests", "notebooks"]  # an option's value is not a path


def test_an_unknown_command_is_named(capsys):
    assert tasks.main(["tset"]) == 2
    assert "unknown command 'tset'" in capsys.readouterr().err


def test_the_data_command_creates_no_environment(monkeypatch):
    monkeypatch.setattr(tasks, "ensure_environment", lambda *args, **kwargs: pytest.fail("made the environment"))
    ran = []
    monkeypatch.setattr(tasks.subprocess, "run",
                        lambda command, **kwargs: ran.append(command) or subprocess.CompletedProcess(command, 0))
    assert tasks.main(["data", "--check"]) == 0
    assert ran == [[sys.executable, "-m", "course_utils.course_data", "--check"]]


# The base Python of a fresh machine: -S leaves out site-packages (numpy, Pillow, tqdm, TensorFlow...), -E
# PYTHONPATH, and the blocked names fail to import even where a stand-in could be found; the current folder, the
# repository, stays on the path.
BLOCKED = ("tensorflow", "keras", "numpy", "PIL", "tqdm")
RUN_MODULE = "import runpy; runpy.run_module(sys.argv.pop(1), run_name='__main__', alter_sys=True)"
DOWNLOAD = """
from pathlib import Path
from course_utils.download import download
print(download(Path(sys.argv[1]).as_uri(), sys.argv[2], sha256=sys.argv[3], description="photo"))
"""


def on_the_base_python(script: str, *args: str, data: Path) -> subprocess.CompletedProcess:
    """Run ``script`` with ``args`` on the base Python, with ``data`` as the data folder."""
    block = f"import sys; sys.modules.update(dict.fromkeys({BLOCKED!r}))  # `import numpy` raises ImportError\n"
    env = dict(os.environ, COURSE_DATA_DIR=str(data), COURSE_WORK_DIR=str(data.parent / "work"))
    return subprocess.run([sys.executable, "-E", "-S", "-c", block + script, *args], cwd=tasks.ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def test_the_data_command_runs_on_the_base_python(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    done = on_the_base_python(RUN_MODULE, "course_utils.course_data", "--help", data=data)
    assert done.returncode == 0 and "usage: python3 tasks.py data" in done.stdout, done.stderr
    # Everything present or local, so nothing is downloaded: MNIST rebuilt by another tool (checked by its shapes
    # and labels, without NumPy), the photos from an archive at hand, the elephant photo from the repository.
    (data / "mnist.npz").write_bytes(npz_bytes(fake_mnist(label_type="int64")))
    archive = tmp_path / "train.zip"
    with zipfile.ZipFile(archive, "w") as opened:
        for name in ("cat.1.jpg", "cat.2.jpg", "dog.1.jpg"):
            opened.writestr(f"train/{name}", b"jpeg")
    done = on_the_base_python(RUN_MODULE, "course_utils.course_data", "--dogs-vs-cats", str(archive), data=data)
    assert done.returncode == 0, done.stderr
    assert "ok     mnist.npz (already there, checked)" in done.stdout
    assert "(copied from" in done.stdout and "2 cats + 1 dogs" in done.stdout
    assert f"The course data is complete in {data.resolve()}." in done.stdout
    assert (data / "dogs-vs-cats" / "train.zip").read_bytes() == archive.read_bytes()


def test_downloads_run_on_the_base_python(tmp_path):
    source = tmp_path / "source.bin"
    source.write_bytes(os.urandom(3 * 1024 * 1024))
    target = tmp_path / "data" / "copy.bin"
    done = on_the_base_python(DOWNLOAD, str(source), str(target), hashlib.sha256(source.read_bytes()).hexdigest(),
                              data=tmp_path)
    assert done.returncode == 0, done.stderr
    assert target.read_bytes() == source.read_bytes() and done.stdout.strip() == str(target)
    assert done.stderr.rstrip().endswith("photo: 3.1 of 3.1 MB (100%)")
