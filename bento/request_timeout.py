"""The service's request timeout: BentoML's, without its leak. The one module of the project
that reaches into BentoML's private modules, so that it can be deleted whole.

BentoML 1.4 builds each worker's request timeout (`traffic={"timeout": ...}` on the service)
from `bentoml._internal.server.http.traffic.TimeoutMiddleware`, which keeps every answered
request alive for the whole timeout (1.4.39 and 1.4.40; RequestTimeout says how and what it
cost). There is no public hook to change it, so `install` replaces the class BentoML reads.

tests/test_request_timeout.py runs BentoML's own middleware too and fails once it no longer
leaks: then delete this module and the service's call to `install`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from bentoml._internal.server.http import traffic
from fastapi.responses import JSONResponse

# BentoML's own middleware, as this module found it: RequestTimeout's base, and what the test
# checks for the leak.
BentoMLTimeoutMiddleware = traffic.TimeoutMiddleware


class RequestTimeout(BentoMLTimeoutMiddleware):
    """BentoML's request timeout (`traffic.timeout`), with its timer cancelled on answer.

    BentoML 1.4.39's TimeoutMiddleware arms one `loop.call_later` per request and never
    cancels it, so every answered request's future and context (its OpenTelemetry span among
    them, ~18 objects) stay alive for the whole timeout: at 30 s and ~800 req/s per worker,
    ~400,000 objects that each full garbage collection walks. Those collections stalled the
    worker for 100-400 ms, growing with the load: the p99 under load. Same behaviour
    otherwise: a 504 when no answer has started in time, no limit once it has.
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


def install() -> None:
    """Make BentoML time requests out with RequestTimeout. BentoML builds its middleware stack
    from this module attribute when a worker starts its app, after importing the service."""
    traffic.TimeoutMiddleware = RequestTimeout
