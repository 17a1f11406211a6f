"""The service's request timeout (bento/request_timeout.py), run as ASGI in process.

It replaces BentoML 1.4's TimeoutMiddleware, whose per-request timer kept every answered
request's context alive for the whole timeout (the cause of the service's p99 under load,
see its docstring); these tests hold it to the same behaviour without that retention, and
one of them says when BentoML's own middleware stops leaking, so the module can go.
"""

from __future__ import annotations

import asyncio
import contextvars
import gc
import json
import weakref

import pytest
import uvloop

import bento.service  # noqa: F401  (importing the service installs RequestTimeout)
from bento import request_timeout
from bento.request_timeout import BentoMLTimeoutMiddleware, RequestTimeout

REQUEST_SPAN: contextvars.ContextVar[object] = contextvars.ContextVar("request_span")


class Span:
    """Stands for what BentoML's outer middlewares put in the request's context."""


async def answer(scope, receive, send, pause: float = 0.0, after_start: float = 0.0) -> None:
    await asyncio.sleep(pause)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await asyncio.sleep(after_start)
    await send({"type": "http.response.body", "body": b"ok"})


async def request(app) -> tuple[int, bytes]:
    """One GET through `app` in its own task, as a server runs each request."""
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/", "headers": []}
    await asyncio.create_task(app(scope, receive, send))
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


def outlives_its_answer(middleware: type) -> bool:
    """Whether what a request's context holds is still alive once the request is answered,
    behind `middleware` with BentoML's 30 s timeout, in the service's event loop."""

    async def scenario() -> bool:
        spans: list[weakref.ref] = []
        timed = middleware(answer, timeout=30)

        async def with_span(scope, receive, send):  # as OpenTelemetry's middleware does
            span = Span()
            spans.append(weakref.ref(span))
            REQUEST_SPAN.set(span)
            await timed(scope, receive, send)

        assert await request(with_span) == (200, b"ok")
        await asyncio.sleep(0.05)  # the loop's next turns run what the request left ready
        gc.collect()
        return spans[0]() is not None  # checked while the loop runs, long before 30 s

    return uvloop.run(scenario())  # the service's loop (uvicorn's default with uvloop)


def test_the_service_uses_it_in_place_of_bentoml_s_timeout():
    assert request_timeout.traffic.TimeoutMiddleware is RequestTimeout


def test_an_answered_request_leaves_nothing_alive_behind_it():
    assert not outlives_its_answer(RequestTimeout)


def test_bentoml_s_own_timeout_still_keeps_answered_requests_alive():
    """The reason bento/request_timeout.py exists. Once this fails, BentoML cancels its timer
    and the project can use BentoML's middleware again."""
    if not outlives_its_answer(BentoMLTimeoutMiddleware):
        pytest.fail(
            "BentoML's TimeoutMiddleware no longer leaks its timer: drop bento/request_timeout.py"
        )


def test_no_answer_within_the_timeout_is_a_504():
    async def slow(scope, receive, send):
        await answer(scope, receive, send, pause=5)

    status, body = asyncio.run(request(RequestTimeout(slow, timeout=0.1)))
    assert status == 504
    assert json.loads(body) == {"error": "Not able to process the request in 0.1 seconds"}


def test_an_answer_started_in_time_is_not_cut_off():
    async def streaming(scope, receive, send):
        await answer(scope, receive, send, after_start=0.3)

    assert asyncio.run(request(RequestTimeout(streaming, timeout=0.1))) == (200, b"ok")


def test_the_app_s_own_timeout_error_is_not_taken_for_the_deadline():
    async def failing(scope, receive, send):
        raise TimeoutError("an upstream call timed out")

    with pytest.raises(TimeoutError, match="an upstream call timed out"):
        asyncio.run(request(RequestTimeout(failing, timeout=30)))
