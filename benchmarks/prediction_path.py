"""What one /predict costs the service in its own code, part by part, out of the server.

For one model (`--model`, default titanic; the row scored is its domain's example). Registers
the model as benchmarks/service.py does (a temporary BentoML store), and a challenger beside
it (the engine's LightGBM, ml/fitting.py, refitted with another seed, the serving model's
calibration), loads both through the registry as the service does, and times each step of
scoring one row: the features, LightGBM, the calibration, the whole `probabilities`, and the
prediction log line; then the pair, what the service does per /predict now that a challenger
shadows (bento/service.py `_score`, `_shadow`, `_record`): both models' probabilities and the
log line with the challenger's answers. Last, a 1,000-row batch (/predict_batch's largest;
the training rows repeated) through `probabilities`. The figures are written stamped
(benchmarks/stamp.py) to benchmarks/results/prediction_path-<model>.json.

Median of 7 repeats of 2,000 calls each (20 for the batch), in microseconds of this process's
CPU time: the machine may be shared, and wall time would count other processes' turns. In a
loaded worker the same code takes about three times as long (py-spy; see the README's service
figures).

    uv run --frozen python benchmarks/prediction_path.py [--model adult_income]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import timeit
from pathlib import Path

from benchmarks import service
from benchmarks.service import labelled_rows, select, store, train_and_register
from benchmarks.stamp import Stamp
from titanic_assets.core.instances import instance_names
from titanic_assets.testing import environment, model_log

CALLS, REPEATS, BATCH, BATCH_CALLS = 2000, 7, 1000, 20


def microseconds(call, calls: int = CALLS) -> float:
    times = timeit.repeat(call, number=calls, repeat=REPEATS, timer=time.process_time)
    return statistics.median(times) / calls * 1e6


def register_challenger(seed: int = 7) -> str:
    """A candidate that shadows the serving model: LightGBM on the same rows with another
    seed and the serving model's calibration (its own cross-validation would only add
    minutes); returns its tag."""
    from titanic_assets.core import registry
    from titanic_assets.ml.fitting import lightgbm
    from titanic_assets.ml.modeling import labels_of

    domain = service.DOMAIN
    rows = labelled_rows(domain)
    X = rows[list(domain.input_names)].reset_index(drop=True)
    y = labels_of(domain, rows)
    model = lightgbm(domain, seed)(X, y)
    model.set_evidence(X, y, rows[domain.key].tolist())
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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=instance_names(), default=service.MODEL)
    select(parser.parse_args().model)
    domain, example = service.DOMAIN, service.EXAMPLE
    run = Stamp("prediction_path", service.MODEL)
    work = Path(tempfile.mkdtemp(prefix=f"{service.MODEL}-prediction-path-"))
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
    names = domain.input_names
    columns = as_columns([example], names)  # the request body as the service reads it
    matrix = model.feature_matrix(columns)
    raw = float(model.raw_scores(matrix)[0])
    probabilities = model.probabilities(columns)
    survived = probabilities >= model.threshold
    log = PredictionLogWriter(model_log(work, service.MODEL), domain.inputs)
    records = model.reference().to_dict("records")  # the training rows, repeated to BATCH
    batch = as_columns((records * (BATCH // len(records) + 1))[:BATCH], names)

    def pair() -> None:
        """bento/service.py's _score for one row with a challenger shadowing."""
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
    print(f"{service.MODEL} ({model.family}), load average {run.load_at_start}")
    print(f"| step, one row | µs per call (median of {REPEATS} × {CALLS:,}) |\n|---|---|")
    figures = {}
    for name, call in steps.items():
        figures[name] = round(microseconds(call), 2)
        print(f"| {name} | {figures[name]:.1f} |")
    rows = len(batch[names[0]])
    batch_us = microseconds(lambda: model.probabilities(batch), BATCH_CALLS)
    print(f"| {rows:,} rows (probabilities), one model | {batch_us:,.0f} |")
    log.close()
    figures = {
        "unit": "microseconds of process CPU time per call",
        "one_row": figures,
        f"batch_of_{rows}": round(batch_us, 1),
        "calls": CALLS,
        "repeats": REPEATS,
        "example": example,
    }
    print(f"stamped: {run.save(figures, family=model.family)}")


if __name__ == "__main__":
    main()
