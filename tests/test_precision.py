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


@pytest.mark.parametrize("flags, chosen", [
    ({"avx2", "avx512f", "avx512_bf16"}, "bfloat16"),  # a CPU that computes in bfloat16
    ({"avx2", "fma", "f16c"}, "float32"),  # one that would emulate it
])
def test_auto_reads_the_machine_it_runs_on(monkeypatch, flags, chosen):
    # start() is given no flags: it must find them itself (cpu_flags reads /proc/cpuinfo), so stand in for the machine
    monkeypatch.setattr(session, "cpu_flags", lambda cpuinfo="/proc/cpuinfo": set(flags))
    monkeypatch.setattr(session, "gpu_bfloat16", lambda: None)
    run = session.start("precision_test", "smoke", precision="auto", smoke={})
    assert (run.precision, keras.mixed_precision.global_policy().name) == (chosen, session.KERAS_POLICIES[chosen])
    assert run.precision_reason.startswith("auto: ") and ("emulated" in run.precision_reason) is (chosen == "float32")


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
    from types import SimpleNamespace

    benchmark = load_benchmark()
    # A clock whose three timed steps last 0.5, 1 and 3 s: their median is 1 (mean 1.5, last 3, first 0.5).
    ticks = iter([0.0, 0.5, 10.0, 11.0, 20.0, 23.0])
    benchmark.time = SimpleNamespace(perf_counter=lambda: next(ticks))
    seconds, model = benchmark.seconds_per_step("mixed_bfloat16", 80, batch=2, steps=3)
    assert seconds == 1.0
    assert int(model.optimizer.iterations) == 2 + 3  # it trained: two warm-up steps, then the three timed ones
    assert model.layers[2].compute_dtype == "bfloat16"
    assert keras.mixed_precision.global_policy().name == "float32"


def test_precision_accuracy_benchmark_tests_the_best_epoch_and_restores_float32(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from PIL import Image

    from course_utils import measure

    rng = np.random.default_rng(0)
    for split, count in (("train", 8), ("validation", 4), ("test", 6)):
        for label, level in (("cat", 40), ("dog", 210)):
            (tmp_path / split / label).mkdir(parents=True)
            for i in range(count // 2):
                pixels = np.clip(rng.normal(level, 10, (90, 90, 3)), 0, 255).astype("uint8")
                Image.fromarray(pixels).save(tmp_path / split / label / f"{label}.{i}.jpg")
    from course_utils import pipeline

    datasets = pipeline.split_datasets(tmp_path, 80, batch_size=32, seed=1)
    # The clock the epoch timer reads (the `time` of the code that defines it): epoch 1 lasts 5 s (it also builds the
    # graph), epoch 2 lasts 2 s.
    ticks = iter([0.0, 5.0, 5.0, 7.0])
    monkeypatch.setitem(measure.EpochTimer.on_epoch_end.__globals__, "time",
                        SimpleNamespace(perf_counter=lambda: next(ticks)))
    # Watch what fit goes through (the weights after each epoch, the validation losses) and which weights are tested.
    seen = {"weights by epoch": []}
    fit, evaluate = keras.Model.fit, keras.Model.evaluate

    def watched_fit(model, *args, callbacks=(), **kwargs):
        keep = keras.callbacks.LambdaCallback(
            on_epoch_end=lambda epoch, logs: seen["weights by epoch"].append(model.get_weights()))
        history = fit(model, *args, callbacks=[*callbacks, keep], **kwargs)
        seen["val_loss"] = history.history["val_loss"]
        return history

    def watched_evaluate(model, *args, **kwargs):
        seen["tested weights"] = model.get_weights()
        return evaluate(model, *args, **kwargs)

    monkeypatch.setattr(keras.Model, "fit", watched_fit)
    monkeypatch.setattr(keras.Model, "evaluate", watched_evaluate)
    row = load_benchmark("precision_accuracy").train_and_test("mixed_bfloat16", seed=1, datasets=datasets, epochs=2,
                                                               folder=tmp_path)
    # One step per epoch; measured with seed 1: validation loss 0.634 after epoch 1, 0.716 after epoch 2.
    assert seen["val_loss"][0] < seen["val_loss"][1], seen["val_loss"]
    assert row["policy"] == "mixed_bfloat16" and row["best epoch"] == 1
    first, last = seen["weights by epoch"]
    tested_first, tested_last = (all(np.array_equal(x, y) for x, y in zip(seen["tested weights"], epoch, strict=True))
                                 for epoch in (first, last))
    assert tested_first and not tested_last, "the weights tested are not epoch 1's checkpoint"
    # Measured: epoch 1's model (one step) still gives the 6 test photos one class, so 3 are right;
    # the 95% interval of 0.5 on 6 photos is 1.96 * sqrt(0.5 * 0.5 / 6) = 0.400.
    assert row["test accuracy"] == 0.5 and row["± 95%"] == pytest.approx(0.4001, abs=1e-4)
    assert row["s / epoch"] == 2.0  # the epochs after the first one
    assert (tmp_path / "mixed_bfloat16-1.weights.h5").is_file()  # the checkpoint it tested
    assert keras.mixed_precision.global_policy().name == "float32"
