import json

import pytest

from course_utils import ledger, session


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_WORK_DIR", str(tmp_path / "work"))
    monkeypatch.delenv("COURSE_RESULTS_DIR", raising=False)
    monkeypatch.delenv("COURSE_PROFILE", raising=False)
    return tmp_path


def test_profile_resolution(monkeypatch):
    monkeypatch.delenv("COURSE_PROFILE", raising=False)
    assert session.resolve_profile(None) == "full"
    monkeypatch.setenv("COURSE_PROFILE", "smoke")
    assert session.resolve_profile(None) == "smoke"
    assert session.resolve_profile("full") == "full"
    with pytest.raises(ValueError, match="unknown profile"):
        session.resolve_profile("fast")


def test_start_picks_profile_settings_and_overrides(isolated, capsys):
    run = session.start("99_demo", "smoke", overrides=dict(epochs=None, size=64),
                        full=dict(epochs=5, size=180), smoke=dict(epochs=1, size=32))
    assert run.settings == {"epochs": 1, "size": 64}
    assert "profile 'smoke'" in capsys.readouterr().out
    with pytest.raises(ValueError, match="no settings"):
        session.start("99_demo", "full", smoke=dict(epochs=1))


def test_start_seeds_numpy_reproducibly(isolated):
    import numpy as np
    session.start("99_demo", "smoke")
    first = np.random.rand(3)
    session.start("99_demo", "smoke")
    assert (np.random.rand(3) == first).all()


def test_record_writes_ledger_entries_that_other_notebooks_read(isolated):
    run = session.start("05_scratch", "smoke")
    run.record("test_accuracy", 0.71234, book=0.7, label="test accuracy")
    run.record("epochs_run", 12)
    later = session.start("06_aug", "smoke")
    metrics = later.results_of("05_scratch")
    assert metrics["test_accuracy"] == {"value": 0.71234, "book": 0.7, "label": "test accuracy"}
    assert metrics["epochs_run"]["value"] == 12
    assert later.results_of("04_missing") == {}
    assert (isolated / "work" / "smoke" / "results" / "05_scratch.json").exists()


def test_record_stores_the_tolerance_with_the_metric(isolated):
    run = session.start("05_scratch", "smoke")
    run.record("test_accuracy", 0.7, book=0.7, label="test accuracy", tolerance=0.03)
    run.record("epoch_seconds", 29.0)
    metrics = run.results_of("05_scratch")
    assert metrics["test_accuracy"]["tolerance"] == 0.03
    assert "tolerance" not in metrics["epoch_seconds"]  # not compared
    with pytest.raises(ValueError, match="tolerance"):
        run.record("bad", 0.5, tolerance=-0.1)


def metric(value, tolerance=None, label="m"):
    entry = {"value": value, "book": None, "label": label}
    return entry if tolerance is None else {**entry, "tolerance": tolerance}


def test_compare_reports_metrics_outside_their_tolerance():
    committed = {"profile": "full", "notebooks": {
        "05": {"seconds": 600, "metrics": {"acc": metric(0.70, 0.03), "gap": metric(0.3, 0.1), "sec": metric(29.0),
                                           "old": metric(0.5, 0.01)}},
        "06": {"seconds": 900, "metrics": {"acc": metric(0.80, 0.03)}}}}
    new = {"profile": "full", "notebooks": {
        "05": {"seconds": 500, "metrics": {"acc": metric(0.52, 0.03), "gap": metric(0.35, 0.1),
                                           "sec": metric(12.0), "fresh": metric(0.9, 0.01)}}}}
    found = {d.metric: d for d in ledger.compare(committed, new)}
    assert set(found) == {"acc", "gap", "fresh", "old"}  # timings not compared; 06 did not run
    assert found["acc"].outside and (found["acc"].committed, found["acc"].new) == (0.70, 0.52)
    assert not found["gap"].outside  # moved, but within its tolerance
    assert not found["fresh"].outside and found["fresh"].committed is None  # new metrics are not failures
    assert found["old"].outside and found["old"].new is None  # a compared metric that disappeared is
    assert found["acc"].describe() == "05  m: committed 0.7000, new 0.5200, tolerance ±0.03"
    # the tolerance the notebook records now wins over the committed one; exactly at the edge is the same result
    assert not ledger.compare(committed, {"notebooks": {"06": {"metrics": {"acc": metric(0.70, 0.1)}}}})[0].outside
    assert not ledger.compare(committed, {"notebooks": {"06": {"metrics": {"acc": metric(0.83, 0.03)}}}})[0].outside
    assert ledger.compare(committed, {"notebooks": {"06": {"metrics": {"acc": metric(0.8, 0.03)}}}}) == []


def test_write_atomically_replaces_the_file_and_keeps_its_mode(tmp_path):
    target = tmp_path / "results" / "full.json"
    ledger.write_atomically(target, "one\n")
    target.chmod(0o640)
    ledger.write_atomically(target, "two\n")
    assert target.read_text() == "two\n" and target.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in target.parent.iterdir()] == ["full.json"]


def test_ledger_tables():
    book = {"profile": "full", "notebooks": {
        "02_mnist": {"seconds": 125.0, "metrics": {
            "a": {"value": 0.99123, "book": 0.991, "label": "convnet test accuracy"},
            "b": {"value": 1234567, "book": None, "label": "parameters"}}},
        "01_conv": {"seconds": 12.0, "metrics": {}}}}
    text = ledger.as_text(book)
    lines = text.splitlines()
    assert lines[0].split() == ["notebook", "time", "metric", "measured", "book"]
    assert lines[1].startswith("01_conv") and "0.2 min" in lines[1]
    assert "0.9912" in lines[2] and "0.9910" in lines[2] and "2.1 min" in lines[2]
    assert "1,234,567" in lines[3] and lines[3].startswith(" ")
    markdown = ledger.as_markdown(book)
    assert markdown.splitlines()[1] == "|---|---|---|---|---|"
    assert "| 02_mnist | 2.1 min | convnet test accuracy | 0.9912 | 0.9910 |" in markdown


def test_ledger_save_load_roundtrip(tmp_path):
    book = {"profile": "smoke", "notebooks": {"01": {"seconds": 1.5, "metrics": {}}}}
    ledger.save(book, tmp_path / "x" / "results.json")
    assert ledger.load(tmp_path / "x" / "results.json") == book
    assert json.loads((tmp_path / "x" / "results.json").read_text())["profile"] == "smoke"


def test_saved_models_round_trip_and_missing_model_names_the_notebook(isolated):
    import keras
    run = session.start("05_scratch", "smoke")
    with pytest.raises(FileNotFoundError, match="run notebook 05_scratch with profile 'smoke'"):
        run.load_model("tiny.keras", made_by="05_scratch")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.save(run.model_path("tiny.keras"))
    assert run.model_path("tiny.keras").parent == isolated / "work" / "smoke" / "models"
    assert run.load_model("tiny.keras", made_by="05_scratch").count_params() == 8


def seed_entry(seed: int, value: float, machine: str = "CPU A", precision: str = "float32") -> dict:
    return {"run": {"seed": seed, "precision": precision, "machine": machine},
            "metrics": {"test_accuracy": {"value": value, "book": 0.7, "label": "acc"}}}


def test_seed_runs_replace_a_rerun_and_the_spread_prefers_this_machine(tmp_path):
    seeds = tmp_path / "seeds.json"
    ledger.add_seed_run(seeds, "05", seed_entry(1, 0.70), 10.0)
    ledger.add_seed_run(seeds, "05", seed_entry(2, 0.74))
    ledger.add_seed_run(seeds, "05", seed_entry(2, 0.72))  # the same seed again replaces the first run
    for seed, value in ((1, 0.80), (2, 0.82), (3, 0.84)):
        ledger.add_seed_run(seeds, "05", seed_entry(seed, value, machine="CPU B"))
    ledger.add_seed_run(seeds, "05", {"metrics": {}})  # a run without context (an old ledger) is not a seed run
    runs = ledger.load_seed_runs(seeds)
    assert len(runs) == 5
    mine = ledger.spread(runs, "05", "test_accuracy", "CPU A", "float32")
    assert mine.values == (0.70, 0.72) and mine.machine == "CPU A"
    assert mine.mean == pytest.approx(0.71) and mine.sd == pytest.approx(0.01414, abs=1e-5)
    elsewhere = ledger.spread(runs, "05", "test_accuracy", "CPU C", "float32")  # unknown: the most runs
    assert elsewhere.machine == "CPU B" and elsewhere.describe() == "0.820 ± 0.020 (min 0.800, max 0.840)"
    assert ledger.spread(runs, "06", "test_accuracy") is None


def test_tolerance_is_three_standard_deviations_of_a_difference_of_two_runs():
    # binomial floor: sqrt(0.85 * 0.15 / 2000) = 0.00798; x 3 x sqrt(2) = 0.0339
    assert ledger.tolerance(0.85, 2000) == pytest.approx(0.0339, abs=1e-4)
    assert ledger.tolerance(0.85, 2000, seed_sd=0.02) == pytest.approx(0.0849, abs=1e-4)  # the spread wins
    # the other machine's 06 (0.820) against the committed 0.850 differs by 0.030: inside even the floor
    assert abs(0.820 - 0.850) < ledger.tolerance(0.85, 2000)


def test_record_with_a_count_takes_its_tolerance_from_the_committed_spread(isolated, monkeypatch, capsys):
    seeds = isolated / "seeds.json"
    for seed, value in ((1, 0.80), (2, 0.84), (3, 0.88)):
        ledger.add_seed_run(seeds, "05_x", seed_entry(seed, value, machine=session.machine()))
    monkeypatch.setattr(session.paths, "committed_file", lambda relative: seeds)
    run = session.start("05_x", "smoke", seed=3)
    run.record("test_accuracy", 0.85, count=2000)
    run.compare_with_seeds("test_accuracy", 0.85)
    entry = ledger.read_entry(ledger.results_dir("smoke"), "05_x")
    assert entry["metrics"]["test_accuracy"]["tolerance"] == pytest.approx(3 * 2 ** 0.5 * 0.04, abs=1e-4)
    assert entry["run"] == {"seed": 3, "precision": "float32", "machine": session.machine()}
    assert "this run: 0.850; over 3 seeds on this machine, float32, full profile: 0.840 ± 0.040" in capsys.readouterr().out


def test_machine_names_the_cpu_and_its_bfloat16_instructions(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Platinum\nflags\t\t: fpu avx512_bf16 amx_bf16\n")
    assert session.machine(cpuinfo) == "Intel(R) Xeon(R) Platinum · amx_bf16 · avx512_bf16"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu avx2\n")
    assert session.machine(cpuinfo) == "AMD EPYC"


def test_the_spread_table_lists_metrics_measured_with_two_seeds_or_more(tmp_path):
    seeds = tmp_path / "seeds.json"
    for seed, value in ((1, 0.80), (2, 0.84)):
        ledger.add_seed_run(seeds, "06", seed_entry(seed, value, machine="CPU B", precision="bfloat16"))
    ledger.add_seed_run(seeds, "05", seed_entry(1, 0.70))  # one seed: no spread yet
    table = ledger.spread_markdown(ledger.load_seed_runs(seeds)).splitlines()
    assert table[2:] == ["| 06 | test_accuracy | CPU B, bfloat16 | 1, 2 | 0.8200 ± 0.0283 | 0.8000 – 0.8400 |"]
