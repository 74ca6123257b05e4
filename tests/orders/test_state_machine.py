"""The order state machine: every legal step, every illegal one, and what each leaves
behind (the transition record and the outbox event, in the same transaction)."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from crm_api.orders.transitions import ACTIONS, TRANSITIONS, allowed_actions
from tests.fixtures.api import TenantContext
from tests.orders.conftest import (
    ORDERS,
    Team,
    act,
    create_order,
    create_rule,
    event_types,
    line,
    step,
    transitions,
)

# How to bring a fresh draft into each state (with a rule asking finance to approve
# orders of 1000 or more, and orders of 1000 in the test).
PATHS: dict[str, list[tuple[str, str]]] = {
    "draft": [],
    "pending_approval": [("admin", "submit")],
    "approved": [("admin", "submit"), ("finance", "approve")],
    "rejected": [("admin", "submit"), ("finance", "reject")],
    "in_execution": [("admin", "submit"), ("finance", "approve"), ("admin", "start")],
    "completed": [
        ("admin", "submit"),
        ("finance", "approve"),
        ("admin", "start"),
        ("admin", "complete"),
    ],
    "cancelled": [("admin", "cancel")],
}


async def _order_in(
    client: httpx.AsyncClient,
    tenant: TenantContext,
    team: Team,
    customer: dict[str, Any],
    status: str,
) -> dict[str, Any]:
    order = await create_order(client, tenant.headers, customer, line("1", "1000"))
    for who, action in PATHS[status]:
        headers = tenant.headers if who == "admin" else team.headers[who]
        order = await step(client, headers, order, action)
    assert order["status"] == status
    return order


@pytest.fixture
async def finance_rule(client: httpx.AsyncClient, tenant_a: TenantContext) -> None:
    await create_rule(client, tenant_a, ["finance"], min_total_gross="1000")


class TestLegalTransitions:
    async def test_draft_to_completed_records_who_when_from_to_and_why(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
        owner: asyncpg.Connection,
    ) -> None:
        order = await create_order(client, tenant_a.headers, customer)

        submitted = await step(client, tenant_a.headers, order, "submit", "please")
        started = await step(client, tenant_a.headers, order, "start")
        completed = await step(client, tenant_a.headers, order, "complete", "done")

        assert submitted["status"] == "approved"  # no rule applies
        assert submitted["submitted_by"] == tenant_a.admin["id"]
        assert started["allowed_actions"] == ["complete"]
        assert completed["status"] == "completed"
        assert completed["allowed_actions"] == []
        history = await transitions(client, tenant_a.headers, order)
        assert [
            (t["position"], t["action"], t["from_status"], t["to_status"])
            for t in history
        ] == [
            (1, "submit", "draft", "pending_approval"),
            (2, "approve", "pending_approval", "approved"),
            (3, "start", "approved", "in_execution"),
            (4, "complete", "in_execution", "completed"),
        ]
        assert [t["automatic"] for t in history] == [False, True, False, False]
        assert [t["comment"] for t in history] == [
            "please",
            "No approval rule applies.",
            None,
            "done",
        ]
        assert {t["user_id"] for t in history} == {tenant_a.admin["id"]}
        assert all(t["occurred_at"] for t in history)
        assert await event_types(owner, order) == [
            "order.created",
            "order.submitted",
            "order.approved",
            "order.started",
            "order.completed",
        ]

    @pytest.mark.usefixtures("finance_rule")
    async def test_rejected_goes_back_to_draft_and_can_be_submitted_again(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        team: Team,
        customer: dict[str, Any],
        owner: asyncpg.Connection,
    ) -> None:
        order = await _order_in(client, tenant_a, team, customer, "rejected")

        reopened = await step(client, tenant_a.headers, order, "reopen", "fixed it")
        resubmitted = await step(client, tenant_a.headers, order, "submit")
        approved = await step(client, team.headers["finance"], order, "approve")

        assert reopened["status"] == "draft"
        assert resubmitted["approval"]["round"] == 2
        assert approved["status"] == "approved"
        assert await event_types(owner, order) == [
            "order.created",
            "order.submitted",
            "order.rejected",
            "order.reopened",
            "order.submitted",
            "order.approved",
        ]

    @pytest.mark.usefixtures("finance_rule")
    @pytest.mark.parametrize(
        "status", ["draft", "pending_approval", "rejected", "approved"]
    )
    async def test_cancel_ends_an_order_that_has_not_gone_into_execution(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        team: Team,
        customer: dict[str, Any],
        owner: asyncpg.Connection,
        status: str,
    ) -> None:
        order = await _order_in(client, tenant_a, team, customer, status)

        cancelled = await step(client, tenant_a.headers, order, "cancel", "lost deal")

        assert cancelled["status"] == "cancelled"
        assert (
            cancelled["approval"] is None
            or cancelled["approval"]["current_level"] is None
        )
        last = (await transitions(client, tenant_a.headers, order))[-1]
        assert (last["from_status"], last["to_status"], last["comment"]) == (
            status,
            "cancelled",
            "lost deal",
        )
        assert (await event_types(owner, order))[-1] == "order.cancelled"


class TestIllegalTransitions:
    def test_the_table_is_the_documented_machine(self) -> None:
        assert {status: allowed_actions(status) for status in PATHS} == {
            "draft": ["submit", "cancel"],
            "pending_approval": ["approve", "reject", "cancel"],
            "approved": ["start", "cancel"],
            "rejected": ["reopen", "cancel"],
            "in_execution": ["complete"],
            "completed": [],
            "cancelled": [],
        }
        assert {t.target for t in TRANSITIONS.values()} <= set(PATHS)

    @pytest.mark.usefixtures("finance_rule")
    @pytest.mark.parametrize("status", list(PATHS))
    async def test_every_action_the_state_does_not_allow_is_409_naming_it(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        team: Team,
        customer: dict[str, Any],
        owner: asyncpg.Connection,
        status: str,
    ) -> None:
        order = await _order_in(client, tenant_a, team, customer, status)
        history = await transitions(client, tenant_a.headers, order)
        events = await event_types(owner, order)
        illegal = [a for a in ACTIONS if a not in allowed_actions(status)]
        assert illegal

        for action in illegal:
            # Finance may decide approvals, so approve/reject fail on state alone.
            headers = (
                team.headers["finance"]
                if action in ("approve", "reject")
                else tenant_a.headers
            )
            response = await act(client, headers, order, action)

            assert response.status_code == 409, (action, response.text)
            problem = response.json()
            assert problem["type"] == "urn:crm-api:problem:conflict"
            assert f"is {status}" in problem["detail"], action
            assert problem["extra"]["status"] == status
            assert problem["extra"]["allowed_actions"] == allowed_actions(status)

        # Nothing was recorded by any of the refused attempts.
        assert await transitions(client, tenant_a.headers, order) == history
        assert await event_types(owner, order) == events

    async def test_submitting_an_order_without_lines_is_422(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
    ) -> None:
        order = await create_order(client, tenant_a.headers, customer)
        await client.patch(
            f"{ORDERS}/{order['id']}", json={"lines": []}, headers=tenant_a.headers
        )

        response = await act(client, tenant_a.headers, order, "submit")

        assert response.status_code == 422
        assert response.json()["type"] == "urn:crm-api:problem:business-rule"

    async def test_a_transition_body_with_unknown_fields_is_422(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
    ) -> None:
        order = await create_order(client, tenant_a.headers, customer)

        response = await client.post(
            f"{ORDERS}/{order['id']}/submit",
            json={"comment": "ok", "force": True},
            headers=tenant_a.headers,
        )

        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "force"

    async def test_a_stale_if_match_on_a_transition_is_412(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
    ) -> None:
        order = await create_order(client, tenant_a.headers, customer)
        read = await client.get(f"{ORDERS}/{order['id']}", headers=tenant_a.headers)
        await client.patch(
            f"{ORDERS}/{order['id']}", json={"number": "N"}, headers=tenant_a.headers
        )

        response = await client.post(
            f"{ORDERS}/{order['id']}/submit",
            headers={**tenant_a.headers, "If-Match": read.headers["ETag"]},
        )

        assert response.status_code == 412

    async def test_an_unknown_order_is_404(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        response = await act(client, tenant_a.headers, str(uuid.uuid4()), "submit")

        assert response.status_code == 404


class TestRecords:
    async def test_the_change_its_record_and_its_event_commit_in_one_transaction(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
        owner: asyncpg.Connection,
    ) -> None:
        order = await create_order(client, tenant_a.headers, customer)
        await step(client, tenant_a.headers, order, "cancel")
        order_id = uuid.UUID(order["id"])

        # xmin is the id of the transaction that wrote the row version.
        written_by = {
            "order": await owner.fetchval(
                "SELECT xmin::text FROM orders WHERE id = $1", order_id
            ),
            "transition": await owner.fetchval(
                "SELECT xmin::text FROM order_transitions WHERE order_id = $1",
                order_id,
            ),
            "event": await owner.fetchval(
                "SELECT xmin::text FROM outbox_events "
                "WHERE subject_id = $1 AND type = 'order.cancelled'",
                order_id,
            ),
        }

        assert len(set(written_by.values())) == 1, written_by
        assert None not in written_by.values()

    async def test_the_event_carries_who_moved_the_order_and_where(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
        owner: asyncpg.Connection,
    ) -> None:
        order = await create_order(client, tenant_a.headers, customer, number="77")
        await step(client, tenant_a.headers, order, "cancel", "duplicate")

        payload = await owner.fetchval(
            "SELECT payload FROM outbox_events "
            "WHERE subject_id = $1 AND type = 'order.cancelled'",
            uuid.UUID(order["id"]),
        )

        assert '"from": "draft"' in payload
        assert '"to": "cancelled"' in payload
        assert '"number": "77"' in payload
        assert tenant_a.admin["id"] in payload
        assert '"comment": "duplicate"' in payload

    async def test_the_transition_history_pages_by_cursor(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        customer: dict[str, Any],
    ) -> None:
        order = await create_order(client, tenant_a.headers, customer)
        await step(client, tenant_a.headers, order, "submit")
        await step(client, tenant_a.headers, order, "start")

        first = await client.get(
            f"{ORDERS}/{order['id']}/transitions",
            params={"limit": 2},
            headers=tenant_a.headers,
        )
        rest = await client.get(
            f"{ORDERS}/{order['id']}/transitions",
            params={"limit": 2, "cursor": first.json()["next_cursor"]},
            headers=tenant_a.headers,
        )

        assert [t["position"] for t in first.json()["items"]] == [1, 2]
        assert [t["position"] for t in rest.json()["items"]] == [3]
        assert rest.json()["next_cursor"] is None
