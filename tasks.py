#!/usr/bin/env python3
"""The course's commands, on a fresh machine with nothing installed by hand (on Windows: ``py tasks.py ...``).

    python3 tasks.py data [ARGS]     # fetch the datasets once into data/ (see data/README.md)
    python3 tasks.py course [ARGS]   # run every notebook (full profile) and print the results table
    python3 tasks.py test [ARGS]     # unit tests, learning checks, notebook regression tests (smoke profile)

and conveniences: ``setup`` (only create/update the environment), ``lab`` (open the notebooks in JupyterLab),
``lock`` (regenerate constraints.txt, one lock for every platform, with uv; ``lock --upgrade`` moves it to the
newest versions pyproject.toml allows).

``data`` runs with the Python that runs tasks.py (it needs only the standard library); the others create ``.venv``
on first use and install the course into it with the exact versions of constraints.txt (the lock); they reinstall
when pyproject.toml, the lock or the Python version change. ARGS go to
``python -m course_utils.course_data`` (data), to ``course run`` (e.g. ``--write-back``, ``--profile smoke``,
``02``) or to pytest (test). ``COURSE_TF=gpu`` installs TensorFlow with CUDA instead of the CPU build;
``COURSE_TF=none`` keeps whatever TensorFlow the environment has.
"""
from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".course-installed"
LOCK = ROOT / "constraints.txt"
SUPPORTED_PYTHONS = ((3, 11), (3, 12), (3, 13))  # TensorFlow 2.21: 3.10-3.13; the locked numpy / IPython: 3.11+
COMMANDS = ("data", "course", "test", "setup", "lab", "lock")

TEST_PATHS = ["tests", "notebooks"]  # what `tasks.py test` runs when it is given no path of its own
TEST_COMMAND = [
    "-m", "pytest",
    "--nbval-lax",               # compare only the cells tagged nbval-check-output; run all of them
    "--nbval-current-env",       # the kernel runs in this venv
    "--nbval-cell-timeout=1800",
    "--nbval-sanitize-with", "tests/nbval-sanitize.cfg",  # compare what is printed, not ANSI/HTML/box decoration
    "-p", "no:cacheprovider",
]

sys.path.insert(0, str(ROOT))
from course_utils.files import fresh_dir, remove_leftovers, replace_folder, sha256_of  # noqa: E402  (stdlib only)


def check_python() -> None:
    """Stop with a clear message on a Python that TensorFlow 2.21 or the locked packages do not support."""
    if sys.version_info[:2] in SUPPORTED_PYTHONS:
        return
    versions = [f"{major}.{minor}" for major, minor in SUPPORTED_PYTHONS]
    names = f"{', '.join(versions[:-1])} or {versions[-1]}"
    example = "py -3.12 tasks.py" if os.name == "nt" else "python3.12 tasks.py"
    sys.exit(
        f"This is Python {platform.python_version()} ({sys.executable}). The course needs Python {names}: "
        f"TensorFlow 2.21 supports 3.10-3.13 and the locked numpy and IPython need 3.11 or newer. Install one of "
        f"them and run tasks.py with it, e.g. `{example} test`."
    )


def _digest(path: Path) -> str:
    return sha256_of(path) if path.is_file() else "missing"


def wanted_stamp(extra: str) -> dict:
    """What the installed environment must match: Python version, lock, pyproject.toml and TensorFlow choice."""
    return {"python": platform.python_version(), "lock": _digest(LOCK), "pyproject": _digest(ROOT / "pyproject.toml"),
            "tensorflow": extra}


def read_stamp() -> dict | None:
    try:
        return json.loads(STAMP.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def venv_python_version() -> str | None:
    """The Python version ``.venv`` was made with (from its pyvenv.cfg), or None when it is not a venv."""
    try:
        lines = (VENV / "pyvenv.cfg").read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    for line in lines:
        key, _, value = line.partition("=")
        if key.strip() in ("version", "version_info"):
            return value.strip()
    return None


def _venv_failure(error: BaseException) -> str:
    hint = ""
    if Path("/etc/debian_version").exists():
        minor = f"{sys.version_info.major}.{sys.version_info.minor}"
        hint = (f" On Debian and Ubuntu, Python's venv support is a separate package: "
                f"`sudo apt install python3-venv` (or python{minor}-venv), then run this again.")
    return f"Could not create a virtual environment with {sys.executable}: {str(error).rstrip('.')}.{hint}"


def create_venv() -> None:
    """Make ``.venv`` from scratch: built in a hidden sibling and renamed when complete, so a failure leaves nothing
    that a later run could take for a working environment; an old ``.venv`` is replaced only once the new one works."""
    remove_leftovers(ROOT, "venv")
    staging = fresh_dir(ROOT, ".venv.partial-")
    print(f"creating {VENV} with Python {platform.python_version()} ...", flush=True)
    try:
        venv.create(staging, with_pip=True)
    except BaseException as error:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(error, KeyboardInterrupt):
            raise
        sys.exit(_venv_failure(error))
    replace_folder(staging, VENV)
    # The activation scripts and pyvenv.cfg name the folder they were made in: write them again for .venv.
    builder = venv.EnvBuilder(with_pip=True)  # only for the command line it records in pyvenv.cfg
    context = builder.ensure_directories(str(VENV))
    builder.create_configuration(context)
    builder.setup_scripts(context)


def venv_works() -> bool:
    """Whether ``.venv`` has a Python with pip (an environment half-made by an older tasks.py may lack pip)."""
    return PYTHON.exists() and subprocess.run([str(PYTHON), "-m", "pip", "--version"], capture_output=True,
                                              check=False).returncode == 0


def pip(*args: str) -> None:
    subprocess.run([str(PYTHON), "-m", "pip", *args], check=True, cwd=ROOT)


def ensure_environment() -> None:
    """Create ``.venv`` and install the course into it when missing or out of date (see the module doc)."""
    check_python()
    extra = os.environ.get("COURSE_TF", "tf")
    if extra not in ("tf", "gpu", "none"):
        sys.exit(f"COURSE_TF must be tf, gpu or none, not {extra!r}")
    wanted = wanted_stamp(extra)
    if read_stamp() == wanted and PYTHON.exists():
        return
    if venv_python_version() != platform.python_version() or not venv_works():
        create_venv()
    STAMP.unlink(missing_ok=True)
    target = f".[{','.join(INSTALL_EXTRAS if extra == 'none' else (extra, *INSTALL_EXTRAS))}]"
    constraints = ["-c", str(LOCK)]
    print(f"installing the course into {VENV} ({target}, versions from {LOCK.name}); the first time this downloads "
          "about 1 GB (TensorFlow is most of it) and takes a few minutes ...", flush=True)
    pip("install", "--disable-pip-version-check", *constraints, "pip")
    pip("install", "--disable-pip-version-check", *constraints, "-e", target)
    STAMP.write_text(json.dumps(wanted, indent=1) + "\n", encoding="utf-8")


LOCK_HEADER = """\
# The lock: the exact version of every package the course installs, for Linux, macOS and Windows with Python 3.11.5 to
# 3.13, as a pip constraints file with environment markers. tasks.py, CI (through tasks.py) and environment.yml
# install with `-c constraints.txt`; so can you:
#     pip install -c constraints.txt -e ".[tf,lab,dev]"
# Made by `python3 tasks.py lock` (uv pip compile --universal, from pyproject.toml); do not edit by hand. It keeps the
# versions it had wherever they still fit; `python3 tasks.py lock --upgrade` moves to the newest pyproject.toml allows.
# TensorFlow is pinned under both of its names: tensorflow-cpu (Linux x86_64) and tensorflow (elsewhere).
"""
INSTALL_EXTRAS = ("lab", "dev")  # besides TensorFlow: opening the notebooks; running and testing them (pyproject.toml)
LOCK_PYTHON = "3.11.5"  # the oldest Python the lock serves: requires-python in pyproject.toml


def lock_command(output: Path, upgrade: bool) -> list[str]:
    """uv's resolution of every extra for every platform and supported Python, written to ``output``."""
    extras = [arg for extra in ("tf", *INSTALL_EXTRAS) for arg in ("--extra", extra)]
    # setuptools only builds the course, in pip's isolated build environment (pyproject.toml's build-system); a pin
    # here would fight that requirement wherever constraints reach the build (PIP_CONSTRAINT).
    return [str(PYTHON), "-m", "uv", "pip", "compile", "pyproject.toml", "--universal", "--python-version",
            LOCK_PYTHON, *extras, "--no-header", "--no-annotate", "--no-emit-package", "setuptools", "--quiet",
            "-o", str(output), *(["--upgrade"] if upgrade else [])]


def write_lock(upgrade: bool) -> int:
    """Regenerate constraints.txt with uv (which comes with the dev extra); without ``upgrade`` the versions of the
    present lock are kept wherever pyproject.toml still allows them."""
    ensure_environment()
    with tempfile.TemporaryDirectory() as scratch:
        draft = Path(scratch) / LOCK.name
        if not upgrade and LOCK.is_file():
            shutil.copyfile(LOCK, draft)  # uv prefers the versions already in its output file
        subprocess.run(lock_command(draft, upgrade), check=True, cwd=ROOT)
        pins = [line for line in draft.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")]
    LOCK.write_text(LOCK_HEADER + "".join(f"{line}\n" for line in pins), encoding="utf-8")
    print(f"wrote {LOCK} ({len(pins)} pins); the next command reinstalls .venv from it")
    return 0


def test_command(args: list[str]) -> list[str]:
    """pytest's arguments: the given paths (a file, a folder, ``file::test``) or else the whole suite, the course's
    options, then ``args``."""
    given = [arg for arg in args if not arg.startswith("-") and Path(arg.split("::")[0]).exists()]
    return [*TEST_COMMAND[:2], *([] if given else TEST_PATHS), *TEST_COMMAND[2:], *args]


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in COMMANDS:
        if argv:
            print(f"tasks.py: unknown command {argv[0]!r}; the commands are {', '.join(COMMANDS)}\n", file=sys.stderr)
        print(__doc__)
        return 2
    command, args = argv[0], argv[1:]
    if command == "lock":
        if args not in ([], ["--upgrade"]):
            sys.exit("usage: python3 tasks.py lock [--upgrade]")
        return write_lock(upgrade=bool(args))
    if command == "data":  # the standard library only: no environment to create, no TensorFlow to install first
        check_python()
        return subprocess.run([sys.executable, "-m", "course_utils.course_data", *args], cwd=ROOT).returncode
    ensure_environment()
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    if command == "setup":
        print(f"environment ready: {VENV}")
        return 0
    if command == "lab":
        run = [str(PYTHON), "-m", "jupyter", "lab", "notebooks", *args]
    elif command == "course":
        run = [str(PYTHON), "-m", "course_utils.runner", *(args if args[:1] in (["run"], ["results"]) else
                                                            ["run", *args])]
    else:
        env["COURSE_PROFILE"] = "smoke"
        run = [str(PYTHON), *test_command(args)]
    return subprocess.run(run, cwd=ROOT, env=env).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
