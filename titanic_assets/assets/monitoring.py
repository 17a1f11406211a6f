"""Monitoring: the serving model's traffic, its drift from the training data, and the check.

The drift statistics are titanic_assets/drift.py; this is the Dagster layer around them.
The reference is the one stored with the serving model (its training rows' raw inputs), so
a retrained model brings its own reference and the next report compares against it.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import dagster as dg

from titanic_assets.resources import LandingArea

# Set on a retrain run: the data version of the model whose drift requested it.
RETRAIN_DATA_VERSION_TAG = "titanic/retrain_data_version"
DRIFT_CHECK = "no_input_drift"


@dataclass(frozen=True)
class ServingModel:
    """What monitoring needs of the model being served."""

    tag: str
    version: str
    promoted_at: datetime
    data_version: str
    path: str  # its directory in the model store, where the drift reference lies


def serving_model_info() -> ServingModel | None:
    """The serving model (`titanic_survival:latest`), None when nothing was promoted yet."""
    import bentoml

    from titanic_assets import registry

    try:
        model = bentoml.models.get(f"{registry.SERVING_MODEL}:latest")
    except bentoml.exceptions.NotFound:
        return None
    created = model.info.creation_time
    return ServingModel(
        tag=str(model.tag),
        version=model.tag.version,
        # Saved under the serving name at the moment it was promoted.
        promoted_at=created if created.tzinfo else created.replace(tzinfo=UTC),
        data_version=str(model.info.labels.get("data_version", "unknown")),
        path=model.path,
    )


@dataclass(frozen=True)
class TrafficWindow:
    """The requests logged while one model was serving: rows and the window's bounds."""

    model: ServingModel
    start: datetime
    end: datetime
    rows: Any  # pandas DataFrame in the prediction log's columns, one row per passenger


@dataclass(frozen=True)
class TrafficDrift:
    """A drift report together with the model and window it is about."""

    model: ServingModel
    start: datetime
    end: datetime
    report: Any  # drift.DriftReport


@dg.asset(group_name="monitoring", kinds={"bentoml", "pandas"}, deps=["serving_model"])
def prediction_traffic(exports: LandingArea) -> dg.Output[TrafficWindow]:
    """The passengers the service scored since the serving model was promoted.

    Read from the prediction log (TITANIC_PREDICTION_LOG, see prediction_log.py); the
    window's bounds and the model it belongs to are in the metadata, with the latest
    predictions, the predicted outcomes against the same model's predictions on its
    training rows, and the whole window as a CSV file to download (`window_file`).
    """
    import pandas as pd

    from titanic_assets import plots, registry
    from titanic_assets.features import RAW_INPUTS
    from titanic_assets.metadata import markdown_table
    from titanic_assets.prediction_log import prediction_log_location, read_prediction_log

    model = serving_model_info()
    if model is None:
        raise dg.Failure(
            description="No model is being served yet (none was promoted), so there is no "
            "traffic window: materialize serving_model first."
        )
    end = datetime.now(UTC)
    location = prediction_log_location()
    rows = read_prediction_log(location, since=model.promoted_at)
    rows = rows[rows["timestamp"] <= end].reset_index(drop=True)
    versions = rows["model_version"].value_counts()

    window_name = f"prediction_traffic/{model.version}-{end:%Y%m%dT%H%M%SZ}.csv"
    with exports.writer(window_name) as handle:
        rows.to_csv(handle, index=False)
    # The outcomes the model predicts for the passengers it was trained on: the baseline
    # the traffic's predicted outcomes are read against.
    training = registry.load(model.tag)
    reference = _reference(model)
    training_probability = training.pipeline.predict_proba(reference[list(RAW_INPUTS)])[:, 1]
    training_survived = training_probability >= training.threshold
    traffic_rate = float(rows["survived"].mean()) if len(rows) else 0.0
    outcomes = {
        "predicted outcome": ["survived", "died"],
        "traffic": [f"{traffic_rate:.1%}", f"{1 - traffic_rate:.1%}"] if len(rows) else "-",
        "training rows": [f"{training_survived.mean():.1%}", f"{1 - training_survived.mean():.1%}"],
    }
    extra: dict[str, Any] = {}
    if len(rows):
        extra["probability_distribution"] = dg.MetadataValue.md(
            plots.numeric_drift(
                "predicted probability", training_probability, rows["probability"].to_numpy()
            )
        )
    return dg.Output(
        TrafficWindow(model=model, start=model.promoted_at, end=end, rows=rows),
        metadata={
            "dagster/row_count": len(rows),
            "window_start": dg.MetadataValue.timestamp(model.promoted_at),
            "window_end": dg.MetadataValue.timestamp(end),
            "serving_model": model.tag,
            "model_data_version": model.data_version,
            "prediction_log": str(location),
            "rows_by_model_version": dg.MetadataValue.json(
                {str(k): int(v) for k, v in versions.items()}
            ),
            "predicted_survival_rate": dg.MetadataValue.float(traffic_rate),
            "training_predicted_survival_rate": dg.MetadataValue.float(
                float(training_survived.mean())
            ),
            "predicted_outcomes": dg.MetadataValue.md(
                pd.DataFrame(outcomes).to_markdown(index=False)
            ),
            **extra,
            "window_file": dg.MetadataValue.path(exports.location_of(window_name)),
            "dagster/column_schema": dg.TableSchema(
                columns=[dg.TableColumn(str(c), str(t)) for c, t in rows.dtypes.items()]
            ),
            "preview": markdown_table(rows.iloc[::-1]),  # the latest predictions first
        },
    )


def _reference(model: ServingModel) -> Any:
    import os

    import pandas as pd

    from titanic_assets import registry

    return pd.read_csv(os.path.join(model.path, registry.REFERENCE_FILE))


@dg.asset(group_name="monitoring", kinds={"scipy", "matplotlib"})
def drift_report(prediction_traffic: TrafficWindow) -> dg.Output[TrafficDrift]:
    """Has the serving model's traffic drifted from its training data?

    alibi-detect's tabular drift test per raw input (Kolmogorov-Smirnov for numbers,
    chi-squared for categories, Bonferroni-corrected), traffic window vs the reference
    stored with the serving model, with the Population Stability Index as the size of each
    change and plots of the drifted features. Below drift.MIN_ROWS rows it only says "not
    enough traffic". The numbers are numeric metadata, so the UI charts drift over time.
    """
    import pandas as pd

    from titanic_assets import drift

    window = prediction_traffic
    reference = _reference(window.model)
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
    return dg.Output(
        TrafficDrift(model=window.model, start=window.start, end=window.end, report=report),
        metadata=metadata,
    )


def _already_retrained(instance: dg.DagsterInstance, data_version: str) -> bool:
    runs = instance.get_run_records(
        filters=dg.RunsFilter(
            tags={RETRAIN_DATA_VERSION_TAG: data_version},
            statuses=[dg.DagsterRunStatus.SUCCESS],
        ),
        limit=1,
    )
    return bool(runs)


@dg.asset_check(
    asset=drift_report,
    name=DRIFT_CHECK,
    description=(
        "Fails (error) when the traffic's inputs drifted from the serving model's training "
        "data; the retrain sensor watches it. Not enough traffic is not a failure."
    ),
)
def no_input_drift(
    context: dg.AssetCheckExecutionContext, drift_report: TrafficDrift
) -> dg.AssetCheckResult:
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
    if _already_retrained(context.instance, model.data_version):
        action = (
            f"the model was already retrained on data version {model.data_version} and the "
            "drift persists: new labelled data is needed in the landing area"
        )
    else:
        action = f"a retrain on the latest labelled data is due (data version {model.data_version})"
    return dg.AssetCheckResult(
        passed=False,
        severity=dg.AssetCheckSeverity.ERROR,
        description=f"{report.summary}; {action}",
        metadata={**metadata, "action": action},
    )
