"""What every notebook does first: pick the profile, its settings, the seed and the numeric precision; and record
metrics."""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from . import ledger, paths

PROFILE_ENV = "COURSE_PROFILE"
PROFILES = ("smoke", "full")
PRECISION_ENV = "COURSE_PRECISION"
PRECISIONS = ("auto", "float32", "bfloat16")
KERAS_POLICIES = {"float32": "float32", "bfloat16": "mixed_bfloat16"}
BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")  # what Linux calls the CPU instructions that compute in bfloat16
SEEDS_FILE = "results/seeds.json"  # the committed seed spread (ledger.add_seed_run)


def resolve_profile(profile: str | None) -> str:
    """``profile`` if given, else ``$COURSE_PROFILE``, else "full" (the book's settings)."""
    chosen = profile or os.environ.get(PROFILE_ENV) or "full"
    if chosen not in PROFILES:
        raise ValueError(f"unknown profile {chosen!r}; choose one of {PROFILES}")
    return chosen


def resolve_precision(precision: str | None) -> str:
    """``precision`` if given, else ``$COURSE_PRECISION``, else "auto"."""
    chosen = precision or os.environ.get(PRECISION_ENV) or "auto"
    if chosen not in PRECISIONS:
        raise ValueError(f"unknown precision {chosen!r}; choose one of {PRECISIONS}")
    return chosen


def cpu_flags(cpuinfo: str | Path = "/proc/cpuinfo") -> set[str]:
    """The CPU's feature flags as Linux lists them in ``/proc/cpuinfo`` (an empty set elsewhere)."""
    try:
        text = Path(cpuinfo).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):  # x86 says "flags", ARM says "Features"
            return set(value.split())
    return set()


def machine(cpuinfo: str | Path = "/proc/cpuinfo") -> str:
    """The machine in a few words, as results are told apart by it: the CPU's model and its bfloat16 instructions,
    e.g. "AMD EPYC · avx512_bf16" ("unknown CPU" where Linux's cpuinfo is missing)."""
    import platform

    try:
        text = Path(cpuinfo).read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    model = next((line.partition(":")[2].strip() for line in text.splitlines()
                  if line.partition(":")[0].strip() == "model name"), "") or platform.processor() or "unknown CPU"
    flags = [flag for flag in BF16_CPU_FLAGS if flag in cpu_flags(cpuinfo)]
    return " · ".join([model, *flags])


def gpu_bfloat16() -> str | None:
    """The name of a visible NVIDIA GPU that computes in bfloat16 (compute capability 8.0 or newer), else None."""
    import tensorflow as tf

    for gpu in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(gpu)
        if tuple(details.get("compute_capability") or (0, 0)) >= (8, 0):
            return details.get("device_name", gpu.name)
    return None


def native_bfloat16(flags: set[str] | None = None, gpu: str | None = None) -> tuple[bool, str]:
    """Whether this machine computes in bfloat16 natively, and the evidence, in words.

    ``flags`` and ``gpu`` default to what :func:`cpu_flags` and :func:`gpu_bfloat16` find (tests pass their own).
    """
    flags = cpu_flags() if flags is None else flags
    gpu = gpu_bfloat16() if gpu is None else gpu
    if gpu:
        return True, f"the GPU ({gpu}) computes in bfloat16"
    native = [flag for flag in BF16_CPU_FLAGS if flag in flags]
    if native:
        return True, f"the CPU computes in bfloat16 ({', '.join(native)})"
    return False, ("neither the CPU (no avx512_bf16 or amx_bf16 instructions) nor a GPU computes in bfloat16 here: "
                   "it would be emulated, several times slower than float32")


def choose_precision(requested: str | None, support: tuple[bool, str] | None = None) -> tuple[str, str]:
    """("float32" or "bfloat16", why). "auto" picks bfloat16 only where the hardware computes in it natively.

    ``support`` is :func:`native_bfloat16`'s answer (found on the machine when None).
    """
    requested = resolve_precision(requested)
    if requested == "float32":
        return "float32", "float32 as requested"
    native, evidence = support if support is not None else native_bfloat16()
    if requested == "bfloat16":
        return "bfloat16", "bfloat16 as requested" + ("" if native else f"; careful: {evidence}")
    return ("bfloat16" if native else "float32"), f"auto: {evidence}"


@dataclass
class Session:
    """One notebook's run: its name, profile, the settings of that profile, and where it writes."""

    notebook: str
    profile: str
    settings: dict = field(default_factory=dict)
    seed: int = 42
    precision: str = "float32"
    precision_reason: str = ""

    @property
    def policy(self) -> str:
        """The Keras dtype policy of this precision: "float32" or "mixed_bfloat16"."""
        return KERAS_POLICIES[self.precision]

    @property
    def work_dir(self) -> Path:
        """Folder for what this profile's notebooks make (models, features), shared across notebooks."""
        path = paths.work_dir() / self.profile
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def context(self) -> dict:
        """What made this run, kept with its metrics: seed, precision, machine."""
        return {"seed": self.seed, "precision": self.precision, "machine": machine()}

    def record(self, name: str, value: float, book: float | None = None, label: str | None = None,
               tolerance: float | None = None, count: int | None = None) -> None:
        """Put a measured metric into the results ledger (next to the book's figure, if there is one).

        ``tolerance`` is the largest change from the committed value that is still the same result; the runner
        reports a new run outside it. For an accuracy on ``count`` examples give ``count`` instead: the tolerance
        then follows from the measured seed spread and the test set's size (:func:`ledger.tolerance`).
        None for both: not compared (timings).
        """
        value = value if isinstance(value, int) else float(value)
        if count is not None and tolerance is None:
            measured = self.spread(name)
            tolerance = ledger.tolerance(value, count, measured.sd if measured else 0.0)
        ledger.write_metric(ledger.results_dir(self.profile), self.notebook, name, value, book, label or name,
                            tolerance=tolerance, context=self.context)
        anchor = f" (book: {book})" if book is not None else ""
        print(f"recorded {label or name}: {ledger.format_number(value)}{anchor}")

    def spread(self, name: str) -> ledger.Spread | None:
        """The committed seed spread of one of this notebook's metrics (full profile), preferring runs made on this
        machine and precision; None where the course repository's results/seeds.json has none."""
        seeds = paths.committed_file(SEEDS_FILE)
        runs = ledger.load_seed_runs(seeds) if seeds else []
        return ledger.spread(runs, self.notebook, name, machine(), self.precision)

    def compare_with_seeds(self, name: str, value: float, digits: int = 3) -> None:
        """Print this run's value next to the spread over seeds of the full profile's runs."""
        measured = self.spread(name)
        if measured is None:
            print(f"this run: {value:.{digits}f}; no spread over seeds has been measured for it yet")
            return
        where = ("this machine" if measured.machine == machine() else f"another machine ({measured.machine})")
        if len(measured.values) == 1:
            print(f"this run: {value:.{digits}f}; one run with another seed on {where}, {measured.precision}, full "
                  f"profile, so far: {measured.values[0]:.{digits}f} (a spread needs more seeds)")
            return
        print(f"this run: {value:.{digits}f}; over {len(measured.values)} seeds on {where}, {measured.precision}, "
              f"full profile: {measured.describe(digits)}")

    def model_path(self, filename: str) -> Path:
        """Where this profile keeps a saved model, e.g. ``convnet_augmented.keras``, for later notebooks."""
        folder = self.work_dir / "models"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / filename

    def load_model(self, filename: str, made_by: str, make=None):
        """Load a model another notebook saved under this profile.

        A missing file names that notebook; with ``make`` (a function that trains and saves the model to the path
        it is given) the model is made here instead, saying so in one line and how long it took: a notebook opened
        on its own still runs.
        """
        import time

        import keras

        path = self.model_path(filename)
        if not path.is_file():
            if make is None:
                raise FileNotFoundError(f"{path} does not exist: run notebook {made_by} with profile "
                                        f"{self.profile!r} first (it trains and saves this model)")
            print(f"{filename} is not here yet (notebook {made_by} trains it): training a shorter version now",
                  flush=True)
            started = time.perf_counter()
            make(path)
            print(f"trained and saved in {time.perf_counter() - started:.0f} s")
        return keras.models.load_model(path)

    def results_of(self, notebook: str) -> dict:
        """The metrics another notebook recorded under this profile ({} if it has not run)."""
        return ledger.read_metrics(ledger.results_dir(self.profile), notebook)


def start(notebook: str, profile: str | None = None, seed: int = 42, overrides: dict | None = None,
          precision: str | None = "float32", **settings_by_profile: dict) -> Session:
    """Start a notebook: resolve the profile, seed Python, NumPy and TensorFlow once, set the precision, switch off
    tf.data's autotuner for ``fit`` on NumPy arrays (:func:`pipeline.quiet_array_inputs`), and print the settings.

    ``settings_by_profile`` maps each profile name to its settings, e.g. ``full=dict(epochs=5), smoke=dict(epochs=1)``.
    ``overrides`` holds the notebook's parameters (papermill ``-p``); those that are not None win.
    ``precision``: "float32", "bfloat16" (Keras' ``mixed_bfloat16`` policy: layers compute in bfloat16 and keep
    float32 weights) or "auto" (bfloat16 only on hardware that computes in it natively; see
    :func:`choose_precision`); None reads ``$COURSE_PRECISION``, else "auto". The global Keras policy is set either
    way, so a notebook never inherits another's. The choice and its reason are kept on the session and printed
    (unless the notebook asked for plain float32)."""
    import keras

    from . import pipeline  # TensorFlow: imported when a notebook starts, not with this module

    chosen = resolve_profile(profile)
    if settings_by_profile and chosen not in settings_by_profile:
        raise ValueError(f"notebook {notebook} has no settings for profile {chosen!r}")
    settings = dict(settings_by_profile.get(chosen, {}))
    settings.update({k: v for k, v in (overrides or {}).items() if v is not None})
    keras.utils.set_random_seed(seed)
    chosen_precision, reason = choose_precision(precision)
    keras.mixed_precision.set_global_policy(KERAS_POLICIES[chosen_precision])
    pipeline.quiet_array_inputs()
    # Keras 3 warns on every fit() of a tf.data.Dataset that its default shuffle=True is ignored; the course's
    # datasets shuffle themselves, and the warning would teach learners to ignore warnings.
    warnings.filterwarnings("ignore", message="`shuffle=True` was passed")
    shown = ", ".join(f"{k}={v}" for k, v in settings.items()) or "no settings"
    print(f"{notebook} · profile {chosen!r} · seed {seed} · {shown}")
    if precision != "float32":  # notebooks that never asked about precision print nothing new
        print(f"precision: {chosen_precision} ({reason})")
    return Session(notebook, chosen, settings, seed, chosen_precision, reason)

