"""The fitted survival models as the service scores them: a linear model or a boosted one
(the served one: LightGBM with women-and-children-group evidence), behind one interface,
so the service, /explain and monitoring do not care which won.

Each served model has
- `feature_names` and `design(columns, exclude=None)`: its input matrix from raw passenger
  columns, with the group evidence it carries (`exclude[i]`: the id of passenger i's own
  outcome in that evidence, left out, for scoring labelled passengers honestly);
- `raw_score(matrix)`: the log-odds of survival before calibration;
- `contributions(matrix)`: each feature's exact additive share of the raw score, the bias
  in the last column (coefficient x value for the linear model, LightGBM's SHAP values for
  the booster); a row sums to its raw score;
- `set_evidence(columns, outcomes, ids)`: replace the labelled passengers behind the group
  features without refitting (serving uses every labelled passenger).

Fitting is in ml/candidates.py; here only numpy (and LightGBM's own predict for a booster:
one row through its single-row C API, core/single_row.py, as /predict scores one passenger).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np

from titanic_assets.core.features import FEATURES, GroupEvidence, feature_matrix, group_keys
from titanic_assets.core.wcg import (
    BOOSTED_FEATURES,
    LINEAR_FEATURES,
    WomenChildrenEvidence,
    boosted_design,
    linear_design,
)


def sigmoid(score: Any) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(score, dtype=np.float64)))


class LinearSurvival:
    """Logistic regression on sex, class, title and women-and-children-group evidence."""

    family = "logistic_regression"
    feature_names = LINEAR_FEATURES

    def __init__(
        self, coefficients: Any, intercept: float, evidence: WomenChildrenEvidence
    ) -> None:
        self.coefficients = np.asarray(coefficients, dtype=np.float64)
        self.intercept = float(intercept)
        self.evidence = evidence

    def design(
        self, columns: Mapping[str, Sequence[Any]], exclude: Sequence[Hashable] | None = None
    ) -> np.ndarray:
        return linear_design(columns, self.evidence, exclude)

    def raw_score(self, matrix: np.ndarray) -> np.ndarray:
        return matrix @ self.coefficients + self.intercept

    def contributions(self, matrix: np.ndarray) -> np.ndarray:
        bias = np.full((len(matrix), 1), self.intercept)
        return np.hstack([matrix * self.coefficients, bias])

    def predict_proba(self, columns: Any, exclude: Sequence[Hashable] | None = None):
        return sigmoid(self.raw_score(self.design(columns, exclude)))

    def set_evidence(
        self, columns: Any, outcomes: Sequence[int], ids: Sequence[Hashable] | None = None
    ) -> LinearSurvival:
        self.evidence = WomenChildrenEvidence(columns, outcomes, ids)
        return self

    def describe(self) -> dict[str, float]:
        return {
            "intercept": self.intercept,
            **dict(zip(self.feature_names, self.coefficients.tolist(), strict=True)),
        }


class _Boosted:
    """What both LightGBM models do with their booster (`booster`, `design` are theirs):
    raw scores and exact contributions on one thread, probabilities through the sigmoid."""

    family = "lightgbm"

    def raw_score(self, matrix: np.ndarray) -> np.ndarray:
        if len(matrix) == 1:  # ~6 µs instead of predict's ~100 (core/single_row.py)
            return np.array([self._single_row().score(matrix[0])])
        return self.booster.predict(matrix, raw_score=True, num_threads=1)

    def _single_row(self) -> Any:
        scorer = self.__dict__.get("_scorer")
        if scorer is None:
            from titanic_assets.core.single_row import SingleRowScorer

            scorer = self.__dict__["_scorer"] = SingleRowScorer(self.booster)
        return scorer

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without the single-row scorer (a C handle; made again when needed)."""
        return {k: v for k, v in self.__dict__.items() if k != "_scorer"}

    def contributions(self, matrix: np.ndarray) -> np.ndarray:
        return self.booster.predict(matrix, pred_contrib=True, num_threads=1)

    def predict_proba(self, columns: Any, exclude: Sequence[Hashable] | None = None):
        return sigmoid(self.raw_score(self.design(columns, exclude)))


class BoostedSurvival(_Boosted):
    """The LightGBM pipeline (core/features.PassengerFeatures -> LGBMClassifier), with its
    all-member group evidence keyed by passenger id."""

    feature_names = FEATURES

    def __init__(self, pipeline: Any) -> None:
        self.pipeline = pipeline
        evidence = pipeline.named_steps["features"].evidence_
        self.positions: dict[Hashable, int] = {i: i for i in range(len(evidence.outcomes))}

    @property
    def booster(self) -> Any:
        return self.pipeline.named_steps["classifier"].booster_

    @property
    def evidence(self) -> GroupEvidence:
        return self.pipeline.named_steps["features"].evidence_

    def design(
        self, columns: Mapping[str, Sequence[Any]], exclude: Sequence[Hashable] | None = None
    ) -> np.ndarray:
        matrix = feature_matrix(columns, self.evidence)
        if exclude is not None:
            own = [self.positions.get(e) for e in exclude]
            known, survival = self.evidence.lookup(columns, exclude=own)
            matrix[:, FEATURES.index("group_known")] = known
            matrix[:, FEATURES.index("group_survival")] = survival
        return matrix

    def set_evidence(
        self, columns: Any, outcomes: Sequence[int], ids: Sequence[Hashable] | None = None
    ) -> BoostedSurvival:
        ids = list(range(len(outcomes))) if ids is None else list(ids)
        self.pipeline.named_steps["features"].evidence_ = GroupEvidence(
            group_keys(columns), list(outcomes)
        )
        self.positions = {who: i for i, who in enumerate(ids)}
        return self

    def describe(self) -> dict[str, Any]:
        return dict(self.pipeline.named_steps["classifier"].get_params())


class BoostedWCGSurvival(_Boosted):
    """LightGBM on the engineered features, the all-member group evidence and the
    women-and-children-group evidence (core/wcg.BOOSTED_FEATURES): the booster keeps what
    age, fare and port say, the WCG columns say whose family outcomes matter."""

    feature_names = BOOSTED_FEATURES

    def __init__(
        self,
        classifier: Any,
        evidence: WomenChildrenEvidence,
        everyone: WomenChildrenEvidence,
    ) -> None:
        self.classifier = classifier
        self.evidence = evidence
        self.everyone = everyone

    @property
    def booster(self) -> Any:
        return self.classifier.booster_

    def design(
        self, columns: Mapping[str, Sequence[Any]], exclude: Sequence[Hashable] | None = None
    ) -> np.ndarray:
        return boosted_design(columns, self.evidence, self.everyone, exclude)

    def set_evidence(
        self, columns: Any, outcomes: Sequence[int], ids: Sequence[Hashable] | None = None
    ) -> BoostedWCGSurvival:
        keys = group_keys(columns)
        self.evidence = WomenChildrenEvidence(columns, outcomes, ids, keys=keys)
        self.everyone = WomenChildrenEvidence(columns, outcomes, ids, everyone=True, keys=keys)
        return self

    def describe(self) -> dict[str, Any]:
        """Its hyperparameters, those that are set (model metadata takes no None)."""
        return {k: v for k, v in self.classifier.get_params().items() if v is not None}
