"""The candidate models compared in the README's table, each fitted the same way.

A candidate is a function `fit(X, y) -> model` on raw passenger columns (a DataFrame) whose
model has `predict_proba(X, exclude=None)` (uncalibrated) and `set_evidence(X, y, ids)`;
the served ones are core/models.py's, which also explain themselves. Group features of a
training row are leave-one-out over the training rows; of any other row, from the evidence
rows only, so validation rows only ever see training outcomes.

- `sex_only`: women live, men die (the baseline every model must beat).
- `wcg_rule`: the women-and-children-group rule: men die, women live, except a woman whose
  group's other women and boys with known outcomes all died, and a boy whose all lived.
- `linear_wcg`: L2 logistic regression (C=1) on core/wcg.LINEAR_FEATURES (served before
  this one; it has no age or port, so it could not learn a fed-back population that differs
  in those: its retrain on one failed the quality gate).
- `linear_no_group`: the same without group evidence (what group evidence adds).
- `lightgbm`: the model served first, LightGBM on core/features.FEATURES.
- `lightgbm_wcg` (served, with Platt): LightGBM on core/wcg.BOOSTED_FEATURES, the same
  features plus the women-and-children-group evidence.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from lightgbm import LGBMClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from titanic_assets.core.features import (
    CATEGORICAL_FEATURES,
    FEATURES,
    PassengerFeatures,
    group_keys,
)
from titanic_assets.core.models import BoostedSurvival, BoostedWCGSurvival, LinearSurvival
from titanic_assets.core.wcg import (
    WomenChildrenEvidence,
    _female,
    boosted_design,
    is_boy,
    linear_design,
)

SEED = 20260401
LINEAR_C = 1.0
GROUP_COLUMNS = slice(8, None)  # LINEAR_FEATURES' evidence columns

# Small trees and strong regularisation: there are only ~700 training rows.
HYPERPARAMETERS: dict[str, Any] = {
    "n_estimators": 200,
    "learning_rate": 0.05,
    "num_leaves": 8,
    "max_depth": 3,
    "min_child_samples": 10,
    "subsample": 0.8,
    "subsample_freq": 1,
    "colsample_bytree": 0.8,
    "reg_lambda": 1.0,
}
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
    group evidence (core/features.GroupEvidence)."""
    classifier = LGBMClassifier(**HYPERPARAMETERS, random_state=seed, n_jobs=1, verbose=-1)
    pipeline = Pipeline([("features", PassengerFeatures()), ("classifier", classifier)])
    pipeline.fit(X, np.asarray(y), classifier__categorical_feature=CATEGORICAL_INDICES)
    return BoostedSurvival(pipeline)


def lightgbm_wcg(X: pd.DataFrame, y: Any, seed: int = SEED) -> BoostedWCGSurvival:
    """LightGBM on the engineered features plus the women-and-children-group evidence
    (core/wcg.BOOSTED_FEATURES); a training row's evidence leaves its own outcome out."""
    y = np.asarray(y, dtype=int)
    keys = group_keys(X)
    evidence = WomenChildrenEvidence(X, y, keys=keys)
    everyone = WomenChildrenEvidence(X, y, everyone=True, keys=keys)
    matrix = boosted_design(X, evidence, everyone, exclude=_positions(len(y)))
    classifier = LGBMClassifier(**HYPERPARAMETERS, random_state=seed, n_jobs=1, verbose=-1)
    classifier.fit(matrix, y, categorical_feature=CATEGORICAL_INDICES)
    return BoostedWCGSurvival(classifier, evidence, everyone)


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


def fit_calibration(oof: np.ndarray, y: np.ndarray, method: str) -> Any:
    """A map from raw to calibrated probability, fitted on out-of-fold predictions:
    'isotonic' (breakpoints of scikit-learn's IsotonicRegression), 'platt', or 'none'."""
    from sklearn.isotonic import IsotonicRegression

    from titanic_assets.core.calibration import Calibration, IsotonicCalibration, log_odds

    if method == "none":
        return Calibration()
    if method == "platt":
        platt = LogisticRegression(C=1e6).fit(log_odds(oof)[:, None], y)
        return Calibration(slope=float(platt.coef_[0, 0]), intercept=float(platt.intercept_[0]))
    iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(oof, y)
    return IsotonicCalibration(
        tuple(float(v) for v in iso.X_thresholds_), tuple(float(v) for v in iso.y_thresholds_)
    )
