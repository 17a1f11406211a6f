"""The Titanic candidate models compared in benchmarks/candidates.py, each fitted the same way.

A candidate is a function `fit(X, y) -> model` on raw passenger columns (a DataFrame) whose
model has `predict_proba(X, exclude=None)` (uncalibrated) and `set_evidence(X, y, ids)`
(ml/fitting.py); the served one is the engine's LightGBM on this domain's design
(wcg.WomenChildrenDesign), which also explains itself. Group features of a
training row are leave-one-out over the training rows; of any other row, from the evidence
rows only, so validation rows only ever see training outcomes.

- `sex_only`: women live, men die (the baseline every model must beat).
- `wcg_rule`: the women-and-children-group rule: men die, women live, except a woman whose
  group's other women and boys with known outcomes all died, and a boy whose all lived.
- `linear_wcg`: L2 logistic regression (C=1) on wcg.LINEAR_FEATURES (served before
  this one; it has no age or port, so it could not learn a fed-back population that differs
  in those: its retrain on one failed the quality gate).
- `linear_no_group`: the same without group evidence (what group evidence adds).
- `lightgbm`: the model served first, LightGBM on features.FEATURES.
- `lightgbm_wcg` (served, with Platt): LightGBM on wcg.BOOSTED_FEATURES, the same
  features plus the women-and-children-group evidence.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from lightgbm import LGBMClassifier
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from titanic_assets.core.models import BoostedModel, sigmoid
from titanic_assets.domains.titanic.features import (
    CATEGORICAL_FEATURES,
    FEATURES,
    GroupEvidence,
    feature_matrix,
    group_keys,
)
from titanic_assets.domains.titanic.wcg import (
    LINEAR_FEATURES,
    WomenChildrenEvidence,
    _female,
    is_boy,
    linear_design,
)
from titanic_assets.ml.fitting import HYPERPARAMETERS, SEED

LINEAR_C = 1.0
GROUP_COLUMNS = slice(8, None)  # LINEAR_FEATURES' evidence columns


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

    def matrix(
        self, columns: Mapping[str, Sequence[Any]], exclude: Sequence[Hashable] | None = None
    ) -> np.ndarray:
        return linear_design(columns, self.evidence, exclude)

    def raw_score(self, matrix: np.ndarray) -> np.ndarray:
        return matrix @ self.coefficients + self.intercept

    def contributions(self, matrix: np.ndarray) -> np.ndarray:
        bias = np.full((len(matrix), 1), self.intercept)
        return np.hstack([matrix * self.coefficients, bias])

    def predict_proba(self, columns: Any, exclude: Sequence[Hashable] | None = None):
        return sigmoid(self.raw_score(self.matrix(columns, exclude)))

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


class BoostedSurvival(BoostedModel):
    """The LightGBM pipeline (PassengerFeatures -> LGBMClassifier), with its all-member group
    evidence keyed by passenger id: the engine's model (scores, contributions, the
    single-row path) on a scikit-learn pipeline's own feature step."""

    feature_names = FEATURES

    def __init__(self, pipeline: Any) -> None:
        self.pipeline = pipeline
        evidence = pipeline.named_steps["features"].evidence_
        self.positions: dict[Hashable, int] = {i: i for i in range(len(evidence.outcomes))}

    @property
    def classifier(self) -> Any:
        return self.pipeline.named_steps["classifier"]

    @property
    def evidence(self) -> GroupEvidence:
        return self.pipeline.named_steps["features"].evidence_

    def matrix(
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
        return dict(self.classifier.get_params())


class PassengerFeatures(TransformerMixin, BaseEstimator):
    """`feature_matrix` as the first step of the model's scikit-learn pipeline.

    Fitting stores the group evidence of the labelled rows it is fitted on; the rows it is
    fitted on get their group features without their own outcome (`fit_transform`), every
    other passenger from all of them (`transform`). Inside cross-validation each fold fits
    its own evidence, so validation rows only see outcomes of training rows. A pickled model
    carries its feature logic and its evidence with it.
    """

    def fit(self, X: Mapping[str, Sequence[Any]], y: Any = None) -> PassengerFeatures:
        if y is None:
            self.evidence_ = GroupEvidence()
        else:
            self.evidence_ = GroupEvidence(group_keys(X), np.asarray(y).tolist())
        return self

    def fit_transform(self, X: Mapping[str, Sequence[Any]], y: Any = None, **_: Any) -> np.ndarray:
        self.fit(X, y)
        matrix = feature_matrix(X)
        if y is not None:
            rows = range(len(matrix))
            known, survival = self.evidence_.lookup(X, exclude=list(rows))
            matrix[:, FEATURES.index("group_known")] = known
            matrix[:, FEATURES.index("group_survival")] = survival
        return matrix

    def transform(self, X: Mapping[str, Sequence[Any]]) -> np.ndarray:
        return feature_matrix(X, getattr(self, "evidence_", None))

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.asarray(FEATURES, dtype=object)


CATEGORICAL_INDICES = [FEATURES.index(name) for name in CATEGORICAL_FEATURES]


def _positions(n: int) -> list[int]:
    return list(range(n))


def linear_wcg(X: pd.DataFrame, y: Any, C: float = LINEAR_C, group: bool = True):
    """L2 logistic regression on sex, class, title and (`group`) WCG evidence. liblinear:
    ~2 ms a fit and no BLAS threads (threaded OpenBLAS made each lbfgs fit of this size ~10-40x
    slower on 2 cores, and limiting its threads costs more than the fit). Its intercept is
    penalised too; a scaling of 10 makes that penalty 1/100th of a coefficient's."""
    y = np.asarray(y, dtype=int)
    evidence = WomenChildrenEvidence(X, y) if group else WomenChildrenEvidence()
    matrix = linear_design(X, evidence, exclude=_positions(len(y)))
    fitted = LogisticRegression(
        C=C, solver="liblinear", intercept_scaling=10.0, random_state=SEED
    ).fit(matrix, y)
    coefficients = fitted.coef_[0].copy()
    model = LinearSurvival(coefficients, float(fitted.intercept_[0]), evidence)
    return model if group else _NoGroup(model)


class _NoGroup:
    """A linear model that ignores group evidence (its coefficients there are 0)."""

    def __init__(self, model: LinearSurvival) -> None:
        self.model = model

    def predict_proba(self, X: Any, exclude: Sequence[Hashable] | None = None) -> np.ndarray:
        return self.model.predict_proba(X, exclude)

    def set_evidence(self, X: Any, y: Any, ids: Any = None) -> _NoGroup:
        return self


def linear_no_group(X: pd.DataFrame, y: Any) -> Any:
    return linear_wcg(X, y, group=False)


def lightgbm(X: pd.DataFrame, y: Any, seed: int = SEED) -> BoostedSurvival:
    """The previous served model: LightGBM on the engineered features with all-member
    group evidence (features.GroupEvidence)."""
    classifier = LGBMClassifier(**HYPERPARAMETERS, random_state=seed, n_jobs=1, verbose=-1)
    pipeline = Pipeline([("features", PassengerFeatures()), ("classifier", classifier)])
    pipeline.fit(X, np.asarray(y), classifier__categorical_feature=CATEGORICAL_INDICES)
    return BoostedSurvival(pipeline)


def lightgbm_wcg(X: pd.DataFrame, y: Any, seed: int = SEED) -> BoostedModel:
    """LightGBM on the engineered features plus the women-and-children-group evidence
    (wcg.BOOSTED_FEATURES): the engine's fitter (ml/fitting.py) on this domain's design."""
    from titanic_assets.domains.titanic import DOMAIN
    from titanic_assets.ml.fitting import lightgbm as engine_lightgbm

    return engine_lightgbm(DOMAIN, seed)(X, y)


class SexOnly:
    """Women live, men die; the probability is the training survival rate of the sex."""

    def __init__(self, X: pd.DataFrame, y: Any) -> None:
        female, y = _female(X), np.asarray(y)
        self.rates = (float(y[~female].mean()), float(y[female].mean()))

    def predict_proba(self, X: Any, exclude: Any = None) -> np.ndarray:
        return np.where(_female(X), self.rates[1], self.rates[0])

    def decide(self, X: Any, exclude: Any = None) -> np.ndarray:
        return _female(X).astype(int)

    def set_evidence(self, X: Any, y: Any, ids: Any = None) -> SexOnly:
        return self


class WCGRule:
    """The rule's decisions; its probability is the training rate of the rule's cell (man,
    boy who lives, other boy, woman who dies, other woman), shrunk to the overall rate."""

    def __init__(self, X: pd.DataFrame, y: Any) -> None:
        y = np.asarray(y, dtype=int)
        self.evidence = WomenChildrenEvidence(X, y)
        cell = self._cells(X, _positions(len(y)))
        prior = y.mean()
        self.rates = np.array(
            [(y[cell == c].sum() + 2 * prior) / ((cell == c).sum() + 2) for c in range(5)]
        )

    def _cells(self, X: Any, exclude: Any) -> np.ndarray:
        female, boy = _female(X), is_boy(X)
        known, share = self.evidence.lookup(X, exclude)
        cell = np.zeros(len(female), dtype=int)  # a man
        cell[boy] = 2
        cell[boy & (known > 0) & (share == 1)] = 1
        cell[female] = 4
        cell[female & (known > 0) & (share == 0)] = 3
        return cell

    def predict_proba(self, X: Any, exclude: Any = None) -> np.ndarray:
        return self.rates[self._cells(X, exclude)]

    def decide(self, X: Any, exclude: Any = None) -> np.ndarray:
        return np.isin(self._cells(X, exclude), (1, 4)).astype(int)

    def set_evidence(self, X: Any, y: Any, ids: Any = None) -> WCGRule:
        self.evidence = WomenChildrenEvidence(X, y, ids)
        return self


Fit = Callable[[pd.DataFrame, Any], Any]
CANDIDATES: dict[str, tuple[Fit, str]] = {
    # name: (fit, calibration: "isotonic" fitted out-of-fold, or "none")
    "sex_only": (SexOnly, "none"),
    "wcg_rule": (WCGRule, "none"),
    "linear_no_group": (linear_no_group, "isotonic"),
    "lightgbm+platt (previous)": (lightgbm, "platt"),
    "lightgbm+isotonic": (lightgbm, "isotonic"),
    "linear_wcg+isotonic": (linear_wcg, "isotonic"),
    "lightgbm_wcg+platt": (lightgbm_wcg, "platt"),
    "lightgbm_wcg+isotonic": (lightgbm_wcg, "isotonic"),
}
SERVED = "lightgbm_wcg+platt"
