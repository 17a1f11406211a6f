"""Monitoring: the traffic's drift from the serving model's training data, its check, and the
sensor and job that keep the report fresh.

The drift statistics are ml/drift.py; this is the Dagster layer around them. The reference
is the one stored with the serving model (its training rows' raw inputs), so a retrained
model brings its own reference and the next report compares against it.
"""

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import dagster as dg

from titanic_assets.core.registry import RegisteredModel
from titanic_assets.defs.monitoring.check_results import DRIFT_CHECK
from titanic_assets.defs.monitoring.prediction_traffic import TrafficWindow
from titanic_assets.defs.resources import LandingArea, MonitoringPolicy, PredictionLog


@dataclass(frozen=True)
class TrafficDrift:
    """A drift report together with the model and window it is about."""

    model: RegisteredModel
    start: datetime
    end: datetime
    report: Any  # ml.drift.DriftReport


@dg.asset(group_name="monitoring", kinds={"scipy", "matplotlib"})
def drift_report(prediction_traffic: TrafficWindow) -> dg.MaterializeResult[TrafficDrift]:
    """Has the serving model's traffic drifted from its training data?

    alibi-detect's tabular drift test per raw input (Kolmogorov-Smirnov for numbers,
    chi-squared for categories, Bonferroni-corrected), traffic window vs the reference
    stored with the serving model, with the Population Stability Index as the size of each
    change and plots of the drifted features. Below drift.MIN_ROWS rows it only says "not
    enough traffic". The numbers are numeric metadata, so the UI charts drift over time.
    """
    import pandas as pd

    from titanic_assets.ml import drift

    window = prediction_traffic
    reference = window.model.reference()
    report = drift.drift_report(reference, window.rows)
    metadata: dict[str, Any] = {
        "summary": report.summary,
        "enough_traffic": report.enough_traffic,
        "drift_detected": report.drift_detected,
        "drifted_features": ", ".join(report.drifted_features) or "none",
        "n_reference": report.n_reference,
        "n_current": report.n_current,
        "min_rows": report.min_rows,
        "window_start": dg.MetadataValue.timestamp(window.start),
        "window_end": dg.MetadataValue.timestamp(window.end),
        "serving_model": window.model.tag,
    }
    if report.enough_traffic:
        metadata.update(
            share_drifted=dg.MetadataValue.float(report.share_drifted),
            smallest_p_value=dg.MetadataValue.float(report.smallest_p_value),
            largest_psi=dg.MetadataValue.float(report.largest_psi),
            p_value_threshold=dg.MetadataValue.float(report.threshold),
            features=dg.MetadataValue.md(pd.DataFrame(report.rows()).to_markdown(index=False)),
            psi_reading=dg.MetadataValue.md(
                f"PSI < {drift.PSI_MODERATE} stable, {drift.PSI_MODERATE}-{drift.PSI_MAJOR} "
                f"moderate, > {drift.PSI_MAJOR} major change. Per-feature test: "
                f"{report.correction}-corrected p < {report.threshold:.4g}."
            ),
        )
        for feature, image in drift.drift_plots(reference, window.rows, report).items():
            metadata[f"plot_{feature}"] = dg.MetadataValue.md(image)
    return dg.MaterializeResult(
        value=TrafficDrift(model=window.model, start=window.start, end=window.end, report=report),
        metadata=metadata,
    )


@dg.asset_check(
    asset=drift_report,
    name=DRIFT_CHECK,
    description=(
        "Fails (error) when the traffic's inputs drifted from the serving model's training "
        "data; the retrain sensor watches it, and the metadata says whether there is new "
        "labelled data to retrain on. Not enough traffic is not a failure."
    ),
)
def no_input_drift(
    drift_report: TrafficDrift,
    landing_area: LandingArea,
    labels_landing: LandingArea,
    prediction_log: PredictionLog,
    monitoring_policy: MonitoringPolicy,
) -> dg.AssetCheckResult:
    from titanic_assets.defs.monitoring.evidence import new_evidence

    report, model = drift_report.report, drift_report.model
    metadata: dict[str, Any] = {
        "drifted_features": dg.MetadataValue.json(report.drifted_features),
        "share_drifted": float(report.share_drifted),
        "n_current": report.n_current,
        "serving_model": model.tag,
        "model_data_version": model.data_version,
    }
    if not report.drift_detected:
        return dg.AssetCheckResult(passed=True, description=report.summary, metadata=metadata)
    evidence = new_evidence(
        model,
        landing_area,
        labels_landing,
        prediction_log,
        monitoring_policy.retrain_min_new_rows,
    )
    return dg.AssetCheckResult(
        passed=False,
        severity=dg.AssetCheckSeverity.ERROR,
        description=f"{report.summary}; {evidence.in_words}",
        metadata={**metadata, **evidence.metadata()},
    )


drift_monitoring_job = dg.define_asset_job(
    "drift_monitoring",
    # With the outcomes landed in bulk: the performance assets read them.
    selection=dg.AssetSelection.groups("monitoring") | dg.AssetSelection.assets("landed_outcomes"),
    description="Read the traffic window and report its drift, with the drift check, and the "
    "serving model's realized performance on the outcomes come back.",
)


@dg.sensor(
    job=drift_monitoring_job,
    minimum_interval_seconds=15,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Refresh the drift report when enough new traffic has been logged.",
)
def drift_report_on_new_traffic(
    context: dg.SensorEvaluationContext,
    prediction_log: PredictionLog,
    monitoring_policy: MonitoringPolicy,
):
    from titanic_assets.core import registry

    policy = monitoring_policy
    last_request = float(context.cursor) if context.cursor else 0.0
    now = time.time()
    if now - last_request < policy.drift_refresh_seconds:
        return dg.SkipReason(
            f"last refresh requested {now - last_request:.0f} s ago "
            f"(minimum interval {policy.drift_refresh_seconds:.0f} s)"
        )
    model = registry.promoted_model()
    if model is None:
        return dg.SkipReason("no model is being served yet")
    since = max(model.created_at, datetime.fromtimestamp(last_request, UTC))
    new_rows = len(prediction_log.predictions(since=since))
    if new_rows < policy.drift_refresh_rows:
        return dg.SkipReason(
            f"{new_rows} rows logged since {since.isoformat()}, "
            f"waiting for {policy.drift_refresh_rows}"
        )
    context.update_cursor(str(now))
    return dg.RunRequest(
        run_key=f"drift-refresh-{now:.3f}",
        tags={"titanic/new_rows": str(new_rows), "titanic/serving_model": model.tag},
    )
