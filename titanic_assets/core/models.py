"""The fitted model as the service scores it: LightGBM over a domain's design, calibrated
elsewhere (core/calibration.py), behind the interface the service, /explain and monitoring use.

- `feature_names` and `matrix(columns, exclude=None)`: its input matrix from raw input
  columns, through the domain's fitted design (core/domain.Design), with whatever that design
  learned from labelled rows (`exclude[i]`: the id of row i's own label there, left out, for
  scoring labelled rows honestly);
- `raw_score(matrix)`: the log-odds of the positive class before calibration;
- `contributions(matrix)`: each feature's exact additive share of the raw score (LightGBM's
  SHAP values), the bias in the last column; a row sums to its raw score;
- `set_evidence(columns, labels, ids)`: refit the design on other labelled rows without
  refitting the booster (serving uses every labelled row).

Fitting is in ml/modeling.py; here only numpy and the booster (one row through LightGBM's
single-row C API, core/single_row.py, as /predict scores one row).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
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
