"""How a domain's decisions are judged: by accuracy, or, when the domain declares what each
wrong decision costs (Domain.costs), by the expected cost per row.

The engine judges a model through one `DecisionMetric`, whichever the domain names: each
row's score (right or wrong; what its decision cost), their mean, and the same as a *gain*
(higher is better: accuracy, or minus the cost) where models are compared. A costed domain's
threshold is the one that minimizes expected cost on out-of-fold probabilities; its trivial
rule is the cheaper of deciding every row one way (on German credit, rejecting everyone
costs 0.70 an applicant, accepting everyone 1.50), not the majority class.

Pure numpy, no Dagster.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from titanic_assets.core.domain import Costs, Domain


@dataclass(frozen=True)
class DecisionMetric:
    """Accuracy (`costs` None) or expected cost per row."""

    costs: Costs | None = None

    @property
    def name(self) -> str:
        return "accuracy" if self.costs is None else "expected_cost"

    @property
    def cheaper_share(self) -> float:
        """The cheaper wrong decision's cost over the dearer's (0 for accuracy): the smaller
        size of a disagreement the shadow decision weighs (ml/sequential.py)."""
        if self.costs is None:
            return 0.0
        costs = (self.costs.false_positive, self.costs.false_negative)
        return min(costs) / max(costs)

    def per_row(self, labels: np.ndarray, decisions: np.ndarray) -> np.ndarray:
        """1 for a right decision and 0 for a wrong one (accuracy); what each decision
        cost (expected cost)."""
        labels, decisions = np.asarray(labels, dtype=int), np.asarray(decisions, dtype=int)
        if self.costs is None:
            return (labels == decisions).astype(np.float64)
        return np.where(
            decisions > labels,
            self.costs.false_positive,
            np.where(decisions < labels, self.costs.false_negative, 0.0),
        )

    def __call__(self, labels: np.ndarray, decisions: np.ndarray) -> float:
        return float(np.mean(self.per_row(labels, decisions)))

    def gain(self, labels: np.ndarray, decisions: np.ndarray) -> float:
        """The metric as higher-is-better: accuracy, or minus the expected cost."""
        value = self(labels, decisions)
        return value if self.costs is None else -value

    def constant_decision(self, labels: np.ndarray) -> int:
        """The trivial rule's one decision for every row: the majority class (accuracy),
        or the cheaper of all-positive and all-negative on these labels."""
        share = float(np.mean(labels))
        if self.costs is None:
            return int(share >= 0.5)
        all_positive = (1 - share) * self.costs.false_positive
        all_negative = share * self.costs.false_negative
        return int(all_positive < all_negative)

    def best_threshold(self, labels: np.ndarray, probabilities: np.ndarray) -> float:
        """The threshold (decide positive when p >= it) with the least expected cost on these
        (out-of-fold) probabilities: half-way between the distinct probabilities around the
        cut, so that a row scored near the cut is not decided by which side of one value it
        fell."""
        if self.costs is None:
            raise ValueError("accuracy keeps the domain's threshold")
        labels, p = np.asarray(labels, dtype=int), np.asarray(probabilities, dtype=np.float64)
        values = np.unique(-p)  # the distinct probabilities, highest first
        order = np.argsort(-p, kind="stable")
        positives = np.cumsum(labels[order])  # positives among the k highest-scored rows
        taken = np.searchsorted(-p[order], values, side="right")  # rows with p >= each value
        true_positive = positives[taken - 1]
        false_positive = taken - true_positive
        cost = self.costs.false_positive * false_positive + self.costs.false_negative * (
            labels.sum() - true_positive
        )
        none_positive = self.costs.false_negative * labels.sum()  # every row decided negative
        best = int(np.argmin(cost))
        if cost[best] >= none_positive:
            return float(np.nextafter(p.max(), np.inf))  # deciding nobody positive is cheapest
        cut = -values[best]
        below = -values[best + 1] if best + 1 < len(values) else 0.0
        return float((cut + below) / 2)


def for_domain(domain: Domain) -> DecisionMetric:
    return DecisionMetric(domain.costs)
