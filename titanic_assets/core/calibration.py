"""The map from the model's raw probability to a calibrated probability, served with it.

Fitted in training on out-of-fold predictions (ml/modeling.py), and small enough to travel
in the model's metadata: the service applies it on numpy, with no scikit-learn per request.

- `Calibration` (Platt scaling on the log-odds, a slope and an intercept): smooth and keeps
  the ranking. What the served LightGBM uses: out of fold its expected calibration error
  was 0.031 (random folds), 0.041 (group folds), 0.070 (leave-one-port-out), against
  isotonic's 0.032, 0.041, 0.072 (the README's table).
- `IsotonicCalibration` (a monotone step map, stored as its breakpoints and applied by
  linear interpolation between them, as scikit-learn's IsotonicRegression predicts):
  what the linear WCG model used (0.036, 0.032, 0.041).

`calibration_from_dict` reads either back from the metadata (`as_dict`). Each also maps one
value with `one`, on Python floats: a /predict's one row, for which numpy's cost per
call was most of the time (the same libm functions; numpy's own AVX-512 ones, where used,
may differ in the last bit).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

_EPSILON = 1e-6


def log_odds(probabilities: Any) -> np.ndarray:
    p = np.clip(np.asarray(probabilities, dtype=np.float64), _EPSILON, 1 - _EPSILON)
    return np.log(p / (1 - p))


def sigmoid(score: float) -> float:
    """1 / (1 + exp(-score)) of one value (0 where exp overflows, as numpy's inf gives)."""
    try:
        return 1.0 / (1.0 + math.exp(-score))
    except OverflowError:
        return 0.0


@dataclass(frozen=True)
class Calibration:
    """calibrated = sigmoid(slope * log-odds(p) + intercept); the identity by default."""

    slope: float = 1.0
    intercept: float = 0.0

    def __call__(self, probabilities: Any) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-(self.slope * log_odds(probabilities) + self.intercept)))

    def one(self, probability: float) -> float:
        p = min(max(probability, _EPSILON), 1 - _EPSILON)
        return sigmoid(self.slope * math.log(p / (1 - p)) + self.intercept)

    def as_dict(self) -> dict[str, Any]:
        return {"slope": self.slope, "intercept": self.intercept}


@dataclass(frozen=True)
class IsotonicCalibration:
    """A non-decreasing map through (x[i], y[i]), linear in between, flat beyond the ends."""

    x: tuple[float, ...]
    y: tuple[float, ...]

    def __call__(self, probabilities: Any) -> np.ndarray:
        p = np.asarray(probabilities, dtype=np.float64)
        return np.interp(p, self.x, self.y)

    def one(self, probability: float) -> float:
        return float(np.interp(probability, self.x, self.y))

    def as_dict(self) -> dict[str, Any]:
        return {"method": "isotonic", "x": list(self.x), "y": list(self.y)}


def calibration_from_dict(values: dict[str, Any] | None) -> Calibration | IsotonicCalibration:
    """The calibration a model's metadata describes (Platt when no method is named; the
    identity when there is none)."""
    values = dict(values or {})
    if values.pop("method", "platt") == "isotonic":
        return IsotonicCalibration(tuple(values["x"]), tuple(values["y"]))
    return Calibration(**values)
