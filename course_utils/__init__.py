"""Helpers for the convnets course: one job per module."""
import os as _os
import sys as _sys
import tempfile as _tempfile

_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _import_tensorflow_quietly() -> None:
    """Import TensorFlow with file descriptor 2 captured, and show the capture only if the import fails.

    TensorFlow 2.21 writes its oneDNN/CPU notices from C++ before logging is configured, so
    TF_CPP_MIN_LOG_LEVEL does not stop them; in a notebook they would land in the cell output and differ
    from run to run. A failed import (a missing shared library, an unsupported CPU) explains itself on that
    same stream, so then the captured text is written to stderr and attached to the exception.
    """
    _sys.stderr.flush()
    saved = _os.dup(2)
    with _tempfile.TemporaryFile() as captured:
        try:
            _os.dup2(captured.fileno(), 2)
            try:
                import tensorflow  # noqa: F401
            finally:
                _os.dup2(saved, 2)
                _os.close(saved)
        except BaseException as error:
            captured.seek(0)
            text = captured.read().decode("utf-8", "replace").strip()
            if text:
                _sys.stderr.write(f"TensorFlow failed to import; it wrote:\n{text}\n")
                _sys.stderr.flush()
                if hasattr(error, "add_note"):  # Python 3.11+
                    error.add_note(f"TensorFlow's own output during the import:\n{text}")
            raise


if "ipykernel" in _sys.modules and "tensorflow" not in _sys.modules:
    _import_tensorflow_quietly()
