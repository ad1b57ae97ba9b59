"""Fast, tested versions of the convolution and pooling loops that notebook 01 writes inline, in NumPy, with
TensorFlow's conventions (tests/test_lessons_01_02.py proves they equal the notebook's loops).

Shapes follow ``tf.nn.conv2d`` for one image: input ``(H, W, C_in)``, kernel ``(kh, kw, C_in, C_out)``, output
``(H', W', C_out)``. A plain 2-D image and a 2-D kernel are accepted too and give a 2-D result. Like every deep
learning library, "convolution" here is cross-correlation: the kernel is not flipped.
"""
from __future__ import annotations

import math
from typing import Literal

import numpy as np

Padding = Literal["valid", "same"] | int
PoolMode = Literal["max", "avg", "l2"]


def output_size(n: int, f: int, padding: int = 0, stride: int = 1) -> int:
    """Output length along one axis: (N - F + 2P) / S + 1, rounded down as frameworks do."""
    if stride < 1 or f < 1:
        raise ValueError("filter size and stride must be positive")
    if n + 2 * padding < f:
        raise ValueError(f"filter of size {f} does not fit an input of {n} with padding {padding}")
    return (n - f + 2 * padding) // stride + 1


def same_padding(n: int, f: int, stride: int = 1) -> tuple[int, int]:
    """Padding (before, after) that TensorFlow's ``padding="same"`` adds along one axis.

    TensorFlow aims for ceil(N / S) outputs and puts the odd pixel, if any, after the input.
    """
    total = max((math.ceil(n / stride) - 1) * stride + f - n, 0)
    return total // 2, total - total // 2


def _pad(x: np.ndarray, kh: int, kw: int, stride: int, padding: Padding) -> np.ndarray:
    if padding == "valid":
        return x
    if padding == "same":
        rows, cols = same_padding(x.shape[0], kh, stride), same_padding(x.shape[1], kw, stride)
    elif isinstance(padding, int) and padding >= 0:
        rows = cols = (padding, padding)
    else:
        raise ValueError(f"padding must be 'valid', 'same' or a non-negative int, not {padding!r}")
    return np.pad(x, (rows, cols, (0, 0)))


def windows(x: np.ndarray, kh: int, kw: int, stride: int = 1) -> np.ndarray:
    """All (kh, kw) windows of ``x`` (H, W, C) taken every ``stride`` pixels: shape (H', W', kh, kw, C)."""
    view = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(0, 1))  # (H-kh+1, W-kw+1, C, kh, kw)
    return view[::stride, ::stride].transpose(0, 1, 3, 4, 2)


def conv2d(x: np.ndarray, kernel: np.ndarray, stride: int = 1, padding: Padding = "valid",
           bias: np.ndarray | float | None = None) -> np.ndarray:
    """Slide ``kernel`` over ``x`` and take the multiply-add at every position (see module doc for shapes)."""
    flat = x.ndim == 2
    x3 = x[..., None] if flat else x
    k4 = kernel[:, :, None, None] if kernel.ndim == 2 else kernel
    if k4.shape[2] != x3.shape[2]:
        raise ValueError(f"kernel depth {k4.shape[2]} must equal the input depth {x3.shape[2]}")
    kh, kw = k4.shape[:2]
    patches = windows(_pad(np.asarray(x3, dtype=np.float64), kh, kw, stride, padding), kh, kw, stride)
    out = np.einsum("ijuvc,uvck->ijk", patches, k4)
    if bias is not None:
        out = out + bias
    return out[..., 0] if flat and kernel.ndim == 2 else out


def pool2d(x: np.ndarray, size: int = 2, stride: int | None = None, mode: PoolMode = "max") -> np.ndarray:
    """Pool each channel over (size, size) windows with 'valid' padding: max, average or L2 norm."""
    stride = stride or size
    flat = x.ndim == 2
    patches = windows(np.asarray(x[..., None] if flat else x, dtype=np.float64), size, size, stride)
    if mode == "max":
        out = patches.max(axis=(2, 3))
    elif mode == "avg":
        out = patches.mean(axis=(2, 3))
    elif mode == "l2":
        out = np.sqrt((patches ** 2).sum(axis=(2, 3)))
    else:
        raise ValueError(f"mode must be 'max', 'avg' or 'l2', not {mode!r}")
    return out[..., 0] if flat else out
