"""The service's HTTP plumbing around BentoML 1.4: request ids, error bodies, and the ASGI
middlewares that answer non-JSON bodies with a 415, count rejected inputs, and serve the
OpenAPI document as the service behaves."""

from __future__ import annotations

import hmac
import json
import re
import textwrap
import uuid
from collections.abc import Sequence
from typing import Any

import bentoml
from fastapi import HTTPException
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from bento.metrics import REJECTED
from titanic_assets.core.contract import InputField
from titanic_assets.core.domain import Words
from titanic_assets.core.outcomes import ANONYMOUS, sender_id

# POST /feedback's credential, documented as a bearer scheme; checked by `feedback_sender`.
FEEDBACK_BEARER = HTTPBearer(auto_error=False, description="TITANIC_FEEDBACK_TOKEN")

# The prediction APIs: BentoML validates their JSON bodies before the service sees them.
API_PATHS = ("/predict", "/predict_batch", "/explain")
# A client's own request id (X-Request-ID): the key it sends outcomes back with later.
CLIENT_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


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


def feedback_sender(credentials: HTTPAuthorizationCredentials | None, tokens: list[str]) -> str:
    """Who is sending outcomes, as stored with them (`outcomes.sender_id`): anyone when the
    service takes no tokens, else the holder of the bearer token sent. 401 without one, 403
    with one not accepted; every accepted token is compared, in constant time each, so the
    answer's timing says nothing about how much of a token matched."""
    if not tokens:
        return ANONYMOUS
    if credentials is None:
        raise HTTPException(
            401,
            "Outcomes need a credential: send Authorization: Bearer <token>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    sent = credentials.credentials.encode()
    matches = [hmac.compare_digest(sent, token.encode()) for token in tokens]
    if not any(matches):
        raise HTTPException(403, "This bearer token is not accepted for outcomes")
    return sender_id(tokens[matches.index(True)])


def rejection_reason(error_type: str, location: list[Any], batch_key: str = "rows") -> str:
    """A pydantic error type, as the reason label of the rejected-inputs metric (`batch_key`:
    the batch body's key, whose length error is a batch_size)."""
    if error_type == "json_invalid":
        return "malformed_json"
    if error_type == "extra_forbidden":
        return "unknown_field"
    if error_type == "missing":
        return "missing_field"
    if error_type in ("too_long", "too_short") and location == [batch_key]:
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


def error_response(status: int, where: str, message: str) -> JSONResponse:
    """A 4xx (or 503) of the mounted routes, in the ClientError shape."""
    return JSONResponse(client_error("invalid_request", [where], message), status_code=status)


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


def corrected_openapi(spec: dict[str, Any], feedback_needs_token: bool = True) -> dict[str, Any]:
    """The OpenAPI document as the service behaves: optional fields are nullable, 4xx bodies
    of the prediction APIs are ClientError (a list of problems), unsupported media types are
    a documented 415, a prediction before any model exists is a documented 503, and
    POST /feedback asks for its bearer token only when the service takes none without."""
    spec = _nullable(spec)
    if not feedback_needs_token:
        feedback = spec["paths"]["/feedback"]["post"]
        feedback.pop("security", None)
        for status in ("401", "403"):
            feedback["responses"].pop(status, None)
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


def csv_route_docs(
    max_bytes: int, inputs: Sequence[InputField], id_column: str | None, words: Words
) -> dict[str, Any]:
    """POST /predict_csv in the OpenAPI document, as keyword arguments of its route: FastAPI
    sees a raw request, so the text/csv body and every answer are declared here, with the
    columns of the domain's files (its id column, if any, and `inputs`)."""
    required = [*([id_column] if id_column else []), *(f.name for f in inputs if f.required)]
    optional = [f.name for f in inputs if not f.required]
    columns = ", ".join(required) + (f", optionally {', '.join(optional)}" if optional else "")
    description = textwrap.fill(
        f"Score a {words.row} CSV (the inbox's columns: {columns}) with the batch scoring "
        "rules: valid rows are scored, invalid ones come back with their row number and "
        "reason. For people without access to the scoring inbox; like batch scoring, not in "
        "the prediction log.",
        width=84,
    )
    return {
        "description": description,
        "openapi_extra": {
            "requestBody": {
                "required": True,
                "content": {"text/csv": {"schema": {"type": "string", "format": "binary"}}},
            }
        },
        "responses": {
            200: {
                "description": "The scored CSV, a line per row in the file's order: "
                f"{id_column + ', ' if id_column else ''}row (from 1), then {words.decision}, "
                "probability, model_version for a valid row, reason for a rejected one.",
                "content": {"text/csv": {"schema": {"type": "string"}}},
            },
            **{
                status: {
                    "description": text,
                    "content": {"application/json": {"schema": ERROR_SCHEMA}},
                }
                for status, text in (
                    (400, "The body is not a readable CSV"),
                    (413, f"The CSV is larger than {max_bytes:,} bytes"),
                    (415, "The body is not text/csv"),
                    (503, "No model is being served yet"),
                )
            },
        },
    }


def client_schema(schema: dict[str, Any], batch_key: str) -> dict[str, Any]:
    """BentoML's /schema.json with a batch's rows passed through by its clients as sent.

    `bentoml.SyncHTTPClient(url)` types its calls from /schema.json and rebuilds every JSON
    object whose schema lists `properties` from those properties alone (`_encode` in
    `_bentoml_impl/serde.py`): a batch row's unknown or misspelt field was silently dropped
    (a typo'd optional field answered 200 as unknown), and a row that is not a mapping (a
    namedtuple, a dataclass) was sent as `{}`. Without `properties` on the batch's rows the
    client sends each row as given, and the service validates it and names each problem,
    as for any other caller. One row's endpoints keep theirs: there the client refuses an
    unknown field itself."""
    for route in schema.get("routes", []):
        field = route.get("input", {}).get("properties", {}).get(batch_key)
        if field is not None and isinstance(field.get("items"), dict):
            field["items"].pop("properties", None)
    return schema


class CorrectedOpenAPI:
    """ASGI middleware: serves /docs.json through `corrected_openapi` and /schema.json (what
    BentoML's clients read) through `client_schema`. BentoML 1.4 builds its error responses
    from a module-level table (`_bentoml_sdk/service/openapi.py`) with no hook to change
    them, so the documents are corrected on their way out."""

    def __init__(
        self, app: Any, feedback_needs_token: bool = True, batch_key: str = "rows"
    ) -> None:
        self.app = app
        self.feedback_needs_token = feedback_needs_token
        self.batch_key = batch_key

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] not in ("/docs.json", "/schema.json"):
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
        if scope["path"] == "/docs.json":
            document = corrected_openapi(json.loads(body), self.feedback_needs_token)
        else:
            document = client_schema(json.loads(body), self.batch_key)
        first, rest = _json_response(200, document)
        await send(first)
        await send(rest)


class RejectionMetrics:
    """ASGI middleware: counts the 400s BentoML's input validation answers, by reason.

    Validation happens before the API method runs, so this is where a rejection is seen;
    only error bodies are parsed, never a successful response.
    """

    def __init__(self, app: Any, batch_key: str = "rows") -> None:
        self.app = app
        self.batch_key = batch_key  # the batch body's key (the domain's words.rows)

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

    def _reasons(self, body: bytes) -> set[str]:
        try:
            details = json.loads(body).get("detail")
        except (ValueError, AttributeError):
            return {"other"}
        if not isinstance(details, list) or not details:
            return {"other"}
        return {
            rejection_reason(d.get("type", ""), d.get("loc", []), self.batch_key) for d in details
        }
