"""Fitting the served model: the domain's family (Domain.family: LightGBM by default, or an L2
logistic regression) on its design, and the calibration fitted on its out-of-fold
probabilities.

A fitter is `fit(X, y) -> model` on raw input columns (a DataFrame) whose model has
`predict_proba(X, exclude=None)` (uncalibrated) and `set_evidence(X, y, ids)`: what
ml/validation.run_folds refits fold by fold. A training row's design is fitted without its
own label (`exclude` = its position), so no row sees its own outcome.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from titanic_assets.core.domain import Domain
from titanic_assets.core.models import BoostedModel, LinearEncoding, LinearModel

SEED = 20260401
CALIBRATION = "platt"

# Small trees and strong regularisation: a domain with few rows (Titanic's ~700 training
# rows) must not overfit; a domain may override any of them (Domain.hyperparameters).
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

# A linear model's penalty: C, the inverse of the L2 strength on standardized numbers and
# one-hot categories. 0.1: what nested selection chose on German credit, and within 0.002
# ROC-AUC of the best of 0.003-3 on it and on Adult (benchmarks/candidates.py --model).
LOGISTIC_HYPERPARAMETERS: dict[str, Any] = {"C": 0.1}

Fit = Callable[[pd.DataFrame, Any], Any]


def lightgbm(domain: Domain, seed: int = SEED) -> Fit:
    """`fit(X, y)`: LightGBM on the domain's design, fitted on these rows (a row's own label
    left out of its design), with the domain's hyperparameters over HYPERPARAMETERS."""
    from lightgbm import LGBMClassifier

    def fit(X: pd.DataFrame, y: Any) -> BoostedModel:
        y = np.asarray(y, dtype=int)
        design = domain.design().fitted(X, y)
        matrix = design.matrix(X, exclude=list(range(len(y))))
        parameters = {**HYPERPARAMETERS, **domain.hyperparameters}
        classifier = LGBMClassifier(**parameters, random_state=seed, n_jobs=1, verbose=-1)
        categorical = [design.feature_names.index(name) for name in design.categorical]
        classifier.fit(matrix, y, categorical_feature=categorical or "auto")
        return BoostedModel(classifier, design)

    return fit


def logistic_regression(domain: Domain, seed: int = SEED) -> Fit:
    """`fit(X, y)`: an L2 logistic regression on the domain's design, its categories one-hot
    and its numbers standardized (core/models.LinearEncoding), with the domain's
    hyperparameters over LOGISTIC_HYPERPARAMETERS."""
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    def fit(X: pd.DataFrame, y: Any) -> LinearModel:
        y = np.asarray(y, dtype=int)
        design = domain.design().fitted(X, y)
        matrix = design.matrix(X, exclude=list(range(len(y))))
        categorical = [design.feature_names.index(name) for name in design.categorical]
        encoding = LinearEncoding.learned(matrix, categorical)
        encoded = encoding(matrix).astype(np.float64)
        parameters = {**LOGISTIC_HYPERPARAMETERS, **domain.hyperparameters}
        regression = LogisticRegression(**parameters, max_iter=5000, random_state=seed)
        with threadpool_limits(1):  # BLAS threads on a problem this small: 25x slower
            regression.fit(encoded, y)
        return LinearModel(
            design,
            encoding,
            regression.coef_[0],
            float(regression.intercept_[0]),
            training_matrix=matrix,
            hyperparameters={"penalty": "l2", **parameters},
        )

    return fit


FITTERS: dict[str, Callable[..., Fit]] = {
    "lightgbm": lightgbm,
    "logistic_regression": logistic_regression,
}


def fitter(domain: Domain, seed: int = SEED) -> Fit:
    """The fit function of the domain's family (Domain.family)."""
    if domain.family not in FITTERS:
        raise ValueError(
            f"domain {domain.name!r}: unknown model family {domain.family!r} "
            f"(known: {', '.join(FITTERS)})"
        )
    return FITTERS[domain.family](domain, seed)


def candidate(domain: Domain) -> str:
    """What is served, in words: the family and the calibration, e.g. "lightgbm+platt"."""
    return f"{domain.family}+{CALIBRATION}"


def fit_calibration(oof: np.ndarray, y: np.ndarray, method: str) -> Any:
    """A map from raw to calibrated probability, fitted on out-of-fold predictions:
    'isotonic' (breakpoints of scikit-learn's IsotonicRegression), 'platt', or 'none'."""
    from sklearn.isotonic import IsotonicRegression
    from sklearn.linear_model import LogisticRegression

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


def calibrator(method: str = CALIBRATION) -> Any:
    """`calibrate(raw, labels)` for run_folds (None for a model served uncalibrated)."""
    if method == "none":
        return None
    return lambda raw, labels: fit_calibration(raw, labels, method)
