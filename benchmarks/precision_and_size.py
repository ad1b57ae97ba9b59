"""Seconds per epoch of the book's dogs-vs-cats convnet in float32 and in bfloat16, at 128 and 180 px.

    python benchmarks/precision_and_size.py [--sizes 128 180] [--steps 4] [--batch 32]

Times training steps on one batch of random photos (input pipeline excluded: notebook 05 shows it is cached) and
scales them to an epoch of 2,000 photos, for each Keras policy ("float32", "mixed_bfloat16") and size, in one
run. The achieved GFLOP/s counts a training step as three forward passes (forward, gradient with respect to the
activations, gradient with respect to the weights); the multiply-adds are counted layer by layer. The last column
is each row's speed relative to float32 at the same size; the line below says which precision
``session.start(precision="auto")`` picks on this machine, and why.
"""
from __future__ import annotations

import argparse
import time

from course_utils import models, session  # first: quiets TensorFlow's start-up notices

import keras
import numpy as np
from keras import layers

POLICIES = ("float32", "mixed_bfloat16")
PHOTOS_PER_EPOCH = 2000


def forward_flops(model: keras.Model) -> int:
    """Floating-point operations (2 per multiply-add) of one forward pass of one image through Conv2D and Dense."""
    flops = 0
    for layer in model.layers:
        if isinstance(layer, layers.Conv2D):
            height, width, channels_out = layer.output.shape[1:]
            kernel_h, kernel_w = layer.kernel_size
            flops += 2 * height * width * channels_out * kernel_h * kernel_w * layer.input.shape[-1]
        elif isinstance(layer, layers.Dense):
            flops += 2 * layer.input.shape[-1] * layer.units
    return flops


def seconds_per_step(policy: str, size: int, batch: int, steps: int) -> tuple[float, keras.Model]:
    """Median seconds of ``steps`` training steps (after two warm-up steps) under a Keras dtype policy."""
    keras.mixed_precision.set_global_policy(policy)
    keras.utils.set_random_seed(0)
    model = models.cats_dogs_convnet(size)
    model.compile(optimizer="rmsprop", loss="binary_crossentropy")
    x = np.random.default_rng(0).uniform(0, 255, (batch, size, size, 3)).astype("float32")
    y = np.zeros(batch, "float32")
    for _ in range(2):  # the first step builds the graph, the second settles oneDNN's kernels
        model.train_on_batch(x, y)
    times = []
    for _ in range(steps):
        started = time.perf_counter()
        model.train_on_batch(x, y)
        times.append(time.perf_counter() - started)
    keras.mixed_precision.set_global_policy("float32")
    return float(np.median(times)), model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 180])
    parser.add_argument("--steps", type=int, default=4, help="timed steps per configuration (median)")
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args()

    print(f"{'policy':16s} {'size':>5s} {'s/step':>8s} {'s/epoch':>8s} {'GFLOP/s':>8s} {'vs float32':>10s}")
    for size in args.sizes:
        baseline = None
        for policy in POLICIES:
            step, model = seconds_per_step(policy, size, args.batch, args.steps)
            gflops = 3 * forward_flops(model) * args.batch / step / 1e9
            baseline = baseline or step
            print(f"{policy:16s} {size:5d} {step:8.3f} {step * PHOTOS_PER_EPOCH / args.batch:8.1f} "
                  f"{gflops:8.1f} {baseline / step:9.2f}x", flush=True)
    precision, reason = session.choose_precision("auto")
    print(f"\nprecision='auto' chooses {precision} here: {reason}")
    print(f"one epoch = {PHOTOS_PER_EPOCH} photos in batches of {args.batch}; "
          f"training step = 3 forward passes of {forward_flops(models.cats_dogs_convnet(args.sizes[0])) / 1e9:.2f} "
          f"GFLOP per photo at {args.sizes[0]} px")


if __name__ == "__main__":
    main()
