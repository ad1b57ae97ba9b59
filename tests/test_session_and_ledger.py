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
