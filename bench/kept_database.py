"""Bench databases kept between runs: built once for given sizes, found again by a
JSON record in the database's comment, so a second run skips the build."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
from bench_me import log


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


async def open_database(
    admin_url: str, name: str, wanted: dict[str, Any], fresh: bool
) -> dict[str, Any] | None:
    """Create ``name`` unless a finished build with the same shape is there; that
    build's record, or None when the data must be built."""
    connection = await asyncpg.connect(admin_url)
    try:
        row = await connection.fetchrow(
            "SELECT shobj_description(oid, 'pg_database') AS note "
            "FROM pg_database WHERE datname = $1",
            name,
        )
        note: dict[str, Any] = {}
        if row is not None and row["note"]:
            try:
                note = json.loads(row["note"])
            except ValueError:
                note = {}
        same = all(note.get(key) == value for key, value in wanted.items())
        if row is not None and not fresh and same and "build" in note:
            log(f"reusing database {name} (built earlier)")
            return dict(note["build"])
        if row is not None:
            reason = "--fresh" if fresh else "unfinished or other shape"
            log(f"dropping database {name} ({reason})")
            await connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{name}"')
        log(f"created database {name}")
        return None
    finally:
        await connection.close()


async def record_build(
    admin_url: str, name: str, wanted: dict[str, Any], build: dict[str, Any]
) -> None:
    """Mark ``name`` as finished, with what the bench needs to know of the build."""
    note = json.dumps({**wanted, "build": build})
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(f'COMMENT ON DATABASE "{name}" IS {_quote(note)}')
    finally:
        await connection.close()


async def drop_database(admin_url: str, name: str) -> None:
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()
    log(f"dropped database {name}")
