"""Monitoring: is there new evidence to retrain on?

A retrain on the data the serving model was already given makes the same model under a new
version, so a failed monitoring check asks for one only when there are labelled rows
the serving model has not seen: landed in the landing area, or scored by the service with
their outcome come back (the compacted hours' labelled rows, monitoring's hourly_traffic).
At least MIN_NEW_ROWS of them (the monitoring policy's `retrain_min_new_rows`,
TITANIC_RETRAIN_MIN_NEW_ROWS), so that the retrained model's held-out share of them (by the
stable hash split) holds about promotion.MIN_ROWS rows to compare it with the serving
model on; fewer, and the comparison could not decide. The checks carry this in their
metadata, in words too, and the retrain sensor keys its run on a digest of exactly these
rows: the same rows never produce a second retrained model.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from titanic_assets.ml import modeling, promotion

if TYPE_CHECKING:
    from titanic_assets.core.domain import Domain
    from titanic_assets.core.registry import RegisteredModel
    from titanic_assets.defs.resources import LandingArea, PredictionLog

# The held-out share of MIN_NEW_ROWS holds about promotion.MIN_ROWS rows: 150.
MIN_NEW_ROWS = promotion.MIN_ROWS * 100 // modeling.TEST_PERCENT


@dataclass(frozen=True)
class NewEvidence:
    """Labelled rows the serving model was not given, and whether they justify a retrain."""

    serving_model: str
    new_rows: int
    landed: int  # of them, in the landing area
    feedback: int  # of them, labelled traffic
    digest: str  # of the serving model and the new rows' ids
    min_rows: int

    @property
    def enough(self) -> bool:
        return self.new_rows >= self.min_rows

    @property
    def in_words(self) -> str:
        found = (
            f"{self.new_rows} labelled rows {self.serving_model} has not seen "
            f"({self.landed} landed, {self.feedback} outcomes of served predictions)"
        )
        if self.enough:
            return f"{found}: a retrain on them is due"
        return (
            f"{found}: no retrain; {self.min_rows - self.new_rows} more outcomes are needed "
            f"(a retrain needs {self.min_rows})"
        )

    def metadata(self) -> dict[str, Any]:
        return {
            "new_labelled_rows": self.new_rows,
            "new_labelled_rows_landed": self.landed,
            "new_labelled_rows_feedback": self.feedback,
            "new_labelled_rows_needed": self.min_rows,
            "new_outcomes_still_needed": max(0, self.min_rows - self.new_rows),
            "new_evidence_digest": self.digest,
            "retrain": self.in_words,
        }


def new_evidence(
    model: RegisteredModel,
    landing_area: LandingArea,
    prediction_log: PredictionLog,
    min_rows: int,
    domain: Domain,
) -> NewEvidence:
    """Count the labelled rows `model` was not given, wherever they are now; a
    retrain is due from `min_rows` of them."""
    import pandas as pd

    from titanic_assets.core.outcomes import feedback_row_id
    from titanic_assets.ml.cleaning import with_row_ids

    landing = landing_area.read_tables()
    landed_ids = set()
    key = domain.key
    if landing is not None:
        landing = with_row_ids(domain, landing)
    if landing is not None and key in landing:
        landed_ids = set(pd.to_numeric(landing[key], errors="coerce").dropna().astype(int))
    labelled = prediction_log.labelled("SELECT DISTINCT prediction_id FROM rows")
    ids = labelled["prediction_id"] if len(labelled) else []
    feedback_ids = {feedback_row_id(i) for i in ids}

    given = model.given_ids()
    new_landed, new_feedback = landed_ids - given, feedback_ids - given
    new = sorted(new_landed | new_feedback)
    digest = hashlib.sha256(f"{model.tag}:{new}".encode()).hexdigest()[:16]
    return NewEvidence(
        serving_model=model.tag,
        new_rows=len(new),
        landed=len(new_landed),
        feedback=len(new_feedback),
        digest=digest,
        min_rows=min_rows,
    )
