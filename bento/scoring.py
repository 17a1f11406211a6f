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
    """One CSV back, a line per row of the file in its order: its number (`row`, from 1;
    and its id when the domain has an id column), then the decision, probability and
    model_version of a scored row, the reason of a rejected one (core/batch_scoring.py's
    rules)."""
    import io

    import numpy as np
    import pandas as pd

    from titanic_assets.core.batch_scoring import ROW_NUMBER, score_file

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
    if ROW_NUMBER not in scored:  # an id column's file: the scored rows are the others, in order
        numbers = np.arange(1, len(scored) + len(rejected) + 1)
        taken = rejected[ROW_NUMBER].astype(int) if len(rejected) else []
        scored.insert(1, ROW_NUMBER, numbers[~np.isin(numbers, taken)].astype(str))
    keep = [c for c in dict.fromkeys((domain.id_column, ROW_NUMBER, "reason")) if c in rejected]
    answer = pd.concat([scored, rejected[keep]], ignore_index=True)
    order = answer[ROW_NUMBER].astype(int).argsort(kind="stable")
    return answer.iloc[order].to_csv(index=False).encode()
