"""The model's answers as the service's endpoints need them, with no HTTP in sight: request
bodies as columns, a scored CSV."""

from __future__ import annotations

from typing import Any

from titanic_assets.core import registry
from titanic_assets.core.contract import RAW_INPUTS


def as_columns(passengers: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Request bodies as the columns the feature code reads (absent optional fields: None)."""
    return {name: [p.get(name) for p in passengers] for name in RAW_INPUTS}


def score_csv(body: bytes, model: registry.RegisteredModel) -> bytes:
    """One CSV back: the scored rows, then the rejected rows with their row and reason."""
    import io

    import pandas as pd

    from titanic_assets.core.batch_scoring import score_file
    from titanic_assets.domains.titanic.contract import PASSENGER_FIELDS  # bridge: domain

    predictions, rejects = io.BytesIO(), io.BytesIO()
    score_file(
        io.BytesIO(body), model, predictions, rejects, PASSENGER_FIELDS, "PassengerId", "survived"
    )  # bridge: domain
    scored = pd.read_csv(io.BytesIO(predictions.getvalue()), dtype=str)
    rejected = pd.read_csv(io.BytesIO(rejects.getvalue()), dtype=str)
    keep = [c for c in ("PassengerId", "row", "reason") if c in rejected]
    return pd.concat([scored, rejected[keep]], ignore_index=True).to_csv(index=False).encode()
