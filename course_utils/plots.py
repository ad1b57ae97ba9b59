"""Figures the notebooks share: training curves, image grids, side-by-side panels, tables."""
from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np


def plot_history(history, metrics: Sequence[str] = ("accuracy", "loss"), title: str = "") -> plt.Figure:
    """Training and validation curves, one panel per metric, from a Keras History (or its ``.history`` dict)."""
    logs = getattr(history, "history", history)
    fig, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 3.5), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        epochs = np.arange(1, len(logs[metric]) + 1)
        ax.plot(epochs, logs[metric], "o-", label=f"training {metric}")
        if f"val_{metric}" in logs:
            ax.plot(epochs, logs[f"val_{metric}"], "s-", label=f"validation {metric}")
        ax.set_xlabel("epoch")
        ax.set_title(metric)
        ax.legend()
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def image_grid(images: Sequence[np.ndarray], titles: Sequence[str] | None = None, ncols: int = 5,
               size: float = 2.0, cmap: str | None = None) -> plt.Figure:
    """Images in a grid with optional titles; grayscale (H, W) arrays use ``cmap`` (default gray)."""
    nrows = max(1, -(-len(images) // ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows * 1.1), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= len(images):
            continue
        image = np.asarray(images[i])
        if image.ndim == 3 and image.shape[-1] == 1:
            image = image[..., 0]
        ax.imshow(image, cmap=cmap or ("gray" if image.ndim == 2 else None))
        if titles is not None:
            ax.set_title(titles[i], fontsize=9)
    fig.tight_layout()
    return fig


def side_by_side(panels: dict[str, np.ndarray], size: float = 3.5, cmap: str = "gray") -> plt.Figure:
    """A row of labelled images, e.g. an input next to what a filter makes of it."""
    fig, axes = plt.subplots(1, len(panels), figsize=(size * len(panels), size), squeeze=False)
    for ax, (title, image) in zip(axes[0], panels.items()):
        ax.imshow(image, cmap=cmap if np.asarray(image).ndim == 2 else None)
        ax.set_title(title)
        ax.axis("off")
    fig.tight_layout()
    return fig


def table(rows: Sequence[dict], floatfmt: str = ".4f") -> str:
    """Rows of dicts as an aligned plain-text table (same keys in every row); numbers right-aligned."""
    if not rows:
        return ""
    keys = list(rows[0])

    def cell(value) -> str:
        if value is None:
            return "–"
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            return str(value)
        return f"{value:,}" if isinstance(value, (int, np.integer)) else format(value, floatfmt)

    text = [[cell(row[k]) for k in keys] for row in rows]
    widths = [max(len(k), *(len(r[i]) for r in text)) for i, k in enumerate(keys)]
    numeric = [all(isinstance(row[k], (int, float, np.integer, np.floating)) or row[k] is None for row in rows)
               for k in keys]
    fmt = lambda values: "  ".join(v.rjust(w) if n else v.ljust(w) for v, w, n in zip(values, widths, numeric))
    return "\n".join([fmt(keys), fmt(["-" * w for w in widths]), *(fmt(r).rstrip() for r in text)])
