"""What the training notebooks measure besides accuracy: its uncertainty and the time of each epoch.

``accuracy_interval`` and ``EpochTimer`` are notebook 05's, from its cells (``course_utils.lessons``)."""
from __future__ import annotations

import time

import keras
import numpy as np

from . import lessons

_lesson05 = lessons.load("05", "accuracy_interval", "EpochTimer")
accuracy_interval = _lesson05["accuracy_interval"]  # z·sqrt(p(1-p)/n): the 95% half-width on n examples
EpochTimer = _lesson05["EpochTimer"]  # keeps each epoch's wall time in ``seconds``


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
