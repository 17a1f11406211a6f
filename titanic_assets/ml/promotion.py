"""When a newly trained model replaces the one being served: the promotion policy.

Champion (the serving model) and challenger (the candidate) are scored on the same
rows, ones neither was trained on: the candidate's held-out split minus every
row the champion trained on. Their difference is estimated by a paired bootstrap over
rows. The candidate is promoted when it is non-inferior on each metric of
PROMOTION_METRICS: the one-sided 95% lower bound of (candidate - champion) is above
-MARGIN. And when at least MIN_ROWS of those rows are labelled traffic (rows the
service scored whose outcome came back: the population it answers now, which a retrain on
new evidence exists to serve), the candidate must also be better there: the one-sided 95%
lower bound of its accuracy gain on them above 0. ROC-AUC is not asked of the traffic alone:
within a narrow shifted population (few of one outcome) its interval spans most of [0, 1].
Chosen so that noise decides nothing:

- On ~160 held-out rows two equally good retrains disagree on about 4% of them, so
  their accuracies differ by a few rows either way; a 0.06 margin lets such a retrain
  through and keeps a model 0.10 worse out (benchmarks/promotion.py measures both rates).
- Fewer than MIN_ROWS shared unseen rows is no evidence: the candidate is kept and
  the champion keeps serving.

A candidate kept here shadows the serving model on live traffic (defs/monitoring/shadow.py)
until its outcomes decide (ml/sequential.py). Before the shadow evidence may promote it, it
must pass `trusted_guard`: non-inferior on the trusted held-out rows (landed, never
labelled traffic, whose outcomes come from clients and could be flooded), kept apart, not
pooled with the traffic; and on each slice the domain declared in advance (Domain.slices,
e.g. sex x class) that has at least MIN_SLICE_ROWS of them. The margins (benchmarks/
promotion.py `--only margin`, on the Titanic domain's LightGBM, 100 seeds):

- `margin_for(n)`: MARGIN_AT_ROWS[1] at MARGIN_AT_ROWS[0] trusted rows, narrowing as
  1/sqrt(n), never below MIN_MARGIN. On the 157 trusted held-out rows an equally good
  retrain's one-sided 95% accuracy lower bound has a median of -0.025, a 5th percentile of
  -0.051 (8 rows) and falls below -0.05 in 10% of retrains, to -0.06 or below in 2%
  (ROC-AUC's 5th percentile: -0.032). So 0.06 keeps about 2% of good retrains out on the
  whole, while 0.05 would keep 10% out and 0.04 17%. A candidate about 4 points worse (12% of
  its training outcomes flipped) is kept out 85% of the time. Unlike the fixed 0.06 above,
  this margin narrows as rows accumulate, so a worse candidate is kept out more surely,
  not less, with more evidence (the 1/sqrt(n) rate is assumed, not measured: the shipped data
  has only 157 trusted rows).
- SLICE_MARGIN on slices of at least MIN_SLICE_ROWS: on the shipped Titanic data only three
  of its six slices reach it (28, 30 and 57 rows); one row is 2-4 points of
  such a slice, and an equally good retrain's slice lower bound reaches -0.25 (7 of 28) in 5%
  of retrains. At 0.30 the slice guard keeps no good retrain out beyond the 2% the whole-set
  margin does, and still catches large losses (a targeted flood turns a slice around), not a
  few points; a smaller slice is reported "too few to judge", not failed.

A domain judged by expected cost (Domain.costs) is compared on that instead of accuracy:
the difference is the cost saved per row, and the margins are in units of a wrong decision's
mean cost (MARGIN x (false positive + false negative) / 2: 0.18 an applicant at German
credit's 1 and 5; the scaling is chosen, not measured like the accuracy margins above).

The first model is promoted when nothing serves. Pure functions, no Dagster and no BentoML.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from titanic_assets.core.outcomes import is_feedback
from titanic_assets.ml import statistics
from titanic_assets.ml.decisions import DecisionMetric

ACCURACY = DecisionMetric()

PROMOTION_METRICS: dict[str, Any] = {
    "accuracy": statistics.accuracy,
    "roc_auc": statistics.roc_auc,
}
MARGIN = 0.06
MIN_ROWS = 30
LEVEL = 0.90  # two-sided 90%: its lower end is the one-sided 95% lower bound
# The trusted guard (see the module docstring; measured by benchmarks/promotion.py).
MARGIN_AT_ROWS = (157, 0.06)
MIN_MARGIN = 0.02
SLICE_MARGIN = 0.30
MIN_SLICE_ROWS = 25
TOO_FEW = "too few to judge"

POLICY = (
    f"Promote when, on rows neither model was trained on, the candidate is non-inferior "
    f"to the serving model on {', '.join(PROMOTION_METRICS)}: the one-sided 95% lower bound "
    f"of (candidate - serving), by a paired bootstrap over rows, is above -{MARGIN}. "
    f"When at least {MIN_ROWS} of them are labelled traffic, the candidate must also be "
    f"more accurate on those: the one-sided 95% lower bound of its accuracy gain above 0. "
    f"Fewer than {MIN_ROWS} such rows: kept as a candidate."
)


@dataclass(frozen=True)
class PromotionDecision:
    """Whether the candidate becomes the serving model, and the evidence, metric by metric."""

    promote: bool
    reason: str
    rows: int  # rows both models were scored on
    comparison: dict[str, dict[str, Any]]


def evaluation_rows(
    candidate_held_out: pd.DataFrame, champion_training_ids: Any, id_column: str
) -> pd.DataFrame:
    """The rows to compare on: the candidate's held-out rows (ids in `id_column`) the
    champion did not train on."""
    seen = set(champion_training_ids)
    unseen = ~candidate_held_out[id_column].isin(seen)
    return candidate_held_out[unseen].reset_index(drop=True)


def labelled_traffic(rows: pd.DataFrame) -> np.ndarray:
    """Which rows are labelled traffic (their source is a served prediction's feedback)."""
    return is_feedback(rows["source"]).to_numpy()


def first_model(replacing: str | None = None) -> PromotionDecision:
    """Nothing comparable serves: promoted. `replacing`: a serving model saved before models
    were per-domain, which this code cannot score (core/instances.LEGACY)."""
    reason = "no model is being served yet: the first model is promoted"
    if replacing is not None:
        reason = (
            f"the serving model {replacing} was saved by the single-model layout and cannot "
            "be scored now: promoted as the first model of this layout"
        )
    return PromotionDecision(promote=True, reason=reason, rows=0, comparison={})


def decide_promotion(
    labels: np.ndarray,
    champion: np.ndarray,
    candidate: np.ndarray,
    champion_threshold: float,
    candidate_threshold: float,
    traffic: np.ndarray | None = None,
    margin: float = MARGIN,
    seed: int = 0,
    metric: DecisionMetric = ACCURACY,
) -> PromotionDecision:
    """Compare two models' probabilities for the same rows (`labels` their outcomes;
    `traffic` marks the rows that are labelled traffic) on the domain's decision `metric`
    and ROC-AUC."""
    labels = np.asarray(labels)
    decided = (champion >= champion_threshold, candidate >= candidate_threshold)
    outputs = {metric.name: decided, "roc_auc": (champion, candidate)}
    judged = _judged(metric)
    comparison: dict[str, dict[str, Any]] = {}
    if len(labels) < MIN_ROWS or labels.min() == labels.max():
        return PromotionDecision(
            promote=False,
            reason=(
                f"kept as a candidate: only {len(labels)} rows neither model was trained "
                f"on (at least {MIN_ROWS}, with both outcomes, are needed to compare them)"
            ),
            rows=len(labels),
            comparison=comparison,
        )
    worse = []
    for name, (shown, gained, scale) in judged.items():
        first, second = outputs[name]
        difference = statistics.paired_bootstrap(
            labels, first, second, gained, seed=seed, level=LEVEL
        )
        allowed = margin * scale
        non_inferior = difference.low > -allowed
        comparison[name] = {
            "serving": statistics.bootstrap(labels, first, shown, seed=seed).as_dict(),
            "candidate": statistics.bootstrap(labels, second, shown, seed=seed).as_dict(),
            "difference": difference.as_dict(),
            "margin": allowed,
            "non_inferior": non_inferior,
        }
        if not non_inferior:
            worse.append(
                f"{_gained(name)} {difference.estimate:+.3f} (95% lower bound "
                f"{difference.low:+.3f} <= -{allowed:.3g})"
            )
    traffic = np.zeros(len(labels), bool) if traffic is None else np.asarray(traffic, bool)
    if traffic.sum() >= MIN_ROWS:
        first, second = decided
        gain = statistics.paired_bootstrap(
            labels[traffic], first[traffic], second[traffic], metric.gain,
            seed=seed, level=LEVEL,
        )  # fmt: skip
        better = gain.low > 0
        comparison[f"{metric.name} on labelled traffic"] = {
            "serving": statistics.bootstrap(
                labels[traffic], first[traffic], metric, seed=seed
            ).as_dict(),
            "candidate": statistics.bootstrap(
                labels[traffic], second[traffic], metric, seed=seed
            ).as_dict(),
            "difference": gain.as_dict(),
            "margin": 0.0,
            "non_inferior": better,
            "rows": int(traffic.sum()),
        }
        if not better:
            worse.append(
                f"on the {int(traffic.sum())} labelled traffic rows not better: "
                f"{_gained(metric.name)} {gain.estimate:+.3f} (95% lower bound "
                f"{gain.low:+.3f} <= 0)"
            )
    if worse:
        reason = (
            f"kept as a candidate: on {len(labels)} rows neither model trained on, "
            f"it may be worse than the serving model by more than the margin, or not better "
            f"on the traffic it would serve: {'; '.join(worse)}"
        )
    else:
        reason = f"promoted: on {len(labels)} rows neither model trained on, " + ", ".join(
            f"{n} {c['difference']['estimate']:+.3f} (95% lower bound "
            f"{c['difference']['low']:+.3f} > {0.0 - c['margin']:+.2f})"
            for n, c in comparison.items()
        )
    return PromotionDecision(
        promote=not worse, reason=reason, rows=len(labels), comparison=comparison
    )


def _judged(metric: DecisionMetric) -> dict[str, tuple[Any, Any, float]]:
    """Each metric compared: name -> (its value, as a gain, its margin's scale)."""
    scale = 1.0
    if metric.costs is not None:
        scale = (metric.costs.false_positive + metric.costs.false_negative) / 2
    return {
        metric.name: (metric, metric.gain, scale),
        "roc_auc": (statistics.roc_auc, statistics.roc_auc, 1.0),
    }


def _gained(name: str) -> str:
    """How a difference in `name` reads: a gain in accuracy, a saving in cost."""
    return "cost saved" if name == "expected_cost" else name


def margin_for(trusted_rows: int) -> float:
    """The non-inferiority margin on this many trusted rows (module docstring)."""
    rows, margin = MARGIN_AT_ROWS
    narrowed = margin * np.sqrt(rows / max(trusted_rows, 1))
    return float(np.clip(narrowed, MIN_MARGIN, margin))


def slice_names(slices: dict[str, dict[str, Any]], rows: pd.DataFrame) -> np.ndarray:
    """Each row's declared slice (a key of `slices`: name -> {input: condition},
    Domain.slices; a condition is a value or a predicate over the column), or "" for a row
    in none."""
    names = np.full(len(rows), "", dtype=object)
    for name, values in slices.items():
        inside = np.ones(len(rows), dtype=bool)
        for column, value in values.items():
            if callable(value):
                inside &= np.asarray(value(rows[column]), dtype=bool)
            else:
                inside &= (rows[column] == value).to_numpy()
        names[inside] = name
    return names


@dataclass(frozen=True)
class GuardResult:
    """Whether a challenger is non-inferior on the trusted rows, and the evidence."""

    passed: bool
    reason: str
    rows: int
    margin: float
    comparison: dict[str, dict[str, Any]] = field(default_factory=dict)


def trusted_guard(
    labels: np.ndarray,
    champion: np.ndarray,
    candidate: np.ndarray,
    champion_threshold: float,
    candidate_threshold: float,
    slices: np.ndarray,
    declared: Sequence[str],
    seed: int = 0,
    metric: DecisionMetric = ACCURACY,
) -> GuardResult:
    """Both models' probabilities for the trusted held-out rows neither trained on
    (`slices`: each one's slice name, see `slice_names`; `declared`: every slice's name).
    Passes when the candidate's accuracy and ROC-AUC are within `margin_for(n)` (one-sided
    95% lower bound of the paired difference) and its accuracy on every judged slice within
    SLICE_MARGIN."""
    labels = np.asarray(labels)
    n = len(labels)
    margin = margin_for(n)
    if n < MIN_ROWS or labels.min() == labels.max():
        return GuardResult(
            False, f"only {n} trusted rows neither model trained on ({MIN_ROWS} needed)",
            n, margin,
        )  # fmt: skip
    predicted = (champion >= champion_threshold, candidate >= candidate_threshold)
    judged = _judged(metric)
    scale = judged[metric.name][2]
    groups: dict[str, tuple[Any, np.ndarray, np.ndarray, np.ndarray, float]] = {
        metric.name: (metric.gain, labels, *predicted, margin * scale),
        "roc_auc": (statistics.roc_auc, labels, champion, candidate, margin),
    }
    comparison: dict[str, dict[str, Any]] = {}
    for name in declared:
        rows = np.asarray(slices) == name
        if rows.sum() < MIN_SLICE_ROWS:
            comparison[f"{metric.name}, {name}"] = {"rows": int(rows.sum()), "verdict": TOO_FEW}
            continue
        first, second = (p[rows] for p in predicted)
        groups[f"{metric.name}, {name}"] = (
            metric.gain,
            labels[rows],
            first,
            second,
            SLICE_MARGIN * scale,
        )
    worse = []
    for name, (metric, y, first, second, allowed) in groups.items():
        d = statistics.paired_bootstrap(y, first, second, metric, seed=seed, level=LEVEL)
        ok = d.low > -allowed
        comparison[name] = {
            "rows": len(y), "difference": d.as_dict(), "margin": allowed,
            "verdict": "non-inferior" if ok else "worse",
        }  # fmt: skip
        if not ok:
            worse.append(
                f"{_gained(name)} {d.estimate:+.3f} (95% lower bound {d.low:+.3f} <= -{allowed:g})"
            )
    if worse:
        reason = f"worse on the {n} trusted held-out rows: {'; '.join(worse)}"
    else:
        reason = (
            f"non-inferior on the {n} trusted held-out rows (margin {margin:.3f}) and "
            f"on every slice judged (margin {SLICE_MARGIN})"
        )
    return GuardResult(not worse, reason, n, margin, comparison)
