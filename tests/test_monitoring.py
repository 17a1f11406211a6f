"""Monitoring on a real instance: the traffic window, the drift report, its check, the sensors.

The graph is materialized once (a real model promoted into the session's BentoML store);
each test logs its own traffic with the service's log writer into its own log directory.
"""

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from tests.conftest import materialize_graph
from titanic_assets.core import registry
from titanic_assets.core.contract import RAW_INPUTS
from titanic_assets.core.prediction_log import PredictionLogWriter
from titanic_assets.defs.monitoring import drift_report, prediction_traffic, retrain_on_drift
from titanic_assets.defs.resources import LocalLandingArea
from titanic_assets.defs.training.model_training import MODEL_TRAINING_JOB
from titanic_assets.ml import drift


@dataclass
class Monitored:
    instance: dg.DagsterInstance
    root: Path

    def refresh(self) -> dg.ExecuteInProcessResult:
        """Materialize the monitoring group with its check, as the refresh sensor's job does."""
        return dg.materialize(
            [
                prediction_traffic.prediction_traffic,
                drift_report.drift_report,
                drift_report.no_input_drift,
            ],
            instance=self.instance,
            resources={
                "io_manager": dg.FilesystemIOManager(base_dir=str(self.root / "storage")),
                "exports": LocalLandingArea(
                    directory=str(self.root / "exports"), seed_with_shipped_passengers=False
                ),
            },
        )


@pytest.fixture(scope="module")
def monitored(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Monitored]:
    root = tmp_path_factory.mktemp("monitoring")
    (root / "instance").mkdir()
    with (
        pytest.MonkeyPatch.context() as env,
        dg.instance_for_test(temp_dir=str(root / "instance")) as instance,
    ):
        env.setenv("TITANIC_PREDICTION_LOG", str(root / "empty_log"))
        materialize_graph(instance, root / "landing", root / "storage")
        yield Monitored(instance, root)


@pytest.fixture
def log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> PredictionLogWriter:
    """A fresh prediction log, where the assets and the sensors read."""
    monkeypatch.setenv("TITANIC_PREDICTION_LOG", str(tmp_path / "log"))
    writer = PredictionLogWriter(tmp_path / "log")
    yield writer
    writer.close()


def send(log: PredictionLogWriter, passengers: pd.DataFrame, batch: int = 50) -> None:
    """Log passengers as the service does, one batch request per `batch` rows."""
    model = registry.serving_model()
    for start in range(0, len(passengers), batch):
        part = passengers.iloc[start : start + batch].astype(object)
        part = part.where(part.notna(), None)
        log.write(
            request_id=uuid.uuid4().hex,
            endpoint="/predict_batch",
            model_version=model.version,
            inputs={name: part[name].tolist() for name in RAW_INPUTS},
            probabilities=[0.5] * len(part),
            survived=[False] * len(part),
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


def tick(sensor: dg.SensorDefinition, instance: dg.DagsterInstance, cursor: str | None = None):
    return sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=cursor))


def test_the_traffic_window_starts_at_the_promotion_and_holds_the_logged_rows(
    monitored, log, shipped_passengers
):
    send(log, traffic(shipped_passengers, 120, seed=1))

    result = monitored.refresh()

    window = result.asset_value("prediction_traffic")
    model = registry.serving_model()
    assert len(window.rows) == 120
    assert window.start == model.created_at < window.end
    assert set(window.rows["model_version"]) == {model.version}
    info = metadata(result, "prediction_traffic")
    assert info["dagster/row_count"] == 120
    assert info["window_start"] == model.created_at.timestamp()
    assert info["serving_model"] == model.tag
    # The window as a file to download, row for row, and the predicted outcomes.
    downloaded = pd.read_csv(info["window_file"])
    assert list(downloaded["request_id"]) == list(window.rows["request_id"])
    assert info["predicted_survival_rate"] == pytest.approx(window.rows["survived"].mean())
    assert 0 < info["training_predicted_survival_rate"] < 1


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
    assert 0.0 <= report["largest_psi"] < drift.PSI_MAJOR
    assert report["smallest_p_value"] > report["p_value_threshold"]
    data = tick(retrain_on_drift.retrain_on_drift, monitored.instance)
    assert data.run_requests == []


def test_drifted_traffic_fails_the_check_and_requests_exactly_one_retrain(
    monitored, log, shipped_passengers
):
    send(log, drifted(shipped_passengers, 300, seed=4))

    result = monitored.refresh()

    evaluation = check_evaluation(result)
    assert not evaluation.passed
    assert evaluation.severity == dg.AssetCheckSeverity.ERROR
    assert set(evaluation.metadata["drifted_features"].value) == {"Age", "Embarked"}
    assert "a retrain on the latest labelled data is due" in evaluation.description
    report = metadata(result, "drift_report")
    assert report["share_drifted"] == pytest.approx(2 / len(drift.MONITORED))
    assert {"plot_Age", "plot_Embarked"} <= set(report)

    first = tick(retrain_on_drift.retrain_on_drift, monitored.instance)
    [request] = first.run_requests
    data_version = registry.serving_model().data_version
    assert request.run_key == f"drift-retrain-{data_version}"
    assert request.tags[retrain_on_drift.RETRAIN_DATA_VERSION_TAG] == data_version
    assert first.cursor is not None

    again = tick(retrain_on_drift.retrain_on_drift, monitored.instance, cursor=first.cursor)
    assert again.run_requests == []


def test_the_retrain_job_is_the_chain_from_raw_data_to_the_served_model():
    from titanic_assets.definitions import defs as load_definitions

    defs = load_definitions()

    job = defs.resolve_job_def(MODEL_TRAINING_JOB)
    keys = {key.to_user_string() for key in job.asset_layer.selected_asset_keys}
    assert {"raw_passengers", "survival_model", "model_evaluation", "serving_model"} <= keys
    assert not keys & {"prediction_traffic", "drift_report"}
    assert retrain_on_drift.retrain_on_drift in defs.sensors


def test_the_refresh_sensor_waits_for_enough_new_rows_then_requests_one_report(
    monitored, log, shipped_passengers, monkeypatch
):
    monkeypatch.setenv("TITANIC_DRIFT_REFRESH_ROWS", "200")
    monkeypatch.setenv("TITANIC_DRIFT_REFRESH_SECONDS", "3600")
    send(log, traffic(shipped_passengers, 150, seed=5))

    waiting = tick(drift_report.drift_report_on_new_traffic, monitored.instance)
    assert waiting.run_requests == []
    assert "150 rows logged" in waiting.skip_message

    send(log, traffic(shipped_passengers, 60, seed=6))
    ready = tick(drift_report.drift_report_on_new_traffic, monitored.instance)
    [request] = ready.run_requests
    assert request.tags["titanic/new_rows"] == "210"

    # Within the minimum interval nothing more is requested, however much traffic arrives.
    send(log, traffic(shipped_passengers, 300, seed=7))
    soon = tick(drift_report.drift_report_on_new_traffic, monitored.instance, cursor=ready.cursor)
    assert soon.run_requests == []


def test_drift_after_a_retrain_on_unchanged_data_asks_for_new_data_and_never_loops(
    monitored, log, shipped_passengers
):
    """The retrain the sensor requests, run here as the daemon would, on the same landing
    area: the new model has the old data version, so drift persists and nothing repeats."""
    send(log, drifted(shipped_passengers, 300, seed=8))
    assert not check_evaluation(monitored.refresh()).passed
    [request] = tick(retrain_on_drift.retrain_on_drift, monitored.instance).run_requests
    before = registry.serving_model()

    from titanic_assets.definitions import defs as load_definitions

    defs = load_definitions()
    from titanic_assets.defs.resources import LocalLandingArea

    dg.materialize(
        [*defs.assets, *defs.asset_checks],
        selection=dg.AssetSelection.all() - dg.AssetSelection.groups("monitoring"),
        instance=monitored.instance,
        resources={
            "landing_area": LocalLandingArea(directory=str(monitored.root / "landing")),
            "scoring_inbox": LocalLandingArea(
                directory=str(monitored.root / "inbox"), seed_with_shipped_passengers=False
            ),
            "exports": LocalLandingArea(
                directory=str(monitored.root / "exports"), seed_with_shipped_passengers=False
            ),
            "io_manager": dg.FilesystemIOManager(base_dir=str(monitored.root / "storage")),
        },
        tags=request.tags,
    )
    after = registry.serving_model()
    assert after.tag != before.tag and after.data_version == before.data_version

    send(log, drifted(shipped_passengers, 300, seed=9))  # after the new promotion
    evaluation = check_evaluation(monitored.refresh())
    assert not evaluation.passed
    assert "new labelled data is needed" in evaluation.description
    [repeat] = tick(retrain_on_drift.retrain_on_drift, monitored.instance).run_requests
    assert repeat.run_key == request.run_key  # the daemon skips a run key already used


def test_the_missing_share_of_logged_nulls_is_reported(monitored, log, shipped_passengers):
    rows = traffic(shipped_passengers, 250, seed=10)
    rows.loc[rows.index[:100], "Age"] = np.nan

    send(log, rows)
    result = monitored.refresh()

    features = {r.feature: r for r in result.asset_value("drift_report").report.features}
    assert features["Age"].missing_share_current == pytest.approx(rows["Age"].isna().mean())
