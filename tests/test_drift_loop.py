"""The monitoring loop with the real processes: the Dagster daemon running the sensors and
the Titanic model service, on a temporary instance, model store, landing area and log.

A shifted population is served and its outcomes come back through /feedback: the drift
check fails with enough new evidence, one retrain runs on the enlarged data, the challenger
is compared with the champion on the shifted passengers neither trained on, it is promoted
and the service answers with it; a second round on unchanged labelled data requests nothing
(the sensor's next decision, from the daemon's log). Every wait is a poll with a deadline.
In-distribution traffic retraining nothing is tested on a real instance in
test_monitoring.py.
"""

import re
import time
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import httpx
import numpy as np
import pandas as pd
import pytest

from titanic_assets.core.domain import load_domain
from titanic_assets.domains.titanic.examples import shifted_population
from titanic_assets.loop.monitoring.check_results import watched_checks
from titanic_assets.loop.monitoring.retraining import RETRAIN_EVIDENCE_TAG
from titanic_assets.testing import (
    DAEMON,
    QUICK_LOOP,
    environment,
    materialize_first_model,
    model_service,
    poll,
    running,
)

RAW_INPUTS = load_domain("titanic").input_names
DRIFT_CHECK_KEY = watched_checks("titanic")["drift"]
MODEL_TRAINING_JOB = "titanic_model_training"

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
def env(tmp_path: Path) -> dict[str, str]:
    return environment(tmp_path, QUICK_LOOP)


def send_with_ids(url: str, table: pd.DataFrame, name: str) -> list[str]:
    """Score the passengers in batches of 100, each with its own X-Request-ID (`name` and
    the batch's start), so the ids, and with them the held-out split of the fed-back
    passengers, are the same on every run; the prediction id of each."""
    ids = []
    for start in range(0, len(table), 100):
        response = httpx.post(
            f"{url}/predict_batch",
            json={"passengers": passengers_json(table.iloc[start : start + 100])},
            headers={"X-Request-ID": f"{name}-{start}"},
            timeout=30,
        )
        response.raise_for_status()
        ids += [p["id"] for p in response.json()["predictions"]]
    return ids


def latest_failed_with_evidence(instance: dg.DagsterInstance):
    evaluation = latest_check(instance, 0)
    if evaluation is None or evaluation.passed:
        return None
    return evaluation if evaluation.metadata["new_outcomes_still_needed"].value == 0 else None


def sensor_decision_after(daemon_log: Path, after: float) -> str | None:
    """What the retrain sensor decided on the first check evaluation it saw after `after` (a
    UNIX time): its ticks with no new evaluation to act on are not decisions."""
    pattern = re.compile(
        r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) \+0000"
        r".*Sensor titanic_retrain_on_new_evidence skipped: (.*)"
    )
    for line in daemon_log.read_text(errors="replace").splitlines():
        found = pattern.search(line)
        if found:
            when = datetime.strptime(found[1], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
            if when.timestamp() >= after and not found[2].startswith("no new evaluation"):
                return found[2]
    return None


def latest_metadata(instance: dg.DagsterInstance, asset: str) -> dict | None:
    event = instance.get_latest_materialization_event(dg.AssetKey(["titanic", asset]))
    if event is None:
        return None
    return {k: v.value for k, v in event.asset_materialization.metadata.items()}


@pytest.mark.timeout(1200)
def test_outcomes_of_a_shifted_population_retrain_once_and_the_better_model_serves(
    tmp_path, env, shipped_passengers
):
    work = tmp_path
    materialize_first_model(env)
    instance = dg.DagsterInstance.from_config(env["DAGSTER_HOME"])
    with (
        model_service(work, env) as url,
        running(DAEMON, work / "daemon.log", env),
    ):
        first = poll(
            "the first model to be served",
            lambda: httpx.get(f"{url}/model_info").raise_for_status().json()["model_version"],
            DEADLINE,
        )

        # A shifted population is served and its outcomes come back through /feedback.
        shifted = shifted_population(shipped_passengers, 250, seed=2)
        ids = send_with_ids(url, shifted, "shifted")
        outcomes = [
            {"id": i, "survived": bool(s)} for i, s in zip(ids, shifted["Survived"], strict=True)
        ]
        stored = httpx.post(f"{url}/feedback", json={"outcomes": outcomes}, timeout=30)
        assert stored.json() == {"received": 250, "stored": 250}
        # More of that traffic, so that a report is refreshed after the outcomes are in.
        send(url, shifted_population(shipped_passengers, 200, seed=3).drop(columns="Survived"))

        red = poll(
            "the drift check to fail with enough new outcomes to retrain on",
            lambda: latest_failed_with_evidence(instance),
            DEADLINE,
        )
        assert {"Age", "Embarked"} <= set(red.metadata["drifted_features"].value)
        assert red.metadata["new_labelled_rows_feedback"].value == 250
        run = poll(
            "the retrain run to succeed",
            lambda: next(
                (r for r in retrain_runs(instance) if r.status == dg.DagsterRunStatus.SUCCESS), None
            ),
            DEADLINE,
        )
        assert run.tags[RETRAIN_EVIDENCE_TAG] == red.metadata["new_evidence_digest"].value

        # Compared on the shifted, labelled passengers neither model trained on; promoted.
        promotion = latest_metadata(instance, "serving_model")
        assert promotion["promoted"] is True, promotion["promotion_reason"]
        on_traffic = promotion["comparison"]["accuracy on labelled traffic"]
        assert on_traffic["rows"] >= 30  # the held-out fifth of the 250 fed back
        assert on_traffic["difference"]["low"] > 0  # more accurate there, beyond the noise
        assert on_traffic["difference"]["estimate"] > 0.2
        second = poll(
            "the service to answer with the retrained model",
            lambda: (v := send(url, shipped_passengers.head(1))) != first and v,
            DEADLINE,
        )
        assert httpx.get(f"{url}/model_info").json()["model_version"] == second
        fresh = shifted_population(shipped_passengers, 100, seed=4)
        answered = httpx.post(
            f"{url}/predict_batch", json={"passengers": passengers_json(fresh)}, timeout=30
        ).json()["predictions"]
        right = [p["survived"] == bool(s) for p, s in zip(answered, fresh["Survived"], strict=True)]
        accuracy = np.mean(right)
        assert accuracy > 0.6  # the first model got about 0.2 of them right

        # A second round on unchanged labelled data requests nothing.
        second_round = time.time()
        send(url, shifted_population(shipped_passengers, 200, seed=5).drop(columns="Survived"))
        again = poll(
            "a drift report on the retrained model's traffic",
            lambda: (
                (e := latest_check(instance, 200))
                and e.metadata["serving_model"].value.endswith(second)
                and e
            ),
            DEADLINE,
        )
        if not again.passed:
            assert again.metadata["new_labelled_rows"].value == 0
        # In the UI, for the serving model: why the last retrain happened and what came of it.
        words = poll(
            "the retrained model's performance report",
            lambda: (
                (m := latest_metadata(instance, "model_performance"))
                and m["serving_model"].endswith(second)
                and m["retraining"]
            ),
            DEADLINE,
        )
        assert "requested by the failed" in words and "promoted" in words
        # The drift check and model_performance are one windows run, so the sensor may have
        # decided before model_performance's metadata is read: its decision after the round.
        skipped = poll(
            "the retrain sensor to decide on the second round",
            lambda: sensor_decision_after(work / "daemon.log", second_round),
            DEADLINE,
        )
        assert "no retrain" in skipped or "passed" in skipped, skipped
        assert len(retrain_runs(instance)) == 1
