"""The survival model as an HTTP service: BentoML 1.4, one class, thin API methods.

The model is whatever the pipeline last promoted, `titanic_survival:latest` in the BentoML
model store (see titanic_assets/core/registry.py). The service starts without one (readiness is
false until a model is loaded) and every worker polls the store, so a newly promoted model
serves within TITANIC_MODEL_POLL_SECONDS (default 10 s) with no restart. A model is swapped
as one immutable object, and each request reads it exactly once: no request fails or mixes
two models, and each response names the version that answered.

Scoring never builds a DataFrame: request bodies become a dict of columns, the shared
feature code makes a numpy matrix, and the LightGBM booster scores it on one thread. The API
methods are `async` although they do not await: scoring takes ~0.1 ms, far less than the
hop to BentoML's thread pool that a sync method costs (p50 0.7 ms async vs 2.7 ms sync).
"""

from __future__ import annotations

import asyncio
import errno
import gc
import json
import logging
import math
import os
import re
import threading
import uuid
from typing import Any

import bentoml
import numpy as np
from bentoml._internal.server.http import traffic
from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import JSONResponse

from bento.logs import ClientErrorsAsWarnings, use_json_logs
from bento.metrics import LOG_FAILURES, LOG_WRITABLE, PREDICTIONS, REJECTED, SERVING_VERSION
from bento.schemas import (
    BatchPassenger,
    BatchPrediction,
    Explanation,
    FeedbackBatch,
    FeedbackReceipt,
    ModelInfo,
    Passenger,
    PassengerBatch,
    Prediction,
    model_info,
)
from titanic_assets.core import registry
from titanic_assets.core.contract import RAW_INPUTS
from titanic_assets.core.features import FEATURES
from titanic_assets.core.outcomes import OutcomeStore
from titanic_assets.core.prediction_log import PredictionLogWriter, prediction_ids

# --- Settings: the environment the service reads, all of it, once at import. ---------------
# (To be replaced by the project-wide settings object: nothing else in bento/ reads os.getenv.)
MAX_CSV_BYTES = int(os.getenv("TITANIC_MAX_CSV_BYTES", str(10 * 2**20)))  # ~140,000 passengers
POLL_SECONDS = float(os.getenv("TITANIC_MODEL_POLL_SECONDS", "10"))
WORKERS = int(os.getenv("TITANIC_SERVING_WORKERS", "2"))
# json: one JSON object per line; text: BentoML's own lines, e.g. for reading in a terminal.
LOG_FORMAT = os.getenv("TITANIC_LOG_FORMAT", "json")
# -------------------------------------------------------------------------------------------

API_PATHS = ("/predict", "/predict_batch", "/explain")
# A client's own request id (X-Request-ID): the key it sends outcomes back with later.
CLIENT_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")

logger = logging.getLogger("bentoml.service.titanic")


# Each worker configures BentoML's logging before it imports this module.
if LOG_FORMAT == "json":
    use_json_logs()
logging.getLogger("bentoml._internal.server.http_app").addFilter(ClientErrorsAsWarnings())


def request_id(ctx: bentoml.Context) -> str:
    """The client's X-Request-ID if it sent a valid one, else a new id."""
    sent = ctx.request.headers.get("x-request-id")
    if sent is None:
        return uuid.uuid4().hex
    if not CLIENT_ID.fullmatch(sent):
        raise bentoml.exceptions.InvalidArgument(
            "X-Request-ID: 1 to 64 characters from A-Z a-z 0-9 . _ : - expected"
        )
    return sent


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


def _columns(passengers: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Request bodies as the columns the feature code reads (absent optional fields: None)."""
    return {name: [p.get(name) for p in passengers] for name in RAW_INPUTS}


def rejection_reason(error_type: str, location: list[Any]) -> str:
    """A pydantic error type, as the reason label of the rejected-inputs metric."""
    if error_type == "json_invalid":
        return "malformed_json"
    if error_type == "extra_forbidden":
        return "unknown_field"
    if error_type == "missing":
        return "missing_field"
    if error_type in ("too_long", "too_short") and location == ["passengers"]:
        return "batch_size"
    if error_type in ("literal_error", "enum"):
        return "not_allowed_value"
    if error_type in (
        "greater_than_equal",
        "less_than_equal",
        "greater_than",
        "less_than",
        "finite_number",
        "string_too_long",
    ):
        return "out_of_range"
    if error_type.endswith("_type") or error_type.endswith("_parsing"):
        return "wrong_type"
    return "other"


def client_error(kind: str, loc: list[str], message: str, error: str = "") -> dict[str, Any]:
    """A 4xx body in the documented ClientError shape: the problem with its place."""
    return {"error": error or message, "detail": [{"type": kind, "loc": loc, "msg": message}]}


def media_type_of(content_type: str) -> str:
    """`application/json; charset=utf-8` -> `application/json`."""
    return content_type.split(";")[0].strip().lower()


def _json_response(status: int, body: dict[str, Any]) -> tuple[dict, dict]:
    payload = json.dumps(body).encode()
    start = {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", b"%d" % len(payload)),
        ],
    }
    return start, {"type": "http.response.body", "body": payload}


class JsonBodiesOnly:
    """ASGI middleware: the prediction APIs take JSON bodies only; anything else is a 415.

    BentoML 1.4 reads a `text/plain` or `application/xml` body as JSON all the same, and
    answers `multipart/form-data` without a boundary with a 500 from its form parser. Here a
    POST to an API path whose Content-Type is not application/json (any charset) is answered
    415 before BentoML parses anything, in the same error shape as its 400s.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] in API_PATHS:
            header = dict(scope["headers"]).get(b"content-type", b"").decode("latin-1")
            media_type = media_type_of(header)
            if media_type != "application/json":
                shown = media_type or "none"
                REJECTED.labels(reason="media_type", endpoint=scope["path"].lstrip("/")).inc()
                start, body = _json_response(
                    415,
                    client_error(
                        "unsupported_media_type",
                        ["header", "content-type"],
                        f"Content-Type {shown} is not application/json",
                        error=f"Unsupported media type {shown}: send application/json",
                    ),
                )
                await send(start)
                await send(body)
                return
        await self.app(scope, receive, send)


# The error body every 4xx of the prediction APIs has: BentoML's generated schema says
# `detail` is a string, but its validation errors (and ours) answer a list of problems.
ERROR_SCHEMA = {
    "type": "object",
    "title": "ClientError",
    "required": ["error", "detail"],
    "properties": {
        "error": {"type": "string", "title": "Message"},
        "detail": {
            "type": "array",
            "title": "Problems",
            "items": {
                "type": "object",
                "required": ["type", "loc", "msg"],
                "properties": {
                    "type": {"type": "string"},
                    "loc": {
                        "type": "array",
                        "items": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
                    },
                    "msg": {"type": "string"},
                },
            },
        },
    },
}


def _nullable(schema: Any) -> Any:
    """pydantic writes an optional field as anyOf [type, {type: null}] (JSON Schema 2020-12);
    the document declares OpenAPI 3.0, which says `nullable: true`."""
    if isinstance(schema, list):
        return [_nullable(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    schema = {key: _nullable(value) for key, value in schema.items()}
    options = schema.get("anyOf")
    if isinstance(options, list) and {"type": "null"} in options and len(options) == 2:
        [kept] = [option for option in options if option != {"type": "null"}]
        schema = {**{k: v for k, v in schema.items() if k != "anyOf"}, **kept, "nullable": True}
        if "enum" in schema:  # OpenAPI 3.0.3: a nullable enum lists null among its values
            schema["enum"] = [*schema["enum"], None]
    return schema


def corrected_openapi(spec: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI document as the service behaves: optional fields are nullable, 4xx bodies
    of the prediction APIs are ClientError (a list of problems), unsupported media types are
    a documented 415, and a prediction before any model exists is a documented 503."""
    spec = _nullable(spec)
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    schemas["ClientError"] = ERROR_SCHEMA
    reference = {"$ref": "#/components/schemas/ClientError"}
    message = {"$ref": "#/components/schemas/InternalServerError"}
    for path in API_PATHS:
        operation = spec["paths"][path]["post"]
        # BentoML inlines the request schema with its null options dropped: point it at the
        # component, which keeps them.
        operation["requestBody"]["required"] = True  # no body is a 415, not a request
        body = operation["requestBody"]["content"]["application/json"]
        if body["schema"].get("title") in schemas:
            body["schema"] = {"$ref": f"#/components/schemas/{body['schema']['title']}"}
        responses = operation["responses"]
        responses["400"] = {
            "description": "Invalid input: each problem with its field",
            "content": {"application/json": {"schema": reference}},
        }
        responses["415"] = {
            "description": "The body is not application/json",
            "content": {"application/json": {"schema": reference}},
        }
        responses["503"] = {
            "description": "No model is being served yet",
            "content": {"application/json": {"schema": message}},
        }
    return spec


class CorrectedOpenAPI:
    """ASGI middleware: serves /docs.json through `corrected_openapi`. BentoML 1.4 builds its
    error responses from a module-level table (`_bentoml_sdk/service/openapi.py`) with no
    hook to change them, so the document is corrected on its way out."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != "/docs.json":
            await self.app(scope, receive, send)
            return
        start: dict = {}
        body = bytearray()

        async def collect(message: dict) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                body.extend(message.get("body", b""))

        await self.app(scope, receive, collect)
        if start.get("status") != 200:
            await send(start)
            await send({"type": "http.response.body", "body": bytes(body)})
            return
        first, rest = _json_response(200, corrected_openapi(json.loads(body)))
        await send(first)
        await send(rest)


class RejectionMetrics:
    """ASGI middleware: counts the 400s BentoML's input validation answers, by reason.

    Validation happens before the API method runs, so this is where a rejection is seen;
    only error bodies are parsed, never a successful response.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path not in API_PATHS:
            await self.app(scope, receive, send)
            return
        status = 0
        body = bytearray()

        async def watch(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and 400 <= status < 500:
                body.extend(message.get("body", b""))
                if not message.get("more_body"):
                    for reason in self._reasons(bytes(body)):
                        REJECTED.labels(reason=reason, endpoint=path.lstrip("/")).inc()
            await send(message)

        await self.app(scope, receive, watch)

    @staticmethod
    def _reasons(body: bytes) -> set[str]:
        try:
            details = json.loads(body).get("detail")
        except (ValueError, AttributeError):
            return {"other"}
        if not isinstance(details, list) or not details:
            return {"other"}
        return {rejection_reason(d.get("type", ""), d.get("loc", [])) for d in details}


class RequestTimeout(traffic.TimeoutMiddleware):
    """BentoML's request timeout (`traffic.timeout`), with its timer cancelled on answer.

    BentoML 1.4.39's TimeoutMiddleware arms one `loop.call_later` per request and never
    cancels it, so every answered request's future and context (its OpenTelemetry span among
    them, ~18 objects) stay alive for the whole timeout: at 30 s and ~800 req/s per worker,
    ~400,000 objects that each full garbage collection walks. Those collections stalled the
    worker for 100-400 ms, growing with the load: the p99 under load. Same behaviour
    otherwise: a 504 when no answer has started in time, no limit once it has. 1.4.40 still
    has the leak; drop this class once BentoML cancels its timer.
    """

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        answered = False
        try:
            async with asyncio.timeout(self.timeout) as deadline:  # its timer ends with it

                async def send_and_stop_clock(message: dict) -> None:
                    nonlocal answered
                    if not answered:
                        answered = True
                        deadline.reschedule(None)
                    await send(message)

                await self.app(scope, receive, send_and_stop_clock)
        except TimeoutError:
            if not deadline.expired():
                raise  # the app's own TimeoutError, not this deadline
            await JSONResponse(
                {"error": f"Not able to process the request in {self.timeout} seconds"},
                status_code=504,
            )(scope, receive, send)


# BentoML builds its middleware stack from this module attribute when a worker starts its app,
# after importing this module.
traffic.TimeoutMiddleware = RequestTimeout

info_app = FastAPI()


@bentoml.asgi_app(info_app, path="/")
@bentoml.service(
    workers=WORKERS,
    traffic={"timeout": 30},
    endpoints={"livez": "/livez", "readyz": "/readyz"},
)
class TitanicSurvival:
    """Survival predictions for Titanic passengers from the last promoted model."""

    def __init__(self) -> None:
        self._model: registry.RegisteredModel | None = None
        self._unloadable: str | None = None  # a version that failed to load
        # A failing log never fails a prediction: it is answered, counted and alerted on.
        self._log = PredictionLogWriter(on_failure=_log_failed, on_health=LOG_WRITABLE.set)
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
        """Load the serving model if it differs from the one in use; keep serving on error.

        A version that fails to load (a half-written or corrupt store entry) is reported once
        and not tried again until the serving version changes."""
        tag = None
        try:
            tag = registry.serving_tag()
            current = self._model
            if tag is None or tag == self._unloadable:
                return
            if current is not None and tag.endswith(":" + current.version):
                return
            loaded = registry.load(tag)
        except Exception:
            self._unloadable = tag
            logger.exception("Could not load %s; keeping the current model", tag)
            return
        self._model = loaded  # one reference assignment: requests see old or new, whole
        gc.freeze()
        if current is not None:
            SERVING_VERSION.labels(version=current.version).set(0)
        SERVING_VERSION.labels(version=loaded.version).set(1)
        logger.info("Serving model %s", loaded.tag)

    @bentoml.on_shutdown
    def _flush_log(self) -> None:
        """Write out what the prediction log still holds (a bucket log's last batch)."""
        self._log.close()

    def _watch(self) -> None:
        stop = threading.Event()
        while not stop.wait(POLL_SECONDS):
            self._refresh()

    def _serving(self) -> registry.RegisteredModel:
        model = self._model
        if model is None:
            raise bentoml.exceptions.ServiceUnavailable(
                "No model has been promoted yet: materialize the serving_model asset."
            )
        return model

    def __is_ready__(self) -> bool:
        return self._model is not None

    # --- API -----------------------------------------------------------------------------

    def _score(
        self, endpoint: str, passengers: list[dict[str, Any]], request_id: str
    ) -> tuple[registry.RegisteredModel, np.ndarray, np.ndarray]:
        model = self._serving()
        columns = _columns(passengers)
        probabilities = model.probabilities(columns)
        survived = probabilities >= model.threshold
        self._log.write(request_id, endpoint, model.version, columns, probabilities, survived)
        alive = int(survived.sum())
        PREDICTIONS.labels(outcome="survived", endpoint=endpoint).inc(alive)
        PREDICTIONS.labels(outcome="died", endpoint=endpoint).inc(len(survived) - alive)
        return model, probabilities, survived

    @bentoml.api
    async def predict(self, passenger: Passenger, /, ctx: bentoml.Context) -> Prediction:
        """Whether one passenger survives, the probability, and the threshold used. The id
        is the X-Request-ID header if sent, else the service's request id."""
        rid = request_id(ctx)
        model, probabilities, survived = self._score("predict", [vars(passenger)], rid)
        return Prediction(
            id=rid,
            survived=bool(survived[0]),
            probability=float(probabilities[0]),
            threshold=model.threshold,
            model_version=model.version,
            request_id=rid,
        )

    @bentoml.api(input_spec=PassengerBatch)
    async def predict_batch(
        self, passengers: list[BatchPassenger], ctx: bentoml.Context
    ) -> BatchPrediction:
        """One prediction per passenger, in order; at most MAX_BATCH (1,000) per request.
        Passenger i's id is `<request id>-<i>`."""
        rid = request_id(ctx)
        model, probabilities, survived = self._score("predict_batch", passengers, rid)
        ids = prediction_ids(rid, len(passengers), "predict_batch")
        # Built from values already typed: validating 1,000 outcomes again took longer
        # than scoring them.
        return BatchPrediction.model_construct(
            predictions=[
                {"id": i, "survived": s, "probability": p}
                for i, s, p in zip(ids, survived.tolist(), probabilities.tolist(), strict=True)
            ],
            threshold=model.threshold,
            model_version=model.version,
            request_id=rid,
        )

    @bentoml.api
    async def explain(self, passenger: Passenger, /, ctx: bentoml.Context) -> Explanation:
        """Per-feature contributions to the booster's raw score (log-odds), which they add up
        to; `probability` is that score through the model's calibration, as /predict serves."""
        model = self._serving()
        columns = _columns([vars(passenger)])
        matrix = model.feature_matrix(columns)
        contributions = model.booster.predict(matrix, pred_contrib=True, num_threads=1)[0]
        raw_score = float(contributions.sum())
        probability = float(model.calibration(1.0 / (1.0 + math.exp(-raw_score))))
        survived = probability >= model.threshold
        rid = request_id(ctx)
        self._log.write(rid, "explain", model.version, columns, [probability], [survived])
        PREDICTIONS.labels(outcome="survived" if survived else "died", endpoint="explain").inc()
        return Explanation(
            contributions={n: float(c) for n, c in zip(FEATURES, contributions[:-1], strict=True)},
            bias=float(contributions[-1]),
            raw_score=raw_score,
            feature_values={
                n: None if math.isnan(v) else float(v)
                for n, v in zip(FEATURES, matrix[0], strict=True)
            },
            probability=probability,
            survived=survived,
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
            404: {"description": "Unknown ids"},
            409: {"description": "Conflicts"},
            503: {"description": "Outcomes cannot be stored now"},
        },
    )
    def feedback(self, body: FeedbackBatch) -> FeedbackReceipt:
        """Outcomes for earlier predictions, by id; stored all or none, beside the
        prediction log (core/outcomes.py). 404 names ids no prediction has, 409 ids that
        already have a different outcome; sending a stored outcome again changes nothing."""
        if self._outcomes is None:
            raise HTTPException(503, "Outcomes cannot be stored: the log's folder is unwritable.")
        pairs = [(o.id, o.survived) for o in body.outcomes]
        stored, rejection = self._outcomes.add(pairs)
        if rejection is not None:
            raise HTTPException(
                rejection.status, {"reason": rejection.reason, "ids": rejection.ids}
            )
        return FeedbackReceipt(received=len(pairs), stored=stored)

    @info_app.get("/model_info", response_model=ModelInfo, tags=["Service APIs"])
    def model_info(self) -> ModelInfo:
        """The serving model: version, when and on what data it was trained, metrics,
        features, threshold. (GET, so it is mounted beside BentoML's POST-only APIs.)"""
        model = self._model
        if model is None:
            raise HTTPException(503, "No model has been promoted yet.")
        return model_info(model)

    @info_app.post(
        "/predict_csv",
        tags=["Service APIs"],
        response_class=Response,
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"text/csv": {"schema": {"type": "string", "format": "binary"}}},
            }
        },
        responses={
            200: {
                "description": "The scored CSV: PassengerId, survived, probability, "
                "model_version for each valid row; row and reason for each rejected one.",
                "content": {"text/csv": {"schema": {"type": "string"}}},
            },
            **{
                status: {
                    "description": text,
                    "content": {"application/json": {"schema": ERROR_SCHEMA}},
                }
                for status, text in (
                    (400, "The body is not a readable CSV"),
                    (413, f"The CSV is larger than {MAX_CSV_BYTES:,} bytes"),
                    (415, "The body is not text/csv"),
                    (503, "No model is being served yet"),
                )
            },
        },
    )
    async def predict_csv(self, request: Request) -> Response:
        """Score a passenger CSV (the inbox's columns: PassengerId, Pclass, Sex, SibSp, Parch,
        optionally Age, Fare, Embarked, Name, Cabin, Ticket) with the batch scoring rules:
        valid rows are scored, invalid ones come back with their row number and reason. For
        people without access to the scoring inbox; like batch scoring, not in the
        prediction log."""
        media_type = media_type_of(request.headers.get("content-type", ""))
        if media_type != "text/csv":
            return _client_error(415, "content-type", f"{media_type or 'none'} is not text/csv")
        body = bytearray()
        async for chunk in request.stream():
            body.extend(chunk)
            if len(body) > MAX_CSV_BYTES:
                return _client_error(413, "body", f"larger than {MAX_CSV_BYTES:,} bytes")
        model = self._model
        if model is None:
            return _client_error(503, "model", "no model has been promoted yet")
        try:
            scored = await asyncio.to_thread(_score_csv, bytes(body), model)
        except ValueError as error:  # pandas' parser errors, undecodable bytes
            return _client_error(400, "body", f"not a readable CSV: {error}"[:500])
        return Response(scored, media_type="text/csv")


def _client_error(status: int, where: str, message: str) -> JSONResponse:
    return JSONResponse(client_error("invalid_request", [where], message), status_code=status)


def _score_csv(body: bytes, model: registry.RegisteredModel) -> bytes:
    """One CSV back: the scored rows, then the rejected rows with their row and reason."""
    import io

    import pandas as pd

    from titanic_assets.core.batch_scoring import score_file

    predictions, rejects = io.BytesIO(), io.BytesIO()
    score_file(io.BytesIO(body), model, predictions, rejects)
    scored = pd.read_csv(io.BytesIO(predictions.getvalue()), dtype=str)
    rejected = pd.read_csv(io.BytesIO(rejects.getvalue()), dtype=str)
    keep = [c for c in ("PassengerId", "row", "reason") if c in rejected]
    return pd.concat([scored, rejected[keep]], ignore_index=True).to_csv(index=False).encode()


TitanicSurvival.add_asgi_middleware(RejectionMetrics)
TitanicSurvival.add_asgi_middleware(JsonBodiesOnly)
TitanicSurvival.add_asgi_middleware(CorrectedOpenAPI)
