"""Training throughput of the dogs-vs-cats convnet under three input pipelines, on the real photos.

    python benchmarks/pipeline_throughput.py [--size 128] [--images 1000] [--epochs 3]

(a) the book's plain pipeline: ``image_dataset_from_directory`` batches, every JPEG decoded in every epoch;
(b) the course's pipeline (``course_utils.pipeline``): decoded once, cached, reshuffled, autotune off;
(c) the ceiling: the same images as in-memory NumPy tensors (autotune off too, as in the notebooks).
Throughput is images per second over epochs 2..N (epoch 1 also builds the graph, and fills (b)'s cache).
Needs the split of notebook 04 (``course_utils.dogs_vs_cats.split_dir()``).
"""
from __future__ import annotations

import argparse

from course_utils import dogs_vs_cats, measure, models, pipeline  # first: quiets TensorFlow's start-up notices

import keras
import numpy as np
import tensorflow as tf


def throughput(dataset_or_arrays, images: int, size: int, epochs: int) -> tuple[float, float]:
    """(images/s after the first epoch, seconds of the first epoch) training the book's model."""
    keras.utils.set_random_seed(0)
    model = models.cats_dogs_convnet(size)
    model.compile(optimizer="rmsprop", loss="binary_crossentropy")
    timer = measure.EpochTimer()
    if isinstance(dataset_or_arrays, tuple):
        x, y = dataset_or_arrays
        model.fit(x, y, batch_size=32, epochs=epochs, callbacks=[timer], verbose=0)
    else:
        model.fit(dataset_or_arrays, epochs=epochs, callbacks=[timer], verbose=0)
    return images * (epochs - 1) / sum(timer.seconds[1:]), timer.seconds[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--images", type=int, default=1000, help="training photos used (class-mixed subset)")
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    if args.epochs < 2:
        parser.error("--epochs must be at least 2 (the first epoch is warm-up)")
    train_dir = dogs_vs_cats.split_dir(must_exist=True) / "train"
    pipeline.quiet_array_inputs()  # (c) as session.start sets it up for the notebooks

    plain = keras.utils.image_dataset_from_directory(train_dir, image_size=(args.size, args.size), batch_size=32,
                                                     seed=1, verbose=False).take(args.images // 32)
    course = pipeline.image_dataset(train_dir, args.size, batch_size=32, shuffle=True, limit=args.images // 32 * 32)
    x, y = pipeline.to_arrays(course)
    n = len(x)
    results = {
        "(a) book: decode every epoch": throughput(plain, n, args.size, args.epochs),
        "(b) course: decode once, cache": throughput(course, n, args.size, args.epochs),
        "(c) in-memory tensors": throughput((x, y), n, args.size, args.epochs),
    }
    print(f"{n} photos at {args.size} px, {args.epochs} epochs, {tf.config.threading.get_intra_op_parallelism_threads() or 'all'} threads")
    for name, (rate, first) in results.items():
        print(f"{name:34s} {rate:7.1f} images/s   (first epoch {first:.1f} s)")
    a, b, c = (rate for rate, _ in results.values())
    print(f"(b)/(a) = {b / a:.2f}   (b)/(c) = {b / c:.2f}")


if __name__ == "__main__":
    main()
