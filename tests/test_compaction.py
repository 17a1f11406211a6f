"""Hours of traffic compacted from the landed files, as the service writes them: what a window
samples, what retention removes and keeps, and which hours `make monitor` finds stale."""

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

from titanic_assets.commands.monitor import stale_hours
from titanic_assets.core import compaction
from titanic_assets.core.log_files import LogPlace, hour_of
from titanic_assets.core.outcomes import OutcomeStore
from titanic_assets.core.traffic_windows import drift_sample, traffic_window
from titanic_assets.domains.titanic.contract import PASSENGER_FIELDS, RAW_INPUTS

PASSENGER = {"Pclass": 3.0, "Sex": "male", "Age": 30.0, "SibSp": 0.0, "Parch": 0.0, "Fare": 8.0}


def land(log: Path, moment: float, rows: int, request: str, version: str = "v1") -> list[str]:
    """One batch request of `rows` passengers made at `moment`, as the writer lands it."""
    log.mkdir(parents=True, exist_ok=True)
    ids = [f"{request}-{i}" for i in range(rows)]
    line = {
        "request_id": request, "timestamp": moment, "model_version": version,
        "endpoint": "predict_batch", "ids": ids,
        "inputs": {n: [PASSENGER.get(n)] * rows for n in RAW_INPUTS},
        "probability": [0.25] * rows, "predicted": [False] * rows,
    }  # fmt: skip
    with (log / f"predictions-{hour_of(moment)}-test-1.jsonl").open("a") as out:
        out.write(json.dumps(line) + "\n")
    return ids


def compact_all(place: LogPlace) -> dict[str, compaction.CompactedHour]:
    files = place.landing()
    return {
        h: compaction.compact_hour(place, h, files, PASSENGER_FIELDS)
        for h in sorted({f.hour for f in files})
    }


def test_a_window_samples_each_hour_in_proportion_to_its_rows(tmp_path):
    now = time.time()
    land(tmp_path, now - 3600, 30_000, "busy")
    land(tmp_path, now, 10_000, "quiet")
    place = LogPlace(tmp_path)
    compact_all(place)
    start = datetime.fromtimestamp(now - 3600, UTC)
    window = traffic_window(place, "two hours", "v1", start, datetime.now(UTC))
    assert window.rows == 40_000

    sample = drift_sample(place, window, size=8_000)

    assert len(sample) == 8_000
    counts = sample["hour"].value_counts()
    assert counts[hour_of(now - 3600)] == 6_000 and counts[hour_of(now)] == 2_000
    assert set(sample.columns) >= set(RAW_INPUTS)
    # Up to its size, a window's sample is every row of it.
    quiet = traffic_window(place, "one hour", "v1", datetime.now(UTC), datetime.now(UTC))
    assert len(drift_sample(place, quiet)) == quiet.rows == 10_000


def test_retention_removes_compacted_landing_files_past_the_keep_period_and_keeps_labels(
    tmp_path,
):
    old = time.time() - 10 * 86400
    ids = land(tmp_path, old, 3, "old")
    land(tmp_path, time.time(), 3, "new")
    store = OutcomeStore(tmp_path)
    assert store.add([(ids[0], True)]) == (1, None)
    never_compacted = tmp_path / f"predictions-{hour_of(old - 3600)}-test-1.jsonl"
    never_compacted.write_text("")
    place = LogPlace(tmp_path)
    for hour in {hour_of(old), hour_of(time.time())}:
        compaction.compact_hour(place, hour, place.landing(), PASSENGER_FIELDS)

    removed = compaction.expire(place, keep_days=7)

    left = {f.name for f in place.landing()}
    assert not any(name.startswith(f"predictions-{hour_of(old)}") for name in left)
    # The outcome arrived today: its file goes once it is as old as the keep period.
    assert any(name.startswith(f"outcomes-{hour_of(time.time())}-{hour_of(old)}") for name in left)
    assert never_compacted.name in left  # not compacted: kept until it is
    assert any(hour_of(time.time()) in name for name in left)
    assert f"compacted/predictions/{hour_of(old)}.parquet" in removed
    labelled = compaction.read_compacted(place, "labelled", [hour_of(old)])
    assert labelled["prediction_id"].tolist() == [ids[0]]  # training rows are kept
    assert hour_of(old) in compaction.read_summaries(place, [hour_of(old)])
    # Closed: past the keep period the hour is never compacted again (its predictions are
    # gone, so a late outcome would otherwise empty its labelled rows).
    assert hour_of(old) < compaction.oldest_open_hour(keep_days=7)
    assert hour_of(old) not in stale_hours(place, keep_days=7)


def test_make_monitor_finds_the_hours_whose_landing_changed_since_compaction(tmp_path):
    now = time.time()
    land(tmp_path, now - 2 * 3600, 5, "a")
    land(tmp_path, now, 5, "b")
    place = LogPlace(tmp_path)
    assert stale_hours(place) == sorted({hour_of(now - 2 * 3600), hour_of(now)})
    compact_all(place)
    assert stale_hours(place) == []

    ids = land(tmp_path, now, 2, "c")
    OutcomeStore(tmp_path).add([(ids[0], True)])
    assert stale_hours(place) == [hour_of(now)]


def test_an_outcome_landed_in_bulk_joins_its_prediction_and_a_stored_one_wins(tmp_path):
    ids = land(tmp_path, time.time(), 3, "r")
    OutcomeStore(tmp_path).add([(ids[0], True)], sender="token:abc")
    landed = pd.DataFrame({"id": [ids[0], ids[1], "elsewhere"], "Survived": ["0", "1", "1"]})
    place = LogPlace(tmp_path)

    result = compaction.compact_hour(
        place, hour_of(time.time()), place.landing(), PASSENGER_FIELDS, landed, "Survived", 1
    )

    assert result.conflicts == [ids[0]]
    table = compaction.read_compacted(place, "labelled", [result.hour]).set_index("prediction_id")
    assert table["outcome"].to_dict() == {ids[0]: True, ids[1]: True}
    assert table["sender"].to_dict() == {ids[0]: "token:abc", ids[1]: "labels_landing"}
    assert result.versions["v1"]["labelled"] == 2 and result.versions["v1"]["correct"] == 0


def test_hours_between_covers_both_ends():
    from titanic_assets.core.log_files import hours_between

    start = datetime(2026, 11, 29, 22, 59, tzinfo=UTC)
    assert hours_between(start, start + timedelta(hours=2)) == [
        "2026112922",
        "2026112923",
        "2026113000",
    ]


def test_a_shadowed_request_keeps_the_challengers_answers_beside_the_served_ones(tmp_path):
    from titanic_assets.core.prediction_log import PredictionLogWriter, ShadowAnswers

    writer = PredictionLogWriter(tmp_path, PASSENGER_FIELDS)
    inputs = {n: [PASSENGER.get(n)] * 2 for n in RAW_INPUTS}
    shadow = ShadowAnswers("candidate", [0.7, 0.2], [True, False])
    writer.write("shadowed", "predict_batch", "serving", inputs, [0.4, 0.3], [False, False], shadow)
    writer.write(
        "alone", "predict", "serving", {n: v[:1] for n, v in inputs.items()}, [0.9], [True]
    )
    writer.close()
    OutcomeStore(tmp_path).add([("shadowed-0", True), ("alone", True)], sender="token:abc")
    place = LogPlace(tmp_path)

    [hour] = compact_all(place).values()

    table = compaction.read_compacted(place, "labelled", [hour.hour]).set_index("prediction_id")
    assert table.loc["shadowed-0", "challenger_version"] == "candidate"
    assert table.loc["shadowed-0", "challenger_probability"] == 0.7
    assert bool(table.loc["shadowed-0", "challenger_predicted"]) is True
    assert bool(table.loc["shadowed-0", "predicted"]) is False
    assert pd.isna(table.loc["alone", "challenger_version"])
    assert pd.isna(table.loc["alone", "challenger_predicted"])
    predictions = compaction.read_compacted(place, "predictions", [hour.hour])
    by_id = predictions.set_index("prediction_id")["challenger_probability"]
    assert by_id[["shadowed-0", "shadowed-1"]].tolist() == [0.7, 0.2]


def test_any_contract_compacts_inputs_named_anyhow_and_reads_its_own_label(tmp_path):
    """Nothing in the log's path knows a domain: inputs whose names need quoting in SQL, a
    text label whose positive class is "yes", numeric inputs read back as numbers."""
    from titanic_assets.core.contract import InputField
    from titanic_assets.core.prediction_log import PredictionLogWriter, read_prediction_log

    inputs = (
        InputField("hours-per-week", "int", "Hours.", required=True, minimum=0, maximum=99),
        InputField("work class", "category", "Employer.", allowed=("private", "state")),
        InputField('odd"name', "float", "A number.", minimum=0, maximum=1),
    )
    writer = PredictionLogWriter(tmp_path, inputs)
    columns = {"hours-per-week": [40, 60], "work class": ["private", None], 'odd"name': [0.5, None]}
    writer.write("b", "predict_batch", "v1", columns, [0.8, 0.1], [True, False])
    writer.close()
    logged = read_prediction_log(tmp_path, inputs)
    assert logged["hours-per-week"].tolist() == [40, 60] and logged["predicted"].tolist() == [
        True,
        False,
    ]
    place = LogPlace(tmp_path)
    landed = pd.DataFrame({"id": ["b-0", "b-1"], "income": [" yes", "no"]})
    [result] = [
        compaction.compact_hour(place, f.hour, place.landing(), inputs, landed, "income", "yes")
        for f in place.landing()
    ]
    assert result.versions["v1"]["predicted_positive"] == 1
    assert result.versions["v1"]["correct"] == 2
    labelled = compaction.read_compacted(place, "labelled", [result.hour])
    assert labelled.set_index("prediction_id")["outcome"].to_dict() == {"b-0": True, "b-1": False}
    assert list(labelled[[f.name for f in inputs]].iloc[0]) == [40.0, "private", 0.5]
    sample = compaction.read_compacted(place, "samples", [result.hour])
    assert {f.name for f in inputs} <= set(sample.columns)
