"""Training and evaluating the survival model: pure functions, no Dagster.

The served artefact is a scikit-learn Pipeline (PassengerFeatures -> LGBMClassifier) that
takes raw passenger columns, plus the decision threshold tuned for it. Everything is seeded:
the same feature table gives the same model and the same metrics.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from lightgbm import LGBMClassifier
from scipy.stats import loguniform, randint, uniform
from sklearn import metrics
from sklearn.model_selection import (
    RandomizedSearchCV,
    StratifiedKFold,
    cross_val_predict,
    train_test_split,
)
from sklearn.pipeline import Pipeline

from titanic_assets.core.features import (
    CATEGORICAL_FEATURES,
    FEATURES,
    PassengerFeatures,
    feature_matrix,
)

SEED = 20260401
TEST_SIZE = 0.2
CV_FOLDS = 5
SEARCH_ITERATIONS = 40
LABEL = "Survived"

# Small trees and strong regularisation: there are only ~700 training rows.
SEARCH_SPACE: dict[str, Any] = {
    "n_estimators": randint(50, 400),
    "learning_rate": loguniform(0.01, 0.2),
    "num_leaves": randint(4, 24),
    "max_depth": randint(2, 6),
    "min_child_samples": randint(5, 40),
    "subsample": uniform(0.6, 0.4),
    "subsample_freq": [1],
    "colsample_bytree": uniform(0.5, 0.5),
    "reg_lambda": loguniform(1e-3, 10.0),
}
CATEGORICAL_INDICES = [FEATURES.index(name) for name in CATEGORICAL_FEATURES]


@dataclass
class SurvivalModel:
    """The fitted pipeline and everything needed to use and judge it."""

    pipeline: Pipeline
    threshold: float
    best_params: dict[str, Any]
    cv_roc_auc: float
    oof_accuracy: float
    data_version: str  # table_version of the feature table it was trained on
    train_ids: list[int] = field(repr=False)
    test_ids: list[int] = field(repr=False)

    @property
    def classifier(self) -> LGBMClassifier:
        return self.pipeline.named_steps["classifier"]

    def predict_proba(self, passengers: Any) -> np.ndarray:
        """Survival probability per passenger, from raw passenger columns."""
        return self.pipeline.predict_proba(passengers)[:, 1]


def build_feature_table(passengers: pd.DataFrame) -> pd.DataFrame:
    """The training table: PassengerId, Survived and the model's features."""
    features = pd.DataFrame(feature_matrix(passengers), columns=list(FEATURES))
    labels = passengers[["PassengerId", LABEL]].reset_index(drop=True)
    return pd.concat([labels, features], axis=1)


def table_version(table: pd.DataFrame) -> str:
    """A short hash of a table's content: the same rows give the same version."""
    return hashlib.sha256(table.to_csv(index=False).encode()).hexdigest()[:16]


def split_ids(feature_table: pd.DataFrame) -> tuple[list[int], list[int]]:
    """Stratified, seeded train/test split of the passengers, as PassengerIds."""
    train, test = train_test_split(
        feature_table["PassengerId"],
        test_size=TEST_SIZE,
        stratify=feature_table[LABEL],
        random_state=SEED,
    )
    return sorted(train.tolist()), sorted(test.tolist())


def _rows(feature_table: pd.DataFrame, ids: list[int]) -> tuple[np.ndarray, np.ndarray]:
    rows = feature_table.set_index("PassengerId").loc[ids]
    return rows[list(FEATURES)].to_numpy(np.float64), rows[LABEL].to_numpy()


def tune_threshold(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """The threshold that maximises accuracy; ties go to the one nearest 0.5."""
    candidates = np.round(np.arange(0.20, 0.801, 0.01), 2)
    accuracy = np.array([np.mean((probabilities >= t) == labels) for t in candidates])
    best = np.flatnonzero(accuracy == accuracy.max())
    return float(candidates[best[np.argmin(np.abs(candidates[best] - 0.5))]])


def train_survival_model(feature_table: pd.DataFrame, n_jobs: int = 1) -> SurvivalModel:
    """Search hyperparameters by cross-validation, tune the threshold out of fold, refit."""
    train_ids, test_ids = split_ids(feature_table)
    X, y = _rows(feature_table, train_ids)
    folds = StratifiedKFold(n_splits=CV_FOLDS, shuffle=True, random_state=SEED)
    fit_params = {"categorical_feature": CATEGORICAL_INDICES}

    # Balanced class weights: about 38% of passengers survived.
    base = LGBMClassifier(class_weight="balanced", random_state=SEED, n_jobs=1, verbose=-1)
    search = RandomizedSearchCV(
        base,
        SEARCH_SPACE,
        n_iter=SEARCH_ITERATIONS,
        scoring="roc_auc",
        cv=folds,
        random_state=SEED,
        n_jobs=n_jobs,
        refit=True,
    )
    search.fit(X, y, **fit_params)

    # Out-of-fold probabilities of the chosen configuration: the threshold is tuned on
    # predictions for rows the model did not see, never on the held-out test split.
    oof = cross_val_predict(
        search.best_estimator_, X, y, cv=folds, method="predict_proba", params=fit_params
    )[:, 1]
    threshold = tune_threshold(y, oof)

    pipeline = Pipeline([("features", PassengerFeatures()), ("classifier", search.best_estimator_)])
    return SurvivalModel(
        pipeline=pipeline,
        threshold=threshold,
        best_params={k: _plain(v) for k, v in search.best_params_.items()},
        cv_roc_auc=float(search.best_score_),
        oof_accuracy=float(np.mean((oof >= threshold) == y)),
        data_version=table_version(feature_table),
        train_ids=train_ids,
        test_ids=test_ids,
    )


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


@dataclass
class Evaluation:
    """Held-out performance of a model at its decision threshold."""

    metrics: dict[str, float]
    confusion: list[list[int]]  # [[TN, FP], [FN, TP]]
    labels: np.ndarray = field(repr=False)
    probabilities: np.ndarray = field(repr=False)
    feature_importance: dict[str, float] = field(repr=False)


def evaluate(model: SurvivalModel, feature_table: pd.DataFrame) -> Evaluation:
    """Score the model's held-out test split."""
    X, y = _rows(feature_table, model.test_ids)
    probabilities = model.classifier.predict_proba(X)[:, 1]
    predicted = probabilities >= model.threshold
    booster = model.classifier.booster_
    gains = booster.feature_importance(importance_type="gain")
    return Evaluation(
        metrics={
            "accuracy": metrics.accuracy_score(y, predicted),
            "precision": metrics.precision_score(y, predicted, zero_division=0),
            "recall": metrics.recall_score(y, predicted),
            "f1": metrics.f1_score(y, predicted),
            "roc_auc": metrics.roc_auc_score(y, probabilities),
            "pr_auc": metrics.average_precision_score(y, probabilities),
            "brier": metrics.brier_score_loss(y, probabilities),
        },
        confusion=metrics.confusion_matrix(y, predicted, labels=[0, 1]).tolist(),
        labels=y,
        probabilities=probabilities,
        feature_importance={
            name: float(g) for name, g in zip(FEATURES, gains / gains.sum(), strict=True)
        },
    )
