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
  SHAP values; a linear model's term minus the average training row's), the bias in the
  last column; a row sums to its raw score;
- `set_evidence(columns, labels, ids)`: refit the design on other labelled rows without
  refitting the booster (serving uses every labelled row).

Fitting is in ml/fitting.py; here only numpy and the booster (one row through LightGBM's
single-row C API, core/single_row.py, as /predict scores one row; a linear model's one row
is a sum in Python floats).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Self

import numpy as np

from titanic_assets.core.domain import Design


def sigmoid(score: Any) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(score, dtype=np.float64)))


class ModelOnDesign:
    """What both families share: the domain's design in front of a raw score."""

    design: Design

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(self.design.feature_names)

    def matrix(
        self, columns: Mapping[str, Sequence[Any]], exclude: Sequence[Hashable] | None = None
    ) -> np.ndarray:
        return self.design.matrix(columns, exclude)

    def raw_score(self, matrix: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def predict_proba(self, columns: Any, exclude: Sequence[Hashable] | None = None):
        return sigmoid(self.raw_score(self.matrix(columns, exclude)))

    def set_evidence(
        self, columns: Any, labels: Sequence[int], ids: Sequence[Hashable] | None = None
    ) -> Self:
        self.design = self.design.fitted(columns, labels, ids)
        return self


class BoostedModel(ModelOnDesign):
    """A LightGBM classifier on a domain's design."""

    family = "lightgbm"

    def __init__(self, classifier: Any, design: Design) -> None:
        self.classifier = classifier
        self.design = design

    @property
    def booster(self) -> Any:
        return self.classifier.booster_

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

    def describe(self) -> dict[str, Any]:
        """Its hyperparameters, those that are set (model metadata takes no None)."""
        return {k: v for k, v in self.classifier.get_params().items() if v is not None}


@dataclass(frozen=True)
class LinearEncoding:
    """A design matrix as a linear model reads it, learned on the training rows.

    A number: its gaps filled with its training median, then standardized (so one penalty
    fits every scale), plus a missing flag where training had gaps. A category (its design
    code): one column per code seen in training, so an unseen or missing one is all zeros
    and scores as no known category. What the regression is fitted on; LinearModel folds it
    into its coefficients.
    """

    numeric: np.ndarray  # design columns read as numbers
    medians: np.ndarray
    means: np.ndarray
    scales: np.ndarray
    flagged: np.ndarray  # design columns with a missing flag
    level_columns: np.ndarray  # one per one-hot column: the design column it reads
    levels: np.ndarray  # and the code it is 1 for

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
        )

    def __call__(self, matrix: np.ndarray) -> np.ndarray:
        values = matrix[:, self.numeric]
        gaps = np.isnan(values)
        standardized = (np.where(gaps, self.medians, values) - self.means) / self.scales
        missing = np.isnan(matrix[:, self.flagged])
        one_hot = matrix[:, self.level_columns] == self.levels  # NaN equals no code
        return np.hstack([standardized, missing, one_hot])


@dataclass(frozen=True)
class _Term:
    """One design column's share of a linear model's raw score: a number's weight on its
    value (its median when missing), a category's weight per code (0 when unseen), plus
    its missing flag's weight when missing."""

    column: int
    weight: float = 0.0
    median: float = 0.0
    codes: dict[float, float] | None = None  # a category: code -> weight
    missing: float = 0.0

    def one(self, value: float) -> float:
        if value != value:  # NaN: missing
            base = self.weight * self.median if self.codes is None else 0.0
            return base + self.missing
        return self.weight * value if self.codes is None else self.codes.get(value, 0.0)

    def batch(self, values: np.ndarray) -> np.ndarray:
        """`one` of each value, in the same floating-point operations."""
        missing = np.isnan(values)
        if self.codes is None:
            base = self.weight * np.where(missing, self.median, values)
        elif self.codes:
            levels = np.array(sorted(self.codes))
            at = np.minimum(np.searchsorted(levels, values), len(levels) - 1)
            weights = np.array([self.codes[code] for code in levels.tolist()])
            base = np.where(levels[at] == values, weights[at], 0.0)
        else:
            base = np.zeros(len(values))
        return np.where(missing, base + self.missing, base)


class LinearModel(ModelOnDesign):
    """An L2 logistic regression on a domain's design, scored on numpy and Python floats:
    the coefficients travel (folded into one term per design column), scikit-learn stays
    in fitting.

    A row scores as `offset + term_0 + term_1 + ...` in that order, alone (in Python
    floats, ~9 µs for German credit's 20 features, a few times faster than numpy on one
    row) or in a batch (numpy, column by column): the same operations, so a row scores the
    same alone (/predict) as in a batch, to the last bit. A feature's contribution is its
    term minus its average over the training rows.
    """

    family = "logistic_regression"

    def __init__(
        self,
        design: Design,
        encoding: LinearEncoding,
        coefficients: Any,
        intercept: float,
        training_matrix: np.ndarray,
        hyperparameters: Mapping[str, Any],
    ) -> None:
        self.design = design
        self.encoding = encoding
        self.coefficients = np.asarray(coefficients, dtype=np.float64)
        self.intercept = float(intercept)
        self.hyperparameters = dict(hyperparameters)
        self._offset, self._terms = self._folded()
        # The average training row's terms: contributions are measured from it.
        self.centre = self._term_matrix(training_matrix).mean(axis=0)

    def _folded(self) -> tuple[float, list[_Term]]:
        """The encoding folded into the coefficients: standardization into a number's
        weight and the offset, one-hot columns into a category's code -> weight table."""
        e, w = self.encoding, self.coefficients.tolist()
        numbers, flags = len(e.numeric), len(e.flagged)
        weights = {int(j): w[k] / float(e.scales[k]) for k, j in enumerate(e.numeric)}
        medians = dict(zip(e.numeric.tolist(), e.medians.tolist(), strict=True))
        offset = self.intercept - sum(
            weights[int(j)] * float(m) for j, m in zip(e.numeric, e.means, strict=True)
        )
        missing = dict(zip(e.flagged.tolist(), w[numbers : numbers + flags], strict=True))
        codes: dict[int, dict[float, float]] = {}
        for j, code, weight in zip(
            e.level_columns.tolist(), e.levels.tolist(), w[numbers + flags :], strict=True
        ):
            codes.setdefault(j, {})[code] = weight
        terms = [
            _Term(
                j,
                weight=weights.get(j, 0.0),
                median=medians.get(j, 0.0),
                codes=codes.get(j, {}) if j not in weights else None,
                missing=missing.get(j, 0.0),
            )
            for j in range(len(self.feature_names))
        ]
        return offset, terms

    def _term_matrix(self, matrix: np.ndarray) -> np.ndarray:
        return np.column_stack([t.batch(matrix[:, t.column]) for t in self._terms])

    def raw_score(self, matrix: np.ndarray) -> np.ndarray:
        if len(matrix) == 1:
            total, row = self._offset, matrix[0].tolist()
            for term in self._terms:
                total += term.one(row[term.column])
            return np.array([total])
        total = np.full(len(matrix), self._offset)
        for term in self._terms:
            total = total + term.batch(matrix[:, term.column])
        return total

    def contributions(self, matrix: np.ndarray) -> np.ndarray:
        """Each feature's term minus its training average; the bias (the average training
        row's score) last."""
        bias = np.full((len(matrix), 1), self._offset + self.centre.sum())
        return np.hstack([self._term_matrix(matrix) - self.centre, bias])

    def describe(self) -> dict[str, Any]:
        return {**self.hyperparameters, "encoded_columns": len(self.coefficients)}
