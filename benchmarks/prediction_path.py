"""What one /predict costs the service in its own code, part by part, out of the server.

Registers the model as benchmarks/service.py does (a temporary BentoML store), loads it
through the registry as the service does, and times each step of scoring one passenger:
the features, LightGBM, the calibration, the whole `probabilities`, and the prediction log
line. Median of 7 repeats of 2,000 calls each, in microseconds. In a loaded worker the same
code takes about three times as long (py-spy; see the README's service figures).

    uv run --frozen python benchmarks/prediction_path.py
"""

from __future__ import annotations

import os
import statistics
import tempfile
import timeit
from pathlib import Path

import numpy as np

from benchmarks.service import train_and_register
from titanic_assets.testing import PASSENGER, environment

CALLS, REPEATS = 2000, 7


def microseconds(call) -> float:
    return statistics.median(timeit.repeat(call, number=CALLS, repeat=REPEATS)) / CALLS * 1e6


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="titanic-prediction-path-"))
    os.environ.update(environment(work))  # the model is registered in work's store
    train_and_register(work)

    from bento.scoring import as_columns
    from titanic_assets.core import registry
    from titanic_assets.core.prediction_log import PredictionLogWriter

    model = registry.load(registry.promoted_tag())
    columns = as_columns([PASSENGER])  # the request body as the service reads it
    matrix = model.feature_matrix(columns)
    raw = 1 / (1 + np.exp(-model.raw_scores(matrix)))
    probabilities = model.calibration(raw)
    survived = probabilities >= model.threshold
    log = PredictionLogWriter(work / "prediction_log")

    steps = {
        "features (feature_matrix)": lambda: model.feature_matrix(columns),
        f"{model.family} (raw_scores)": lambda: model.raw_scores(matrix),
        "calibration": lambda: model.calibration(raw),
        "all three (probabilities)": lambda: model.probabilities(columns),
        "prediction log line (write + flush)": lambda: log.write(
            "benchmark", "predict", model.version, columns, probabilities, survived
        ),
    }
    print(f"| step, one passenger | µs per call (median of {REPEATS} × {CALLS:,}) |\n|---|---|")
    for name, call in steps.items():
        print(f"| {name} | {microseconds(call):.1f} |")
    log.close()


if __name__ == "__main__":
    main()
