"""Batch scoring of unlabelled passenger files: row validation and chunked scoring.

`invalid_rows` is the input contract (core/contract.py), the same rules the service's request
models enforce, as one vectorised function over a chunk. A file is read in chunks, so memory
stays flat whatever its size; invalid rows go to a rejects file with their reasons, the
valid ones are scored all the same.

pandas is imported inside the functions: this module is imported by the code location.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

from titanic_assets.core.contract import PASSENGER_FIELDS, RAW_INPUTS

if TYPE_CHECKING:
    import pandas as pd

    from titanic_assets.core.registry import RegisteredModel

CHUNK_ROWS = 10_000  # as fast as larger chunks (~110k rows/s), flatter memory
ID_COLUMN = "PassengerId"
REQUIRED_COLUMNS: tuple[str, ...] = (ID_COLUMN, *(f.name for f in PASSENGER_FIELDS if f.required))
OPTIONAL_COLUMNS: tuple[str, ...] = tuple(f.name for f in PASSENGER_FIELDS if not f.required)
PREDICTION_COLUMNS: tuple[str, ...] = (ID_COLUMN, "survived", "probability", "model_version")


def missing_columns(columns: list[str]) -> list[str]:
    """The required columns a file lacks (every row of such a file is rejected)."""
    return [name for name in REQUIRED_COLUMNS if name not in columns]


def invalid_rows(chunk: pd.DataFrame) -> pd.Series:
    """Why each row breaks the input contract: "" for a valid row, else reasons joined by "; ".

    `chunk` holds the file's cells as strings (missing as NaN); optional columns may be absent.
    """
    import numpy as np
    import pandas as pd

    def text(name: str) -> pd.Series:
        if name in chunk:
            return chunk[name]
        return pd.Series(np.nan, index=chunk.index, dtype=object)

    rules: dict[str, pd.Series] = {f"{ID_COLUMN} missing": text(ID_COLUMN).isna()}
    for spec in PASSENGER_FIELDS:
        cells = text(spec.name)
        given = cells.notna()
        if spec.kind in ("int", "float"):
            values = pd.to_numeric(cells, errors="coerce")
            if spec.allowed is not None:
                ok = values.isin(spec.allowed)
            else:
                ok = np.isfinite(values) & values.between(spec.minimum, spec.maximum)
                if spec.kind == "int":
                    ok &= values == values.round()
        elif spec.allowed is not None:
            ok = cells.str.strip().isin(spec.allowed)
        else:
            ok = cells.str.len() <= spec.max_length
        broken = ~ok if spec.required else given & ~ok
        rules[spec.violation] = broken
    reasons = pd.Series("", index=chunk.index, dtype=object)
    broken = pd.concat(rules, axis=1).fillna(False).astype(bool)
    bad = broken.any(axis=1)
    for reason, mask in broken[bad].items():
        reasons[mask[mask].index] += reason + "; "
    return reasons.str.removesuffix("; ")


def passenger_columns(valid: pd.DataFrame) -> dict[str, Any]:
    """The raw inputs of valid rows, typed as the model's feature code expects them."""
    import pandas as pd

    columns: dict[str, Any] = {}
    for name in RAW_INPUTS:
        values = valid[name] if name in valid else pd.Series(None, index=valid.index)
        if name in ("Pclass", "Age", "SibSp", "Parch", "Fare"):
            values = pd.to_numeric(values, errors="coerce")
        elif name in ("Sex", "Embarked"):
            values = values.str.strip()
        columns[name] = values.to_numpy()
    return columns


@dataclass
class ScoringSummary:
    """What scoring one file did: counts, reasons and the first predictions."""

    rows: int = 0
    scored: int = 0
    survived: int = 0
    rejected: int = 0
    reasons: Counter = field(default_factory=Counter)
    preview: Any = None  # DataFrame: the first predictions

    def add(self, other: ScoringSummary) -> None:
        self.rows += other.rows
        self.scored += other.scored
        self.survived += other.survived
        self.rejected += other.rejected
        self.reasons.update(other.reasons)


def _chunks(source: IO[bytes], chunk_rows: int) -> Iterator[pd.DataFrame]:
    import pandas as pd

    # Strings throughout: validation decides what a cell means, nothing is coerced on read.
    try:
        yield from pd.read_csv(source, dtype=str, chunksize=chunk_rows, skipinitialspace=True)
    except pd.errors.EmptyDataError:  # not even a header
        return


def score_file(
    source: IO[bytes],
    model: RegisteredModel,
    predictions: IO[bytes],
    rejects: IO[bytes],
    chunk_rows: int = CHUNK_ROWS,
    preview_rows: int = 10,
) -> ScoringSummary:
    """Score one CSV chunk by chunk: predictions for its valid rows, the rest with reasons.

    `predictions` gets PassengerId, survived (0/1), probability, model_version; `rejects` gets
    each invalid row as it was, with its row number in the file (1 = the first after the
    header) and the reasons.
    """
    import numpy as np
    import pandas as pd

    summary = ScoringSummary()
    first = True
    for chunk in _chunks(source, chunk_rows):
        reasons = invalid_rows(chunk)
        absent = missing_columns(list(chunk.columns))
        if absent:
            reasons = pd.Series(f"file lacks column(s) {', '.join(absent)}", index=chunk.index)
        bad = reasons != ""
        valid = chunk[~bad]
        probability = model.probabilities(passenger_columns(valid)) if len(valid) else np.empty(0)
        survived = (probability >= model.threshold).astype(np.int8)
        scored = pd.DataFrame(
            {
                ID_COLUMN: valid[ID_COLUMN].to_numpy(),
                "survived": survived,
                "probability": probability.round(6),
                "model_version": model.version,
            }
        )
        rejected = chunk[bad].assign(
            row=np.flatnonzero(bad.to_numpy()) + summary.rows + 1, reason=reasons[bad]
        )
        scored.to_csv(predictions, header=first, index=False)
        rejected.to_csv(rejects, header=first, index=False)
        first = False
        if summary.preview is None or len(summary.preview) < preview_rows:
            summary.preview = pd.concat([summary.preview, scored]).head(preview_rows)
        summary.rows += len(chunk)
        summary.scored += len(scored)
        summary.survived += int(survived.sum())
        summary.rejected += int(bad.sum())
        summary.reasons.update(r for row in reasons[bad] for r in row.split("; "))
    if first:  # an empty file: the outputs still get their headers
        pd.DataFrame(columns=list(PREDICTION_COLUMNS)).to_csv(predictions, index=False)
        pd.DataFrame(columns=["row", "reason"]).to_csv(rejects, index=False)
        summary.preview = pd.DataFrame(columns=list(PREDICTION_COLUMNS))
    return summary
