"""Plain ASGI middleware (no per-request task switching): ids, logs, metrics, limits."""

from __future__ import annotations

import re
import time
import uuid

import structlog
from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crm_api.kernel.context import request_id_var
from crm_api.kernel.errors import PayloadTooLarge
from crm_api.kernel.problems import problem_response, unexpected_error

logger = structlog.get_logger("crm_api.http")

REQUESTS = Counter(
    "crm_http_requests_total", "HTTP requests answered", ["method", "route", "status"]
)
LATENCY = Histogram(
    "crm_http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["method", "route"],
)
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class RequestContextMiddleware:
    """Assigns ``X-Request-ID``, binds it to logs, records metrics and an access log."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
                break
        request_id = (
            incoming
            if incoming and _VALID_REQUEST_ID.match(incoming)
            else uuid.uuid4().hex
        )
        token = request_id_var.set(request_id)
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        status = 500
        started_response = False
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status, started_response
            if message["type"] == "http.response.start":
                status = message["status"]
                started_response = True
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            # Answered here, inside the request id's scope, so even a 500 carries
            # the id and a problem body, and the connection stays usable.
            if started_response:
                raise
            error = unexpected_error(exc)
            await problem_response(error, instance=scope.get("path"))(
                scope, receive, send_with_id
            )
        finally:
            elapsed_s = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            REQUESTS.labels(scope["method"], template, str(status)).inc()
            LATENCY.labels(scope["method"], template).observe(elapsed_s)
            if status >= 500:
                logger.error(
                    "http.request",
                    method=scope["method"],
                    path=scope["path"],
                    status=status,
                    duration_ms=round(elapsed_s * 1000, 2),
                )
            elif status >= 400 or scope["method"] != "GET":
                logger.info(
                    "http.request",
                    method=scope["method"],
                    path=scope["path"],
                    status=status,
                    duration_ms=round(elapsed_s * 1000, 2),
                )
            request_id_var.reset(token)


class BodyLimitMiddleware:
    """Answers 413 once a request body passes its limit (declared or streamed).

    The limit is ``max_bytes``, or ``upload_max_bytes`` for a POST to a path ending in
    ``/imports`` (file uploads, which the route class spools to disk, not memory).
    """

    def __init__(
        self, app: ASGIApp, *, max_bytes: int, upload_max_bytes: int | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.upload_max_bytes = upload_max_bytes or max_bytes

    def _limit(self, scope: Scope) -> int:
        if scope["method"] == "POST" and scope["path"].rstrip("/").endswith("/imports"):
            return self.upload_max_bytes
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope)
        for name, value in scope["headers"]:
            if name == b"content-length":
                if value.isdigit() and int(value) > limit:
                    await self._reject(scope, receive, send, limit)
                    return
                break

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise PayloadTooLarge(self._detail(limit))
            return message

        await self.app(scope, limited_receive, send)

    def _detail(self, limit: int) -> str:
        return f"The request body is larger than {limit} bytes."

    async def _reject(
        self, scope: Scope, receive: Receive, send: Send, limit: int
    ) -> None:
        response = problem_response(
            PayloadTooLarge(self._detail(limit)), instance=scope.get("path")
        )
        response.headers["Connection"] = "close"
        await response(scope, receive, send)
