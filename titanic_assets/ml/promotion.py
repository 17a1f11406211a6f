"""When a newly trained model replaces the one being served: the promotion policy.

Champion (the serving model) and challenger (the candidate) are scored on the same
passengers, ones neither was trained on: the candidate's held-out split minus every
passenger the champion trained on. Their difference is estimated by a paired bootstrap over
passengers. Those passengers are of two kinds, kept apart, never pooled:

- Trusted: landed passengers (the shipped file, batches in the landing area), whose outcomes
  the pipeline's operators vouch for. The candidate must be non-inferior on them on each
  metric of PROMOTION_METRICS: the one-sided 95% lower bound of (candidate - champion) above
  minus `margin_for` their number. And on each slice declared in advance (SLICES, sex x
  class) that has at least its MIN_SLICE_ROWS trusted passengers, on accuracy within
  SLICE_MARGIN; a smaller slice is reported "too few to judge", not failed. Fewer than
  MIN_ROWS trusted passengers: kept as a candidate, since outcomes from clients alone never
  decide a promotion.
- Labelled traffic: passengers the service scored whose outcome a client sent back (the
  population it answers now, which a retrain on new evidence exists to serve, but labelled
  by whoever holds a token). With at least MIN_ROWS of them, the candidate must also be
  better there: the one-sided 95% lower bound of its accuracy gain above 0. ROC-AUC is not
  asked of the traffic alone: within a narrow shifted population (few of one outcome) its
  interval spans most of [0, 1].

A client that floods flipped outcomes makes a candidate look better on the traffic it
labelled; pooled with the landed passengers, that gain could hide a loss on them. Kept
apart, the loss on the trusted passengers keeps the candidate out (tests/test_promotion_guards.py).

How the margins were chosen (benchmarks/promotion.py `--only margin`, 200 seeds: two equally
good retrains, each on a random 90% of the shipped passengers' training split, scored on
the 157 trusted held-out ones; and a worse one, 12% of its training outcomes flipped, median
3.8 points less accurate):

- MARGIN 0.06 on 157 trusted passengers, narrowing as 1/sqrt(n) with more (`margin_for`),
  down to MIN_MARGIN 0.02 (from about 1,400). For equally good retrains the lower bound of
  the accuracy difference has its median at -0.025, 5th percentile -0.051, 1st -0.064
  (ROC-AUC: -0.014, -0.031, -0.038): one passenger is 0.6 points and two equal retrains
  disagree on about 4% of them. The whole guard (slices below) keeps out, at 0.06, 4% of
  equally good retrains and 84% of the worse ones; at 0.05, 11% and 93.5%; at 0.04, 19%
  and 96%. 0.06 because 157 passengers cannot tell a retrain 2-3 points worse
  from an equal one: the shifted-population retrain of tests/test_drift_loop.py, 2.5 points
  behind on them (lower bound -0.057) and far ahead on the traffic it serves, would be kept
  at 0.05. What was wrong with 0.06 was that it stayed 0.06 however many passengers were
  shared, so a candidate 5 points worse passed once the interval was narrow enough; labelled
  traffic no longer counts here, and the margin narrows with the trusted evidence as the
  interval does, so an equally good retrain is kept out about as often at any size, and a
  candidate 5 points worse more surely, not less, as passengers accumulate.
- SLICE_MARGIN 0.25 from 25 passengers: on the judged slices (female class 3: 28, male
  class 1: 30, male class 3: 57 trusted held-out passengers) an equal retrain's lower bound
  reaches -0.21, -0.17 and -0.05 at the 5th percentile, since one passenger is 2-4 points;
  at 0.15 the guard keeps out 28% of equally good retrains. The slice guard is for large
  losses on one slice (a targeted flood turns a slice's answers around), not for a few
  points. The smaller slices (female classes 1 and 2, male class 2) have 12-16 trusted
  held-out passengers: too few to judge until more landed passengers arrive.
- Fewer than MIN_ROWS shared unseen passengers is no evidence: the candidate is kept and
  the champion keeps serving.

The first model is promoted when nothing serves. Pure functions, no Dagster and no BentoML.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from titanic_assets.core.outcomes import is_feedback
from titanic_assets.ml import statistics

PROMOTION_METRICS: dict[str, Any] = {
    "accuracy": statistics.accuracy,
    "roc_auc": statistics.roc_auc,
}
MARGIN = 0.06  # measured on MARGIN_ROWS trusted passengers (see above)
MARGIN_ROWS = 157
MIN_MARGIN = 0.02
SLICE_MARGIN = 0.25
MIN_ROWS = 30
# The slices a candidate must not be worse on, declared before any comparison: sex x class,
# each judged on its trusted held-out passengers when it has at least its minimum of them.
SLICES: dict[str, tuple[str, int]] = {
    f"{sex}, class {pclass}": (sex, pclass) for sex in ("female", "male") for pclass in (1, 2, 3)
}
MIN_SLICE_ROWS: dict[str, int] = dict.fromkeys(SLICES, 25)
TOO_FEW = "too few to judge"
LEVEL = 0.90  # two-sided 90%: its lower end is the one-sided 95% lower bound

POLICY = (
    f"Promote when, on the trusted passengers (landed, not labelled traffic) neither model "
    f"was trained on, the candidate is non-inferior to the serving model on "
    f"{', '.join(PROMOTION_METRICS)}: the one-sided 95% lower bound of (candidate - serving), "
    f"by a paired bootstrap over passengers, is above -{MARGIN} (on {MARGIN_ROWS} of them; "
    f"narrowing as 1/sqrt(n) with more, to -{MIN_MARGIN}); and on accuracy above "
    f"-{SLICE_MARGIN} within each sex x class slice with at least "
    f"{min(MIN_SLICE_ROWS.values())} of them (smaller slices: {TOO_FEW}). When at least "
    f"{MIN_ROWS} unseen passengers are labelled traffic, the candidate must also be more "
    f"accurate on those: the one-sided 95% lower bound of its accuracy gain above 0. Fewer "
    f"than {MIN_ROWS} trusted passengers: kept as a candidate."
)


@dataclass(frozen=True)
class PromotionDecision:
    """Whether the candidate becomes the serving model, and the evidence, metric by metric."""

    promote: bool
    reason: str
    rows: int  # passengers both models were scored on
    comparison: dict[str, dict[str, Any]]
    # Each declared slice: its trusted rows, minimum, verdict (and difference when judged).
    slices: dict[str, dict[str, Any]] = field(default_factory=dict)


def evaluation_rows(candidate_held_out: pd.DataFrame, champion_training_ids: Any) -> pd.DataFrame:
    """The passengers to compare on: the candidate's held-out rows the champion did not
    train on."""
    seen = set(champion_training_ids)
    return candidate_held_out[~candidate_held_out["PassengerId"].isin(seen)].reset_index(drop=True)


def margin_for(trusted_rows: int) -> float:
    """The non-inferiority margin on this many trusted passengers: MARGIN at MARGIN_ROWS,
    narrowing as 1/sqrt(rows) as more are shared (the spread of an equally good retrain's
    lower bound does), never below MIN_MARGIN, never above MARGIN."""
    narrowed = MARGIN * np.sqrt(MARGIN_ROWS / max(trusted_rows, 1))
    return float(np.clip(narrowed, MIN_MARGIN, MARGIN))


def slice_names(rows: pd.DataFrame) -> np.ndarray:
    """Each row's declared slice (a key of SLICES), or "" for a row in none."""
    names = np.full(len(rows), "", dtype=object)
    for name, (sex, pclass) in SLICES.items():
        names[((rows["Sex"] == sex) & (rows["Pclass"] == pclass)).to_numpy()] = name
    return names


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


def _paired(
    labels: np.ndarray, first: np.ndarray, second: np.ndarray, metric: Any, seed: int
) -> dict[str, Any]:
    """Both models and their difference (a paired bootstrap) on the same rows."""
    return {
        "serving": statistics.bootstrap(labels, first, metric, seed=seed).as_dict(),
        "candidate": statistics.bootstrap(labels, second, metric, seed=seed).as_dict(),
        "difference": statistics.paired_bootstrap(
            labels, first, second, metric, seed=seed, level=LEVEL
        ).as_dict(),
        "rows": len(labels),
    }


def _kept(rows: int, why: str) -> PromotionDecision:
    return PromotionDecision(False, f"kept as a candidate: {why}", rows, {})


def decide_promotion(
    labels: np.ndarray,
    champion: np.ndarray,
    candidate: np.ndarray,
    champion_threshold: float,
    candidate_threshold: float,
    traffic: np.ndarray | None = None,
    slices: np.ndarray | None = None,
    margin: float | None = None,
    seed: int = 0,
) -> PromotionDecision:
    """Compare two models' probabilities for the same passengers (`labels` their outcomes;
    `traffic` marks the rows that are labelled traffic, every other row is trusted;
    `slices` names each row's slice of SLICES, see `slice_names`; `margin` by default
    `margin_for` the trusted rows)."""
    labels = np.asarray(labels)
    traffic = np.zeros(len(labels), bool) if traffic is None else np.asarray(traffic, bool)
    trusted = ~traffic
    outputs = {
        "accuracy": (champion >= champion_threshold, candidate >= candidate_threshold),
        "roc_auc": (champion, candidate),
    }
    if len(labels) < MIN_ROWS or labels.min() == labels.max():
        return _kept(
            len(labels),
            f"only {len(labels)} passengers neither model was trained on (at least "
            f"{MIN_ROWS}, with both outcomes, are needed to compare them)",
        )
    if trusted.sum() < MIN_ROWS or labels[trusted].min() == labels[trusted].max():
        return _kept(
            len(labels),
            f"only {int(trusted.sum())} trusted passengers (landed, not labelled traffic) "
            f"neither model was trained on (at least {MIN_ROWS}, with both outcomes, are "
            f"needed: outcomes from clients alone never decide a promotion)",
        )
    margin = margin_for(int(trusted.sum())) if margin is None else margin
    comparison: dict[str, dict[str, Any]] = {}
    worse = []
    for name, metric in PROMOTION_METRICS.items():
        first, second = (o[trusted] for o in outputs[name])
        compared = _paired(labels[trusted], first, second, metric, seed)
        low = compared["difference"]["low"]
        comparison[name] = {**compared, "margin": margin, "non_inferior": low > -margin}
        if low <= -margin:
            worse.append(
                f"{name} on the trusted passengers {compared['difference']['estimate']:+.3f} "
                f"(95% lower bound {low:+.3f} <= -{margin})"
            )
    if traffic.sum() >= MIN_ROWS:
        first, second = (o[traffic] for o in outputs["accuracy"])
        compared = _paired(labels[traffic], first, second, statistics.accuracy, seed)
        gain = compared["difference"]
        better = gain["low"] > 0
        comparison["accuracy on labelled traffic"] = {
            **compared, "margin": 0.0, "non_inferior": better
        }  # fmt: skip
        if not better:
            worse.append(
                f"on the {int(traffic.sum())} labelled traffic passengers not more accurate: "
                f"{gain['estimate']:+.3f} (95% lower bound {gain['low']:+.3f} <= 0)"
            )
    verdicts = _slices(labels, outputs["accuracy"], trusted, slices, seed, comparison, worse)
    too_few = [
        f"{n} ({v['rows']} < {v['minimum']})"
        for n, v in verdicts.items()
        if v["rows"] < v["minimum"]
    ]
    unjudged = f"; slices {TOO_FEW}: {', '.join(too_few)}" if too_few else ""
    if worse:
        reason = (
            f"kept as a candidate: on {len(labels)} passengers neither model trained on, "
            f"it may be worse than the serving model by more than the margin, or not better "
            f"on the traffic it would serve: {'; '.join(worse)}{unjudged}"
        )
    else:
        reason = (
            f"promoted: on {len(labels)} passengers neither model trained on, "
            + ", ".join(
                f"{n} {c['difference']['estimate']:+.3f} (95% lower bound "
                f"{c['difference']['low']:+.3f} > {0.0 - c['margin']:+.2f})"
                for n, c in comparison.items()
            )
            + unjudged
        )
    return PromotionDecision(not worse, reason, len(labels), comparison, verdicts)


def _slices(
    labels: np.ndarray,
    predicted: tuple[np.ndarray, np.ndarray],
    trusted: np.ndarray,
    slices: np.ndarray | None,
    seed: int,
    comparison: dict[str, dict[str, Any]],
    worse: list[str],
) -> dict[str, dict[str, Any]]:
    """Each declared slice's verdict on its trusted rows: non-inferior on accuracy within
    SLICE_MARGIN, worse, or too few to judge below its minimum. A judged slice's comparison
    joins `comparison`, a failed one `worse`."""
    verdicts: dict[str, dict[str, Any]] = {}
    if slices is None:
        return verdicts
    for name, minimum in MIN_SLICE_ROWS.items():
        rows = trusted & (np.asarray(slices) == name)
        verdict = {"rows": int(rows.sum()), "minimum": minimum, "verdict": TOO_FEW}
        if rows.sum() >= minimum:
            first, second = (p[rows] for p in predicted)
            compared = _paired(labels[rows], first, second, statistics.accuracy, seed)
            low = compared["difference"]["low"]
            ok = low > -SLICE_MARGIN
            comparison[f"accuracy on {name}"] = {
                **compared, "margin": SLICE_MARGIN, "non_inferior": ok
            }  # fmt: skip
            verdict["verdict"] = "non-inferior" if ok else "worse"
            verdict["difference"] = compared["difference"]
            if not ok:
                worse.append(
                    f"accuracy on the trusted {name} passengers "
                    f"{compared['difference']['estimate']:+.3f} "
                    f"(95% lower bound {low:+.3f} <= -{SLICE_MARGIN})"
                )
        verdicts[name] = verdict
    return verdicts
