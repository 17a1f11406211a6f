"""The service's Prometheus metrics (GET /metrics), shared by the service and its middlewares.

A served model's metrics carry no label naming it: each model is its own service (its own
process and /metrics), told apart by the scrape's target."""

from typing import Any

from prometheus_client import Counter, Gauge

POSITIVE, NEGATIVE = "positive", "negative"  # the `outcome` label: the decision predicted

PREDICTIONS = Counter(
    "titanic_predictions",
    "Rows scored, by predicted decision (positive: the positive class) and endpoint.",
    ["outcome", "endpoint"],
)
REJECTED = Counter(
    "titanic_rejected_inputs", "Requests rejected as invalid, by reason.", ["reason", "endpoint"]
)
LOG_FAILURES = Counter(
    "titanic_prediction_log_failures",
    "Predictions answered but not logged because the log's storage failed, by error.",
    ["error"],
)
LOG_WRITABLE = Gauge(
    "titanic_prediction_log_writable",
    "1 while every worker's prediction log takes writes, 0 once one failed (until it recovers).",
    multiprocess_mode="livemin",
)
SERVING_VERSION = Gauge(
    "titanic_serving_model",
    "1 for the model version a worker serves, 0 for versions it left.",
    ["version"],
    multiprocess_mode="livemax",
)
SHADOWING_VERSION = Gauge(
    "titanic_challenger_model",
    "1 for the challenger version a worker shadows with, 0 for versions it stopped.",
    ["version"],
    multiprocess_mode="livemax",
)
SHADOW_FAILURES = Counter(
    "titanic_challenger_failures",
    "Requests the challenger failed to score (answered by the serving model all the same).",
    ["error"],
)


def count_predictions(endpoint: str, predicted: Any) -> None:
    """Count answered rows by decision (`predicted`: a boolean array, True = positive)."""
    positive = int(predicted.sum())
    PREDICTIONS.labels(outcome=POSITIVE, endpoint=endpoint).inc(positive)
    PREDICTIONS.labels(outcome=NEGATIVE, endpoint=endpoint).inc(len(predicted) - positive)
