"""Every figure in the committed notebooks shows something: no blank picture, no blank panel.

A bfloat16 array handed to matplotlib uncast, a constant activation or a plot of NaNs all draw the same thing: a
rectangle of one colour. These tests decode every PNG of the committed notebooks and fail on
- a figure where one colour (not white) covers most of what is drawn (a uniform heatmap under a title), or
- a panel: a rectangle at least 60 px on each side filled by one colour (not white, not grey: a channel that is
  blank on purpose is drawn in an explicit grey by ``visualize.channel_grid_rgb``).
"""
from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("[0-9][0-9]_*.ipynb"))
TILE = 12  # px: a panel is found as a block of tiles that are each one colour
PANEL_TILES = 5  # a blank panel is at least 5 tiles (60 px) on each side
PANEL_FILL = 0.95  # ... and its colour fills that rectangle (a photo's flat background leaves gaps)


def figures(path: Path) -> list[tuple[int, np.ndarray]]:
    """(cell index, RGB array) of every PNG output of a notebook."""
    found = []
    for index, cell in enumerate(json.loads(path.read_text(encoding="utf-8"))["cells"]):
        for output in cell.get("outputs", []):
            png = output.get("data", {}).get("image/png")
            if png:
                found.append((index, np.asarray(Image.open(io.BytesIO(base64.b64decode(png))).convert("RGB"))))
    return found


def blank_figure(rgb: np.ndarray) -> str | None:
    """Why the whole figure looks blank (one colour is >85% of the drawn pixels and >30% of the image), or None."""
    keys = (rgb[..., 0].astype(np.int64) << 16 | rgb[..., 1].astype(np.int64) << 8 | rgb[..., 2]).ravel()
    drawn = keys[keys != 0xFFFFFF]
    if drawn.size == 0:
        return "nothing but white"
    top = np.unique(drawn, return_counts=True)[1].max()
    if top / drawn.size > 0.85 and top / keys.size > 0.30:
        return f"one colour is {top / drawn.size:.0%} of the drawn pixels"
    return None


def _grey(colour: tuple[int, ...]) -> bool:
    return max(colour) - min(colour) <= 8


def blank_panels(rgb: np.ndarray) -> list[str]:
    """The rectangles of at least PANEL_TILES x PANEL_TILES tiles filled by one colour that is neither white nor grey."""
    rows, cols = rgb.shape[0] // TILE, rgb.shape[1] // TILE
    tiles = rgb[:rows * TILE, :cols * TILE].reshape(rows, TILE, cols, TILE, 3).transpose(0, 2, 1, 3, 4)
    tiles = tiles.reshape(rows, cols, TILE * TILE, 3)
    colour = tiles[:, :, 0, :]
    flat = (tiles == colour[:, :, None, :]).all(axis=(2, 3))
    seen = np.zeros((rows, cols), bool)
    found = []
    for row in range(rows):
        for col in range(cols):
            this = tuple(int(v) for v in colour[row, col])
            if seen[row, col] or not flat[row, col] or _grey(this):
                continue
            block, stack = [], [(row, col)]
            seen[row, col] = True
            while stack:  # flood fill over tiles of the same single colour
                r, c = stack.pop()
                block.append((r, c))
                for rr, cc in ((r + 1, c), (r - 1, c), (r, c + 1), (r, c - 1)):
                    if (0 <= rr < rows and 0 <= cc < cols and not seen[rr, cc] and flat[rr, cc]
                            and tuple(int(v) for v in colour[rr, cc]) == this):
                        seen[rr, cc] = True
                        stack.append((rr, cc))
            r0, c0 = min(r for r, _ in block), min(c for _, c in block)
            height, width = max(r for r, _ in block) - r0 + 1, max(c for _, c in block) - c0 + 1
            if min(height, width) >= PANEL_TILES and len(block) >= PANEL_FILL * height * width:
                found.append(f"a {width * TILE}x{height * TILE} px panel of one colour {this} at "
                             f"({c0 * TILE}, {r0 * TILE})")
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_no_figure_or_panel_is_blank(path):
    problems = []
    for index, rgb in figures(path):
        why = blank_figure(rgb)
        problems += [f"cell {index}: {why}"] if why else []
        problems += [f"cell {index}: {panel}" for panel in blank_panels(rgb)]
    assert not problems, f"{path.name} shows blank figures:\n" + "\n".join(problems)


def _png(array: np.ndarray) -> np.ndarray:
    """An RGB array as it comes back from a PNG of a matplotlib figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(6, 3))
    for ax, title in zip(axes, ("channel 5", "channel 7")):
        ax.matshow(array, cmap="viridis")
        ax.set_title(title)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return np.asarray(Image.open(buffer).convert("RGB"))


def test_a_constant_heatmap_is_caught_and_a_real_one_is_not():
    rng = np.random.default_rng(0)
    assert blank_panels(_png(np.zeros((40, 40))))  # what 08's uncast bfloat16 activation drew
    assert not blank_panels(_png(rng.uniform(size=(40, 40))))
    assert blank_figure(np.full((100, 100, 3), 68, np.uint8))
    assert not blank_figure(rng.integers(0, 255, (100, 100, 3)).astype(np.uint8))
