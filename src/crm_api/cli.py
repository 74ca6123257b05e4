"""The ``crm-api`` command: serve, worker, migrate, openapi, create-tenant, import."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import structlog

from crm_api.kernel.logging import configure_logging
from crm_api.settings import get_settings

logger = structlog.get_logger("crm_api.cli")


def _project_root() -> Path:
    """Where alembic.ini and migrations/ live: $CRM_PROJECT_ROOT, the checkout, or cwd."""
    configured = os.environ.get("CRM_PROJECT_ROOT")
    if configured:
        return Path(configured)
    checkout = Path(__file__).resolve().parents[2]
    return checkout if (checkout / "alembic.ini").exists() else Path.cwd()


ROOT = _project_root()


def _setup_logging() -> None:
    settings = get_settings()
    json_output = settings.log_json and not sys.stderr.isatty()
    configure_logging(json_output=json_output, level=settings.log_level)


def run_migrations(database_url: str | None = None) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    if database_url is not None:
        config.attributes["database_url"] = database_url
    command.upgrade(config, "head")


def _reset_settings(**env: str) -> None:
    os.environ.update(env)
    get_settings.cache_clear()


@click.group()
def main() -> None:
    """crm-api: a multi-tenant CRM behind a REST/JSON API."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Where embedded PostgreSQL and Redis keep their data [default: ./.crm-data].",
)
@click.option(
    "--worker/--no-worker",
    default=None,
    help="Run a job worker beside the API [default: on when anything is embedded].",
)
@click.option("--migrate/--no-migrate", default=True, show_default=True)
@click.option("--workers", default=1, show_default=True, help="API processes.")
def serve(
    host: str,
    port: int,
    data_dir: Path | None,
    worker: bool | None,
    migrate: bool,
    workers: int,
) -> None:
    """Run the API. With DATABASE_URL / REDIS_URL unset, embedded servers are used."""
    _setup_logging()
    from crm_api.embedded import (
        DataDirInUse,
        embedded_postgres,
        embedded_redis,
        exclusive_data_dir,
        jwt_secret_file,
    )

    settings = get_settings()
    data_dir = data_dir or settings.data_dir
    with contextlib.ExitStack() as stack:
        env: dict[str, str] = {}
        embedded = settings.database_url is None or settings.redis_url is None
        if embedded:
            try:
                stack.enter_context(exclusive_data_dir(data_dir))
            except DataDirInUse as error:
                raise click.ClickException(str(error)) from None
        if settings.database_url is None:
            env["DATABASE_URL"] = stack.enter_context(
                embedded_postgres(data_dir, owner=True)
            )
        if settings.redis_url is None:
            env["REDIS_URL"] = stack.enter_context(embedded_redis(data_dir))
        if settings.jwt_algorithm.startswith("HS") and settings.jwt_secret is None:
            env["CRM_JWT_SECRET"] = jwt_secret_file(data_dir)
        _reset_settings(**env)

        if migrate:
            run_migrations()
            logger.info("migrations.applied")
        if worker if worker is not None else embedded:
            process = subprocess.Popen([sys.executable, "-m", "crm_api", "worker"])
            stack.callback(_stop_process, process)
        try:
            _serve_http(host=host, port=port, workers=workers)
        except (_Stop, KeyboardInterrupt):
            logger.info("api.stopping")


def _stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
    logger.info("worker.exited", returncode=process.returncode)


class _Stop(Exception):
    """Raised by our SIGTERM handler so every embedded server is stopped on the way out."""


def _raise_stop(signum: int, frame: object) -> None:
    raise _Stop(signum)


def _serve_http(*, host: str, port: int, workers: int) -> None:
    import uvicorn

    # uvicorn shuts down gracefully on SIGINT/SIGTERM and then re-raises the signal to
    # the handler that was there before it: ours, which unwinds through the ExitStack
    # that stops the worker and the embedded servers.
    signal.signal(signal.SIGTERM, _raise_stop)

    logger.info(
        "api.listening", url=f"http://{host}:{port}", docs=f"http://{host}:{port}/docs"
    )
    uvicorn.run(
        "crm_api.asgi:app",
        host=host,
        port=port,
        workers=workers,
        log_config=None,
        access_log=False,
        proxy_headers=True,
    )


@main.command()
def worker() -> None:
    """Run the arq job worker (uses DATABASE_URL and REDIS_URL)."""
    from arq.worker import run_worker

    from crm_api.worker import WorkerSettings

    _setup_logging()
    if get_settings().redis_url is None or get_settings().database_url is None:
        raise click.UsageError("the worker needs DATABASE_URL and REDIS_URL")
    run_worker(WorkerSettings)  # type: ignore[arg-type]


@contextlib.contextmanager
def _database(data_dir: Path | None) -> Iterator[None]:
    """DATABASE_URL as set, or the embedded server under the data directory."""
    settings = get_settings()
    if settings.database_url is not None:
        yield
        return
    from crm_api.embedded import embedded_postgres

    with embedded_postgres(data_dir or settings.data_dir) as url:
        _reset_settings(DATABASE_URL=url)
        yield


DATA_DIR_OPTION = click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="The embedded servers' data, used when DATABASE_URL is unset.",
)


@main.command()
@DATA_DIR_OPTION
def migrate(data_dir: Path | None) -> None:
    """Apply every pending database migration (runs as the connecting role)."""
    _setup_logging()
    with _database(data_dir):
        run_migrations()
    logger.info("migrations.applied")


@main.command()
@click.option(
    "--output",
    type=click.Path(path_type=Path),
    default=ROOT / "openapi" / "openapi.json",
    show_default=True,
)
def openapi(output: Path) -> None:
    """Write the OpenAPI contract generated from the code."""
    from crm_api.openapi import render_openapi

    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(render_openapi())
    click.echo(f"wrote {output}")


@main.command("create-tenant")
@click.option("--name", required=True)
@click.option("--slug", required=True)
@click.option("--currency", "default_currency", default="EUR", show_default=True)
@click.option("--time-zone", default="UTC", show_default=True)
@click.option("--locale", default="en-US", show_default=True)
@click.option("--admin-email", required=True)
@click.option("--admin-name", required=True)
@click.option("--admin-password", prompt=True, hide_input=True)
@DATA_DIR_OPTION
def create_tenant(data_dir: Path | None, **options: str) -> None:
    """Create a tenant with its first admin (the same path as POST /api/v1/signup)."""
    from pydantic import ValidationError

    from crm_api.kernel.errors import AppError
    from crm_api.tenants.commands import create_tenant_now

    _setup_logging()
    try:
        with _database(data_dir):
            result = asyncio.run(create_tenant_now(**options))
    except ValidationError as error:
        # Field and message only: never echo the input (it may be the password).
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
            for e in error.errors(include_input=False)
        )
        raise click.ClickException(problems) from None
    except AppError as error:
        raise click.ClickException(str(error.detail or error.title)) from None
    click.echo(json.dumps(result, indent=2))


@main.group("import")
def import_group() -> None:
    """Import records from files."""


@import_group.command("customers")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--mapping",
    "mapping_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help='JSON file: {"columns": {"<CSV header>": "<target>"}} (as in the API).',
)
@click.option("--tenant", "tenant_slug", help="The tenant's slug (if several).")
@click.option(
    "--as", "as_email", help="Act as this user [default: the tenant's first admin]."
)
@click.option("--dry-run", is_flag=True, help="Check and report; write nothing.")
@click.option("--encoding", help="The file's encoding, if detection is wrong.")
@DATA_DIR_OPTION
def import_customers(
    file: Path,
    mapping_file: Path,
    tenant_slug: str | None,
    as_email: str | None,
    dry_run: bool,
    encoding: str | None,
    data_dir: Path | None,
) -> None:
    """Create or update customers from a CSV FILE, by code (as POST .../imports).

    Prints the import's report as JSON. Exits 0 when every row was imported, 3 when
    some rows failed (listed in the report), 1 when the import could not run.
    """
    from crm_api.imports.commands import import_customers_now
    from crm_api.kernel.errors import AppError

    _setup_logging()
    with contextlib.ExitStack() as stack:
        bar: Any = None
        done = 0

        def created(total_bytes: int) -> None:
            nonlocal bar
            bar = stack.enter_context(
                click.progressbar(
                    length=max(total_bytes, 1), label="Importing", file=sys.stderr
                )
            )

        def progress(processed: int, total: int) -> None:
            nonlocal done
            if bar is not None:
                bar.update(processed - done)
                done = processed

        try:
            with _database(data_dir):
                report = asyncio.run(
                    import_customers_now(
                        file,
                        mapping_text=mapping_file.read_text(encoding="utf-8"),
                        tenant_slug=tenant_slug,
                        as_email=as_email,
                        encoding=encoding,
                        dry_run=dry_run,
                        on_progress=progress,
                        on_created=created,
                    )
                )
        except AppError as error:
            raise click.ClickException(_problem_text(error)) from None
    click.echo(json.dumps(report, indent=2, ensure_ascii=False))
    if report["status"] != "succeeded":
        sys.exit(1)
    if report["rows_failed"]:
        sys.exit(3)


def _problem_text(error: Any) -> str:
    """An API error as lines of text: the detail, then each invalid field."""
    text = str(error.detail or error.title)
    for item in error.errors or []:
        text += f"\n  {item.field}: {item.message}"
    return text
