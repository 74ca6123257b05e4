"""Processing an import: the file read back from PostgreSQL, rows checked and written.

One worker at a time holds an import's *lease* (``claimed_by`` / ``claimed_until``),
taken with a conditional UPDATE. Each batch of rows runs in a transaction that first
re-reads the import ``FOR UPDATE`` where ``claimed_by`` is still this worker, and
commits the batch's customers, events, row errors, counts and the resume point
(``next_row``) together. So a batch is committed exactly once: a second worker either
finds the lease taken, or (once it expired) takes it over, after which the first
worker's next batch finds the lease gone and stops without writing. A worker that dies
leaves ``next_row`` where its last committed batch ended; whoever claims next resumes
there.

Each row is all-or-nothing. A batch is first written in one SAVEPOINT; should the
database refuse any of it (a code taken concurrently, a stale version), the savepoint
is rolled back and the batch written again one row per savepoint, so only the row at
fault fails.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from itertools import islice
from typing import Any, BinaryIO

import structlog
from sqlalchemy import insert
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from crm_api.auth.grants import principal_for_user
from crm_api.auth.principal import Principal
from crm_api.auth.repository import user_row
from crm_api.custom_attributes.values import load_definitions
from crm_api.customers.keys import email_key, name_key, phone_key
from crm_api.customers.models import Contact, Customer
from crm_api.customers.repository import customer_visibility
from crm_api.imports import csvreader, repository
from crm_api.imports.mapping import Targets, check_header
from crm_api.imports.models import CustomerImport
from crm_api.imports.rows import (
    Decision,
    RowError,
    RowPlanner,
    RowValues,
    Snapshot,
    snapshots,
)
from crm_api.kernel.db import set_tenant
from crm_api.kernel.errors import ValidationFailed
from crm_api.kernel.ids import new_id
from crm_api.kernel.outbox import record_event

logger = structlog.get_logger(__name__)

BATCH_ROWS = 500
LEASE_S = 120.0
MAX_KEPT_ERRORS = 1000
SAMPLE_BYTES = 1_048_576
# SQLSTATEs a single row can cause: too long, unstorable text, bad numbers.
_ROW_SQLSTATES = frozenset({"22001", "22021", "22P05", "22003", "22P02"})

_COUNTS = ("rows_created", "rows_updated", "rows_unchanged", "rows_failed")
_TALLY = {"create": "created", "update": "updated", "unchanged": "unchanged"}

Progress = Callable[[int, int], Awaitable[None] | None]


class LeaseLost(Exception):
    """Another worker took the import over (this one was too slow); stop writing."""


@dataclass
class Tally:
    total: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    errors: list[RowError] = field(default_factory=list)

    def count(self, outcome: str | list[RowError]) -> None:
        if isinstance(outcome, list):
            self.failed += 1
            self.errors.extend(outcome)
        else:
            name = _TALLY[outcome]
            setattr(self, name, getattr(self, name) + 1)


@dataclass(frozen=True)
class _Job:
    """What every batch of one run needs to know."""

    tenant_id: uuid.UUID
    import_id: uuid.UUID
    worker: uuid.UUID
    lease_s: float
    dry_run: bool
    # The importer, as they are when the run starts: new customers are theirs, and
    # only customers they may write are updated.
    actor: Principal
    targets: Targets
    header: list[str]
    total_bytes: int


async def run_import(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    tenant_id: uuid.UUID,
    import_id: uuid.UUID,
    batch_rows: int = BATCH_ROWS,
    lease_s: float = LEASE_S,
    on_progress: Progress | None = None,
) -> dict[str, Any]:
    """Process an import to its end, or return at once if another worker has it."""
    worker = uuid.uuid4()
    async with sessionmaker() as session, session.begin():
        await set_tenant(session, tenant_id)
        record = await repository.claim(
            session, import_id, worker=worker, lease_s=lease_s
        )
        if record is None:
            logger.info("customer_import.skipped", import_id=str(import_id))
            return {"status": "skipped"}
        start_row = record.next_row
        layout_hint = (record.encoding, record.delimiter)
        actor = await _importer(session, record.created_by, tenant_id)
        mapping, total_bytes = record.mapping, record.total_bytes
        dry_run = record.dry_run
    if actor is None:
        await fail_import(
            sessionmaker,
            tenant_id=tenant_id,
            import_id=import_id,
            reason="The importing user is no longer active or not linked to an "
            "active employee.",
        )
        return {"status": "failed"}
    job = _Job(
        tenant_id=tenant_id,
        import_id=import_id,
        worker=worker,
        lease_s=lease_s,
        dry_run=dry_run,
        actor=actor,
        targets=Targets.of(mapping["columns"]),
        header=[],
        total_bytes=total_bytes,
    )
    logger.info(
        "customer_import.started", import_id=str(import_id), start_row=start_row
    )
    try:
        with tempfile.TemporaryFile() as spool:
            await _copy_file(sessionmaker, job, spool)
            try:
                layout = _layout(spool, *layout_hint, targets=job.targets)
            except (csvreader.UnreadableFile, ValidationFailed) as error:
                await fail_import(
                    sessionmaker,
                    tenant_id=tenant_id,
                    import_id=import_id,
                    reason=_reason(error),
                )
                return {"status": "failed"}
            job = replace(job, header=layout.header)
            reader = csvreader.RecordReader(spool, layout)
            return await _process(
                sessionmaker,
                job,
                reader,
                start_row=start_row,
                batch_rows=batch_rows,
                on_progress=on_progress,
            )
    except LeaseLost:
        raise
    except Exception:
        await _release(sessionmaker, tenant_id, import_id, worker)
        raise


async def _importer(
    session: AsyncSession, user_id: uuid.UUID | None, tenant_id: uuid.UUID
) -> Principal | None:
    row = None if user_id is None else await user_row(session, user_id)
    if row is None or not row.is_active or row.employee_id is None:
        return None
    return await principal_for_user(session, row, tenant_id=tenant_id)


async def _release(
    sessionmaker: async_sessionmaker[AsyncSession],
    tenant_id: uuid.UUID,
    import_id: uuid.UUID,
    worker: uuid.UUID,
) -> None:
    """Give the lease back so that a retry need not wait for it to expire."""
    try:
        async with sessionmaker() as session, session.begin():
            await set_tenant(session, tenant_id)
            await repository.release(session, import_id, worker=worker)
    except Exception as error:  # the database may be what failed; the lease expires
        logger.warning(
            "customer_import.release_failed",
            import_id=str(import_id),
            error=repr(error),
        )


async def fail_import(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    tenant_id: uuid.UUID,
    import_id: uuid.UUID,
    reason: str,
) -> None:
    """Mark an unfinished import failed (after its job gave up)."""
    async with sessionmaker() as session, session.begin():
        await set_tenant(session, tenant_id)
        record = await repository.get(session, import_id, lock=True)
        if record is None or record.status not in ("queued", "running"):
            return
        await repository.finish(session, import_id, status="failed", error=reason)
        # A failed import is not run again (upload the file anew), so its copy goes.
        await repository.delete_chunks(session, import_id)
        counts = {name: getattr(record, name) for name in _COUNTS}
        _finished_event(
            session, import_id, dry_run=record.dry_run, counts=counts, status="failed"
        )
    logger.error("customer_import.failed", import_id=str(import_id), reason=reason)


def _reason(error: Exception) -> str:
    if isinstance(error, ValidationFailed) and error.errors:
        return "; ".join(item.message for item in error.errors)
    return str(error)


async def _copy_file(
    sessionmaker: async_sessionmaker[AsyncSession], job: _Job, spool: BinaryIO
) -> None:
    """The uploaded chunks, in order, into a local temporary file."""
    async with sessionmaker() as session, session.begin():
        await set_tenant(session, job.tenant_id)
        seq = 0
        while (data := await repository.chunk(session, job.import_id, seq)) is not None:
            spool.write(data)
            seq += 1
    spool.flush()
    spool.seek(0)


def _layout(
    spool: BinaryIO, encoding: str, delimiter: str, *, targets: Targets
) -> csvreader.Layout:
    layout = csvreader.inspect(
        spool.read(SAMPLE_BYTES), encoding=encoding, delimiter=delimiter
    )
    check_header(targets, layout.header)
    spool.seek(0)
    return layout


async def _process(
    sessionmaker: async_sessionmaker[AsyncSession],
    job: _Job,
    reader: csvreader.RecordReader,
    *,
    start_row: int,
    batch_rows: int,
    on_progress: Progress | None,
) -> dict[str, Any]:
    records = reader.records(start_row=start_row)
    while True:
        batch = list(islice(records, batch_rows))
        finished = len(batch) < batch_rows
        async with sessionmaker() as session, session.begin():
            await set_tenant(session, job.tenant_id)
            record = await repository.held(session, job.import_id, worker=job.worker)
            if record is None:
                logger.warning(
                    "customer_import.lease_lost", import_id=str(job.import_id)
                )
                raise LeaseLost(str(job.import_id))
            if batch and batch[0].row_number < record.next_row:
                # Someone else committed these rows: never write them twice.
                raise LeaseLost(str(job.import_id))
            tally = await _batch(session, job, batch) if batch else Tally()
            kept = await _keep_errors(session, job, record, tally.errors)
            counts = {
                "rows_total": record.rows_total + tally.total,
                "rows_created": record.rows_created + tally.created,
                "rows_updated": record.rows_updated + tally.updated,
                "rows_unchanged": record.rows_unchanged + tally.unchanged,
                "rows_failed": record.rows_failed + tally.failed,
                "errors_kept": record.errors_kept + kept,
            }
            if batch:
                counts["next_row"] = batch[-1].row_number + 1
            if finished:
                counts["processed_bytes"] = job.total_bytes
                await repository.record_progress(
                    session,
                    job.import_id,
                    worker=job.worker,
                    lease_s=job.lease_s,
                    values=counts,
                )
                await repository.finish(session, job.import_id, status="succeeded")
                await repository.delete_chunks(session, job.import_id)
                _finished_event(
                    session, job.import_id, dry_run=job.dry_run, counts=counts
                )
            else:
                counts["processed_bytes"] = min(reader.position, job.total_bytes)
                await repository.record_progress(
                    session,
                    job.import_id,
                    worker=job.worker,
                    lease_s=job.lease_s,
                    values=counts,
                )
        if on_progress is not None:
            reported = on_progress(counts["processed_bytes"], job.total_bytes)
            if reported is not None:
                await reported
        if finished:
            summary = {
                "status": "succeeded",
                **{k: v for k, v in counts.items() if k.startswith("rows_")},
            }
            logger.info(
                "customer_import.succeeded", import_id=str(job.import_id), **summary
            )
            return summary


def _finished_event(
    session: AsyncSession,
    import_id: uuid.UUID,
    *,
    dry_run: bool,
    counts: dict[str, int],
    status: str = "succeeded",
) -> None:
    record_event(
        session,
        "customer_import.finished",
        subject_id=import_id,
        payload={
            "status": status,
            "dry_run": dry_run,
            **{name: counts[name] for name in _COUNTS},
        },
    )


async def _keep_errors(
    session: AsyncSession,
    job: _Job,
    record: CustomerImport,
    errors: list[RowError],
) -> int:
    room = max(MAX_KEPT_ERRORS - record.errors_kept, 0)
    kept = errors[:room]
    await repository.add_errors(
        session,
        [
            {
                "id": new_id(),
                "tenant_id": job.tenant_id,
                "import_id": job.import_id,
                "row_number": error.row_number,
                "column": error.column[:200] if error.column else None,
                "field": error.field[:200] if error.field else None,
                "code": error.code[:50],
                "message": error.message,
            }
            for error in kept
        ],
    )
    return len(kept)


async def _batch(
    session: AsyncSession, job: _Job, batch: list[csvreader.Record]
) -> Tally:
    # NOTE: checking a batch is CPU work on the event loop (a few hundred ms for 500
    # rows), so other jobs of the same worker wait that long; a process pool would
    # free the loop at the price of shipping rows and definitions across processes.
    customer_definitions = await load_definitions(session, "customer")
    planner = RowPlanner(
        job.targets,
        job.header,
        customer_definitions=customer_definitions,
        contact_definitions=await load_definitions(session, "contact"),
    )
    tally = Tally(total=len(batch))
    rows: list[RowValues] = []
    for item in batch:
        if item.fields is None:
            tally.count(
                [
                    RowError(
                        item.row_number,
                        None,
                        None,
                        item.error_code or "unreadable_row",
                        item.error or "The row cannot be read.",
                    )
                ]
            )
            continue
        values = planner.values(item.row_number, item.fields)
        if isinstance(values, list):
            tally.count(values)
        else:
            rows.append(values)
    writer = _Writer(session, job, planner)
    for outcome in await writer.write(rows):
        tally.count(outcome)
    return tally


Outcome = str | list[RowError]


class _Writer:
    """Applies a batch's decisions; in a dry run it only decides."""

    def __init__(self, session: AsyncSession, job: _Job, planner: RowPlanner) -> None:
        self.session = session
        self.job = job
        self.planner = planner
        self.region = planner.customers.value_format.region

    async def write(self, rows: list[RowValues]) -> list[Outcome]:
        if not rows:
            return []
        if self.job.dry_run:
            # NOTE: a dry run decides each batch against the database as it is, so a
            # code repeated in a later batch of the same file counts as created twice;
            # telling would mean remembering every code of the file.
            return await self._apply(rows, write=False)
        try:
            async with self.session.begin_nested():
                return await self._apply(rows, write=True)
        except (IntegrityError, StaleDataError, DBAPIError) as error:
            if not _row_level(error):
                raise
        outcomes: list[Outcome] = []
        for row in rows:
            try:
                async with self.session.begin_nested():
                    outcomes.extend(await self._apply([row], write=True))
            except (IntegrityError, StaleDataError, DBAPIError) as error:
                if not _row_level(error):
                    raise
                outcomes.append([_write_error(row, error)])
        return outcomes

    async def _apply(self, rows: list[RowValues], *, write: bool) -> list[Outcome]:
        codes = {row.code for row in rows}
        writable = customer_visibility(self.job.actor, "customers:write")
        customers = await repository.customers_by_code(self.session, codes, writable)
        hidden = await repository.codes_taken_outside(self.session, codes, writable)
        contacts = await repository.primary_contacts(
            self.session, [customer.id for customer in customers.values()]
        )
        state = snapshots(customers, contacts)
        batch = _NewRows()
        outcomes: list[Outcome] = []
        for row in rows:
            if row.code in hidden:
                outcomes.append([_outside_scope(row)])
                continue
            decision = self.planner.decide(row, state.get(row.code))
            if isinstance(decision, list):
                outcomes.append(decision)
                continue
            outcomes.append(decision.action)
            if decision.action == "unchanged":
                continue
            if decision.after is not None:
                state[row.code] = decision.after
            if write:
                customer_id = self._customer(decision, row.code, customers, batch)
                self._contact(decision, customer_id, contacts, batch)
        if write:
            # New rows go in as one multi-row INSERT each (the ORM's per-object work
            # would dominate a large import); changes to existing rows go through the
            # ORM, so their version is checked and bumped.
            if batch.customers:
                await self.session.execute(
                    insert(Customer), list(batch.customers.values())
                )
            await self.session.flush()
            if batch.contacts:
                await self.session.execute(
                    insert(Contact), list(batch.contacts.values())
                )
        return outcomes

    def _customer(
        self,
        decision: Decision,
        code: str,
        customers: dict[str, Customer],
        batch: _NewRows,
    ) -> uuid.UUID:
        """Create or change the customer of a decision; returns its id."""
        pending = batch.customers.get(code)
        existing = customers.get(code)
        if decision.action == "create":
            row = {
                "id": new_id(),
                "tenant_id": self.job.tenant_id,
                "owner_id": self.job.actor.employee_id,
                "department_id": self.job.actor.department_id,
                "version": 1,
                **decision.customer,
            }
            row.update(self._keys(row))
            batch.customers[code] = row
            self._event(
                "customer.created", row["id"], {"code": code, "name": row["name"]}
            )
            return row["id"]  # type: ignore[no-any-return]
        if pending is not None:  # created earlier in this batch
            pending.update(decision.customer)
            pending.update(self._keys(pending))
            customer_id: uuid.UUID = pending["id"]
        elif existing is not None:
            for name, value in decision.customer.items():
                setattr(existing, name, value)
            values = {
                name: getattr(existing, name) for name in ("name", "phone", "email")
            }
            for name, value in self._keys(values).items():
                setattr(existing, name, value)
            customer_id = existing.id
        else:
            raise RuntimeError(f"no customer {code!r} to update")
        if decision.customer:
            self._event(
                "customer.updated", customer_id, {"fields": sorted(decision.customer)}
            )
        return customer_id

    def _contact(
        self,
        decision: Decision,
        customer_id: uuid.UUID,
        contacts: dict[uuid.UUID, Contact],
        batch: _NewRows,
    ) -> None:
        payload = {"customer_id": str(customer_id)}
        if decision.contact_action == "create":
            row = {
                "id": new_id(),
                "tenant_id": self.job.tenant_id,
                "customer_id": customer_id,
                "is_primary": True,
                "version": 1,
                **decision.contact,
            }
            batch.contacts[customer_id] = row
            self._event("contact.created", row["id"], payload)
        elif decision.contact_action == "update":
            pending = batch.contacts.get(customer_id)
            if pending is not None:
                pending.update(decision.contact)
                contact_id = pending["id"]
            else:
                contact = contacts[customer_id]
                for name, value in decision.contact.items():
                    setattr(contact, name, value)
                contact_id = contact.id
            self._event(
                "contact.updated",
                contact_id,
                {**payload, "fields": sorted(decision.contact)},
            )

    def _keys(self, values: dict[str, Any]) -> dict[str, Any]:
        # The duplicate-detection keys, as the customers service keeps them.
        return {
            "name_key": name_key(values["name"]),
            "phone_key": phone_key(values["phone"], region=self.region),
            "email_key": email_key(values["email"]),
        }

    def _event(
        self, event_type: str, subject_id: uuid.UUID, payload: dict[str, Any]
    ) -> None:
        record_event(
            self.session,
            event_type,
            subject_id=subject_id,
            payload={**payload, "import_id": str(self.job.import_id)},
        )


@dataclass
class _NewRows:
    """Rows a batch inserts: customers by code, primary contacts by customer id."""

    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    contacts: dict[uuid.UUID, dict[str, Any]] = field(default_factory=dict)


def _row_level(error: Exception) -> bool:
    """Whether the database refused one row's values rather than failing as a whole."""
    if isinstance(error, IntegrityError | StaleDataError):
        return True
    if isinstance(error, DBAPIError):
        if error.connection_invalidated:
            return False
        return getattr(error.orig, "sqlstate", None) in _ROW_SQLSTATES
    return False


def _outside_scope(row: RowValues) -> RowError:
    return RowError(
        row.row_number,
        None,
        "code",
        "outside_scope",
        "A customer with this code exists, but not within what you may change.",
    )


def _write_error(row: RowValues, error: Exception) -> RowError:
    if isinstance(error, IntegrityError):
        message = (
            "Another customer with this code was written at the same time; "
            "import the row again."
        )
        code = "conflict"
    elif isinstance(error, StaleDataError):
        message = "The customer was changed at the same time; import the row again."
        code = "conflict"
    else:
        message = "The database refused a value of this row."
        code = "write_failed"
    return RowError(row.row_number, None, None, code, message)


__all__ = ["LeaseLost", "Snapshot", "fail_import", "run_import"]
