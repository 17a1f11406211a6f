"""The model's answers as the service's endpoints need them, with no HTTP in sight: request
bodies as columns, a scored CSV."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from titanic_assets.core import registry
from titanic_assets.core.domain import Domain


def as_columns(rows: list[dict[str, Any]], names: Sequence[str]) -> dict[str, list[Any]]:
    """Request bodies as the columns of the inputs `names` the model's design reads (absent
    optional fields: None)."""
    return {name: [r.get(name) for r in rows] for name in names}


def score_csv(body: bytes, model: registry.RegisteredModel, domain: Domain) -> bytes:
    """One CSV back: the scored rows (id, decision, probability, model_version), then the
    rejected rows with their id, row and reason (core/batch_scoring.py's rules)."""
    import io

    import pandas as pd

    from titanic_assets.core.batch_scoring import score_file

    predictions, rejects = io.BytesIO(), io.BytesIO()
    score_file(
        io.BytesIO(body),
        model,
        predictions,
        rejects,
        inputs=domain.inputs,
        id_column=domain.id_column,
        decision=domain.words.decision,
        missing_values=domain.missing_values,
    )
    scored = pd.read_csv(io.BytesIO(predictions.getvalue()), dtype=str)
    rejected = pd.read_csv(io.BytesIO(rejects.getvalue()), dtype=str)
    keep = [c for c in dict.fromkeys((domain.id_column, "row", "reason")) if c in rejected]
    return pd.concat([scored, rejected[keep]], ignore_index=True).to_csv(index=False).encode()
