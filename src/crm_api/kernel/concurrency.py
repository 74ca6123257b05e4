"""ETag / If-Match: a row's ``version`` is its entity tag."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, Response

from crm_api.kernel.errors import PreconditionFailed, ValidationFailed


def etag(version: int) -> str:
    return f'"{version}"'


def set_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = etag(version)


async def if_match_header(
    if_match: Annotated[
        str | None,
        Header(
            alias="If-Match",
            max_length=256,
            description="The `ETag` last read; the write fails with 412 if it is stale.",
        ),
    ] = None,
) -> int | None:
    """The version the caller expects, or None when they did not say."""
    if if_match is None or if_match.strip() == "*":
        return None
    tag = if_match.strip()
    if tag.startswith("W/"):
        tag = tag[2:]
    tag = tag.strip('"')
    # ASCII digits only ("²".isdigit() is true), and short enough to be a version.
    if not (tag.isascii() and tag.isdigit() and len(tag) <= 18):
        raise ValidationFailed.single(
            "If-Match", "If-Match must be an ETag this API sent", location="header"
        )
    return int(tag)


def check_version(expected: int | None, current: int) -> None:
    if expected is not None and expected != current:
        raise PreconditionFailed(
            f"The resource changed: it is at version {current}, not {expected}.",
            extra={"current_etag": etag(current)},
        )
