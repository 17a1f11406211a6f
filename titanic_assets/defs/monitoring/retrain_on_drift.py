"""Monitoring: the sensor that retrains the model when the drift check fails.

Each new failed evaluation of the drift check requests one run of the model chain. Its run
key is the data version of the model that drifted, so one failure gives one retrain and a
data version is retrained on at most once: when drift persists after a retrain on unchanged
data, nothing loops and the check says new labelled data is needed.
"""

import dagster as dg

from titanic_assets.defs.monitoring.drift_report import latest_drift_evaluation
from titanic_assets.defs.training.model_training import MODEL_TRAINING_JOB

# Set on a retrain run: the data version of the model whose drift requested it.
RETRAIN_DATA_VERSION_TAG = "titanic/retrain_data_version"


def already_retrained(instance: dg.DagsterInstance, data_version: str) -> bool:
    """Whether a retrain requested for this data version has already succeeded."""
    runs = instance.get_run_records(
        filters=dg.RunsFilter(
            tags={RETRAIN_DATA_VERSION_TAG: data_version},
            statuses=[dg.DagsterRunStatus.SUCCESS],
        ),
        limit=1,
    )
    return bool(runs)


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
