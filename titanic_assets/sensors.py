"""The sensors that close the monitoring loop, with nobody clicking.

- `drift_report_on_new_traffic` refreshes the drift report once enough new traffic has been
  logged (a row count and a minimum interval, from the environment).
- `retrain_on_drift` watches the drift check: each new failed evaluation requests one run of
  the model chain. Its run key is the data version of the model that drifted, so one
  failure gives one retrain and a data version is retrained on at most once: when drift
  persists after a retrain on unchanged data, nothing loops and the check says new labelled
  data is needed.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

import dagster as dg

from titanic_assets.assets.monitoring import DRIFT_CHECK, RETRAIN_DATA_VERSION_TAG

DRIFT_CHECK_KEY = dg.AssetCheckKey(dg.AssetKey("drift_report"), DRIFT_CHECK)
# The chain from the raw passengers to the served model (defined in definitions.py).
MODEL_TRAINING_JOB = "model_training"

drift_monitoring_job = dg.define_asset_job(
    "drift_monitoring",
    selection=dg.AssetSelection.groups("monitoring"),
    description="Read the traffic window and report its drift, with the drift check.",
)


def latest_drift_evaluation(instance: dg.DagsterInstance) -> tuple[Any, Any] | None:
    """The drift check's latest completed evaluation, as (event record, evaluation); None
    before there is one. A planned evaluation (its run still going) is not a result yet."""
    record = instance.get_latest_asset_check_evaluation_record(DRIFT_CHECK_KEY)
    if (
        record is None
        or record.event is None
        or record.event.dagster_event_type != dg.DagsterEventType.ASSET_CHECK_EVALUATION
    ):
        return None
    return record, record.event.dagster_event.event_specific_data


@dataclass(frozen=True)
class RefreshPolicy:
    """When the drift report is refreshed: enough new rows, and not too often."""

    min_new_rows: int
    min_interval_seconds: float

    @classmethod
    def from_env(cls) -> RefreshPolicy:
        """TITANIC_DRIFT_REFRESH_ROWS (default 200, drift.MIN_ROWS) and
        TITANIC_DRIFT_REFRESH_SECONDS (default 60)."""
        return cls(
            min_new_rows=int(os.getenv("TITANIC_DRIFT_REFRESH_ROWS", "200")),
            min_interval_seconds=float(os.getenv("TITANIC_DRIFT_REFRESH_SECONDS", "60")),
        )


@dg.sensor(
    job=drift_monitoring_job,
    minimum_interval_seconds=15,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Refresh the drift report when enough new traffic has been logged.",
)
def drift_report_on_new_traffic(context: dg.SensorEvaluationContext):
    from datetime import UTC, datetime

    from titanic_assets.assets.monitoring import serving_model_info
    from titanic_assets.prediction_log import read_prediction_log

    policy = RefreshPolicy.from_env()
    last_request = float(context.cursor) if context.cursor else 0.0
    now = time.time()
    if now - last_request < policy.min_interval_seconds:
        return dg.SkipReason(
            f"last refresh requested {now - last_request:.0f} s ago "
            f"(minimum interval {policy.min_interval_seconds:.0f} s)"
        )
    model = serving_model_info()
    if model is None:
        return dg.SkipReason("no model is being served yet")
    since = max(model.promoted_at, datetime.fromtimestamp(last_request, UTC))
    new_rows = len(read_prediction_log(since=since))
    if new_rows < policy.min_new_rows:
        return dg.SkipReason(
            f"{new_rows} rows logged since {since.isoformat()}, waiting for {policy.min_new_rows}"
        )
    context.update_cursor(str(now))
    return dg.RunRequest(
        run_key=f"drift-refresh-{now:.3f}",
        tags={"titanic/new_rows": str(new_rows), "titanic/serving_model": model.tag},
    )


@dg.sensor(
    job_name=MODEL_TRAINING_JOB,
    minimum_interval_seconds=15,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Retrain and re-promote the model when the drift check fails.",
)
def retrain_on_drift(context: dg.SensorEvaluationContext):
    latest = latest_drift_evaluation(context.instance)
    if latest is None:
        return dg.SkipReason("no completed evaluation of the drift check yet")
    record, evaluation = latest
    if context.cursor and record.id <= int(context.cursor):
        return dg.SkipReason(f"no evaluation of the drift check since #{context.cursor}")
    context.update_cursor(str(record.id))
    if evaluation.passed:
        return dg.SkipReason(f"the drift check passed (evaluation #{record.id})")
    data_version = str(evaluation.metadata["model_data_version"].value)
    return dg.RunRequest(
        run_key=f"drift-retrain-{data_version}",
        tags={
            RETRAIN_DATA_VERSION_TAG: data_version,
            "titanic/drift_check_run": record.run_id,
        },
    )
