"""ImageNet's 1000 classes by name, offline, and the way the course shows a photo to an ImageNet classifier."""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps


@functools.lru_cache(maxsize=1)
def imagenet_classes() -> tuple[tuple[str, str], ...]:
    """The 1000 ImageNet classes as (WordNet id, name), in output order; names as in keras.applications."""
    lines = Path(__file__).with_name("imagenet_classes.txt").read_text(encoding="utf-8").splitlines()
    classes = tuple(tuple(line.split(" ", 1)) for line in lines if line and not line.startswith("#"))
    if len(classes) != 1000:
        raise RuntimeError(f"imagenet_classes.txt lists {len(classes)} classes instead of 1000")
    return classes


def decode_predictions(preds, top: int = 5) -> list[list[tuple[str, str, float]]]:
    """The ``top`` most probable classes of each row of ``preds`` (shape (n, 1000)), as
    ``(class_id, class_name, score)``, best first, like ``keras.applications.imagenet_utils.decode_predictions``
    but with no download."""
    preds = np.asarray(preds)
    if preds.ndim != 2 or preds.shape[1] != 1000:
        raise ValueError(f"expected predictions of shape (samples, 1000), got {preds.shape}")
    classes = imagenet_classes()
    return [[(*classes[i], float(row[i])) for i in np.argsort(row)[::-1][:top]] for row in preds]


def central_square(photo: Image.Image, size: int | None = None) -> Image.Image:
    """The largest centred square of a PIL image, resized to ``size`` pixels (bicubic) when given.

    How the course shows a photo to an ImageNet classifier: the whole subject, undistorted, at the size the
    model was trained at (224 for EfficientNet-Lite0).
    """
    side = size or min(photo.size)
    return ImageOps.fit(photo.convert("RGB"), (side, side), method=Image.BICUBIC, centering=(0.5, 0.5))
