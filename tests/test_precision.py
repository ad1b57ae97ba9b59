"""The precision setting of session.start: bfloat16 only where the hardware computes in it, float32 elsewhere."""
import keras
import numpy as np
import pytest

from course_utils import session
from notebook_code import lesson_namespace

NATIVE = (True, "the CPU computes in bfloat16 (avx512_bf16)")
EMULATED = (False, "no bfloat16 here")


@pytest.fixture(autouse=True)
def float32_afterwards(monkeypatch):
    """Every test leaves Keras' global policy as the other tests expect it."""
    monkeypatch.delenv(session.PRECISION_ENV, raising=False)
    yield
    keras.mixed_precision.set_global_policy("float32")


def write_cpuinfo(tmp_path, flags: str):
    path = tmp_path / "cpuinfo"
    path.write_text(f"processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: {flags}\n\nprocessor\t: 1\n"
                    f"flags\t\t: {flags}\n", encoding="utf-8")
    return path


def test_cpu_flags_are_read_from_cpuinfo(tmp_path):
    assert session.cpu_flags(write_cpuinfo(tmp_path, "fpu sse avx2 avx512f avx512_bf16")) == {
        "fpu", "sse", "avx2", "avx512f", "avx512_bf16"}
    assert session.cpu_flags(tmp_path / "missing") == set()  # macOS, Windows: no /proc/cpuinfo


@pytest.mark.parametrize("flags, native", [
    ("avx2 avx512f avx512_bf16", True),     # AMD Zen 4, Intel Cooper Lake
    ("avx2 avx512f amx_bf16 amx_tile", True),  # Intel Sapphire Rapids
    ("avx2 fma f16c", False),                # AMD Zen 3, most laptops
    ("avx2 avx512f avx512_vnni", False),     # AVX-512 without its bfloat16 part
])
def test_native_bfloat16_follows_the_cpu_flags(tmp_path, flags, native):
    found, evidence = session.native_bfloat16(session.cpu_flags(write_cpuinfo(tmp_path, flags)), gpu="")
    assert found is native
    assert ("bf16" in evidence) and (("emulated" in evidence) is not native)


def test_a_bfloat16_gpu_is_enough():
    found, evidence = session.native_bfloat16(set(), gpu="NVIDIA A100")
    assert found and "A100" in evidence


@pytest.mark.parametrize("requested, support, chosen", [
    ("auto", NATIVE, "bfloat16"),
    ("auto", EMULATED, "float32"),
    ("float32", NATIVE, "float32"),
    ("bfloat16", EMULATED, "bfloat16"),  # asked for explicitly: honoured, with a warning in the reason
])
def test_choose_precision(requested, support, chosen):
    precision, reason = session.choose_precision(requested, support)
    assert precision == chosen
    assert (support[1] in reason) is (requested != "float32")
    assert ("careful" in reason) is (requested == "bfloat16" and not support[0])


def test_none_reads_the_environment_then_defaults_to_auto(monkeypatch):
    assert session.resolve_precision(None) == "auto"
    monkeypatch.setenv(session.PRECISION_ENV, "float32")
    assert session.resolve_precision(None) == "float32"
    assert session.resolve_precision("bfloat16") == "bfloat16"
    with pytest.raises(ValueError, match="unknown precision 'float16'"):
        session.resolve_precision("float16")


def test_start_sets_the_keras_policy_and_says_why(capsys):
    run = session.start("precision_test", "smoke", precision="bfloat16", smoke=dict(epochs=1))
    assert (run.precision, run.policy) == ("bfloat16", "mixed_bfloat16")
    assert keras.mixed_precision.global_policy().name == "mixed_bfloat16"
    assert f"precision: bfloat16 ({run.precision_reason})" in capsys.readouterr().out
    # the next notebook must not inherit bfloat16: start sets the policy every time
    run = session.start("precision_test", "smoke", smoke=dict(epochs=1))
    assert (run.precision, keras.mixed_precision.global_policy().name) == ("float32", "float32")
    assert "precision:" not in capsys.readouterr().out  # notebooks that never asked print nothing new


def test_auto_matches_the_machine():
    run = session.start("precision_test", "smoke", precision="auto", smoke={})
    assert run.precision == ("bfloat16" if session.native_bfloat16()[0] else "float32")
    assert run.precision_reason.startswith("auto: ")


@pytest.mark.parametrize("prefix", ["05", "06"])
def test_the_lessons_models_compute_in_bfloat16_but_answer_in_float32(prefix):
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    model = lesson_namespace(prefix, IMAGE_SIZE=80)["model"]
    convolutions = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert convolutions and all(layer.compute_dtype == "bfloat16" for layer in convolutions)
    assert all(layer.variable_dtype == "float32" for layer in convolutions)  # weights stay float32
    assert model.layers[-1].compute_dtype == "float32"
    probabilities = model(np.full((2, 80, 80, 3), 128.0, "float32"))
    assert probabilities.dtype == "float32" and probabilities.shape == (2, 1)


def load_benchmark(name: str = "precision_and_size"):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_counts_the_books_multiply_adds():
    from course_utils import models

    # by hand, 180 px: output positions x filters x 3x3 x input channels, then Flatten(7x7x256) -> Dense(1)
    multiply_adds = (178 * 178 * 32 * 27 + 87 * 87 * 64 * 288 + 41 * 41 * 128 * 576 + 18 * 18 * 256 * 1152
                     + 7 * 7 * 256 * 2304 + 7 * 7 * 256)
    assert load_benchmark().forward_flops(models.cats_dogs_convnet(180)) == 2 * multiply_adds


def test_benchmark_times_a_step_and_restores_float32():
    seconds, model = load_benchmark().seconds_per_step("mixed_bfloat16", 80, batch=2, steps=1)
    assert seconds > 0 and model.layers[2].compute_dtype == "bfloat16"
    assert keras.mixed_precision.global_policy().name == "float32"


def test_precision_accuracy_benchmark_tests_the_best_epoch_and_restores_float32(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for split, count in (("train", 8), ("validation", 4), ("test", 6)):
        for label, level in (("cat", 40), ("dog", 210)):
            (tmp_path / split / label).mkdir(parents=True)
            for i in range(count // 2):
                pixels = np.clip(rng.normal(level, 10, (90, 90, 3)), 0, 255).astype("uint8")
                Image.fromarray(pixels).save(tmp_path / split / label / f"{label}.{i}.jpg")
    from course_utils import pipeline

    datasets = pipeline.split_datasets(tmp_path, 80, batch_size=32, seed=1)
    row = load_benchmark("precision_accuracy").train_and_test("mixed_bfloat16", seed=1, datasets=datasets, epochs=2,
                                                               folder=tmp_path)
    assert row["policy"] == "mixed_bfloat16" and row["best epoch"] in (1, 2)
    assert 0 <= row["test accuracy"] <= 1 and row["± 95%"] > 0 and row["s / epoch"] > 0
    assert (tmp_path / "mixed_bfloat16-1.weights.h5").is_file()  # the checkpoint it tested
    assert keras.mixed_precision.global_policy().name == "float32"
