"""Idempotency-Key on POST: the same key and body replay the first response.

The key is claimed with an INSERT in the request's own transaction and the response is
stored in that transaction just before it commits, so a committed key always carries
its response, and a request that fails leaves no key behind. A concurrent request with
the same key waits on the row lock and then replays.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime
from typing import Any

from fastapi import Request
from sqlalchemy import ForeignKey, LargeBinary, String, func
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column
from starlette.responses import Response

from crm_api.kernel.db import Base
from crm_api.kernel.errors import FieldError, ValidationFailed
from crm_api.kernel.requests import is_form_data
from crm_api.kernel.routing import before_commit

REPLAYED_HEADER = "Idempotent-Replayed"
_STORED_HEADERS = ("content-type", "etag", "location")
_FORM_CHUNK_BYTES = 1_048_576


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    principal: Mapped[str] = mapped_column(String(80), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None]
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary)
    response_headers: Mapped[dict[str, str] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now(), index=True)


class Replay(Exception):
    """Raised to answer with a stored response instead of running the handler."""

    def __init__(self, response: Response) -> None:
        super().__init__("idempotent replay")
        self.response = response


async def fingerprint(request: Request) -> str:
    digest = hashlib.sha256()
    digest.update(request.method.encode())
    digest.update(b"\0" + request.url.path.encode())
    digest.update(b"\0" + request.url.query.encode())
    if is_form_data(request.headers.get("content-type")):
        await _digest_form(digest, request)
    else:
        digest.update(b"\0" + await request.body())
    return digest.hexdigest()


async def _digest_form(digest: Any, request: Request) -> None:
    """Hash an upload part by part: its body was spooled, never read into memory."""
    for name, value in (await request.form()).multi_items():
        digest.update(b"\0" + name.encode())
        if isinstance(value, str):
            digest.update(b"\0" + value.encode())
            continue
        digest.update(b"\0" + (value.filename or "").encode())
        await value.seek(0)
        while chunk := await value.read(_FORM_CHUNK_BYTES):
            digest.update(chunk)
        await value.seek(0)


async def claim(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    principal: str,
    key: str,
    request_fingerprint: str,
    redact: tuple[str, ...] = (),
) -> None:
    """Claim ``key`` for this request, or raise :class:`Replay` / a 422 if it is used.

    ``redact`` names top-level response fields that are never stored (secrets shown
    once): a replay answers them as null.
    """
    inserted = await session.scalar(
        insert(IdempotencyKey)
        .values(
            tenant_id=tenant_id,
            principal=principal,
            key=key,
            fingerprint=request_fingerprint,
        )
        .on_conflict_do_nothing()
        .returning(IdempotencyKey.key)
    )
    if inserted is not None:

        async def store(session: AsyncSession, response: Response) -> None:
            row = await session.get_one(IdempotencyKey, (tenant_id, principal, key))
            row.status_code = response.status_code
            row.response_body = _redacted(bytes(response.body), redact)
            row.response_headers = {
                name: value
                for name, value in response.headers.items()
                if name in _STORED_HEADERS
            }
            await session.flush()

        before_commit(session, store)
        return

    existing = await session.get_one(IdempotencyKey, (tenant_id, principal, key))
    if existing.fingerprint != request_fingerprint:
        raise ValidationFailed(
            "This Idempotency-Key was used with a different request.",
            errors=[
                FieldError(
                    field="Idempotency-Key",
                    location="header",
                    code="idempotency_key_reused",
                    message="Key already used for a different request",
                )
            ],
        )
    headers = dict(existing.response_headers or {})
    headers[REPLAYED_HEADER] = "true"
    raise Replay(
        Response(
            content=existing.response_body,
            status_code=existing.status_code or 200,
            headers=headers,
        )
    )


def _redacted(body: bytes, fields: tuple[str, ...]) -> bytes:
    if not fields:
        return body
    document = json.loads(body)
    for field in fields:
        if field in document:
            document[field] = None
    return json.dumps(document, separators=(",", ":")).encode()


async def replay_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Replay)
    return exc.response
