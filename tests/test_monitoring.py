"""Monitoring on a real instance: the hours of traffic, the drift report, its check, the sensors.

The graph is materialized once (a real model promoted into the session's BentoML store);
each test logs its own traffic with the service's log writer into its own log directory.
"""

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from tests.conftest import materialize_graph
from titanic_assets.core import registry
from titanic_assets.core.contract import RAW_INPUTS
from titanic_assets.core.log_files import LogPlace, hour_of
from titanic_assets.core.prediction_log import PredictionLogWriter
from titanic_assets.defs.monitoring import drift_report, hourly_traffic, retraining
from titanic_assets.defs.resources import LocalLandingArea, MonitoringPolicy, PredictionLog
from titanic_assets.defs.training.model_training import MODEL_TRAINING_JOB
from titanic_assets.ml import drift


@dataclass
class Monitored:
    instance: dg.DagsterInstance
    root: Path
    log_location: Path  # where the assets and the sensors read the prediction log
    policy: MonitoringPolicy = field(default_factory=MonitoringPolicy)

    def compact(self) -> list[dg.ExecuteInProcessResult]:
        """Compact every hour of the log, as the landing sensor's runs do."""
        return [
            dg.materialize(
                [hourly_traffic.hourly_traffic],
                partition_key=hourly_traffic.partition_key(hour),
                instance=self.instance,
                resources=self.resources(),
            )
            for hour in sorted({f.hour for f in LogPlace(self.log_location).landing()})
        ]

    def refresh(self) -> dg.ExecuteInProcessResult:
        """Compact the log's hours, then evaluate the drift report with its check, as the
        windows sensor's job does."""
        self.compact()
        return dg.materialize(
            [drift_report.drift_report, drift_report.no_input_drift],
            instance=self.instance,
            resources=self.resources(),
        )

    def resources(self) -> dict:
        def folder(name: str, seeded: bool = False) -> LocalLandingArea:
            return LocalLandingArea(
                directory=str(self.root / name), seed_with_shipped_passengers=seeded
            )

        return {
            "io_manager": dg.FilesystemIOManager(base_dir=str(self.root / "storage")),
            "landing_area": folder("landing", seeded=True),
            "labels_landing": folder("labels"),
            "scoring_inbox": folder("inbox"),
            "exports": folder("exports"),
            "prediction_log": PredictionLog(location=str(self.log_location)),
            "monitoring_policy": self.policy,
        }


@pytest.fixture(scope="module")
def monitored(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Monitored]:
    root = tmp_path_factory.mktemp("monitoring")
    (root / "instance").mkdir()
    with dg.instance_for_test(temp_dir=str(root / "instance")) as instance:
        monitored = Monitored(instance, root, log_location=root / "empty_log")
        materialize_graph(
            instance,
            root / "landing",
            root / "storage",
            prediction_log=monitored.resources()["prediction_log"],
        )
        yield monitored


@pytest.fixture
def log(tmp_path: Path, monitored: Monitored) -> PredictionLogWriter:
    """A fresh prediction log, where the assets and the sensors read."""
    monitored.log_location = tmp_path / "log"
    from titanic_assets.domains.titanic.contract import PASSENGER_FIELDS

    writer = PredictionLogWriter(tmp_path / "log", PASSENGER_FIELDS)
    yield writer
    writer.close()


def send(log: PredictionLogWriter, passengers: pd.DataFrame, batch: int = 50) -> None:
    """Log passengers as the service does, one batch request per `batch` rows."""
    model = registry.promoted_model()
    for start in range(0, len(passengers), batch):
        part = passengers.iloc[start : start + batch].astype(object)
        part = part.where(part.notna(), None)
        log.write(
            request_id=uuid.uuid4().hex,
            endpoint="/predict_batch",
            model_version=model.version,
            inputs={name: part[name].tolist() for name in RAW_INPUTS},
            probabilities=[0.5] * len(part),
            predicted=[False] * len(part),
        )


def traffic(shipped: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    return shipped.sample(n, replace=True, random_state=seed)[list(RAW_INPUTS)]


def drifted(shipped: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    return traffic(shipped, n, seed).assign(Age=lambda t: t["Age"] + 15, Embarked="Q")


def check_evaluation(result: dg.ExecuteInProcessResult) -> dg.AssetCheckEvaluation:
    [evaluation] = result.get_asset_check_evaluations()
    return evaluation


def metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict:
    [event] = [
        e.materialization
        for e in result.get_asset_materialization_events()
        if e.asset_key.to_user_string() == asset
    ]
    return {k: v.value for k, v in event.metadata.items()}


def tick(sensor: dg.SensorDefinition, monitored: Monitored, cursor: str | None = None):
    resources = {k: v for k, v in monitored.resources().items() if k != "io_manager"}
    context = dg.build_sensor_context(
        instance=monitored.instance,
        cursor=cursor,
        resources=resources,
        # Partitioned run requests are resolved against the job's partitions.
        definitions=dg.Definitions(
            assets=[hourly_traffic.hourly_traffic],
            jobs=[hourly_traffic.hourly_traffic_job],
            sensors=[sensor],
            resources=monitored.resources(),
        )
        if sensor is hourly_traffic.hourly_traffic_on_landing
        else None,
    )
    return sensor.evaluate_tick(context)


def test_an_hour_of_traffic_is_compacted_and_the_window_starts_at_the_promotion(
    monitored, log, shipped_passengers
):
    send(log, traffic(shipped_passengers, 120, seed=1))

    [compacted] = monitored.compact()
    result = monitored.refresh()

    model = registry.promoted_model()
    hour = metadata(compacted, "hourly_traffic")
    assert hour["dagster/row_count"] == 120
    assert hour["skipped_lines"] == 0 and hour["landing_files"] == 1
    assert f"| {model.version} |" in hour["by_model_version"]
    report = metadata(result, "drift_report")
    assert report["window_rows"] == 120
    assert report["window_start"] == model.created_at.timestamp()
    assert report["serving_model"] == model.tag
    assert report["predicted_survival_rate"] == 0.0  # send() predicts "died" for everyone
    assert "| since promotion |" in report["windows"]


def test_a_half_written_landing_file_is_skipped_by_name_and_an_empty_hour_is_valid(
    monitored, log, shipped_passengers
):
    send(log, traffic(shipped_passengers, 30, seed=11))
    broken = monitored.log_location / f"predictions-{hour_of(time.time())}-x-1.jsonl"
    broken.write_text('{"request_id": "cut short", "timest')

    [compacted] = monitored.compact()

    hour = metadata(compacted, "hourly_traffic")
    assert hour["dagster/row_count"] == 30
    assert hour["skipped_files"] == {broken.name: 1} and hour["skipped_lines"] == 1
    empty = dg.materialize(
        [hourly_traffic.hourly_traffic],
        partition_key="2026-01-01-00:00",
        instance=monitored.instance,
        resources=monitored.resources(),
    )
    assert metadata(empty, "hourly_traffic")["dagster/row_count"] == 0


def test_few_requests_are_not_enough_traffic_and_do_not_fail_the_check(
    monitored, log, shipped_passengers
):
    send(log, drifted(shipped_passengers, 5, seed=2))

    result = monitored.refresh()

    evaluation = check_evaluation(result)
    assert evaluation.passed
    assert evaluation.description.startswith("not enough traffic: 5 logged rows")
    assert metadata(result, "drift_report")["enough_traffic"] is False


def test_in_distribution_traffic_passes_the_check_and_requests_no_retrain(
    monitored, log, shipped_passengers
):
    send(log, traffic(shipped_passengers, 300, seed=3))

    result = monitored.refresh()

    assert check_evaluation(result).passed
    report = metadata(result, "drift_report")
    assert report["drift_detected"] is False and report["n_current"] == 300
    assert report["window_rows"] == 300
    assert 0.0 <= report["largest_psi"] < drift.PSI_MAJOR
    assert report["smallest_p_value"] > report["p_value_threshold"]
    data = tick(retraining.retrain_on_new_evidence, monitored)
    assert data.run_requests == []


def test_drift_without_new_labelled_data_fails_the_check_and_requests_nothing(
    monitored, log, shipped_passengers
):
    send(log, drifted(shipped_passengers, 300, seed=4))

    result = monitored.refresh()

    evaluation = check_evaluation(result)
    assert not evaluation.passed
    assert evaluation.severity == dg.AssetCheckSeverity.ERROR
    assert set(evaluation.metadata["drifted_features"].value) == {"Age", "Embarked"}
    assert evaluation.metadata["new_labelled_rows"].value == 0
    needed = monitored.policy.retrain_min_new_rows
    assert evaluation.metadata["new_outcomes_still_needed"].value == needed
    assert f"no retrain; {needed} more outcomes are needed" in evaluation.description
    report = metadata(result, "drift_report")
    assert report["share_drifted"] == pytest.approx(2 / len(drift.MONITORED))
    assert {"plot_Age", "plot_Embarked", "probability_distribution"} <= set(report)

    skipped = tick(retraining.retrain_on_new_evidence, monitored)
    assert skipped.run_requests == []
    assert f"{needed} more outcomes are needed" in skipped.skip_message


def test_the_retrain_job_is_the_chain_from_raw_data_to_the_served_model():
    from titanic_assets.definitions import defs as load_definitions

    defs = load_definitions()

    job = defs.resolve_job_def(MODEL_TRAINING_JOB)
    keys = {key.to_user_string() for key in job.asset_layer.selected_asset_keys}
    assert {"raw_passengers", "survival_model", "model_evaluation", "serving_model"} <= keys
    assert not keys & {"hourly_traffic", "drift_report"}
    assert retraining.retrain_on_new_evidence in defs.sensors


def test_the_landing_sensor_requests_the_hours_that_changed_and_only_those(
    monitored, log, shipped_passengers, monkeypatch
):
    monkeypatch.setattr(monitored, "policy", MonitoringPolicy(drift_refresh_seconds=0))
    send(log, traffic(shipped_passengers, 50, seed=5))
    sensor = hourly_traffic.hourly_traffic_on_landing

    first = tick(sensor, monitored)
    [request] = first.run_requests
    now = hour_of(time.time())
    assert request.partition_key == hourly_traffic.partition_key(now)
    # Looked at again, the same landing is asked for under the same run key (at most a
    # listing's slack later), which the daemon never runs twice.
    unchanged = tick(sensor, monitored, cursor=first.cursor).run_requests
    assert {r.run_key for r in unchanged} <= {request.run_key}

    # An outcome for a prediction of three days ago lands in that hour: it is requested,
    # and no other hour is asked for anew.
    old = hour_of(time.time() - 3 * 86400)
    late = monitored.log_location / f"outcomes-{now}-{old}-x-1.jsonl"
    late.write_text('{"timestamp": 1, "ids": ["a"], "outcome": [true]}\n')
    again = tick(sensor, monitored, cursor=first.cursor).run_requests
    new = [r.partition_key for r in again if r.run_key != request.run_key]
    assert new == [hourly_traffic.partition_key(old)]

    # Within the minimum interval nothing is requested, however much lands.
    monkeypatch.setattr(monitored, "policy", MonitoringPolicy(drift_refresh_seconds=3600))
    send(log, traffic(shipped_passengers, 300, seed=7))
    assert tick(sensor, monitored, cursor=first.cursor).run_requests == []


def test_the_windows_sensor_evaluates_once_per_newly_compacted_hours(
    monitored, log, shipped_passengers
):
    sensor = drift_report.monitoring_windows_on_new_hours
    send(log, traffic(shipped_passengers, 20, seed=12))
    monitored.compact()

    [request] = tick(sensor, monitored).run_requests
    cursor = request.run_key.removeprefix("windows-")
    assert tick(sensor, monitored, cursor=cursor).run_requests == []
    monitored.compact()
    assert len(tick(sensor, monitored, cursor=cursor).run_requests) == 1


def test_drift_with_a_new_labelled_batch_retrains_once_and_never_again_on_the_same_data(
    monitored, log, shipped_passengers
):
    """The retrain the sensor requests, run here as the daemon would: the new model has been
    given the new batch, so when drift persists there is no new evidence and nothing runs."""
    batch = shipped_passengers.sample(200, random_state=5).assign(
        PassengerId=lambda t: t["PassengerId"] + 50_000, Age=lambda t: t["Age"] + 15
    )
    batch.to_csv(monitored.root / "landing" / "batch-new.csv", index=False)
    try:
        send(log, drifted(shipped_passengers, 300, seed=8))
        evaluation = check_evaluation(monitored.refresh())
        assert not evaluation.passed
        assert evaluation.metadata["new_labelled_rows_landed"].value == 200
        assert "a retrain on them is due" in evaluation.description
        first = tick(retraining.retrain_on_new_evidence, monitored)
        [request] = first.run_requests
        digest = evaluation.metadata["new_evidence_digest"].value
        assert request.run_key == f"retrain-{digest}"
        assert request.tags[retraining.RETRAIN_CHECK_TAG] == "drift"
        # The same evaluation is not acted on twice.
        again = tick(retraining.retrain_on_new_evidence, monitored, cursor=first.cursor)
        assert again.run_requests == []

        from titanic_assets.definitions import defs as load_definitions

        defs = load_definitions()
        before = registry.promoted_model()
        dg.materialize(
            [*defs.assets, *defs.asset_checks],
            selection=dg.AssetSelection.all() - dg.AssetSelection.groups("monitoring", "scoring"),
            instance=monitored.instance,
            resources=monitored.resources(),
            tags=request.tags,
        )
        after = registry.get(f"{registry.SERVING_MODEL_NAME}:latest")
        candidate = registry.get(f"{registry.CANDIDATE_MODEL_NAME}:latest")
        retrained = after if after.tag != before.tag else candidate
        assert retrained.data_version != before.data_version
        assert set(batch["PassengerId"]) <= retrained.given_passenger_ids()

        send(log, drifted(shipped_passengers, 300, seed=9))
        evaluation = check_evaluation(monitored.refresh())
        assert not evaluation.passed
        if after.tag != before.tag:  # the retrained model serves: it has seen the batch
            assert evaluation.metadata["new_labelled_rows"].value == 0
            assert tick(retraining.retrain_on_new_evidence, monitored).run_requests == []
        else:  # kept as a candidate: the same evidence asks for the same run, which never reruns
            [repeat] = tick(retraining.retrain_on_new_evidence, monitored).run_requests
            assert repeat.run_key == request.run_key
    finally:
        (monitored.root / "landing" / "batch-new.csv").unlink()


def test_the_missing_share_of_logged_nulls_is_reported(monitored, log, shipped_passengers):
    rows = traffic(shipped_passengers, 250, seed=10)
    rows.loc[rows.index[:100], "Age"] = np.nan

    send(log, rows)
    result = monitored.refresh()

    features = {r.feature: r for r in result.asset_value("drift_report").report.features}
    assert features["Age"].missing_share_current == pytest.approx(rows["Age"].isna().mean())
