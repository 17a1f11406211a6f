"""The monitoring loop with the real processes: the Dagster daemon running the sensors and
the survival service, on a temporary instance, model store, landing area and log.

In-distribution traffic is reported green and retrains nothing; drifted traffic plus a new
labelled batch fails the drift check, the retrain run succeeds, a new model is promoted and
the service answers with it. Every wait is a poll with a deadline.
"""

import os
import subprocess
from pathlib import Path

import dagster as dg
import httpx
import numpy as np
import pandas as pd
import pytest

from tests.processes import BIN, ROOT, poll, running, survival_service
from titanic_assets.core.contract import RAW_INPUTS
from titanic_assets.defs.monitoring.drift_report import DRIFT_CHECK_KEY
from titanic_assets.defs.training.model_training import MODEL_TRAINING_JOB

DEADLINE = 300  # seconds for a sensor tick plus a run, on a busy two-core machine


def passengers_json(table: pd.DataFrame) -> list[dict]:
    rows = table[list(RAW_INPUTS)].astype(object)
    return rows.where(rows.notna(), None).to_dict("records")


def send(url: str, table: pd.DataFrame) -> str:
    """Score the passengers in batches of 100; the model version that answered."""
    for start in range(0, len(table), 100):
        response = httpx.post(
            f"{url}/predict_batch",
            json={"passengers": passengers_json(table.iloc[start : start + 100])},
            timeout=30,
        )
        response.raise_for_status()
    return response.json()["model_version"]


def latest_check(instance: dg.DagsterInstance, rows_at_least: int):
    """The latest drift check evaluation over at least `rows_at_least` rows, else None."""
    record = instance.get_latest_asset_check_evaluation_record(DRIFT_CHECK_KEY)
    if record is None or record.event is None or record.event.dagster_event is None:
        return None
    evaluation = record.event.dagster_event.event_specific_data
    if not isinstance(evaluation, dg.AssetCheckEvaluation):
        return None
    return evaluation if evaluation.metadata["n_current"].value >= rows_at_least else None


def retrain_runs(instance: dg.DagsterInstance) -> list[dg.DagsterRun]:
    return list(instance.get_runs(filters=dg.RunsFilter(job_name=MODEL_TRAINING_JOB)))


@pytest.fixture
def work(tmp_path: Path) -> Path:
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return tmp_path


@pytest.fixture
def env(work: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DAGSTER_HOME": str(work / "dagster_home"),
        "BENTOML_HOME": str(work / "bentoml"),
        "BENTOML_DO_NOT_TRACK": "true",
        "TITANIC_PROFILE": "local",
        "TITANIC_LANDING_DIR": str(work / "landing"),
        "TITANIC_PREDICTION_LOG": str(work / "prediction_log"),
        "TITANIC_DRIFT_REFRESH_ROWS": "200",
        "TITANIC_DRIFT_REFRESH_SECONDS": "5",
        "TITANIC_MODEL_POLL_SECONDS": "1",
    }


@pytest.mark.timeout(1200)
def test_drifted_traffic_and_new_labels_retrain_and_promote_a_model_the_service_then_serves(
    work, env, shipped_passengers
):
    # The first model, as `make materialize` makes it.
    subprocess.run(
        [str(BIN / "dagster"), "asset", "materialize", "--select", "*",
         "-m", "titanic_assets.definitions"],
        cwd=ROOT, env=env, check=True, capture_output=True,
    )  # fmt: skip
    instance = dg.DagsterInstance.from_config(env["DAGSTER_HOME"])
    daemon = [str(BIN / "dagster-daemon"), "run", "-m", "titanic_assets.definitions"]
    with (
        survival_service(work, env) as url,
        running(daemon, work / "daemon.log", env),
    ):
        first = poll(
            "the first model to be served",
            lambda: httpx.get(f"{url}/model_info").raise_for_status().json()["model_version"],
            DEADLINE,
        )

        # In-distribution traffic: a green report, no retrain.
        rng = np.random.default_rng(1)
        resample = shipped_passengers.iloc[rng.integers(0, len(shipped_passengers), 300)]
        send(url, resample)
        green = poll(
            "a drift report over the in-distribution traffic",
            lambda: latest_check(instance, 300),
            DEADLINE,
        )
        assert green.passed, green.description
        assert retrain_runs(instance) == []

        # Drifted traffic, and a labelled batch like it lands beside the original file.
        shifted = shipped_passengers.assign(Age=lambda t: t["Age"] + 15, Embarked="Q")
        send(url, shifted.iloc[rng.integers(0, len(shifted), 300)])
        batch = shifted.assign(PassengerId=shifted["PassengerId"] + 10_000)
        batch.to_csv(work / "landing" / "batch-drifted.csv", index=False)

        red = poll(
            "the drift check to fail",
            lambda: (e := latest_check(instance, 600)) and not e.passed and e,
            DEADLINE,
        )
        assert {"Age", "Embarked"} <= set(red.metadata["drifted_features"].value)
        run = poll(
            "the retrain run to succeed",
            lambda: next(
                (r for r in retrain_runs(instance) if r.status == dg.DagsterRunStatus.SUCCESS), None
            ),
            DEADLINE,
        )
        assert len(retrain_runs(instance)) == 1
        assert run.tags["titanic/retrain_data_version"]

        second = poll(
            "the service to answer with a new model",
            lambda: (v := send(url, shipped_passengers.head(1))) != first and v,
            DEADLINE,
        )
        info = httpx.get(f"{url}/model_info").json()
        assert info["model_version"] == second
