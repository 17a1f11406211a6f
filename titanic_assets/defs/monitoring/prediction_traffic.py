"""Monitoring: the passengers the serving model answered, read from the prediction log."""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import dagster as dg

from titanic_assets.core.registry import RegisteredModel
from titanic_assets.defs.resources import LandingArea, PredictionLog


@dataclass(frozen=True)
class TrafficWindow:
    """The requests logged while one model was serving: rows and the window's bounds."""

    model: RegisteredModel
    start: datetime
    end: datetime
    rows: Any  # pandas DataFrame in the prediction log's columns, one row per passenger


@dg.asset(group_name="monitoring", kinds={"bentoml", "pandas"}, deps=["serving_model"])
def prediction_traffic(
    exports: LandingArea, prediction_log: PredictionLog
) -> dg.MaterializeResult[TrafficWindow]:
    """The passengers the service scored since the serving model was promoted.

    Read from the prediction log (the `prediction_log` resource, core/prediction_log.py); the
    window's bounds and the model it belongs to are in the metadata, with the latest
    predictions, the predicted outcomes against the same model's predictions on its
    held-out rows, and the whole window as a CSV file to download (`window_file`).

    Held-out rows, not training rows, are the reference for the model's outputs: on its
    own training rows a model is over-confident (and their group evidence includes their
    own outcomes), so its output distribution there is not what unseen passengers get. The
    input drift report keeps the training rows: they are what the model learned from.
    """
    import pandas as pd

    from titanic_assets.core import registry
    from titanic_assets.core.contract import RAW_INPUTS
    from titanic_assets.defs.metadata import markdown_table
    from titanic_assets.ml import plots

    model = registry.promoted_model()
    if model is None:
        raise dg.Failure(
            description="No model is being served yet (none was promoted), so there is no "
            "traffic window: materialize serving_model first."
        )
    end = datetime.now(UTC)
    rows = prediction_log.predictions(since=model.created_at)
    rows = rows[rows["timestamp"] <= end].reset_index(drop=True)
    versions = rows["model_version"].value_counts()

    window_name = f"prediction_traffic/{model.version}-{end:%Y%m%dT%H%M%SZ}.csv"
    with exports.writer(window_name) as handle:
        rows.to_csv(handle, index=False)
    held_out = model.held_out()
    reference_name = "held-out rows" if len(held_out) else "training rows"
    baseline = held_out if len(held_out) else model.reference()  # older models: no held-out
    # Held-out rows' outcomes may be in the model's group evidence: not their own.
    own = baseline["PassengerId"].tolist() if "PassengerId" in baseline else None
    baseline_probability = model.probabilities(baseline[list(RAW_INPUTS)], own)
    baseline_survived = baseline_probability >= model.threshold
    traffic_rate = float(rows["survived"].mean()) if len(rows) else 0.0
    outcomes = {
        "predicted outcome": ["survived", "died"],
        "traffic": [f"{traffic_rate:.1%}", f"{1 - traffic_rate:.1%}"] if len(rows) else "-",
        reference_name: [f"{baseline_survived.mean():.1%}", f"{1 - baseline_survived.mean():.1%}"],
    }
    extra: dict[str, Any] = {}
    if len(rows):
        extra["probability_distribution"] = dg.MetadataValue.md(
            plots.numeric_drift(
                "predicted probability", baseline_probability, rows["probability"].to_numpy()
            )
        )
    return dg.MaterializeResult(
        value=TrafficWindow(model=model, start=model.created_at, end=end, rows=rows),
        metadata={
            "dagster/row_count": len(rows),
            "window_start": dg.MetadataValue.timestamp(model.created_at),
            "window_end": dg.MetadataValue.timestamp(end),
            "serving_model": model.tag,
            "model_data_version": model.data_version,
            "prediction_log": prediction_log.location,
            "rows_by_model_version": dg.MetadataValue.json(
                {str(k): int(v) for k, v in versions.items()}
            ),
            "predicted_survival_rate": dg.MetadataValue.float(traffic_rate),
            "reference_predicted_survival_rate": dg.MetadataValue.float(
                float(baseline_survived.mean())
            ),
            "output_reference": reference_name,
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
