"""Retracting outcomes: the operator command, the record beside the outcomes (a folder, a
bucket), every reader leaving retracted outcomes out, and the retraction in the UI's
metadata of the asset that turns outcomes into training rows."""

import json
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest

from titanic_assets.commands import retract_outcomes
from titanic_assets.core.instances import read_instance
from titanic_assets.core.outcomes import (
    ANONYMOUS,
    OutcomeStore,
    read_outcomes,
    read_retractions,
    sender_id,
)
from titanic_assets.core.prediction_log import PredictionLogWriter
from titanic_assets.defs.resources import LocalLandingArea, MonitoringPolicy, PredictionLog
from titanic_assets.domains.titanic.contract import PASSENGER_FIELDS
from titanic_assets.domains.titanic.examples import PASSENGER
from titanic_assets.testing import compact_log

HONEST, FLOODER = sender_id("honest-sender-token-0001"), sender_id("flooding-token-0002")


def predicted(log: Path | str, name: str, n: int) -> list[str]:
    """`n` logged predictions of the example passenger, with ids `<name>-<i>`."""
    writer = PredictionLogWriter(log, PASSENGER_FIELDS)
    columns = {f.name: [PASSENGER.get(f.name)] for f in PASSENGER_FIELDS}
    for i in range(n):
        writer.write(f"{name}-{i}", "predict", "v1", columns, [0.9], [True])
    writer.close()
    return [f"{name}-{i}" for i in range(n)]


def retract(log: Path | str, *args: str) -> int:
    return retract_outcomes.main(["--log", str(log), *args])


@pytest.fixture
def log(tmp_path: Path) -> Path:
    """A folder log with 5 outcomes from an honest sender and 8 from a flooder: the Titanic
    model's, under the log root `tmp_path / "log"`."""
    location = tmp_path / "log" / read_instance("titanic").prediction_log
    store = OutcomeStore(location)
    assert store.add([(i, True) for i in predicted(location, "honest", 5)], HONEST)[1] is None
    assert store.add([(i, False) for i in predicted(location, "flood", 8)], FLOODER)[1] is None
    return location


def test_retracting_a_sender_leaves_its_outcomes_out_of_every_read_and_deletes_nothing(log, capsys):
    lines_before = {p.name: p.read_bytes() for p in log.glob("outcomes-*.jsonl")}
    assert retract(log, "--sender", FLOODER, "--reason", "flipped outcomes") == 0
    assert "8 outcomes" in capsys.readouterr().out

    kept = read_outcomes(log)
    assert set(kept["sender"]) == {HONEST} and len(kept) == 5
    compact_log(log)  # monitoring's join, hour by hour
    labelled = PredictionLog(location=str(log)).labelled()
    assert len(labelled) == 5 and not labelled["prediction_id"].str.startswith("flood").any()
    # The outcome lines are untouched; the retraction is its own record beside them.
    assert {p.name: p.read_bytes() for p in log.glob("outcomes-*.jsonl")} == lines_before
    [record_file] = log.glob("retractions-*.jsonl")
    record = json.loads(record_file.read_text())
    assert record["sender"] == FLOODER and record["reason"] == "flipped outcomes"
    assert record["recorded_by"] and record["recorded_at"] <= record["until"]
    [retraction] = read_retractions(log).to_dict("records")
    assert retraction["outcomes"] == 8 and retraction["by_sender"] == {FLOODER: 8}


def test_a_time_range_retraction_covers_what_was_received_in_it_from_any_sender(log):
    between = datetime.now(UTC)
    store = OutcomeStore(log)
    late = predicted(log, "late", 3)
    assert store.add([(i, True) for i in late], ANONYMOUS)[1] is None

    assert retract(log, "--since", between.isoformat(), "--reason", "replayed") == 0
    assert set(read_outcomes(log)["id"]).isdisjoint(late)
    assert len(read_outcomes(log)) == 13
    # Before that moment, only the flooder's: the honest sender's outcomes stay.
    assert retract(log, "--sender", FLOODER, "--until", between.isoformat(), "--reason", "x") == 0
    assert set(read_outcomes(log)["sender"]) == {HONEST}
    assert read_retractions(log).attrs["outcomes_retracted"] == 11


def test_a_retraction_ends_when_it_is_recorded_so_later_outcomes_count(log):
    assert retract(log, "--sender", FLOODER, "--reason", "flipped") == 0
    later = predicted(log, "later", 2)
    assert OutcomeStore(log).add([(i, True) for i in later], FLOODER)[1] is None
    assert set(later) <= set(read_outcomes(log)["id"])


def test_a_dry_run_counts_and_records_nothing(log, capsys):
    assert retract(log, "--sender", FLOODER, "--reason", "checking", "--dry-run") == 0
    assert "8 outcomes" in capsys.readouterr().out
    assert not list(log.glob("retractions-*")) and len(read_outcomes(log)) == 13


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--sender", FLOODER], "--reason"),
        (["--reason", "no selector"], "sender, a time range"),
        (["--sender", "labels_landing", "--reason", "x"], "remove the file"),
        (["--since", "yesterday", "--reason", "x"], "ISO 8601"),
        (["--since", "2026-02-01", "--until", "2026-01-01", "--reason", "x"], "after until"),
    ],
)
def test_a_retraction_needs_a_reason_and_a_selector(log, capsys, args, message):
    with pytest.raises(SystemExit) as exit_code:
        retract(log, *args)
    assert exit_code.value.code == 2
    assert message in capsys.readouterr().err
    assert not list(log.glob("retractions-*"))


def test_retractions_show_in_the_training_rows_metadata_and_their_rows_are_gone(log, tmp_path):
    from titanic_assets.definitions import defs as load_definitions

    defs = load_definitions()
    traffic = dg.AssetKey(["titanic", "labelled_traffic"])
    assets = [
        defs.get_assets_def(dg.AssetKey(["titanic", "landed_outcomes"])),
        defs.get_assets_def(traffic),
    ]

    def materialize() -> dg.ExecuteInProcessResult:
        return dg.materialize(
            assets,
            resources={
                "io_manager": dg.FilesystemIOManager(base_dir=str(tmp_path / "storage")),
                "labels_landing": LocalLandingArea(directory=str(tmp_path / "labels")),
                "prediction_log": PredictionLog(location=str(tmp_path / "log")),  # the root
                "monitoring_policy": MonitoringPolicy(),
            },
        )

    compact_log(log)  # as monitoring's hourly runs do
    before = materialize()
    assert len(before.asset_value(traffic)) == 13
    assert retract(log, "--sender", FLOODER, "--reason", "flooded flipped outcomes") == 0
    after = materialize()

    rows = after.asset_value(traffic)
    assert len(rows) == 5 and not rows["prediction_id"].str.startswith("flood").any()
    [event] = after.get_asset_materialization_events()[-1:]
    meta = {k: v.value for k, v in event.materialization.metadata.items()}
    assert meta["outcomes_retracted"] == 8 and meta["retractions"] == 1
    retractions = meta["retraction_log"]
    assert "flooded flipped outcomes" in retractions and f"{FLOODER}: 8" in retractions


def test_retractions_beside_a_bucket_log(emulator, monkeypatch, capsys):
    from google.cloud import storage

    monkeypatch.setenv("STORAGE_EMULATOR_HOST", emulator)
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "titanic-test")
    bucket = storage.Client(project="titanic-test").create_bucket("titanic-retractions")
    url = "gs://titanic-retractions/log"
    for n, (sender, outcome) in enumerate(((HONEST, True), (FLOODER, False), (FLOODER, False))):
        line = {"timestamp": 1.7e9 + n, "ids": [f"n{n}"], "outcome": [outcome], "sender": sender}
        bucket.blob(f"log/outcomes-20260101-host-1-{n:08d}-x.jsonl").upload_from_string(
            json.dumps(line) + "\n"
        )
    assert len(read_outcomes(url)) == 3

    assert retract(url, "--sender", FLOODER, "--reason", "flipped") == 0
    assert "gs://titanic-retractions/log/retractions-" in capsys.readouterr().out
    assert read_outcomes(url)["id"].tolist() == ["n0"]
    [retraction] = read_retractions(url).to_dict("records")
    assert retraction["outcomes"] == 2 and retraction["reason"] == "flipped"
    names = [b.name for b in bucket.list_blobs(prefix="log/")]
    assert sum(n.startswith("log/outcomes-") for n in names) == 3  # nothing deleted
