"""What one /predict costs the service in its own code, part by part, out of the server.

Registers the model as benchmarks/service.py does (a temporary BentoML store), and a
challenger beside it (LightGBM refitted with another seed, the serving model's calibration),
loads both through the registry as the service does, and times each step of scoring one
passenger: the features, LightGBM, the calibration, the whole `probabilities`, and the
prediction log line; then the pair, what the service does per /predict now that a challenger
shadows (bento/service.py `_score`, `_shadow`, `_record`): both models' probabilities and the
log line with the challenger's answers. Last, a 1,000-passenger batch (/predict_batch's
largest) through `probabilities`.

Median of 7 repeats of 2,000 calls each (20 for the batch), in microseconds of this process's
CPU time: the machine may be shared, and wall time would count other processes' turns. In a
loaded worker the same code takes about three times as long (py-spy; see the README's service
figures).

    uv run --frozen python benchmarks/prediction_path.py
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
import timeit
from pathlib import Path

from benchmarks.service import store, train_and_register
from titanic_assets.domains.titanic import DOMAIN
from titanic_assets.domains.titanic.examples import PASSENGER
from titanic_assets.testing import environment, model_log

CALLS, REPEATS, BATCH, BATCH_CALLS = 2000, 7, 1000, 20


def microseconds(call, calls: int = CALLS) -> float:
    times = timeit.repeat(call, number=calls, repeat=REPEATS, timer=time.process_time)
    return statistics.median(times) / calls * 1e6


def register_challenger(seed: int = 7) -> str:
    """A candidate that shadows the serving model: LightGBM on the same passengers with
    another seed and the serving model's calibration (its own cross-validation would only
    add minutes); returns its tag."""
    import pandas as pd

    from titanic_assets.core import registry
    from titanic_assets.domains.titanic import candidates
    from titanic_assets.ml.cleaning import clean_rows

    passengers, _ = clean_rows(DOMAIN, pd.read_csv(DOMAIN.data).assign(source="x"))
    X = passengers[list(DOMAIN.input_names)].reset_index(drop=True)
    y = passengers[DOMAIN.label].to_numpy()
    model = candidates.lightgbm_wcg(X, y, seed=seed)
    model.set_evidence(X, y, passengers[DOMAIN.id_column].tolist())
    models = store()
    serving = models.promoted_model()
    tag = registry.save(
        models.candidate,
        pipeline=model,
        reference=X,
        reference_summary={},
        metadata={"threshold": serving.threshold, "calibration": serving.metadata["calibration"]},
        labels={"data_version": "benchmark", "code_version": "benchmark"},
    )
    models.record_challenger(tag, registry.SHADOWING, "benchmark")
    return tag


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="titanic-prediction-path-"))
    os.environ.update(environment(work))  # the models are registered in work's store
    train_and_register(work)
    register_challenger()

    from bento.scoring import as_columns
    from titanic_assets.core import registry
    from titanic_assets.core.calibration import sigmoid
    from titanic_assets.core.prediction_log import PredictionLogWriter, ShadowAnswers

    models = store()
    model = registry.load(models.promoted_tag())
    challenger = registry.load(models.shadowing_tag())
    names = DOMAIN.input_names
    columns = as_columns([PASSENGER], names)  # the request body as the service reads it
    matrix = model.feature_matrix(columns)
    raw = float(model.raw_scores(matrix)[0])
    probabilities = model.probabilities(columns)
    survived = probabilities >= model.threshold
    log = PredictionLogWriter(model_log(work), DOMAIN.inputs)
    records = model.reference().to_dict("records")  # the training rows, repeated to BATCH
    batch = as_columns((records * (BATCH // len(records) + 1))[:BATCH], names)

    def pair() -> None:
        """bento/service.py's _score for one passenger with a challenger shadowing."""
        served = model.probabilities(columns)
        shadowed = challenger.probabilities(columns)
        shadow = ShadowAnswers(challenger.version, shadowed, shadowed >= challenger.threshold)
        log.write(
            "benchmark", "predict", model.version, columns, served,
            served >= model.threshold, shadow,
        )  # fmt: skip

    steps = {
        "features (feature_matrix)": lambda: model.feature_matrix(columns),
        f"{model.family} (raw_scores)": lambda: model.raw_scores(matrix),
        "calibration": lambda: model.calibration.one(sigmoid(raw)),
        "all three (probabilities)": lambda: model.probabilities(columns),
        "prediction log line (write + flush)": lambda: log.write(
            "benchmark", "predict", model.version, columns, probabilities, survived
        ),
        "the pair: features, both models, calibration, the log line with the shadow answers": (
            pair
        ),
    }
    print(f"| step, one passenger | µs per call (median of {REPEATS} × {CALLS:,}) |\n|---|---|")
    for name, call in steps.items():
        print(f"| {name} | {microseconds(call):.1f} |")
    batch_us = microseconds(lambda: model.probabilities(batch), BATCH_CALLS)
    print(f"| {len(batch[names[0]]):,} passengers (probabilities), one model | {batch_us:,.0f} |")
    log.close()


if __name__ == "__main__":
    main()
