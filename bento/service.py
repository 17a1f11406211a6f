"""A configured model as an HTTP service: BentoML 1.4, one class, thin API methods.

It serves the model TITANIC_MODEL names (bento/served.py), typed by its domain's contract and
words (bento/schemas.py); BentoML's name for it is the model's and what it predicts (Titanic:
TitanicSurvival). The model is whatever the pipeline last promoted, `<serving>:latest` in the
BentoML model store (core/registry.py). The service starts without one (readiness is false
until a model is loaded) and every worker polls the store, so a newly promoted model serves
within TITANIC_MODEL_POLL_SECONDS (default 10 s) with no restart. A model is swapped as one
immutable object, and each request reads it exactly once: no request fails or mixes two
models, and each response names the version that answered.

A challenger (core/registry.py) is swapped the same way (bento/model_slots.py). It scores
every row too, in the same worker; its answer is logged under the same prediction id, never
returned, and monitoring compares both on the outcomes (defs/monitoring/shadow.py). A
challenger failing to score is counted and skipped; the request is answered.

Scoring never builds a DataFrame: request bodies become a dict of columns, the domain's
design makes a numpy matrix, and the served model scores it (core/models.py). The API
methods are `async` although they do not await: scoring takes ~0.1 ms, far less than the
hop to BentoML's thread pool that a sync method costs (p50 0.7 ms async vs 2.7 ms sync).
"""

from __future__ import annotations

import asyncio
import errno
import gc
import logging
import threading
from typing import Annotated, Any

import bentoml
import numpy as np
from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.security import HTTPAuthorizationCredentials

from bento import request_timeout, scoring
from bento.logs import ClientErrorsAsWarnings, use_json_logs
from bento.metrics import LOG_FAILURES, LOG_WRITABLE, SHADOW_FAILURES, count_predictions
from bento.model_slots import challenger_slot, serving_slot
from bento.plumbing import (
    FEEDBACK_BEARER,
    CorrectedOpenAPI,
    JsonBodiesOnly,
    RejectionMetrics,
    csv_route_docs,
    error_response,
    feedback_sender,
    media_type_of,
    request_id,
)
from bento.served import API, DOMAIN, INSTANCE, LOG, NAME, SETTINGS, STORE, documented
from titanic_assets.core import registry
from titanic_assets.core.outcomes import OutcomeStore
from titanic_assets.core.prediction_log import (
    LogPolicy,
    PredictionLogWriter,
    ShadowAnswers,
    prediction_ids,
)

MAX_CSV_BYTES = SETTINGS.max_csv_bytes  # 10 MiB: ~140,000 Titanic rows
INPUTS, WORDS = DOMAIN.input_names, DOMAIN.words
DECISION = WORDS.decision  # the answers' and the outcomes' field of the positive decision

# The API methods' types, from the domain (bento/served.py). BentoML and FastAPI read the
# methods' annotations by these names when the class below is made.
Row = API.row
RowBatch = API.batch
Prediction = API.prediction
BatchPrediction = API.batch_prediction
Explanation = API.explanation
FeedbackBatch = API.feedback_batch
FeedbackReceipt = API.feedback_receipt
ModelInfo = API.model_info

logger = logging.getLogger(f"bentoml.service.{INSTANCE.name}")

# Each worker configures BentoML's logging before it imports this module.
if SETTINGS.log_format == "json":  # else BentoML's own lines, e.g. for a terminal
    use_json_logs()
logging.getLogger("bentoml._internal.server.http_app").addFilter(ClientErrorsAsWarnings())


def _outcome_store(log: PredictionLogWriter) -> OutcomeStore | None:
    """Outcomes are stored beside the prediction log, a folder or a bucket
    (core/outcomes.py); when that folder cannot be written, /feedback answers 503 and
    predictions go on."""
    try:
        return OutcomeStore(log.location, ship_predictions=log.flush)
    except OSError:
        logger.warning("Outcomes cannot be stored in %s; /feedback is unavailable", log.location)
        return None


def _log_failed(error: Exception) -> None:
    code = getattr(error, "errno", None)
    LOG_FAILURES.labels(error=errno.errorcode.get(code or 0, type(error).__name__)).inc()
    logger.warning("Prediction not logged (%s); the answer was sent", error)


# BentoML's workers time requests out with RequestTimeout, not BentoML's leaking middleware.
request_timeout.install()

info_app = FastAPI()


@bentoml.asgi_app(info_app, path="/")
@bentoml.service(
    name=NAME,
    workers=SETTINGS.serving_workers,
    traffic={"timeout": 30},
    endpoints={"livez": "/livez", "readyz": "/readyz"},
)
@documented(DOMAIN.title)
class ModelService:
    """The served model's predictions (its domain's title replaces this docstring)."""

    def __init__(self) -> None:
        self._serving_slot, self._challenger_slot = serving_slot(STORE), challenger_slot(STORE)
        # A failing log never fails a prediction: it is answered, counted and alerted on.
        self._log = PredictionLogWriter(
            LOG,
            policy=LogPolicy.from_settings(SETTINGS),
            inputs=DOMAIN.inputs,
            on_failure=_log_failed,
            on_health=LOG_WRITABLE.set,
        )
        LOG_WRITABLE.set(int(self._log.healthy))
        self._outcomes = _outcome_store(self._log)
        self._refresh()
        threading.Thread(target=self._watch, name="model-watcher", daemon=True).start()
        # Move everything loaded so far (BentoML, pydantic, sklearn: ~250 MB of objects) out
        # of the garbage collector's sight: a full collection over it stalled a request for
        # ~200 ms every few seconds under load.
        gc.freeze()

    # --- model updates -------------------------------------------------------------------

    def _refresh(self) -> None:
        """Swap in the serving model and the challenger the store names now (model_slots)."""
        if self._serving_slot.refresh() | self._challenger_slot.refresh():
            gc.freeze()

    @bentoml.on_shutdown
    def _flush_log(self) -> None:
        """Write out what the prediction log still holds (a bucket log's last batch)."""
        self._log.close()

    def _watch(self) -> None:
        stop = threading.Event()
        while not stop.wait(SETTINGS.model_poll_seconds):
            self._refresh()

    def _serving(self) -> registry.RegisteredModel:
        model = self._serving_slot.model
        if model is None:
            raise bentoml.exceptions.ServiceUnavailable(
                f"No model has been promoted yet: materialize {INSTANCE.name}'s serving_model "
                "asset."
            )
        return model

    def __is_ready__(self) -> bool:
        return self._serving_slot.model is not None

    # --- API -----------------------------------------------------------------------------

    def _score(
        self, endpoint: str, rows: list[dict[str, Any]], rid: str
    ) -> tuple[registry.RegisteredModel, np.ndarray, np.ndarray]:
        model = self._serving()
        columns = scoring.as_columns(rows, INPUTS)
        probabilities = model.probabilities(columns)
        predicted = probabilities >= model.threshold
        self._record(endpoint, rid, model, columns, probabilities, predicted)
        return model, probabilities, predicted

    def _record(
        self,
        endpoint: str,
        rid: str,
        model: registry.RegisteredModel,
        columns: dict[str, list[Any]],
        probabilities: np.ndarray,
        predicted: np.ndarray,
    ) -> None:
        """Shadow, log and count answered predictions: every prediction endpoint's way out."""
        shadow = self._shadow(columns)
        self._log.write(rid, endpoint, model.version, columns, probabilities, predicted, shadow)
        count_predictions(endpoint, predicted)

    def _shadow(self, columns: dict[str, list[Any]]) -> ShadowAnswers | None:
        """The challenger's answers for these rows, None when none shadows or it failed
        (counted; the next request tries again)."""
        challenger = self._challenger_slot.model
        if challenger is None:
            return None
        try:
            probabilities = challenger.probabilities(columns)
        except Exception as error:
            SHADOW_FAILURES.labels(error=type(error).__name__).inc()
            logger.warning("Challenger %s failed to score: %s", challenger.version, error)
            return None
        return ShadowAnswers(
            challenger.version, probabilities, probabilities >= challenger.threshold
        )

    @bentoml.api
    @documented(
        f"Whether one {WORDS.row} {DECISION}, the probability, and the threshold used. The id"
        "\n        is the X-Request-ID header if sent, else the service's request id."
    )
    async def predict(self, row: Row, /, ctx: bentoml.Context) -> Prediction:
        rid = request_id(ctx)
        model, probabilities, predicted = self._score("predict", [vars(row)], rid)
        return Prediction(
            id=rid,
            **{DECISION: bool(predicted[0])},
            probability=float(probabilities[0]),
            threshold=model.threshold,
            model_version=model.version,
            request_id=rid,
        )

    @bentoml.api(input_spec=RowBatch)
    @documented(
        f"One prediction per {WORDS.row}, in order; at most MAX_BATCH (1,000) per request.\n"
        f"        {WORDS.row.capitalize()} i's id is `<request id>-<i>`."
    )
    async def predict_batch(
        self, ctx: bentoml.Context, **body: list[dict[str, Any]]
    ) -> BatchPrediction:
        # BentoML passes the body's one field by its name, the domain's word for rows.
        [rows] = body.values()
        rid = request_id(ctx)
        model, probabilities, predicted = self._score("predict_batch", rows, rid)
        ids = prediction_ids(rid, len(rows), "predict_batch")
        # Built from values already typed: validating 1,000 scored rows again took longer
        # than scoring them.
        return BatchPrediction.model_construct(
            predictions=[
                {"id": i, DECISION: s, "probability": p}
                for i, s, p in zip(ids, predicted.tolist(), probabilities.tolist(), strict=True)
            ],
            threshold=model.threshold,
            model_version=model.version,
            request_id=rid,
        )

    @bentoml.api
    async def explain(self, row: Row, /, ctx: bentoml.Context) -> Explanation:
        """Per-feature contributions to the served model's raw score (log-odds), which they
        add up to with the bias, exact for its family; `probability` is that score through the
        model's calibration, as /predict serves."""
        model = self._serving()
        columns = scoring.as_columns([vars(row)], INPUTS)
        [explained] = model.explain(columns)
        probability = np.array([explained.probability])
        predicted = probability >= model.threshold
        rid = request_id(ctx)
        self._record("explain", rid, model, columns, probability, predicted)
        return Explanation(
            **vars(explained),
            **{DECISION: bool(predicted[0])},
            threshold=model.threshold,
            model_version=model.version,
            request_id=rid,
        )

    @info_app.post(
        "/feedback",
        response_model=FeedbackReceipt,
        tags=["Service APIs"],
        responses={
            400: {"description": "The body is not valid JSON"},
            401: {"description": "No bearer token (when the service requires one)"},
            403: {"description": "A bearer token the service does not accept"},
            404: {"description": "Unknown ids"},
            409: {"description": "Conflicts"},
            503: {"description": "Outcomes cannot be stored now"},
        },
    )
    def feedback(
        self,
        body: FeedbackBatch,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(FEEDBACK_BEARER)],
    ) -> FeedbackReceipt:
        """Outcomes for earlier predictions, by id; stored all or none, beside the
        prediction log (core/outcomes.py), with who sent them. When TITANIC_FEEDBACK_TOKEN
        is set, only a request with `Authorization: Bearer <token>` is taken: outcomes
        become training data. 404 names ids no prediction has, 409 ids that already have a
        different outcome; sending a stored outcome again changes nothing."""
        sender = feedback_sender(credentials, SETTINGS.feedback_tokens)
        if self._outcomes is None:
            raise HTTPException(503, "Outcomes cannot be stored: the log's folder is unwritable.")
        pairs = [(o.id, getattr(o, DECISION)) for o in body.outcomes]
        stored, rejection = self._outcomes.add(pairs, sender)
        if rejection is not None:
            raise HTTPException(
                rejection.status, {"reason": rejection.reason, "ids": rejection.ids}
            )
        return FeedbackReceipt(received=len(pairs), stored=stored)

    @info_app.get("/model_info", response_model=ModelInfo, tags=["Service APIs"])
    def model_info(self) -> ModelInfo:
        """The serving model: version, when and on what data it was trained, metrics,
        features, threshold; and the challenger shadowing it, if any. (GET, so it is
        mounted beside BentoML's POST-only APIs.)"""
        model = self._serving_slot.model
        if model is None:
            raise HTTPException(503, "No model has been promoted yet.")
        return API.info(model, self._challenger_slot.model)

    @info_app.post(
        "/predict_csv",
        tags=["Service APIs"],
        response_class=Response,
        **csv_route_docs(MAX_CSV_BYTES, DOMAIN.inputs, DOMAIN.id_column, WORDS),
    )
    async def predict_csv(self, request: Request) -> Response:
        """Score a CSV of rows with the batch scoring rules (its description, with the
        domain's columns: plumbing.csv_route_docs)."""
        media_type = media_type_of(request.headers.get("content-type", ""))
        if media_type != "text/csv":
            return error_response(415, "content-type", f"{media_type or 'none'} is not text/csv")
        body = bytearray()
        async for chunk in request.stream():
            body.extend(chunk)
            if len(body) > MAX_CSV_BYTES:
                return error_response(413, "body", f"larger than {MAX_CSV_BYTES:,} bytes")
        model = self._serving_slot.model
        if model is None:
            return error_response(503, "model", "no model has been promoted yet")
        try:
            scored = await asyncio.to_thread(scoring.score_csv, bytes(body), model, DOMAIN)
        except ValueError as error:  # pandas' parser errors, undecodable bytes
            return error_response(400, "body", f"not a readable CSV: {error}"[:500])
        return Response(scored, media_type="text/csv")


ModelService.add_asgi_middleware(RejectionMetrics, batch_key=WORDS.rows)
ModelService.add_asgi_middleware(JsonBodiesOnly)
ModelService.add_asgi_middleware(
    CorrectedOpenAPI, feedback_needs_token=bool(SETTINGS.feedback_tokens), batch_key=WORDS.rows
)
