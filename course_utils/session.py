"""What every notebook does first: pick the profile, its settings and the seed; and record metrics."""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from . import data, ledger

PROFILE_ENV = "COURSE_PROFILE"
PROFILES = ("smoke", "full")


def resolve_profile(profile: str | None) -> str:
    """``profile`` if given, else ``$COURSE_PROFILE``, else "full" (the book's settings)."""
    chosen = profile or os.environ.get(PROFILE_ENV) or "full"
    if chosen not in PROFILES:
        raise ValueError(f"unknown profile {chosen!r}; choose one of {PROFILES}")
    return chosen


@dataclass
class Session:
    """One notebook's run: its name, profile, the settings of that profile, and where it writes."""

    notebook: str
    profile: str
    settings: dict = field(default_factory=dict)
    seed: int = 42

    @property
    def work_dir(self) -> Path:
        """Folder for what this profile's notebooks make (models, features), shared across notebooks."""
        path = data.work_dir() / self.profile
        path.mkdir(parents=True, exist_ok=True)
        return path

    def record(self, name: str, value: float, book: float | None = None, label: str | None = None) -> None:
        """Put a measured metric into the results ledger (next to the book's figure, if there is one)."""
        value = value if isinstance(value, int) else float(value)
        ledger.write_metric(ledger.results_dir(self.profile), self.notebook, name, value, book, label or name)
        anchor = f" (book: {book})" if book is not None else ""
        print(f"recorded {label or name}: {ledger.format_number(value)}{anchor}")

    def model_path(self, filename: str) -> Path:
        """Where this profile keeps a saved model, e.g. ``convnet_augmented.keras``, for later notebooks."""
        folder = self.work_dir / "models"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / filename

    def load_model(self, filename: str, made_by: str):
        """Load a model another notebook saved under this profile; a missing file names that notebook."""
        import keras

        path = self.model_path(filename)
        if not path.is_file():
            raise FileNotFoundError(f"{path} does not exist: run notebook {made_by} with profile "
                                    f"{self.profile!r} first (it trains and saves this model)")
        return keras.models.load_model(path)

    def results_of(self, notebook: str) -> dict:
        """The metrics another notebook recorded under this profile ({} if it has not run)."""
        return ledger.read_metrics(ledger.results_dir(self.profile), notebook)


def start(notebook: str, profile: str | None = None, seed: int = 42, overrides: dict | None = None,
          **settings_by_profile: dict) -> Session:
    """Start a notebook: resolve the profile, seed Python, NumPy and TensorFlow once, and print the settings.

    ``settings_by_profile`` maps each profile name to its settings, e.g. ``full=dict(epochs=5), smoke=dict(epochs=1)``.
    ``overrides`` holds the notebook's parameters (papermill ``-p``); those that are not None win.
    """
    import keras

    chosen = resolve_profile(profile)
    if settings_by_profile and chosen not in settings_by_profile:
        raise ValueError(f"notebook {notebook} has no settings for profile {chosen!r}")
    settings = dict(settings_by_profile.get(chosen, {}))
    settings.update({k: v for k, v in (overrides or {}).items() if v is not None})
    keras.utils.set_random_seed(seed)
    # Keras 3 warns on every fit() of a tf.data.Dataset that its default shuffle=True is ignored; the course's
    # datasets shuffle themselves, and the warning would teach learners to ignore warnings.
    warnings.filterwarnings("ignore", message="`shuffle=True` was passed")
    shown = ", ".join(f"{k}={v}" for k, v in settings.items()) or "no settings"
    print(f"{notebook} · profile {chosen!r} · seed {seed} · {shown}")
    return Session(notebook, chosen, settings, seed)

