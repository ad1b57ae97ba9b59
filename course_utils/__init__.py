"""Helpers for the convnets course: one job per module."""
import os as _os
import sys as _sys

_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _import_tensorflow_quietly() -> None:
    """Import TensorFlow with file descriptor 2 sent to /dev/null.

    TensorFlow 2.21 writes its oneDNN/CPU notices from C++ before logging is configured, so
    TF_CPP_MIN_LOG_LEVEL does not stop them; in a notebook they would land in the cell output and differ
    from run to run. Errors still surface as Python exceptions.
    """
    _sys.stderr.flush()
    saved = _os.dup(2)
    devnull = _os.open(_os.devnull, _os.O_WRONLY)
    try:
        _os.dup2(devnull, 2)
        import tensorflow  # noqa: F401
    finally:
        _os.dup2(saved, 2)
        _os.close(saved)
        _os.close(devnull)


if "ipykernel" in _sys.modules and "tensorflow" not in _sys.modules:
    _import_tensorflow_quietly()
