"""What the training notebooks measure besides accuracy: its uncertainty, and the time of each epoch."""
from __future__ import annotations

import time

import keras
import numpy as np


def accuracy_interval(accuracy: float, n: int, z: float = 1.96) -> float:
    """Half-width of the 95% interval (``z`` = 1.96) of an accuracy measured on ``n`` independent examples.

    The normal approximation of the binomial: z·sqrt(p(1-p)/n); about 0.02 at 0.70 on 2,000 photos.
    """
    if n <= 0:
        raise ValueError(f"an accuracy needs at least one example, not n={n}")
    return float(z * np.sqrt(accuracy * (1 - accuracy) / n))


class EpochTimer(keras.callbacks.Callback):
    """A callback that keeps the wall time of every training epoch in ``seconds`` (validation included)."""

    def on_train_begin(self, logs=None):
        self.seconds: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.started)


def typical_epoch_seconds(seconds: list[float]) -> float:
    """The median time of epochs 2..N (epoch 1 also builds the graph and decodes the photos into the cache)."""
    if len(seconds) < 2:
        raise ValueError("need at least two epochs: the first one is not typical")
    return float(np.median(seconds[1:]))


class TimeLeft(keras.callbacks.Callback):
    """A callback that says, once the first epoch is done, how long the rest of ``fit`` will take at that pace on
    the machine at hand (the first epoch also decodes the photos into the cache, so this is an upper bound; an
    early stop can end the run sooner)."""

    def on_train_begin(self, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if epoch != 0:
            return
        first = time.perf_counter() - self.started
        left = self.params.get("epochs", 1) - 1
        if left > 0:
            print(f"the first epoch took {first:.0f} s; at that pace the {left} epochs left take at most "
                  f"{first * left / 60:.0f} min on this machine (a GPU runtime shortens that)", flush=True)
