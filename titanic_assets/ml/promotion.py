"""When a newly registered model replaces the one being served: the promotion policy.

A candidate is promoted only if, on its held-out split, every metric in PROMOTION_METRICS is
at least the serving model's value minus TOLERANCE. The tolerance is one passenger's worth of
accuracy on the ~180-row test split, so sampling noise alone neither blocks a retrain on new
data nor lets a clearly worse model through. The first model is promoted when nothing serves.

Pure functions, no Dagster and no BentoML: the serving asset applies this and reports the
decision in its metadata.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

# Held-out metrics that must not get worse, all "higher is better".
PROMOTION_METRICS: tuple[str, ...] = ("roc_auc", "accuracy")
TOLERANCE = 0.01


@dataclass(frozen=True)
class PromotionDecision:
    """Whether the candidate becomes the serving model, and why, metric by metric."""

    promote: bool
    reason: str
    comparison: dict[str, dict[str, float | None]]


def decide_promotion(
    candidate: Mapping[str, float],
    serving: Mapping[str, float] | None,
    tolerance: float = TOLERANCE,
) -> PromotionDecision:
    """Compare the candidate's held-out metrics with the serving model's (None: none serves)."""
    if serving is None:
        return PromotionDecision(
            promote=True,
            reason="no model is being served yet: the first model is promoted",
            comparison={
                m: {"candidate": float(candidate[m]), "serving": None} for m in PROMOTION_METRICS
            },
        )
    comparison: dict[str, dict[str, float | None]] = {}
    worse: list[str] = []
    for metric in PROMOTION_METRICS:
        new, current = float(candidate[metric]), serving.get(metric)
        comparison[metric] = {"candidate": new, "serving": None if current is None else current}
        if current is not None and new < float(current) - tolerance:
            worse.append(f"{metric} {new:.4f} < serving {float(current):.4f} - {tolerance}")
    if worse:
        return PromotionDecision(
            promote=False,
            reason="kept as a candidate: " + "; ".join(worse),
            comparison=comparison,
        )
    return PromotionDecision(
        promote=True,
        reason=(
            "promoted: "
            + ", ".join(
                f"{m} within {tolerance} of the serving model or better" for m in PROMOTION_METRICS
            )
        ),
        comparison=comparison,
    )
