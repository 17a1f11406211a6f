"""The model's answers as the service's endpoints need them, with no HTTP in sight: request
bodies as columns, one passenger's explanation, a scored CSV."""

from __future__ import annotations

import math
from typing import Any

from titanic_assets.core import registry
from titanic_assets.core.contract import RAW_INPUTS
from titanic_assets.core.features import FEATURES


def as_columns(passengers: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Request bodies as the columns the feature code reads (absent optional fields: None)."""
    return {name: [p.get(name) for p in passengers] for name in RAW_INPUTS}


def explanation(model: registry.RegisteredModel, columns: dict[str, list[Any]]) -> dict[str, Any]:
    """The first passenger's per-feature contributions to the booster's raw score (log-odds),
    which they add up to with the bias, and the calibrated probability of that score: the
    fields of an Explanation that depend on the passenger."""
    matrix = model.feature_matrix(columns)
    contributions = model.booster.predict(matrix, pred_contrib=True, num_threads=1)[0]
    raw_score = float(contributions.sum())
    return {
        "contributions": {n: float(c) for n, c in zip(FEATURES, contributions[:-1], strict=True)},
        "bias": float(contributions[-1]),
        "raw_score": raw_score,
        "feature_values": {
            n: None if math.isnan(v) else float(v) for n, v in zip(FEATURES, matrix[0], strict=True)
        },
        "probability": float(model.calibration(1.0 / (1.0 + math.exp(-raw_score)))),
    }


def score_csv(body: bytes, model: registry.RegisteredModel) -> bytes:
    """One CSV back: the scored rows, then the rejected rows with their row and reason."""
    import io

    import pandas as pd

    from titanic_assets.core.batch_scoring import score_file

    predictions, rejects = io.BytesIO(), io.BytesIO()
    score_file(io.BytesIO(body), model, predictions, rejects)
    scored = pd.read_csv(io.BytesIO(predictions.getvalue()), dtype=str)
    rejected = pd.read_csv(io.BytesIO(rejects.getvalue()), dtype=str)
    keep = [c for c in ("PassengerId", "row", "reason") if c in rejected]
    return pd.concat([scored, rejected[keep]], ignore_index=True).to_csv(index=False).encode()
