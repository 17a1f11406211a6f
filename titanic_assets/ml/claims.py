"""The interval a model claims on traffic, from the validation schemes (ml/validation.py).

Traffic lies somewhere between the training population (random folds) and a population
the model has not seen (the shift schemes); the data cannot say where, so the claim spans
both (Claim). `batch_interval` turns the claim into where a batch of unseen rows should
measure. Pure functions, no Dagster.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from titanic_assets.ml.statistics import Interval, intervals_present
from titanic_assets.ml.validation import SHIFT_SCHEMES, SchemeResult

# A re-weighted scheme worth fewer unweighted rows than this is not claimed: traffic
# concentrated on a few kinds of row leaves weights on a handful of labelled rows,
# and their weighted accuracy and ROC-AUC (one class may carry almost no weight) say how
# alike those rows are, not how the model does.
MIN_EFFECTIVE_ROWS = 100


@dataclass(frozen=True)
class Claim:
    """What the model states about its accuracy on traffic, and why.

    `accuracy`: headline = the worst plausible-shift scheme's estimate; interval from the
    lowest lower bound of those schemes to random cross-validation's upper bound. Traffic
    lies somewhere between "the same population, families partly known" (random folds)
    and "new families, or a port not seen" (shift schemes); the data cannot say where, so
    the claim spans both. `roc_auc` and `lift_over_baseline` likewise (worst scheme).
    `set_aside`: shift schemes not claimed and why (a traffic-weighted scheme whose
    effective rows are fewer than MIN_EFFECTIVE_ROWS): the claim then falls back to the
    unweighted shift schemes, and says it does not speak for that traffic's mix."""

    accuracy: Interval
    roc_auc: Interval
    lift_over_baseline: Interval
    headline_scheme: str
    schemes: tuple[str, ...]
    set_aside: dict[str, str] = field(default_factory=dict)
    # Per row, for a domain with costs: its worst scheme's (the highest) estimate, from the
    # lowest lower bound to the highest upper bound of the shift schemes and random folds.
    expected_cost: Interval | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            **intervals_present(expected_cost=self.expected_cost),
            "accuracy": self.accuracy.as_dict(),
            "roc_auc": self.roc_auc.as_dict(),
            "lift_over_baseline": self.lift_over_baseline.as_dict(),
            "headline_scheme": self.headline_scheme,
            "schemes": list(self.schemes),
            "set_aside": dict(self.set_aside),
            "rule": "headline: the worst shift scheme's estimate; interval: the lowest "
            "lower bound of the shift schemes to random cross-validation's upper bound; a "
            f"traffic-weighted scheme only with at least {MIN_EFFECTIVE_ROWS} effective rows",
        }


def _claimable(name: str, result: SchemeResult) -> str | None:
    """Why a shift scheme cannot be claimed, or None when it can."""
    if result.effective_rows < MIN_EFFECTIVE_ROWS:
        return (
            f"{result.effective_rows:.0f} effective rows < {MIN_EFFECTIVE_ROWS}: the traffic "
            "is concentrated on rows few labelled rows resemble; not claimed for it"
        )
    figures = (result.accuracy, result.roc_auc, result.lift_over_baseline)
    if any(np.isnan([v.estimate, v.low, v.high]).any() for v in figures):
        return "undefined on these rows (one outcome carries no weight)"
    return None


def claim(
    results: dict[str, SchemeResult],
    claimed: Sequence[str] = (),
    random_scheme: str = "random 5x5",
) -> Claim:
    """The claim from the shift schemes (SHIFT_SCHEMES and the domain's `claimed` ones)."""
    schemes = (*SHIFT_SCHEMES, *claimed)
    set_aside = {
        name: reason
        for name in schemes
        if name in results and (reason := _claimable(name, results[name])) is not None
    }
    shift = [name for name in schemes if name in results and name not in set_aside]
    worst = min(shift, key=lambda name: results[name].accuracy.estimate)
    random = results[random_scheme]

    def span(metric: str) -> Interval:
        values = [getattr(results[name], metric) for name in shift]
        return Interval(
            min(v.estimate for v in values),
            min(v.low for v in values),
            max(getattr(random, metric).high, max(v.high for v in values)),
        )

    expected_cost = None
    if random.expected_cost is not None:
        costs = [results[name].expected_cost for name in shift]
        expected_cost = Interval(
            max(c.estimate for c in costs),
            min(random.expected_cost.low, min(c.low for c in costs)),
            max(c.high for c in costs),
        )
    return Claim(
        accuracy=span("accuracy"),
        roc_auc=span("roc_auc"),
        lift_over_baseline=span("lift_over_baseline"),
        headline_scheme=worst,
        schemes=tuple(shift),
        set_aside=set_aside,
        expected_cost=expected_cost,
    )


def batch_interval(claimed: Interval, n: int) -> Interval:
    """Where a batch of n rows' measured accuracy should fall under the claim: on
    each side, the claim's own reach and the batch's binomial noise (1.96 standard errors)
    added in quadrature."""
    p = claimed.estimate
    noise = 1.96**2 * p * (1 - p) / max(n, 1)
    low = p - float(np.sqrt((p - claimed.low) ** 2 + noise))
    high = p + float(np.sqrt((claimed.high - p) ** 2 + noise))
    return Interval(p, max(0.0, low), min(1.0, high))
