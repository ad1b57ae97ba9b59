"""Figures the notebooks share: training curves, image grids, side-by-side panels, tables."""
from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator


def plot_history(history, metrics: Sequence[str] = ("accuracy", "loss"), title: str = "",
                 checkpoint_epoch: int | None = None) -> plt.Figure:
    """Training and validation curves, one panel per metric, from a Keras History (or its ``.history`` dict).

    Epochs are counted from 1 on integer ticks; ``checkpoint_epoch`` (1-based) draws a dashed line at the epoch
    whose weights were kept (e.g. by ``ModelCheckpoint``).
    """
    logs = getattr(history, "history", history)
    fig, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 3.5), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        epochs = np.arange(1, len(logs[metric]) + 1)
        ax.plot(epochs, logs[metric], "o-", label=f"training {metric}")
        if f"val_{metric}" in logs:
            ax.plot(epochs, logs[f"val_{metric}"], "s-", label=f"validation {metric}")
        if checkpoint_epoch is not None:
            ax.axvline(checkpoint_epoch, color="0.3", linestyle="--", lw=1,
                       label=f"checkpoint (epoch {checkpoint_epoch})")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(metric)
        ax.legend()
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def compare_curves(curves: dict[str, Sequence[float]], ylabel: str, title: str = "",
                   marks: dict[str, int] | None = None) -> plt.Figure:
    """Several runs' curves of one quantity (e.g. validation loss) on one pair of axes, epochs from 1.

    ``marks`` maps a run's label to a 1-based epoch to circle on its curve (e.g. its checkpoint).
    """
    fig, ax = plt.subplots(figsize=(7, 3.8))
    for label, values in curves.items():
        epochs = np.arange(1, len(values) + 1)
        (line,) = ax.plot(epochs, values, ".-", label=label)
        if marks and label in marks:
            epoch = marks[label]
            ax.plot(epoch, values[epoch - 1], "o", markersize=11, markerfacecolor="none", color=line.get_color())
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend()
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def plottable(image) -> np.ndarray:
    """``image`` as an array matplotlib draws faithfully: bfloat16 and float16 (a mixed-precision model's
    activations) become float32, which matplotlib's colour mapping understands; other dtypes are kept."""
    array = np.asarray(image)
    return array.astype("float32") if array.dtype.kind == "V" or str(array.dtype) in ("bfloat16", "float16") else array


def image_grid(images: Sequence[np.ndarray], titles: Sequence[str] | None = None, ncols: int = 5,
               size: float = 2.0, cmap: str | None = None) -> plt.Figure:
    """Images in a grid with optional titles; grayscale (H, W) arrays use ``cmap`` (default gray)."""
    nrows = max(1, -(-len(images) // ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows * 1.1), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= len(images):
            continue
        image = plottable(images[i])
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
        image = plottable(image)
        ax.imshow(image, cmap=cmap if image.ndim == 2 else None)
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


def _number_grid(ax: plt.Axes, values: np.ndarray, title: str, shaded: np.ndarray | None = None,
                 outline: tuple[int, int, int, int] | None = None) -> None:
    """Draw ``values`` as a table of numbered squares; ``shaded`` cells grey, ``outline`` = (row, col, h, w) in red."""
    from matplotlib.patches import Rectangle

    rows, cols = values.shape
    for r in range(rows):
        for c in range(cols):
            grey = shaded is not None and shaded[r, c]
            ax.add_patch(Rectangle((c, r), 1, 1, facecolor="0.85" if grey else "white", edgecolor="0.4", lw=0.6))
            value = float(values[r, c])
            text = str(int(value)) if value.is_integer() else f"{value:.2g}"
            ax.text(c + 0.5, r + 0.5, text, ha="center", va="center", fontsize=9, color="0.45" if grey else "black")
    if outline is not None:
        r, c, h, w = outline
        ax.add_patch(Rectangle((c, r), w, h, facecolor="tab:red", alpha=0.15, edgecolor="none"))
        ax.add_patch(Rectangle((c, r), w, h, fill=False, edgecolor="tab:red", lw=2.5))
    ax.set_xlim(-0.05, cols + 0.05)
    ax.set_ylim(rows + 0.05, -0.05)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title, fontsize=10)


def conv_diagram(image: np.ndarray, kernel: np.ndarray, output: np.ndarray, position: tuple[int, int] = (0, 0),
                 stride: int = 1, padding: int = 0, size: float = 0.42) -> plt.Figure:
    """Where one output of a 2-D convolution comes from: the input (zero padding shaded grey) with the window that
    makes output ``position`` outlined, the kernel, and the output with that cell outlined.

    ``output`` is the convolution of ``image`` padded by ``padding`` zeros with ``kernel`` at ``stride``; the figure
    only draws it.
    """
    image, kernel, output = np.asarray(image), np.asarray(kernel), np.asarray(output)
    padded = np.pad(image, padding)
    shaded = np.pad(np.zeros(image.shape, dtype=bool), padding, constant_values=True)
    i, j = position
    kh, kw = kernel.shape
    widths = [padded.shape[1], kw, output.shape[1]]
    height = max(padded.shape[0], kh, output.shape[0])
    fig, axes = plt.subplots(1, 3, figsize=(size * (sum(widths) + 6), size * height + 0.9),
                             gridspec_kw={"width_ratios": widths})
    pad_text = f", padding {padding}" if padding else ""
    _number_grid(axes[0], padded, f"input{pad_text}", shaded, (i * stride, j * stride, kh, kw))
    _number_grid(axes[1], kernel, "kernel")
    value = float(output[i, j])
    _number_grid(axes[2], output, f"output, stride {stride}\n[{i}, {j}] = {value:g}", outline=(i, j, 1, 1))
    fig.tight_layout()
    return fig


def signed_maps(image: np.ndarray, maps: dict[str, np.ndarray], image_title: str = "input",
                clip_percentile: float = 99.0, size: float = 4.0) -> plt.Figure:
    """A grayscale image next to signed filter responses: a diverging colormap centred at 0 (blue negative, red
    positive, white zero), each map clipped for display at the ``clip_percentile`` of its absolute values."""
    fig, axes = plt.subplots(1, 1 + len(maps), figsize=(size * (1 + len(maps)) + 0.6 * len(maps), size),
                             squeeze=False)
    axes = axes[0]
    axes[0].imshow(image, cmap="gray")
    axes[0].set_title(image_title)
    axes[0].axis("off")
    for ax, (title, values) in zip(axes[1:], maps.items()):
        limit = float(np.percentile(np.abs(values), clip_percentile)) or 1.0
        shown = ax.imshow(np.clip(values, -limit, limit), cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.set_title(title)
        ax.axis("off")
        fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.03)
    fig.tight_layout()
    return fig
