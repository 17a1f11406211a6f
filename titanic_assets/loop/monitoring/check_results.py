"""The monitoring checks the retrain sensor watches, by key, and their latest results.

One module that the checks' own modules, the retrain sensor and the Prometheus exporter
(titanic_assets/commands/instance_metrics.py) import, so none of them imports another.
"""

import dagster as dg

DRIFT_CHECK = "no_input_drift"
PERFORMANCE_CHECK = "realized_accuracy_not_worse_than_promised"


def watched_checks(model: str) -> dict[str, dg.AssetCheckKey]:
    """The checks whose failure may retrain the model `model`, by what they watch."""
    return {
        "drift": dg.AssetCheckKey(dg.AssetKey([model, "drift_report"]), DRIFT_CHECK),
        "performance": dg.AssetCheckKey(
            dg.AssetKey([model, "model_performance"]), PERFORMANCE_CHECK
        ),
    }


def latest_evaluation(instance: dg.DagsterInstance, key: dg.AssetCheckKey):
    """A check's latest completed evaluation, as (event record, evaluation); None before
    there is one. A planned evaluation (its run still going) is not a result yet."""
    record = instance.get_latest_asset_check_evaluation_record(key)
    if (
        record is None
        or record.event is None
        or record.event.dagster_event_type != dg.DagsterEventType.ASSET_CHECK_EVALUATION
    ):
        return None
    return record, record.event.dagster_event.event_specific_data
