"""The map from the booster's probability to a calibrated probability, served with the model.

Platt scaling on the log-odds (a slope and an intercept), fitted in training on out-of-fold
predictions (ml/modeling.py). Two numbers, so it travels in the model's metadata and the
service applies it on numpy after the booster, with no scikit-learn per request. Chosen over
isotonic regression because it keeps the ranking (ROC-AUC unchanged) and is smooth; on the
shipped data both reach the expected calibration error's noise floor (see the README).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

_EPSILON = 1e-6


def log_odds(probabilities: Any) -> np.ndarray:
    p = np.clip(np.asarray(probabilities, dtype=np.float64), _EPSILON, 1 - _EPSILON)
    return np.log(p / (1 - p))


@dataclass(frozen=True)
class Calibration:
    """calibrated = sigmoid(slope * log-odds(p) + intercept); the identity by default."""

    slope: float = 1.0
    intercept: float = 0.0

    def __call__(self, probabilities: Any) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-(self.slope * log_odds(probabilities) + self.intercept)))

    def as_dict(self) -> dict[str, float]:
        return {"slope": self.slope, "intercept": self.intercept}
