"""Does bfloat16 cost accuracy? Notebook 05's training in float32 and in mixed_bfloat16, over several seeds.

    python benchmarks/precision_accuracy.py [--seeds 1 2 3] [--epochs 12] [--size 180]

One training run differs from another with the same settings by its seed (initial weights, shuffling order), and
float32 and bfloat16 runs part ways from their first step, so one run per precision cannot tell a precision effect
from that spread. This trains the book's convnet (``models.cats_dogs_convnet``, notebook 05) on notebook 04's split
once per seed and precision, keeps the epoch with the lowest validation loss (as 05's checkpoint does), and prints
each run's test accuracy with its 95% interval, each precision's mean and spread over the seeds, and the difference
of the two means with its 95% interval (Welch's t-test on the seeds' accuracies). Needs the split of notebook 04.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from course_utils import dogs_vs_cats, measure, models, pipeline, plots  # first: quiets TensorFlow's notices

import keras
import numpy as np
from scipy import stats

POLICIES = ("float32", "mixed_bfloat16")


def train_and_test(policy: str, seed: int, datasets: dict, epochs: int, folder: Path) -> dict:
    """One run of notebook 05's training on ``pipeline.split_datasets``: test accuracy of the lowest-validation-loss
    epoch, and its timings. The datasets are float32 whatever the policy, so both precisions can share them."""
    keras.mixed_precision.set_global_policy(policy)
    keras.utils.set_random_seed(seed)
    size = datasets["train"].element_spec[0].shape[1]
    model = models.cats_dogs_convnet(size)
    model.compile(loss="binary_crossentropy", optimizer="rmsprop", metrics=["accuracy"])
    best_path = folder / f"{policy}-{seed}.weights.h5"
    timer = measure.EpochTimer()
    checkpoint = keras.callbacks.ModelCheckpoint(best_path, monitor="val_loss", save_best_only=True,
                                                 save_weights_only=True)
    history = model.fit(datasets["train"], epochs=epochs, validation_data=datasets["validation"],
                        callbacks=[checkpoint, timer], verbose=0)
    model.load_weights(best_path)
    accuracy = model.evaluate(datasets["test"], verbose=0)[1]
    tested = sum(int(labels.shape[0]) for _, labels in datasets["test"])
    keras.mixed_precision.set_global_policy("float32")
    return {"policy": policy, "seed": seed, "best epoch": int(np.argmin(history.history["val_loss"])) + 1,
            "test accuracy": accuracy, "± 95%": measure.accuracy_interval(accuracy, tested),
            "s / epoch": measure.typical_epoch_seconds(timer.seconds)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--epochs", type=int, default=12, help="epochs per run (notebook 05: 20)")
    parser.add_argument("--size", type=int, default=180)
    args = parser.parse_args()
    if args.epochs < 2:
        parser.error("--epochs must be at least 2 (the first epoch also decodes the photos)")
    if len(args.seeds) < 2:
        parser.error("give at least two seeds: the spread between seeds is what the difference is judged by")

    split_dir = dogs_vs_cats.split_dir(must_exist=True)
    rows = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        for seed in args.seeds:
            datasets = pipeline.split_datasets(split_dir, args.size, batch_size=32, seed=seed)  # decoded once a seed
            for policy in POLICIES:
                rows.append(train_and_test(policy, seed, datasets, args.epochs, Path(folder)))
                print(plots.table(rows[-1:], floatfmt=".3f").splitlines()[-1], flush=True)
    print(f"\n{args.epochs} epochs per run at {args.size} px, {len(rows)} runs in "
          f"{(time.perf_counter() - started) / 60:.0f} min\n")
    print(plots.table(rows, floatfmt=".3f"))
    accuracies = {policy: np.array([r["test accuracy"] for r in rows if r["policy"] == policy]) for policy in POLICIES}
    for policy, values in accuracies.items():
        print(f"{policy:15s} mean {values.mean():.3f}, standard deviation over seeds {values.std(ddof=1):.3f}")
    float32, bfloat16 = accuracies.values()
    welch = stats.ttest_ind(bfloat16, float32, equal_var=False)  # few seeds: Student's t, not 1.96
    low, high = welch.confidence_interval(0.95)
    verdict = "no difference shown" if low <= 0 <= high else "a difference beyond the seed-to-seed spread"
    print(f"bfloat16 - float32: {bfloat16.mean() - float32.mean():+.3f}, 95% interval [{low:+.3f}, {high:+.3f}] "
          f"(Welch's t-test, p = {welch.pvalue:.2f}): {verdict}")


if __name__ == "__main__":
    main()
