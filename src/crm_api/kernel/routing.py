"""The route class every endpoint uses: one transaction per request, owned here.

The handler runs inside a session; on success the transaction commits *before* the
response leaves, so a failed commit is an error response and never a lost write. Any
exception rolls everything back, unless the error asks to keep what it recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from crm_api.kernel.errors import AppError
from crm_api.kernel.requests import (
    DecimalJSONRequest,
    is_form_data,
    is_json_content,
    parse_json,
)
from crm_api.kernel.resources import Resources

SESSION_SCOPE_KEY = "crm.session"
AfterCommit = Callable[[], Coroutine[Any, Any, None]]
BeforeCommit = Callable[[AsyncSession, Response], Coroutine[Any, Any, None]]


def request_session(request: Request) -> AsyncSession:
    session = request.scope.get(SESSION_SCOPE_KEY)
    if session is None:
        raise RuntimeError("route is not a CrmRoute: no session in scope")
    return session  # type: ignore[no-any-return]


def before_commit(session: AsyncSession, hook: BeforeCommit) -> None:
    """Run ``hook`` with the final response, inside the transaction, before it commits."""
    session.info.setdefault("before_commit", []).append(hook)


def after_commit(session: AsyncSession, hook: AfterCommit) -> None:
    """Run ``hook`` once the transaction has committed (e.g. enqueue a job)."""
    session.info.setdefault("after_commit", []).append(hook)


class CrmRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        # A 204 has no body, so no JSON content type either.
        if kwargs.get("status_code") == 204:
            kwargs["response_class"] = Response
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def unit_of_work(request: Request) -> Response:
            request = DecimalJSONRequest(request.scope, request.receive)
            if request.method in ("POST", "PUT", "PATCH"):
                content_type = request.headers.get("content-type")
                if is_form_data(content_type):
                    # An upload is parsed rather than read: Starlette spools each
                    # file to disk past 1 MB, and the handler reuses (and closes)
                    # the form, so a large file is never held in memory.
                    # NOTE: the body is taken before authentication runs (FastAPI
                    # reads it before any dependency), so an anonymous caller can
                    # make us spool up to the upload limit; checking credentials
                    # first would need the route to read its own body.
                    await request.form()
                else:
                    # Read the body here so size and syntax errors are ours to answer.
                    body = await request.body()
                    if body and is_json_content(content_type):
                        request._json = parse_json(body)
            resources: Resources = request.app.state.resources
            async with resources.sessionmaker() as session:
                request.scope[SESSION_SCOPE_KEY] = session
                try:
                    response = await handler(request)
                except AppError as error:
                    if error.preserve_writes:
                        await session.commit()
                    raise
                if response.status_code >= 400:
                    await session.rollback()
                    return response
                for hook in session.info.pop("before_commit", []):
                    await hook(session, response)
                await session.commit()
                hooks: list[AfterCommit] = session.info.pop("after_commit", [])
            for after in hooks:
                await after()
            return response

        return unit_of_work
