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
from titanic_assets.core.domain import load_domain
from titanic_assets.core.instances import read_instance
from titanic_assets.core.log_files import LogPlace, hour_of
from titanic_assets.core.prediction_log import PredictionLogWriter
from titanic_assets.definitions import defs as load_definitions
from titanic_assets.defs.resources import LocalLandingArea, MonitoringPolicy, PredictionLog
from titanic_assets.loop.monitoring import hourly_traffic, retraining
from titanic_assets.ml import drift

defs = load_definitions()
TITANIC = load_domain("titanic")
RAW_INPUTS = TITANIC.input_names
INSTANCE = read_instance("titanic")
STORE = registry.ModelStore(INSTANCE.serving_model_name)
# The Titanic model's monitoring definitions, as the code location builds them.
HOURLY_TRAFFIC = defs.get_assets_def(dg.AssetKey(["titanic", "hourly_traffic"]))
HOURLY_TRAFFIC_ON_LANDING = defs.get_sensor_def("titanic_hourly_traffic_on_landing")
DRIFT_REPORT = defs.get_assets_def(dg.AssetKey(["titanic", "drift_report"]))
DRIFT_CHECK = dg.AssetCheckKey(dg.AssetKey(["titanic", "drift_report"]), "no_input_drift")
[NO_INPUT_DRIFT] = [c for c in defs.asset_checks if DRIFT_CHECK in c.check_keys]
MONITORING_WINDOWS_ON_NEW_HOURS = defs.get_sensor_def("titanic_monitoring_windows_on_new_hours")
RETRAIN_ON_NEW_EVIDENCE = defs.get_sensor_def("titanic_retrain_on_new_evidence")


@dataclass
class Monitored:
    instance: dg.DagsterInstance
    root: Path
    log_location: Path  # the prediction log root the assets and the sensors are given
    policy: MonitoringPolicy = field(default_factory=MonitoringPolicy)

    @property
    def model_log(self) -> Path:
        """Where the Titanic model's prediction log is under the root (its own folder)."""
        return self.log_location / INSTANCE.prediction_log

    def compact(self) -> list[dg.ExecuteInProcessResult]:
        """Compact every hour of the log, as the landing sensor's runs do."""
        return [
            dg.materialize(
                [HOURLY_TRAFFIC],
                partition_key=hourly_traffic.partition_key(hour),
                instance=self.instance,
                resources=self.resources(),
            )
            for hour in sorted({f.hour for f in LogPlace(self.model_log).landing()})
        ]

    def refresh(self) -> dg.ExecuteInProcessResult:
        """Compact the log's hours, then evaluate the drift report with its check, as the
        windows sensor's job does."""
        self.compact()
        return dg.materialize(
            [DRIFT_REPORT, NO_INPUT_DRIFT],
            instance=self.instance,
            resources=self.resources(),
        )

    def resources(self) -> dict:
        def folder(name: str) -> LocalLandingArea:
            """A landing root: the model reads its own folder under it (landing/titanic)."""
            return LocalLandingArea(directory=str(self.root / name))

        return {
            "io_manager": dg.FilesystemIOManager(base_dir=str(self.root / "storage")),
            "landing_area": folder("landing"),
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
    """A fresh prediction log, where the assets and the sensors read (the model's folder
    under the log root, as the service writes it)."""
    monitored.log_location = tmp_path / "log"
    writer = PredictionLogWriter(monitored.model_log, TITANIC.inputs)
    yield writer
    writer.close()


def send(log: PredictionLogWriter, passengers: pd.DataFrame, batch: int = 50) -> None:
    """Log passengers as the service does, one batch request per `batch` rows."""
    model = STORE.promoted_model()
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
            assets=[HOURLY_TRAFFIC],
            sensors=[sensor],  # with its job, titanic_hourly_traffic_job
            resources=monitored.resources(),
        )
        if sensor is HOURLY_TRAFFIC_ON_LANDING
        else None,
    )
    return sensor.evaluate_tick(context)


def test_an_hour_of_traffic_is_compacted_and_the_window_starts_at_the_promotion(
    monitored, log, shipped_passengers
):
    send(log, traffic(shipped_passengers, 120, seed=1))

    [compacted] = monitored.compact()
    result = monitored.refresh()

    model = STORE.promoted_model()
    hour = metadata(compacted, "titanic/hourly_traffic")
    assert hour["dagster/row_count"] == 120
    assert hour["skipped_lines"] == 0 and hour["landing_files"] == 1
    assert f"| {model.version} |" in hour["by_model_version"]
    report = metadata(result, "titanic/drift_report")
    assert report["window_rows"] == 120
    assert report["window_start"] == model.created_at.timestamp()
    assert report["serving_model"] == model.tag
    assert report["predicted_positive_rate"] == 0.0  # send() predicts "died" for everyone
    assert "| since promotion |" in report["windows"]


def test_a_half_written_landing_file_is_skipped_by_name_and_an_empty_hour_is_valid(
    monitored, log, shipped_passengers
):
    send(log, traffic(shipped_passengers, 30, seed=11))
    broken = monitored.model_log / f"predictions-{hour_of(time.time())}-x-1.jsonl"
    broken.write_text('{"request_id": "cut short", "timest')

    [compacted] = monitored.compact()

    hour = metadata(compacted, "titanic/hourly_traffic")
    assert hour["dagster/row_count"] == 30
    assert hour["skipped_files"] == {broken.name: 1} and hour["skipped_lines"] == 1
    empty = dg.materialize(
        [HOURLY_TRAFFIC],
        partition_key="2026-01-01-00:00",
        instance=monitored.instance,
        resources=monitored.resources(),
    )
    assert metadata(empty, "titanic/hourly_traffic")["dagster/row_count"] == 0


def test_few_requests_are_not_enough_traffic_and_do_not_fail_the_check(
    monitored, log, shipped_passengers
):
    send(log, drifted(shipped_passengers, 5, seed=2))

    result = monitored.refresh()

    evaluation = check_evaluation(result)
    assert evaluation.passed
    assert evaluation.description.startswith("not enough traffic: 5 logged rows")
    assert metadata(result, "titanic/drift_report")["enough_traffic"] is False


def test_in_distribution_traffic_passes_the_check_and_requests_no_retrain(
    monitored, log, shipped_passengers
):
    send(log, traffic(shipped_passengers, 300, seed=3))

    result = monitored.refresh()

    assert check_evaluation(result).passed
    report = metadata(result, "titanic/drift_report")
    assert report["drift_detected"] is False and report["n_current"] == 300
    assert report["window_rows"] == 300
    assert 0.0 <= report["largest_psi"] < drift.PSI_MAJOR
    assert report["smallest_p_value"] > report["p_value_threshold"]
    data = tick(RETRAIN_ON_NEW_EVIDENCE, monitored)
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
    report = metadata(result, "titanic/drift_report")
    assert report["share_drifted"] == pytest.approx(2 / len(TITANIC.monitored), abs=5e-4)
    assert {"plot_Age", "plot_Embarked", "probability_distribution"} <= set(report)

    skipped = tick(RETRAIN_ON_NEW_EVIDENCE, monitored)
    assert skipped.run_requests == []
    assert f"{needed} more outcomes are needed" in skipped.skip_message


def test_the_retrain_job_is_the_chain_from_raw_data_to_the_served_model():
    job = defs.resolve_job_def("titanic_model_training")
    keys = {key.to_user_string() for key in job.asset_layer.selected_asset_keys}
    chain = {"raw_rows", "trained_model", "model_evaluation", "serving_model"}
    assert {f"titanic/{name}" for name in chain} <= keys
    assert not keys & {"titanic/hourly_traffic", "titanic/drift_report"}
    assert RETRAIN_ON_NEW_EVIDENCE.job_name == job.name


def test_the_landing_sensor_requests_the_hours_that_changed_and_only_those(
    monitored, log, shipped_passengers, monkeypatch
):
    monkeypatch.setattr(monitored, "policy", MonitoringPolicy(drift_refresh_seconds=0))
    send(log, traffic(shipped_passengers, 50, seed=5))
    sensor = HOURLY_TRAFFIC_ON_LANDING

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
    late = monitored.model_log / f"outcomes-{now}-{old}-x-1.jsonl"
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
    sensor = MONITORING_WINDOWS_ON_NEW_HOURS
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
    landed = monitored.root / "landing" / INSTANCE.landing / "batch-new.csv"  # the model's
    batch.to_csv(landed, index=False)
    try:
        send(log, drifted(shipped_passengers, 300, seed=8))
        evaluation = check_evaluation(monitored.refresh())
        assert not evaluation.passed
        assert evaluation.metadata["new_labelled_rows_landed"].value == 200
        assert "a retrain on them is due" in evaluation.description
        first = tick(RETRAIN_ON_NEW_EVIDENCE, monitored)
        [request] = first.run_requests
        digest = evaluation.metadata["new_evidence_digest"].value
        assert request.run_key == f"retrain-{digest}"
        assert request.tags[retraining.RETRAIN_CHECK_TAG] == "drift"
        # The same evaluation is not acted on twice.
        again = tick(RETRAIN_ON_NEW_EVIDENCE, monitored, cursor=first.cursor)
        assert again.run_requests == []

        before = STORE.promoted_model()
        dg.materialize(
            [*defs.assets, *defs.asset_checks],
            # The Titanic model's training job, as the sensor requests it.
            selection=dg.AssetSelection.key_prefixes(["titanic"])
            - dg.AssetSelection.groups("titanic_monitoring", "titanic_scoring"),
            instance=monitored.instance,
            resources=monitored.resources(),
            tags=request.tags,
        )
        after = STORE.promoted_model()
        candidate = registry.get(f"{STORE.candidate}:latest")
        retrained = after if after.tag != before.tag else candidate
        assert retrained.data_version != before.data_version
        assert set(batch["PassengerId"]) <= retrained.given_ids()

        send(log, drifted(shipped_passengers, 300, seed=9))
        evaluation = check_evaluation(monitored.refresh())
        assert not evaluation.passed
        if after.tag != before.tag:  # the retrained model serves: it has seen the batch
            assert evaluation.metadata["new_labelled_rows"].value == 0
            assert tick(RETRAIN_ON_NEW_EVIDENCE, monitored).run_requests == []
        else:  # kept as a candidate: the same evidence asks for the same run, which never reruns
            [repeat] = tick(RETRAIN_ON_NEW_EVIDENCE, monitored).run_requests
            assert repeat.run_key == request.run_key
    finally:
        landed.unlink()


def test_the_missing_share_of_logged_nulls_is_reported(monitored, log, shipped_passengers):
    rows = traffic(shipped_passengers, 250, seed=10)
    rows.loc[rows.index[:100], "Age"] = np.nan

    send(log, rows)
    result = monitored.refresh()

    drift_report = result.asset_value(dg.AssetKey(["titanic", "drift_report"]))
    features = {r.feature: r for r in drift_report.report.features}
    assert features["Age"].missing_share_current == pytest.approx(rows["Age"].isna().mean())
