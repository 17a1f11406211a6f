"""The fitted model as the service scores it, over a domain's design and calibrated elsewhere
(core/calibration.py), behind the interface the service, /explain and monitoring use. Two
families: `BoostedModel` (LightGBM, the default) and `LinearModel` (L2 logistic regression,
for a domain where a smooth additive model generalizes better, Domain.family).

- `feature_names` and `matrix(columns, exclude=None)`: its input matrix from raw input
  columns, through the domain's fitted design (core/domain.Design), with whatever that design
  learned from labelled rows (`exclude[i]`: the id of row i's own label there, left out, for
  scoring labelled rows honestly);
- `raw_score(matrix)`: the log-odds of the positive class before calibration;
- `contributions(matrix)`: each feature's exact additive share of the raw score (LightGBM's
  SHAP values; a linear model's coefficients times the distance from the average training
  row), the bias in the last column; a row sums to its raw score;
- `set_evidence(columns, labels, ids)`: refit the design on other labelled rows without
  refitting the booster (serving uses every labelled row).

Fitting is in ml/fitting.py; here only numpy and the booster (one row through LightGBM's
single-row C API, core/single_row.py, as /predict scores one row; a linear model's row is a
numpy dot product).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from titanic_assets.core.domain import Design


def sigmoid(score: Any) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(score, dtype=np.float64)))


class BoostedModel:
    """A LightGBM classifier on a domain's design."""

    family = "lightgbm"

    def __init__(self, classifier: Any, design: Design) -> None:
        self.classifier = classifier
        self.design = design

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(self.design.feature_names)

    @property
    def booster(self) -> Any:
        return self.classifier.booster_

    def matrix(
        self, columns: Mapping[str, Sequence[Any]], exclude: Sequence[Hashable] | None = None
    ) -> np.ndarray:
        return self.design.matrix(columns, exclude)

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
        return sigmoid(self.raw_score(self.matrix(columns, exclude)))

    def set_evidence(
        self, columns: Any, labels: Sequence[int], ids: Sequence[Hashable] | None = None
    ) -> BoostedModel:
        self.design = self.design.fitted(columns, labels, ids)
        return self

    def describe(self) -> dict[str, Any]:
        """Its hyperparameters, those that are set (model metadata takes no None)."""
        return {k: v for k, v in self.classifier.get_params().items() if v is not None}


@dataclass(frozen=True)
class LinearEncoding:
    """A design matrix as a linear model reads it, learned on the training rows.

    A number: its gaps filled with its training median, then standardized (so one penalty
    fits every scale), plus a missing flag where training had gaps. A category (its design
    code): one column per code seen in training, so an unseen or missing one is all zeros
    and scores as no known category. `owners[k]`: the design column encoded column k came
    from, to add a feature's one-hot columns back up into one contribution.
    """

    numeric: np.ndarray  # design columns read as numbers
    medians: np.ndarray
    means: np.ndarray
    scales: np.ndarray
    flagged: np.ndarray  # design columns with a missing flag
    level_columns: np.ndarray  # one per one-hot column: the design column it reads
    levels: np.ndarray  # and the code it is 1 for
    owners: np.ndarray

    @classmethod
    def learned(cls, matrix: np.ndarray, categorical: Sequence[int]) -> LinearEncoding:
        categorical = sorted(categorical)
        numeric = np.array([j for j in range(matrix.shape[1]) if j not in categorical], dtype=int)
        values = matrix[:, numeric]
        gaps = np.isnan(values)
        medians = np.array(
            [np.median(v[~g]) if (~g).any() else 0.0 for v, g in zip(values.T, gaps.T, strict=True)]
        )
        filled = np.where(gaps, medians, values)
        scales = filled.std(axis=0)
        flagged = np.array([j for j in range(matrix.shape[1]) if np.isnan(matrix[:, j]).any()])
        seen = [(j, code) for j in categorical for code in np.unique(matrix[:, j])]
        seen = [(j, code) for j, code in seen if not np.isnan(code)]
        level_columns = np.array([j for j, _ in seen], dtype=int)
        return cls(
            numeric=numeric,
            medians=medians,
            means=filled.mean(axis=0),
            scales=np.where(scales > 0, scales, 1.0),
            flagged=flagged.astype(int),
            level_columns=level_columns,
            levels=np.array([code for _, code in seen], dtype=np.float64),
            owners=np.concatenate([numeric, flagged, level_columns]).astype(int),
        )

    def __call__(self, matrix: np.ndarray) -> np.ndarray:
        values = matrix[:, self.numeric]
        gaps = np.isnan(values)
        standardized = (np.where(gaps, self.medians, values) - self.means) / self.scales
        missing = np.isnan(matrix[:, self.flagged])
        one_hot = matrix[:, self.level_columns] == self.levels  # NaN equals no code
        return np.hstack([standardized, missing, one_hot])


class LinearModel:
    """An L2 logistic regression on a domain's design (its LinearEncoding), scored on numpy:
    the coefficients travel, scikit-learn stays in fitting."""

    family = "logistic_regression"

    def __init__(
        self,
        design: Design,
        encoding: LinearEncoding,
        coefficients: Any,
        intercept: float,
        centre: Any,
        hyperparameters: Mapping[str, Any],
    ) -> None:
        self.design = design
        self.encoding = encoding
        self.coefficients = np.asarray(coefficients, dtype=np.float64)
        self.intercept = float(intercept)
        # The average encoded training row: contributions are measured from it.
        self.centre = np.asarray(centre, dtype=np.float64)
        self.hyperparameters = dict(hyperparameters)
        # The standardization folded into the weights: a score is three dot products on the
        # design matrix (~3x faster for one row than encoding it first).
        numbers, flags = len(encoding.numeric), len(encoding.flagged)
        self._number_weights = self.coefficients[:numbers] / encoding.scales
        self._flag_weights = self.coefficients[numbers : numbers + flags]
        self._level_weights = self.coefficients[numbers + flags :]
        self._offset = self.intercept - self._number_weights @ encoding.means

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(self.design.feature_names)

    def matrix(
        self, columns: Mapping[str, Sequence[Any]], exclude: Sequence[Hashable] | None = None
    ) -> np.ndarray:
        return self.design.matrix(columns, exclude)

    def raw_score(self, matrix: np.ndarray) -> np.ndarray:
        e = self.encoding
        values = matrix[:, e.numeric]
        filled = np.where(np.isnan(values), e.medians, values)
        flags = np.isnan(matrix[:, e.flagged]).astype(np.float64)
        levels = np.equal(matrix[:, e.level_columns], e.levels).astype(np.float64)
        return (
            filled @ self._number_weights
            + flags @ self._flag_weights
            + levels @ self._level_weights
            + self._offset
        )

    def contributions(self, matrix: np.ndarray) -> np.ndarray:
        """Per design feature, the sum of its encoded columns' coefficient x (value - the
        training average); the bias (the average row's score) last."""
        shares = (self.encoding(matrix) - self.centre) * self.coefficients
        owned = np.zeros((len(self.coefficients), len(self.feature_names) + 1))
        owned[np.arange(len(self.coefficients)), self.encoding.owners] = 1.0
        by_feature = shares @ owned
        by_feature[:, -1] = self.intercept + self.coefficients @ self.centre
        return by_feature

    def predict_proba(self, columns: Any, exclude: Sequence[Hashable] | None = None):
        return sigmoid(self.raw_score(self.matrix(columns, exclude)))

    def set_evidence(
        self, columns: Any, labels: Sequence[int], ids: Sequence[Hashable] | None = None
    ) -> LinearModel:
        self.design = self.design.fitted(columns, labels, ids)
        return self

    def describe(self) -> dict[str, Any]:
        return {**self.hyperparameters, "encoded_columns": len(self.coefficients)}
