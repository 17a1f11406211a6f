"""Every stage of one model's loop, as one Definitions (what the component builds)."""

import dagster as dg

from titanic_assets.loop import Loop
from titanic_assets.loop.ingestion import labelled_traffic, raw_rows
from titanic_assets.loop.monitoring import (
    drift_report,
    hourly_traffic,
    model_performance,
    retraining,
    shadow,
)
from titanic_assets.loop.preparation import feature_table, labelled_rows
from titanic_assets.loop.scoring import batch_predictions
from titanic_assets.loop.serving import rollback, serving_model, serving_model_archive
from titanic_assets.loop.training import model_evaluation, model_training, trained_model

STAGES = (
    raw_rows,
    labelled_traffic,
    labelled_rows,
    feature_table,
    trained_model,
    model_evaluation,
    model_training,
    serving_model,
    serving_model_archive,
    rollback,
    hourly_traffic,
    drift_report,
    model_performance,
    shadow,
    retraining,
    batch_predictions,
)


def loop_definitions(loop: Loop) -> dg.Definitions:
    """The assets, checks, jobs and sensors of every stage, for this model."""
    built = [definition for stage in STAGES for definition in stage.build(loop)]
    checks = [d for d in built if isinstance(d, dg.AssetChecksDefinition)]
    assets = [d for d in built if isinstance(d, dg.AssetsDefinition) and d not in checks]
    sensors = [d for d in built if isinstance(d, dg.SensorDefinition)]
    return dg.Definitions(
        assets=assets,
        asset_checks=checks,
        sensors=sensors,
        jobs=[d for d in built if not any(d in kind for kind in (checks, assets, sensors))],
    )
