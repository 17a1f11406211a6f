"""Outcomes joined to predictions hour by hour, and the serving model's realized performance
and its check, materialized on a real instance from a real prediction log and outcome store
(the session's promoted model scoring shipped passengers)."""

import json
import re
import time
import uuid
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from tests.test_monitoring import (
    HOURLY_TRAFFIC,
    INSTANCE,
    RAW_INPUTS,
    STORE,
    TITANIC,
    defs,
    metadata,
)
from titanic_assets.core.log_files import LogPlace, hour_of
from titanic_assets.core.outcomes import FEEDBACK_IDS, OutcomeStore
from titanic_assets.core.prediction_log import PredictionLogWriter
from titanic_assets.defs.resources import LocalLandingArea, MonitoringPolicy, PredictionLog
from titanic_assets.loop.monitoring import hourly_traffic
from titanic_assets.loop.monitoring.check_results import PERFORMANCE_CHECK


def titanic(asset: str, *checks: str) -> list:
    """The Titanic model's asset `asset` and its checks named `checks`, from the code
    location."""
    key = dg.AssetKey(["titanic", asset])
    wanted = {dg.AssetCheckKey(key, check) for check in checks}
    found = [c for c in defs.asset_checks if wanted & set(c.check_keys)]
    assert len(found) == len(checks), (asset, checks)
    return [defs.get_assets_def(key), *found]


@pytest.fixture
def log(tmp_path: Path, materialized_graph) -> Path:
    """Where `run` reads the prediction log and the outcomes: the model's folder under the
    log root the resources name."""
    return tmp_path / "log" / INSTANCE.prediction_log


def labels_folder(tmp_path: Path) -> Path:
    """The model's labels landing area under the labels root the resources name."""
    folder = tmp_path / "labels" / INSTANCE.landing
    folder.mkdir(parents=True)
    return folder


def serve(location: Path, passengers: pd.DataFrame, version: str | None = None) -> list[str]:
    """Score passengers with the serving model and log them as the service does (one
    single-passenger request each); returns their ids."""
    model = STORE.promoted_model()
    writer = PredictionLogWriter(location, TITANIC.inputs)
    ids = []
    for _, row in passengers.iterrows():
        columns = {n: [None if pd.isna(row[n]) else row[n]] for n in RAW_INPUTS}
        probability = model.probabilities(columns)
        rid = uuid.uuid4().hex
        writer.write(
            rid, "predict", version or model.version, columns, probability,
            probability >= model.threshold,
        )  # fmt: skip
        ids.append(rid)
    writer.close()
    return ids


def resources(tmp_path: Path) -> dict:
    return {
        "io_manager": dg.FilesystemIOManager(base_dir=str(tmp_path / "storage")),
        "landing_area": LocalLandingArea(directory=str(tmp_path / "landing")),
        "labels_landing": LocalLandingArea(directory=str(tmp_path / "labels")),
        "prediction_log": PredictionLog(location=str(tmp_path / "log")),
        "monitoring_policy": MonitoringPolicy(),
    }


def compact(tmp_path: Path) -> dict[str, dict]:
    """Compact every hour with landed files, as the landing sensor's runs do; each hour's
    metadata."""
    hours = sorted({f.hour for f in LogPlace(tmp_path / "log" / INSTANCE.prediction_log).landing()})
    return {
        hour: metadata(
            dg.materialize(
                [HOURLY_TRAFFIC],
                partition_key=hourly_traffic.partition_key(hour),
                resources=resources(tmp_path),
            ),
            "titanic/hourly_traffic",
        )
        for hour in hours
    }


def run(tmp_path: Path) -> dg.ExecuteInProcessResult:
    compact(tmp_path)
    return dg.materialize(
        titanic("model_performance", PERFORMANCE_CHECK),
        resources=resources(tmp_path),
    )


def performance_check(result: dg.ExecuteInProcessResult) -> dg.AssetCheckEvaluation:
    evaluations = result.get_asset_check_evaluations()
    [check] = [e for e in evaluations if e.check_name == PERFORMANCE_CHECK]
    return check


def test_outcomes_are_joined_and_count_for_the_model_that_predicted(
    log, tmp_path, shipped_passengers
):
    rows = shipped_passengers.sample(40, random_state=1)
    old = serve(log, rows.head(10), version="older-model")
    current = serve(log, rows.tail(30))
    store = OutcomeStore(log)
    truth = dict(zip(old + current, rows["Survived"].astype(bool), strict=True))
    assert store.add([(i, truth[i]) for i in old + current[:20]])[1] is None

    [hour] = compact(tmp_path).values()
    assert hour["dagster/row_count"] == 40 and hour["labelled_rows"] == 30
    assert re.search(r"\| older-model +\| +10 \|", hour["by_model_version"])
    # The serving model's performance counts only its own 20 labelled rows.
    result = run(tmp_path)
    assert metadata(result, "titanic/model_performance")["outcomes_received"] == 20


def test_a_late_outcome_lands_in_the_hour_of_its_prediction_and_only_that_hour_changes(
    log, tmp_path, shipped_passengers
):
    model = STORE.promoted_model()
    then = time.time() - 3 * 86400
    log.mkdir(parents=True)
    passenger = shipped_passengers.iloc[0]
    inputs = {
        n: [None if pd.isna(passenger[n]) else passenger[n] for _ in range(1)] for n in RAW_INPUTS
    }
    line = {
        "request_id": "three-days-ago", "timestamp": then, "model_version": model.version,
        "endpoint": "predict", "ids": ["three-days-ago"], "inputs": inputs,
        "probability": [0.9], "predicted": [True],
    }  # fmt: skip
    (log / f"predictions-{hour_of(then)}-elsewhere-1.jsonl").write_text(
        json.dumps(line, default=float) + "\n"
    )
    serve(log, shipped_passengers.sample(5, random_state=7))
    first = compact(tmp_path)
    assert first[hour_of(then)]["labelled_rows"] == 0

    assert OutcomeStore(log).add([("three-days-ago", False)]) == (1, None)
    changed = [f.hour for f in LogPlace(log).landing() if f.stream == "outcomes"]
    assert changed == [hour_of(then)]  # the sensor sees which hour to compact from the name
    again = compact(tmp_path)
    assert again[hour_of(then)]["labelled_rows"] == 1
    assert again[hour_of(time.time())]["labelled_rows"] == 0


def test_true_outcomes_pass_the_check_and_realized_accuracy_is_reported_with_an_interval(
    log, tmp_path, shipped_passengers
):
    rows = shipped_passengers.sample(200, random_state=2)
    ids = serve(log, rows)
    OutcomeStore(log).add(list(zip(ids, rows["Survived"].astype(bool), strict=True)))
    result = run(tmp_path)
    meta = metadata(result, "titanic/model_performance")
    accuracy = meta["realized_accuracy"]
    assert meta["realized_accuracy_low"] < accuracy < meta["realized_accuracy_high"]
    assert meta["realized_accuracy"] > 0.7
    # CBPE from the model's own probabilities lands near the realized accuracy; the
    # estimate shown is corrected by the outcomes, and with every row's outcome back it is
    # the realized accuracy itself.
    assert abs(meta["cbpe_accuracy"] - meta["realized_accuracy"]) < 0.1
    assert meta["outcomes_received"] == meta["predictions"] == 200
    assert "corrected by the 200 labelled rows" in meta["estimated_accuracy_method"]
    assert meta["estimated_accuracy"] == pytest.approx(meta["realized_accuracy"])
    assert (
        meta["estimated_accuracy_low"]
        == meta["estimated_accuracy"]
        == meta["estimated_accuracy_high"]
    )
    assert "reliability_plot" in meta
    check = performance_check(result)
    assert check.passed


def test_a_handful_of_wrong_outcomes_never_fails_the_check(log, tmp_path, shipped_passengers):
    rows = shipped_passengers.sample(6, random_state=3)
    ids = serve(log, rows)
    model = STORE.promoted_model()
    table = pd.DataFrame({n: rows[n] for n in RAW_INPUTS})
    predicted = (
        model.probabilities({n: [None if pd.isna(v) else v for v in table[n]] for n in RAW_INPUTS})
        >= model.threshold
    )
    OutcomeStore(log).add([(i, not bool(p)) for i, p in zip(ids, predicted, strict=True)])
    check = performance_check(run(tmp_path))
    assert check.passed  # 0 of 6 right, but 6 rows cannot show it beyond noise


def test_significantly_worse_accuracy_fails_the_check_with_error_severity(
    log, tmp_path, shipped_passengers
):
    rows = shipped_passengers.sample(150, random_state=4)
    ids = serve(log, rows)
    flipped = ~rows["Survived"].astype(bool)  # the world changed: the model is now wrong
    OutcomeStore(log).add(list(zip(ids, flipped, strict=True)))
    result = run(tmp_path)
    check = performance_check(result)
    assert not check.passed
    # The confidence-based estimate is not to be trusted for this traffic: over-confident.
    meta = metadata(result, "titanic/model_performance")
    assert meta["cbpe_trusted"] is False
    assert meta["cbpe_direction"] == "over-confident"
    assert "not to be trusted for this traffic" in meta["cbpe_verdict"]
    assert check.severity == dg.AssetCheckSeverity.ERROR
    assert check.metadata["labelled_rows"].value == 150
    assert check.metadata["p_value"].value < 0.01
    # These outcomes are evidence the serving model has not seen: a retrain is due.
    assert check.metadata["new_labelled_rows_feedback"].value == 150
    assert check.metadata["new_outcomes_still_needed"].value == 0
    assert "a retrain on them is due" in check.description


def test_outcomes_landed_in_bulk_count_like_feedback_and_the_stored_one_wins_a_conflict(
    log, tmp_path, shipped_passengers
):
    rows = shipped_passengers.sample(20, random_state=5)
    ids = serve(log, rows)
    truth = rows["Survived"].astype(int).tolist()
    OutcomeStore(log).add([(ids[0], bool(truth[0]))])
    pd.DataFrame(
        {"id": [ids[0], *ids[1:10], "never-predicted"], "Survived": [1 - truth[0], *truth[1:10], 1]}
    ).to_csv(labels_folder(tmp_path) / "outcomes.csv", index=False)

    [hour] = compact(tmp_path).values()

    assert hour["labelled_rows"] == 10
    assert hour["landed_outcomes_contradicting_feedback"] == [ids[0]]
    labelled = PredictionLog(location=str(log)).labelled().set_index("prediction_id")
    assert labelled.loc[ids[0], "outcome"] == bool(truth[0])  # /feedback's, not the file's
    assert labelled.loc[ids[1], "sender"] == "labels_landing"


def test_labelled_predictions_become_training_rows_with_their_provenance(
    log, tmp_path, shipped_passengers
):
    rows = shipped_passengers.sample(12, random_state=6)
    ids = serve(log, rows)
    OutcomeStore(log).add(list(zip(ids[:8], rows["Survived"].astype(bool), strict=False)))
    pd.DataFrame({"id": ids[8:10], "Survived": rows["Survived"].iloc[8:10]}).to_csv(
        labels_folder(tmp_path) / "outcomes.csv", index=False
    )
    compact(tmp_path)
    result = dg.materialize(
        [*titanic("landed_outcomes"), *titanic("labelled_traffic", "labelled_traffic_contract")],
        resources=resources(tmp_path),
    )

    table = result.asset_value(dg.AssetKey(["titanic", "labelled_traffic"]))
    table = table.set_index("prediction_id")
    assert sorted(table.index) == sorted(ids[:10])  # the two without an outcome are not there
    model = STORE.promoted_model()
    assert (table["source"] == f"feedback:{model.tag}").all()
    assert (table["PassengerId"] >= FEEDBACK_IDS).all()
    expected = rows.assign(prediction_id=ids).set_index("prediction_id").loc[table.index]
    assert (table["Survived"] == expected["Survived"]).all()
    assert (table["Name"] == expected["Name"]).all()
    assert all(e.passed for e in result.get_asset_check_evaluations())
