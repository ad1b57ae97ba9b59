#!/usr/bin/env python3
"""The course's two commands, on a fresh machine with nothing installed by hand.

    python3 tasks.py course [ARGS]   # run every notebook (full profile) and print the results table
    python3 tasks.py test [ARGS]     # unit tests + notebook regression tests (smoke profile)

and two conveniences: ``python3 tasks.py setup`` (only create/update the environment) and
``python3 tasks.py lab`` (open the notebooks in JupyterLab).

Both create ``.venv`` on first use (or when pyproject.toml changes) and install the course into it. ARGS go to
``course run`` (e.g. ``--write-back``, ``--profile smoke``, ``02``) or to pytest. ``COURSE_TF=gpu`` installs
TensorFlow with CUDA instead of the CPU build; ``COURSE_TF=none`` keeps whatever TensorFlow the venv has.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".course-installed"

TEST_COMMAND = [
    "-m", "pytest", "tests", "notebooks",
    "--nbval-lax",               # compare only the cells tagged nbval-check-output; run all of them
    "--nbval-current-env",       # the kernel runs in this venv
    "--nbval-cell-timeout=1800",
    "-p", "no:cacheprovider",
]


def ensure_environment() -> None:
    """Create the venv and install the course when missing or out of date with pyproject.toml."""
    extra = os.environ.get("COURSE_TF", "tf")
    if extra not in ("tf", "gpu", "none"):
        sys.exit(f"COURSE_TF must be tf, gpu or none, not {extra!r}")
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + extra.encode()).hexdigest()
    if STAMP.exists() and STAMP.read_text().strip() == wanted:
        return
    if not PYTHON.exists():
        print(f"creating {VENV} ...", flush=True)
        venv.create(VENV, with_pip=True)
    target = "." if extra == "none" else f".[{extra}]"
    print(f"installing the course into {VENV} ({target}) ...", flush=True)
    subprocess.run([str(PYTHON), "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=True, cwd=ROOT)
    subprocess.run([str(PYTHON), "-m", "pip", "install", "--quiet", "-e", target], check=True, cwd=ROOT)
    STAMP.write_text(wanted)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("course", "test", "setup", "lab"):
        print(__doc__)
        return 2
    ensure_environment()
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    if argv[0] == "setup":
        print(f"environment ready: {VENV}")
        return 0
    if argv[0] == "lab":
        return subprocess.run([str(PYTHON), "-m", "jupyter", "lab", "notebooks", *argv[1:]], cwd=ROOT, env=env).returncode
    if argv[0] == "course":
        args = argv[1:] if argv[1:2] in (["run"], ["results"]) else ["run", *argv[1:]]
        command = [str(PYTHON), "-m", "course_utils.runner", *args]
    else:
        env["COURSE_PROFILE"] = "smoke"
        command = [str(PYTHON), *TEST_COMMAND, *argv[1:]]
    return subprocess.run(command, cwd=ROOT, env=env).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
