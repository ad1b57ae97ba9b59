"""Colab ways in: an "Open in Colab" badge on every notebook and in the README, and each notebook's install cell.

Both come from one setting, ``Repository`` under ``[project.urls]`` in pyproject.toml (a GitHub URL). Run from
anywhere inside the repository:

    python -m course_utils.colab           # update notebooks/*.ipynb and README.md
    python -m course_utils.colab --check   # exit 1, listing the files, if any of them is not up to date

The badge goes right under the title of each notebook's first Markdown cell. The install cell is the notebook's
first code cell: on a machine without the course (Colab) it installs the course's helper package from the repository
without its dependencies, plus only those of the course's dependencies that this notebook's code needs and Colab
does not already provide; anywhere else it does nothing. Running the tool twice changes nothing the second time.
"""
from __future__ import annotations

import argparse
import ast
import json
import re
import sys
import tomllib
from functools import lru_cache
from importlib.metadata import packages_distributions
from pathlib import Path

from . import paths
from .files import write_atomically

BRANCH = "main"
BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
BADGE_PATTERN = re.compile(r"^\[!\[Open In Colab\]\([^)]*colab-badge\.svg\)\]\([^)]*\)\n?", re.MULTILINE)
README_START, README_END = "<!-- colab:start -->", "<!-- colab:end -->"
INSTALL_COMMENT = ("# Colab (or any machine without the course installed): install the course's helper package. "
                   "Elsewhere: nothing.")
# What a Colab runtime ships already; installing these again would replace Colab's own builds.
COLAB_PROVIDES = frozenset({"numpy", "matplotlib", "pillow", "scikit-learn", "tensorflow", "tensorflow-cpu", "keras",
                            "ipykernel", "jupyterlab", "pytest", "tqdm", "rich", "requests", "papermill", "nbval"})
PACKAGE_DIR = Path(__file__).resolve().parent


def normalize(name: str) -> str:
    """A distribution name as pip compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_project(pyproject: Path) -> dict:
    """The ``[project]`` table of a pyproject.toml."""
    with open(pyproject, "rb") as file:
        return tomllib.load(file)["project"]


def github_repository(project: dict) -> tuple[str, str]:
    """(owner, name) from ``[project.urls] Repository``, which must be a github.com URL."""
    url = (project.get("urls") or {}).get("Repository")
    if not url:
        raise ValueError('pyproject.toml has no [project.urls] Repository = "https://github.com/OWNER/NAME"')
    match = re.fullmatch(r"https://github\.com/([\w.-]+)/([\w.-]+?)(?:\.git)?/?", url)
    if not match:
        raise ValueError(f"[project.urls] Repository must be https://github.com/OWNER/NAME, not {url!r}")
    return match.group(1), match.group(2)


def colab_url(owner: str, name: str, notebook: str) -> str:
    """Colab's address for ``notebooks/<notebook>`` on the repository's main branch."""
    return f"https://colab.research.google.com/github/{owner}/{name}/blob/{BRANCH}/notebooks/{notebook}"


def badge(url: str) -> str:
    return f"[![Open In Colab]({BADGE_IMAGE})]({url})"


# --- what a notebook needs --------------------------------------------------------------------------------------

def is_install_cell(cell: dict) -> bool:
    return cell["cell_type"] == "code" and "%pip install" in "".join(cell["source"])


def code_cells(notebook: dict) -> list[str]:
    """The sources of the notebook's code cells except its install cell, IPython magics and shell lines made
    ``pass`` so that ``ast`` can read them."""
    sources = []
    for cell in notebook["cells"]:
        if cell["cell_type"] != "code" or is_install_cell(cell):
            continue
        lines = "".join(cell["source"]).splitlines()
        sources.append("\n".join(re.sub(r"^(\s*)[%!].*", r"\1pass", line) for line in lines))
    return sources


def imports(*sources: str) -> tuple[set[str], set[str]]:
    """(top-level modules, course_utils modules) that ``sources`` import, at module level or inside functions.

    A source may be a course_utils module (relative imports) or a notebook cell (``from course_utils import x``).
    """
    outside, course = set(), set()
    for node in (node for source in sources for node in ast.walk(ast.parse(source))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                top, _, inner = alias.name.partition(".")
                if top == "course_utils":
                    course.add(inner.split(".")[0])
                else:
                    outside.add(top)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            top, _, inner = module.partition(".")
            if node.level:  # inside course_utils: "from . import x", "from .x import y"
                inner = module
            elif top != "course_utils":
                outside.add(top)
                continue
            course.update([inner.split(".")[0]] if inner else [alias.name for alias in node.names])
    return outside, {name for name in course if (PACKAGE_DIR / f"{name}.py").is_file()}


def course_modules(sources: list[str]) -> tuple[set[str], list[str]]:
    """Third-party modules imported by ``sources`` and by the course_utils modules they use (transitively), and the
    sources of those course_utils modules."""
    outside, pending = imports(*sources)
    seen: set[str] = set()
    texts = []
    while pending:
        name = pending.pop()
        seen.add(name)
        text = (PACKAGE_DIR / f"{name}.py").read_text(encoding="utf-8")
        texts.append(text)
        more_outside, more_course = imports(text)
        outside |= more_outside
        pending |= more_course - seen
    return outside, texts


@lru_cache(maxsize=1)
def _import_providers() -> dict[str, list[str]]:
    """Import name -> distributions that provide it, for what is installed here (slow: read once)."""
    return packages_distributions()


def requirement_name(requirement: str) -> str:
    return normalize(re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement).group(1))


def needed_requirements(notebook: dict, dependencies: list[str]) -> list[str]:
    """The course's dependencies (as written in pyproject.toml) that the notebook needs and Colab lacks.

    A dependency is needed when the notebook or a course_utils module it uses imports it, or names its
    distribution (a package read through importlib, e.g. one that only ships weights).
    """
    cells = code_cells(notebook)
    modules, texts = course_modules(cells)
    providers = _import_providers()
    imported = {normalize(dist) for module in modules for dist in providers.get(module, [module])}
    corpus = "\n".join([*cells, *texts])
    needed = []
    for requirement in dependencies:
        name = requirement_name(requirement)
        if name in COLAB_PROVIDES:
            continue
        if name in imported or re.search(re.escape(name).replace(r"\-", "[-_.]"), corpus, re.IGNORECASE):
            needed.append(requirement.strip())
    return needed


def install_source(project: dict, owner: str, name: str, requirements: list[str]) -> str:
    """The install cell's code."""
    packages = " ".join([f'"{project["name"]} @ git+https://github.com/{owner}/{name}@{BRANCH}"',
                         *(f'"{r}"' if re.search(r"[<>=!;\s]", r) else r for r in requirements)])
    made_with = ", ".join(f"{label} {version}" for label, version in locked_versions().items())
    made_with = f"; the course's outputs were made with {made_with}" if made_with else ""
    return (f"{INSTALL_COMMENT}\n"
            "import importlib.util\n\n"
            'if importlib.util.find_spec("course_utils") is None:\n'
            f"    %pip install -q --no-deps {packages}\n"
            "import course_utils, keras, tensorflow as tf  # course_utils first: TensorFlow without start-up notices\n\n"
            f'print(f"TensorFlow {{tf.__version__}}, Keras {{keras.__version__}}{made_with}")')


def locked_versions(lock: Path | None = None) -> dict[str, str]:
    """TensorFlow's and Keras' versions in the lock (constraints.txt), the ones the committed outputs were made with."""
    lock = lock or (paths.repo_root() or PACKAGE_DIR.parent) / "constraints.txt"
    try:
        lines = lock.read_text(encoding="utf-8").splitlines()
    except OSError:
        return {}
    pins = dict(line.strip().split("==", 1) for line in lines if "==" in line and not line.startswith("#"))
    return {label: pins[name] for label, name in (("TensorFlow", "tensorflow"), ("Keras", "keras")) if name in pins}


# --- applying it ------------------------------------------------------------------------------------------------

def with_badge(markdown: str, url: str) -> str:
    """``markdown`` with exactly one Colab badge, on the line after its first heading (or first line)."""
    text = BADGE_PATTERN.sub("", markdown)
    lines = text.split("\n")
    title = next((i for i, line in enumerate(lines) if line.startswith("#")), 0)
    rest = lines[title + 1:]
    while rest and rest[0] == "":
        rest = rest[1:]
    return "\n".join([*lines[:title + 1], "", badge(url), "", *rest])


def as_source_lines(text: str) -> list[str]:
    """A cell source as Jupyter stores it: lines that keep their newline, the last one without."""
    return text.splitlines(keepends=True)


def update_notebook(notebook: dict, file_name: str, project: dict) -> dict:
    """Set the badge (first Markdown cell) and the install cell (first code cell) of one notebook."""
    owner, name = github_repository(project)
    cells = notebook["cells"]
    markdown = next((c for c in cells if c["cell_type"] == "markdown"), None)
    if markdown is None:
        raise ValueError(f"{file_name} has no Markdown cell for the Colab badge")
    markdown["source"] = as_source_lines(with_badge("".join(markdown["source"]), colab_url(owner, name, file_name)))
    code = [i for i, c in enumerate(cells) if c["cell_type"] == "code"]
    source = install_source(project, owner, name, needed_requirements(notebook, project.get("dependencies", [])))
    first = code[0] if code else len(cells)
    if code and is_install_cell(cells[first]):
        if "".join(cells[first]["source"]) != source:
            # Where the course is installed (the run that made the outputs) the cell does nothing and shows nothing,
            # so its execution count stays and its outputs (of an older install line) go.
            cells[first].update(source=as_source_lines(source), outputs=[])
    else:
        cell = {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
                "source": as_source_lines(source)}
        if "id" in (cells[0] if cells else {}):
            cell["id"] = "colab-install"
        cells.insert(first, cell)
    return notebook


def update_readme(text: str, project: dict, first_notebook: str) -> str:
    """README text with the badge (opening the course's first notebook) between the colab markers."""
    if README_START not in text or README_END not in text:
        raise ValueError(f"README.md lacks the {README_START} / {README_END} markers")
    owner, name = github_repository(project)
    head, rest = text.split(README_START, 1)
    tail = rest.split(README_END, 1)[1]
    return f"{head}{README_START}\n{badge(colab_url(owner, name, first_notebook))}\n{README_END}{tail}"


def apply(root: Path, check: bool = False) -> list[Path]:
    """Update (or with ``check`` only compare) every notebook and the README; return the files that differ."""
    project = read_project(root / "pyproject.toml")
    notebooks = sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if not notebooks:
        raise ValueError(f"no notebooks in {root / 'notebooks'}")
    texts = {}
    for path in notebooks:
        notebook = json.loads(path.read_text(encoding="utf-8"))
        texts[path] = json.dumps(update_notebook(notebook, path.name, project), indent=1, ensure_ascii=False) + "\n"
    readme = root / "README.md"
    texts[readme] = update_readme(readme.read_text(encoding="utf-8"), project, notebooks[0].name)
    changed = [path for path, text in texts.items() if path.read_text(encoding="utf-8") != text]
    if not check:
        for path in changed:
            write_atomically(path, texts[path])
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils.colab", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a file is not up to date")
    args = parser.parse_args(argv)
    root = paths.repo_root()
    if root is None:
        parser.error("run me inside the convnets-course repository (no pyproject.toml found above here)")
    try:
        changed = apply(root, check=args.check)
    except ValueError as error:
        parser.error(str(error))
    for path in changed:
        print(f"{'out of date' if args.check else 'updated'}: {path.relative_to(root).as_posix()}")
    if not changed:
        print("Colab badges and install cells are up to date")
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    sys.exit(main())
