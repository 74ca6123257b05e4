"""Moving orders through the state machine (transitions.py), one locked order at a time.

Every action locks the order row (SELECT ... FOR UPDATE) before it reads the state,
so two requests acting on one order take turns and the second sees what the first
did. Each state change is recorded in ``order_transitions`` and written to the outbox
in the same transaction.
"""

from __future__ import annotations

import uuid

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.auth.principal import Principal
from crm_api.kernel.concurrency import check_version
from crm_api.kernel.errors import BusinessRuleViolated, Conflict, PermissionDenied
from crm_api.kernel.integrity import flush_or_conflict
from crm_api.kernel.outbox import record_event
from crm_api.orders import approvals, repository, service
from crm_api.orders.models import Order, OrderApproval, OrderTransition
from crm_api.orders.transitions import TRANSITIONS, Action, transition_for
from crm_api.plans.hooks import blocks_completion

logger = structlog.get_logger(__name__)

ONE_DECISION = {
    "uq_order_approvals_level": (
        "level",
        "Another approver decided this level at the same moment.",
    ),
    "uq_order_approvals_user": (
        "level",
        "You already decided a level of this approval round.",
    ),
}


async def _record(
    session: AsyncSession,
    principal: Principal,
    order: Order,
    action: Action,
    *,
    comment: str | None,
    automatic: bool = False,
    payload: dict[str, object] | None = None,
) -> None:
    """Move ``order`` along ``action``'s transition and record it, with its event."""
    transition = TRANSITIONS[action]
    source = order.status
    position = await repository.last_transition_position(session, order.id) + 1
    session.add(
        OrderTransition(
            tenant_id=order.tenant_id,
            order_id=order.id,
            position=position,
            action=action,
            from_status=source,
            to_status=transition.target,
            user_id=principal.user_id,
            api_key_id=principal.api_key_id,
            automatic=automatic,
            comment=comment,
        )
    )
    order.status = transition.target
    await session.flush()
    record_event(
        session,
        transition.event,
        subject_id=order.id,
        payload={
            "number": order.number,
            "from": source,
            "to": transition.target,
            "user_id": str(principal.user_id) if principal.user_id else None,
            "automatic": automatic,
            "comment": comment,
            **(payload or {}),
        },
    )
    logger.info(
        transition.event,
        order_id=str(order.id),
        from_status=source,
        to_status=transition.target,
        automatic=automatic,
    )


def _end_approval(order: Order) -> None:
    order.current_level = None
    order.awaiting_roles = []


async def _locked(
    session: AsyncSession,
    principal: Principal,
    order_id: uuid.UUID,
    action: Action,
    *,
    expected_version: int | None,
    for_write: bool = True,
) -> Order:
    order = await service.get_order(
        session, principal, order_id, for_write=for_write, lock=True
    )
    check_version(expected_version, order.version)
    transition_for(action, order.status)
    return order


# --- submit and the approval it starts ---


async def submit(
    session: AsyncSession,
    principal: Principal,
    order_id: uuid.UUID,
    *,
    comment: str | None,
    expected_version: int | None = None,
) -> Order:
    """Send a draft for approval; with no rule applying it is approved at once."""
    order = await _locked(
        session, principal, order_id, "submit", expected_version=expected_version
    )
    if not order.lines:
        raise BusinessRuleViolated("An order needs at least one line to be submitted.")

    level = await service.customer_level(session, order.customer_id)
    rules = await repository.active_rules(session)
    levels = approvals.required_levels(rules, approvals.facts_of(order, level))
    order.approval_round += 1
    order.approval_levels = levels
    order.submitted_by = principal.user_id
    await _record(
        session,
        principal,
        order,
        "submit",
        comment=comment,
        payload={"round": order.approval_round, "levels": len(levels)},
    )

    if not levels:
        _end_approval(order)
        await _record(
            session,
            principal,
            order,
            "approve",
            comment="No approval rule applies.",
            automatic=True,
        )
        await _approved(session, order)
        return order
    order.current_level = 1
    order.awaiting_roles = list(levels[0]["roles"])
    await session.flush()
    return order


async def decide(
    session: AsyncSession,
    principal: Principal,
    order_id: uuid.UUID,
    action: Action,
    *,
    comment: str | None,
    expected_version: int | None = None,
) -> Order:
    """Approve or reject the level awaiting a decision (see approvals.py for who)."""
    if action not in ("approve", "reject"):
        raise ValueError(f"not a decision: {action}")
    # Approvers reach orders awaiting their roles even outside their own scope.
    order = await _locked(
        session,
        principal,
        order_id,
        action,
        expected_version=expected_version,
        for_write=False,
    )
    if principal.user_id is None:
        raise PermissionDenied("Approvals are decided by people, not by API keys.")
    owner_user_id = await repository.user_of_employee(session, order.owner_id)
    if approvals.is_own_order(principal, order, owner_user_id):
        raise PermissionDenied(
            "Nobody approves their own order: you submitted it or own it."
        )

    level = order.current_level or 0
    roles = approvals.level_roles(order, level)
    decided = await repository.decisions_in_round(
        session, order.id, order.approval_round
    )
    mine = [d for d in decided if d.user_id == principal.user_id]
    if mine:
        raise Conflict(
            f"You decided level {mine[0].level} of this round; level {level} needs "
            "someone else.",
            extra={"status": order.status, "current_level": level},
        )
    eligible = approvals.eligible_roles(principal, roles)
    if not eligible:
        # Eligible for a level someone else decided first: that decision counts.
        earlier = [
            d
            for d in decided
            if approvals.eligible_roles(
                principal, approvals.level_roles(order, d.level)
            )
        ]
        if earlier:
            raise Conflict(
                f"Level {earlier[-1].level} was already decided; the order now awaits "
                f"level {level}.",
                extra={"status": order.status, "current_level": level},
            )
        raise PermissionDenied(
            f"Level {level} awaits a decision by: {', '.join(roles)}.",
            extra={"current_level": level, "roles": roles},
        )

    decision = "approved" if action == "approve" else "rejected"
    session.add(
        OrderApproval(
            tenant_id=order.tenant_id,
            order_id=order.id,
            round=order.approval_round,
            level=level,
            decision=decision,
            user_id=principal.user_id,
            roles=eligible,
            comment=comment,
        )
    )
    await flush_or_conflict(session, ONE_DECISION)
    details: dict[str, object] = {"round": order.approval_round, "level": level}

    if action == "reject":
        _end_approval(order)
        await _record(
            session, principal, order, "reject", comment=comment, payload=details
        )
        return order
    if level < len(order.approval_levels):
        order.current_level = level + 1
        order.awaiting_roles = approvals.level_roles(order, level + 1)
        await session.flush()
        record_event(
            session,
            "order.level_approved",
            subject_id=order.id,
            payload={
                **details,
                "number": order.number,
                "user_id": str(principal.user_id),
                "next_level": level + 1,
                "next_roles": order.awaiting_roles,
            },
        )
        logger.info("order.level_approved", order_id=str(order.id), level=level)
        return order
    _end_approval(order)
    await _record(
        session, principal, order, "approve", comment=comment, payload=details
    )
    await _approved(session, order)
    return order


async def _approved(session: AsyncSession, order: Order) -> None:
    """What follows approval. NOTE: the execution plan is attached here once plans
    exist (the order's content is fixed from now on)."""


# --- after approval ---


async def reopen(
    session: AsyncSession,
    principal: Principal,
    order_id: uuid.UUID,
    *,
    comment: str | None,
    expected_version: int | None = None,
) -> Order:
    """A rejected order back to draft, to be changed and submitted again."""
    order = await _locked(
        session, principal, order_id, "reopen", expected_version=expected_version
    )
    await _record(session, principal, order, "reopen", comment=comment)
    return order


async def start(
    session: AsyncSession,
    principal: Principal,
    order_id: uuid.UUID,
    *,
    comment: str | None,
    expected_version: int | None = None,
) -> Order:
    """An approved order goes into execution.

    NOTE: with execution plans, this is where the plan's first steps get going.
    """
    order = await _locked(
        session, principal, order_id, "start", expected_version=expected_version
    )
    await _record(session, principal, order, "start", comment=comment)
    return order


async def complete(
    session: AsyncSession,
    principal: Principal,
    order_id: uuid.UUID,
    *,
    comment: str | None,
    expected_version: int | None = None,
) -> Order:
    """An order in execution is done once every step of its plan is done or skipped
    (checked under the order's lock, which work on steps shares)."""
    order = await _locked(
        session, principal, order_id, "complete", expected_version=expected_version
    )
    reason = await blocks_completion(session, order.id)
    if reason is not None:
        raise Conflict(reason, extra={"status": order.status})
    await _record(session, principal, order, "complete", comment=comment)
    return order


async def cancel(
    session: AsyncSession,
    principal: Principal,
    order_id: uuid.UUID,
    *,
    comment: str | None,
    expected_version: int | None = None,
) -> Order:
    """Cancel an order that has not gone into execution; an approval in progress ends."""
    order = await _locked(
        session, principal, order_id, "cancel", expected_version=expected_version
    )
    _end_approval(order)
    await _record(session, principal, order, "cancel", comment=comment)
    return order


async def take(
    session: AsyncSession,
    principal: Principal,
    order_id: uuid.UUID,
    action: Action,
    *,
    comment: str | None,
    expected_version: int | None = None,
) -> Order:
    """Run ``action`` on the order: the one entry point the routes use."""
    if action in ("approve", "reject"):
        return await decide(
            session,
            principal,
            order_id,
            action,
            comment=comment,
            expected_version=expected_version,
        )
    steps = {
        "submit": submit,
        "reopen": reopen,
        "start": start,
        "complete": complete,
        "cancel": cancel,
    }
    return await steps[action](
        session,
        principal,
        order_id,
        comment=comment,
        expected_version=expected_version,
    )
