"""The nbval sanitizers (tests/nbval-sanitize.cfg): decoration goes, what the lesson prints stays."""
import io
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbval.plugin import get_sanitize_patterns
from rich import box
from rich.console import Console
from rich.table import Table

from course_utils import runner

SANITIZE_FILE = Path(__file__).with_name("nbval-sanitize.cfg")
PATTERNS = get_sanitize_patterns(SANITIZE_FILE.read_text(encoding="utf-8"))


def sanitize(text: str) -> str:
    """What nbval compares: every pattern applied in order (nbval's own loop)."""
    for regex, replace in PATTERNS:
        text = re.sub(regex, replace, text)
    return text


def test_every_pattern_is_read_by_nbval():
    lines = SANITIZE_FILE.read_text(encoding="utf-8").splitlines()
    assert len(PATTERNS) == sum(line.startswith("regex: ") for line in lines) >= 8
    for regex, _ in PATTERNS:
        re.compile(regex)


def summary_table(params: str, style: box.Box) -> Table:
    """A table shaped like Keras' model.summary()."""
    table = Table(title='Model: "tiny"', box=style, expand=True)  # padded to the console width
    for column in ("Layer (type)", "Output Shape", "Param #"):
        table.add_column(column, style="bold")
    table.add_row("input_layer ([blue]InputLayer[/blue])", "([cyan]None[/cyan], [green]8[/green])", "0")
    table.add_row("dense ([blue]Dense[/blue])", "([cyan]None[/cyan], [green]3[/green])", f"[green]{params}[/green]")
    return table


def render(table: Table, width: int, html: bool) -> str:
    console = Console(file=io.StringIO(), force_terminal=True, color_system="256", width=width, record=html)
    console.print(table)
    return console.export_html(inline_styles=True, code_format="<pre>{code}</pre>") if html else \
        console.file.getvalue()


def test_renderings_of_one_table_reduce_to_the_same_lines():
    renderings = [render(summary_table("27", style), width, html)
                  for style in (box.HEAVY_HEAD, box.ROUNDED) for width in (60, 100) for html in (False, True)]
    assert len(set(renderings)) == len(renderings)  # byte for byte, nbval alone would fail on each pair
    assert {sanitize(text) for text in renderings} == {
        'Model: "tiny"\nLayer (type) Output Shape Param #\ninput_layer (InputLayer) (None, 8) 0\n'
        "dense (Dense) (None, 3) 27\n"}
    assert sanitize(render(summary_table("28", box.HEAVY_HEAD), 60, False)) != sanitize(renderings[0])


def test_plain_text_keeps_its_content():
    assert sanitize("array([[ 1,  2],\n       [-3,  4]])\n") == "array([[ 1, 2],\n[-3, 4]])\n"
    assert sanitize("a < b & c > d\n") == "a < b & c > d\n"
    assert sanitize("<Figure size 640x480 with 1 Axes>") == "<Figure size 640x480 with 1 Axes>"
    assert sanitize("total: 104,202\n") != sanitize("total: 104,203\n")


@pytest.fixture(scope="module")
def executed_summary(tmp_path_factory) -> Path:
    """A notebook with two checked cells, each printing the summary of the same tiny Keras model, executed."""
    from nbclient import NotebookClient

    folder = tmp_path_factory.mktemp("sanitize")
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    build = ("import course_utils, keras\n"
             "model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(3)], name='tiny')\n"
             "model.summary()")
    for source in (build, "model.summary()"):
        cell = nbformat.v4.new_code_cell(source)
        cell.metadata["tags"] = ["nbval-check-output"]
        nb.cells.append(cell)
    NotebookClient(nb, kernel_name="python3", timeout=600, extra_arguments=runner.KERNEL_ARGUMENTS).execute()
    path = folder / "summary.ipynb"
    nbformat.write(nb, str(path))
    return path


def restyle(text: str) -> str:
    """What another rich release might write for the same table: other borders, padding and colours."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", text).replace("━", "═").replace("│", "║")
    return text.replace("color: #00af00", "color: #00ff00").replace("   ", "     ")


def test_nbval_passes_a_restyled_summary_and_fails_a_wrong_count(executed_summary):
    nb = nbformat.read(str(executed_summary), as_version=4)
    restyled = tampered = 0
    for index, cell in enumerate(nb.cells):
        for output in cell.outputs:
            for mime in ("text/plain", "text/html"):
                if mime in output.get("data", {}):
                    new = restyle(output.data[mime])
                    restyled += new != output.data[mime]
                    if index == 1 and "27" in new:  # the second cell's committed count is made wrong
                        new, tampered = new.replace("27", "72"), tampered + 1
                    output.data[mime] = new
    assert restyled >= 4 and tampered >= 2
    nbformat.write(nb, str(executed_summary))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", str(executed_summary), "--nbval-lax", "--nbval-current-env",
         "--nbval-sanitize-with", str(SANITIZE_FILE), "-p", "no:cacheprovider", "-q", "--color=no"],
        capture_output=True, text=True, cwd=executed_summary.parent)
    summary = result.stdout.strip().splitlines()[-1]
    assert "1 failed, 1 passed" in summary, result.stdout[-3000:]
    assert "::Cell 1 - Notebook cell execution failed" in result.stdout and "72" in result.stdout
