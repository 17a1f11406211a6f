"""When a newly trained model replaces the one being served: the promotion policy.

Champion (the serving model) and challenger (the candidate) are scored on the same
passengers, ones neither was trained on: the candidate's held-out split minus every
passenger the champion trained on. Their difference is estimated by a paired bootstrap over
passengers. The candidate is promoted when it is non-inferior on each metric of
PROMOTION_METRICS: the one-sided 95% lower bound of (candidate - champion) is above
-MARGIN. And when at least MIN_ROWS of those passengers are labelled traffic (passengers the
service scored whose outcome came back: the population it answers now, which a retrain on
new evidence exists to serve), the candidate must also be better there: the one-sided 95%
lower bound of its accuracy gain on them above 0. ROC-AUC is not asked of the traffic alone:
within a narrow shifted population (few of one outcome) its interval spans most of [0, 1].
Chosen so that noise decides nothing:

- On ~160 held-out passengers two equally good retrains disagree on about 4% of them, so
  their accuracies differ by a few passengers either way; a 0.06 margin lets such a retrain
  through and keeps a model 0.10 worse out (benchmarks/promotion.py measures both rates).
- Fewer than MIN_ROWS shared unseen passengers is no evidence: the candidate is kept and
  the champion keeps serving.

The first model is promoted when nothing serves. Pure functions, no Dagster and no BentoML.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from titanic_assets.core.outcomes import is_feedback
from titanic_assets.ml import statistics

PROMOTION_METRICS: dict[str, Any] = {
    "accuracy": statistics.accuracy,
    "roc_auc": statistics.roc_auc,
}
MARGIN = 0.06
MIN_ROWS = 30
LEVEL = 0.90  # two-sided 90%: its lower end is the one-sided 95% lower bound

POLICY = (
    f"Promote when, on passengers neither model was trained on, the candidate is non-inferior "
    f"to the serving model on {', '.join(PROMOTION_METRICS)}: the one-sided 95% lower bound "
    f"of (candidate - serving), by a paired bootstrap over passengers, is above -{MARGIN}. "
    f"When at least {MIN_ROWS} of them are labelled traffic, the candidate must also be "
    f"more accurate on those: the one-sided 95% lower bound of its accuracy gain above 0. "
    f"Fewer than {MIN_ROWS} such passengers: kept as a candidate."
)


@dataclass(frozen=True)
class PromotionDecision:
    """Whether the candidate becomes the serving model, and the evidence, metric by metric."""

    promote: bool
    reason: str
    rows: int  # passengers both models were scored on
    comparison: dict[str, dict[str, Any]]


def evaluation_rows(candidate_held_out: pd.DataFrame, champion_training_ids: Any) -> pd.DataFrame:
    """The passengers to compare on: the candidate's held-out rows the champion did not
    train on."""
    seen = set(champion_training_ids)
    return candidate_held_out[~candidate_held_out["PassengerId"].isin(seen)].reset_index(drop=True)


def labelled_traffic(rows: pd.DataFrame) -> np.ndarray:
    """Which rows are labelled traffic (their source is a served prediction's feedback)."""
    return is_feedback(rows["source"]).to_numpy()


def first_model() -> PromotionDecision:
    return PromotionDecision(
        promote=True,
        reason="no model is being served yet: the first model is promoted",
        rows=0,
        comparison={},
    )


def decide_promotion(
    labels: np.ndarray,
    champion: np.ndarray,
    candidate: np.ndarray,
    champion_threshold: float,
    candidate_threshold: float,
    traffic: np.ndarray | None = None,
    margin: float = MARGIN,
    seed: int = 0,
) -> PromotionDecision:
    """Compare two models' probabilities for the same passengers (`labels` their outcomes;
    `traffic` marks the rows that are labelled traffic)."""
    labels = np.asarray(labels)
    outputs = {
        "accuracy": (champion >= champion_threshold, candidate >= candidate_threshold),
        "roc_auc": (champion, candidate),
    }
    comparison: dict[str, dict[str, Any]] = {}
    if len(labels) < MIN_ROWS or labels.min() == labels.max():
        return PromotionDecision(
            promote=False,
            reason=(
                f"kept as a candidate: only {len(labels)} passengers neither model was trained "
                f"on (at least {MIN_ROWS}, with both outcomes, are needed to compare them)"
            ),
            rows=len(labels),
            comparison=comparison,
        )
    worse = []
    for name, metric in PROMOTION_METRICS.items():
        first, second = outputs[name]
        difference = statistics.paired_bootstrap(
            labels, first, second, metric, seed=seed, level=LEVEL
        )
        non_inferior = difference.low > -margin
        comparison[name] = {
            "serving": statistics.bootstrap(labels, first, metric, seed=seed).as_dict(),
            "candidate": statistics.bootstrap(labels, second, metric, seed=seed).as_dict(),
            "difference": difference.as_dict(),
            "margin": margin,
            "non_inferior": non_inferior,
        }
        if not non_inferior:
            worse.append(
                f"{name} {difference.estimate:+.3f} (95% lower bound {difference.low:+.3f} "
                f"<= -{margin})"
            )
    traffic = np.zeros(len(labels), bool) if traffic is None else np.asarray(traffic, bool)
    if traffic.sum() >= MIN_ROWS:
        first, second = outputs["accuracy"]
        gain = statistics.paired_bootstrap(
            labels[traffic], first[traffic], second[traffic], statistics.accuracy,
            seed=seed, level=LEVEL,
        )  # fmt: skip
        better = gain.low > 0
        comparison["accuracy on labelled traffic"] = {
            "serving": statistics.bootstrap(
                labels[traffic], first[traffic], statistics.accuracy, seed=seed
            ).as_dict(),
            "candidate": statistics.bootstrap(
                labels[traffic], second[traffic], statistics.accuracy, seed=seed
            ).as_dict(),
            "difference": gain.as_dict(),
            "margin": 0.0,
            "non_inferior": better,
            "rows": int(traffic.sum()),
        }
        if not better:
            worse.append(
                f"on the {int(traffic.sum())} labelled traffic passengers not more accurate: "
                f"{gain.estimate:+.3f} (95% lower bound {gain.low:+.3f} <= 0)"
            )
    if worse:
        reason = (
            f"kept as a candidate: on {len(labels)} passengers neither model trained on, "
            f"it may be worse than the serving model by more than the margin, or not better "
            f"on the traffic it would serve: {'; '.join(worse)}"
        )
    else:
        reason = f"promoted: on {len(labels)} passengers neither model trained on, " + ", ".join(
            f"{n} {c['difference']['estimate']:+.3f} (95% lower bound "
            f"{c['difference']['low']:+.3f} > {0.0 - c['margin']:+.2f})"
            for n, c in comparison.items()
        )
    return PromotionDecision(
        promote=not worse, reason=reason, rows=len(labels), comparison=comparison
    )
