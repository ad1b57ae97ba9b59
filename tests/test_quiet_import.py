"""course_utils imports TensorFlow quietly in a kernel, but a failed import still explains itself."""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# In a notebook kernel (ipykernel loaded) course_utils imports TensorFlow with file descriptor 2 captured.
IMPORT_IN_A_KERNEL = "import sys, types; sys.modules['ipykernel'] = types.ModuleType('ipykernel'); import course_utils"


def run_with_fake_tensorflow(tmp_path: Path, body: str, script: str = IMPORT_IN_A_KERNEL):
    """Run ``script`` (course_utils imported as a kernel would) with a stand-in ``tensorflow`` that runs ``body``."""
    package = tmp_path / "tensorflow"
    package.mkdir()
    (package / "__init__.py").write_text(textwrap.dedent(body))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)


def test_notices_written_by_a_successful_import_are_hidden(tmp_path):
    result = run_with_fake_tensorflow(tmp_path, """
        import os
        os.write(2, b"oneDNN custom operations are on. You may see slightly different numerical results\\n")
    """)
    assert result.returncode == 0, result.stderr
    assert "oneDNN" not in result.stderr


def test_a_fatal_import_error_shows_what_tensorflow_wrote(tmp_path):
    result = run_with_fake_tensorflow(tmp_path, """
        import os
        os.write(2, b"ImportError: libcudart.so.12: cannot open shared object file\\n")
        os.write(2, b"The TensorFlow library was compiled to use AVX instructions, but these aren't available\\n")
        raise ImportError("DLL load failed while importing _pywrap_tensorflow_internal")
    """)
    assert result.returncode != 0
    assert "DLL load failed" in result.stderr  # the exception itself
    assert "TensorFlow failed to import; it wrote:" in result.stderr
    assert "libcudart.so.12" in result.stderr and "AVX instructions" in result.stderr
    if sys.version_info >= (3, 11):
        assert "TensorFlow's own output during the import:" in result.stderr  # the note on the traceback


@pytest.mark.skipif(os.name == "nt", reason="file descriptor 2 of a Windows console")
def test_stderr_works_again_after_the_import(tmp_path):
    result = run_with_fake_tensorflow(tmp_path, "", IMPORT_IN_A_KERNEL + "; import os; os.write(2, b'still visible')")
    assert result.returncode == 0 and "still visible" in result.stderr
