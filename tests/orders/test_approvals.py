"""Approval rules, who decides, the inbox, and two approvers at the same moment."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from tests.customers.conftest import create_customer
from tests.fixtures.api import TenantContext, add_user
from tests.orders.conftest import (
    INBOX,
    ORDERS,
    RULES,
    Team,
    act,
    create_order,
    create_rule,
    event_types,
    line,
    read_order,
    seller_customer,
    step,
    transitions,
)


async def _seller_order(
    client: httpx.AsyncClient, team: Team, *lines: dict[str, Any], **fields: Any
) -> dict[str, Any]:
    """A draft the seller owns, for a customer the seller owns."""
    customer = await seller_customer(client, team)
    return await create_order(
        client, team.headers["seller"], customer, *lines, **fields
    )


async def _submitted(client: httpx.AsyncClient, team: Team) -> dict[str, Any]:
    order = await _seller_order(client, team)
    return await step(client, team.headers["seller"], order, "submit")


async def _decisions(owner: asyncpg.Connection, order: dict[str, Any]) -> list[Any]:
    rows = await owner.fetch(
        "SELECT round, level, decision, user_id FROM order_approvals "
        "WHERE order_id = $1 ORDER BY round, level",
        uuid.UUID(order["id"]),
    )
    return [(r["round"], r["level"], r["decision"], str(r["user_id"])) for r in rows]


async def _inbox(client: httpx.AsyncClient, headers: dict[str, str]) -> list[str]:
    response = await client.get(INBOX, headers=headers)
    assert response.status_code == 200, response.text
    return [order["id"] for order in response.json()["items"]]


class TestRules:
    async def test_a_rule_is_created_read_changed_and_deleted(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        created = await client.post(
            RULES,
            json={
                "name": "Big deals",
                "conditions": {
                    "min_total_gross": "10000",
                    "min_line_discount_percent": "15.50",
                    "customer_levels": ["B", "A", "A"],
                },
                "levels": [{"roles": ["manager"]}, {"roles": ["finance", "admin"]}],
            },
            headers=tenant_a.headers,
        )
        assert created.status_code == 201, created.text
        rule = created.json()
        assert created.headers["Location"] == f"{RULES}/{rule['id']}"
        assert rule["currency"] == "EUR"
        assert rule["active"] is True
        assert rule["conditions"] == {
            "min_total_gross": "10000.00",
            "min_line_discount_percent": "15.5",
            "customer_levels": ["A", "B"],
        }
        assert rule["levels"] == [
            {"roles": ["manager"]},
            {"roles": ["admin", "finance"]},
        ]

        changed = await client.patch(
            f"{RULES}/{rule['id']}",
            json={"active": False, "conditions": {}},
            headers={**tenant_a.headers, "If-Match": created.headers["ETag"]},
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["active"] is False
        assert changed.json()["conditions"] == {
            "min_total_gross": None,
            "min_line_discount_percent": None,
            "customer_levels": None,
        }
        stale = await client.patch(
            f"{RULES}/{rule['id']}",
            json={"name": "x"},
            headers={**tenant_a.headers, "If-Match": created.headers["ETag"]},
        )
        assert stale.status_code == 412
        inactive = await client.get(
            RULES, params={"active": "false"}, headers=tenant_a.headers
        )
        assert [r["id"] for r in inactive.json()["items"]] == [rule["id"]]

        deleted = await client.delete(f"{RULES}/{rule['id']}", headers=tenant_a.headers)
        assert deleted.status_code == 204
        gone = await client.get(f"{RULES}/{rule['id']}", headers=tenant_a.headers)
        assert gone.status_code == 404

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"levels": [{"roles": ["manager", "wizard"]}]}, "levels.0.roles.1"),
            ({"levels": []}, "levels"),
            ({"levels": [{"roles": []}]}, "levels.0.roles"),
            (
                {
                    "levels": [{"roles": ["finance"]}],
                    "conditions": {"min_total_gross": "1.001"},
                },
                "conditions.min_total_gross",
            ),
            (
                {
                    "levels": [{"roles": ["finance"]}],
                    "conditions": {"min_line_discount_percent": "101"},
                },
                "conditions.min_line_discount_percent",
            ),
            ({"levels": [{"roles": ["finance"]}], "priority": 1}, "priority"),
        ],
    )
    async def test_invalid_rules_are_422_naming_the_field(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        body: dict[str, Any],
        field: str,
    ) -> None:
        response = await client.post(
            RULES, json={"name": "R", **body}, headers=tenant_a.headers
        )

        assert response.status_code == 422, response.text
        assert [e["field"] for e in response.json()["errors"]] == [field]

    async def test_a_tenant_defined_role_can_approve(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        team: Team,
    ) -> None:
        # The role sees only what it owns: approving reaches past that scope.
        role = await client.post(
            "/api/v1/roles",
            json={
                "key": "cfo",
                "name": "CFO",
                "permissions": ["orders:read"],
                "scope": "own",
            },
            headers=tenant_a.headers,
        )
        assert role.status_code == 201, role.text
        _, cfo = await add_user(client, tenant_a, roles=["cfo"])
        await create_rule(client, tenant_a, ["cfo"])
        order = await _submitted(client, team)

        approved = await step(client, cfo, order, "approve")

        assert approved["status"] == "approved"

    async def test_only_rule_writers_change_rules_but_sellers_read_them(
        self, client: httpx.AsyncClient, tenant_a: TenantContext, team: Team
    ) -> None:
        await create_rule(client, tenant_a, ["manager"])

        refused = await client.post(
            RULES,
            json={"name": "Mine", "levels": [{"roles": ["sales"]}]},
            headers=team.headers["seller"],
        )
        listed = await client.get(RULES, headers=team.headers["seller"])

        assert refused.status_code == 403
        assert len(listed.json()["items"]) == 1


class TestMatching:
    async def test_with_no_rule_applying_the_order_is_approved_on_submit(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        team: Team,
        owner: asyncpg.Connection,
    ) -> None:
        await create_rule(client, tenant_a, ["manager"], min_total_gross="100")
        order = await _seller_order(client, team, line("1", "99.99"))

        submitted = await step(client, team.headers["seller"], order, "submit")

        assert submitted["status"] == "approved"
        assert submitted["approval"] == {
            "round": 1,
            "current_level": None,
            "levels": [],
        }
        approve = (await transitions(client, tenant_a.headers, order))[-1]
        assert approve["automatic"] is True
        assert await event_types(owner, order) == [
            "order.created",
            "order.submitted",
            "order.approved",
        ]

    @pytest.mark.parametrize(
        ("conditions", "order_line", "customer_level", "needs_approval"),
        [
            ({"min_total_gross": "100"}, line("1", "100"), None, True),
            ({"min_total_gross": "100"}, line("1", "99.99"), None, False),
            # Gross counts tax: 90 + 10 % tax = 99, 91 + 10 % = 100.10.
            (
                {"min_total_gross": "100"},
                line("1", "91", tax_rate_percent="10"),
                None,
                True,
            ),
            (
                {"min_total_gross": "100"},
                line("1", "90", tax_rate_percent="10"),
                None,
                False,
            ),
            (
                {"min_line_discount_percent": "10"},
                line(discount_percent="10"),
                None,
                True,
            ),
            (
                {"min_line_discount_percent": "10"},
                line(discount_percent="9.99"),
                None,
                False,
            ),
            ({"customer_levels": ["A", "B"]}, line(), "B", True),
            ({"customer_levels": ["A", "B"]}, line(), "C", False),
            ({"customer_levels": ["A"]}, line(), None, False),
            # All conditions set must hold.
            ({"min_total_gross": "5", "customer_levels": ["A"]}, line(), "A", True),
            ({"min_total_gross": "5", "customer_levels": ["A"]}, line(), "B", False),
            ({"min_total_gross": "50", "customer_levels": ["A"]}, line(), "A", False),
            # No conditions: every order.
            ({}, line(), None, True),
        ],
    )
    async def test_a_rule_applies_when_all_its_conditions_hold(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        team: Team,
        conditions: dict[str, Any],
        order_line: dict[str, Any],
        customer_level: str | None,
        needs_approval: bool,
    ) -> None:
        await create_rule(client, tenant_a, ["manager"], **conditions)
        customer = await seller_customer(client, team, level=customer_level)
        order = await create_order(client, team.headers["seller"], customer, order_line)

        submitted = await step(client, team.headers["seller"], order, "submit")

        expected = "pending_approval" if needs_approval else "approved"
        assert submitted["status"] == expected

    async def test_an_order_in_another_currency_counts_as_over_the_amount(
        self, client: httpx.AsyncClient, tenant_a: TenantContext, team: Team
    ) -> None:
        await create_rule(client, tenant_a, ["manager"], min_total_gross="1000")
        order = await _seller_order(client, team, line("1", "1"), currency="USD")

        submitted = await step(client, team.headers["seller"], order, "submit")

        assert submitted["status"] == "pending_approval"

    async def test_an_inactive_rule_does_not_apply(
        self, client: httpx.AsyncClient, tenant_a: TenantContext, team: Team
    ) -> None:
        rule = await create_rule(client, tenant_a, ["manager"])
        await client.patch(
            f"{RULES}/{rule['id']}", json={"active": False}, headers=tenant_a.headers
        )

        submitted = await _submitted(client, team)

        assert submitted["status"] == "approved"

    async def test_several_rules_need_every_level_of_each_asked_once(
        self, client: httpx.AsyncClient, tenant_a: TenantContext, team: Team
    ) -> None:
        first = await create_rule(client, tenant_a, ["manager"], ["finance"])
        second = await create_rule(
            client, tenant_a, ["manager"], min_line_discount_percent="10"
        )
        third = await create_rule(client, tenant_a, ["admin"], customer_levels=["A"])
        await create_rule(client, tenant_a, ["service"], customer_levels=["Z"])
        customer = await seller_customer(client, team, level="A")
        order = await create_order(
            client, team.headers["seller"], customer, line(discount_percent="15")
        )

        submitted = await step(client, team.headers["seller"], order, "submit")

        assert submitted["approval"]["levels"] == [
            {"level": 1, "roles": ["manager"], "rule_ids": [first["id"], second["id"]]},
            {"level": 2, "roles": ["admin"], "rule_ids": [third["id"]]},
            {"level": 3, "roles": ["finance"], "rule_ids": [first["id"]]},
        ]
        assert submitted["approval"]["current_level"] == 1

    async def test_changing_a_rule_leaves_submitted_orders_as_they_were(
        self, client: httpx.AsyncClient, tenant_a: TenantContext, team: Team
    ) -> None:
        rule = await create_rule(client, tenant_a, ["manager"])
        order = await _submitted(client, team)
        await client.patch(
            f"{RULES}/{rule['id']}",
            json={"levels": [{"roles": ["finance"]}]},
            headers=tenant_a.headers,
        )

        approved = await step(client, team.headers["manager"], order, "approve")

        assert approved["status"] == "approved"


class TestDeciding:
    async def test_two_levels_are_decided_in_order_by_their_roles(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        team: Team,
        owner: asyncpg.Connection,
    ) -> None:
        await create_rule(client, tenant_a, ["manager"], ["finance"])
        order = await _submitted(client, team)

        too_early = await act(client, team.headers["finance"], order, "approve")
        first = await step(client, team.headers["manager"], order, "approve", "ok")
        second = await step(client, team.headers["finance"], order, "approve")

        assert too_early.status_code == 403
        assert too_early.json()["extra"] == {"current_level": 1, "roles": ["manager"]}
        assert first["status"] == "pending_approval"
        assert first["approval"]["current_level"] == 2
        assert second["status"] == "approved"
        assert second["approval"]["current_level"] is None
        decisions = await client.get(
            f"{ORDERS}/{order['id']}/approvals", headers=tenant_a.headers
        )
        assert [
            (d["level"], d["decision"], d["user_id"], d["roles"], d["comment"])
            for d in decisions.json()["items"]
        ] == [
            (1, "approved", team.users["manager"]["id"], ["manager"], "ok"),
            (2, "approved", team.users["finance"]["id"], ["finance"], None),
        ]
        assert await event_types(owner, order) == [
            "order.created",
            "order.submitted",
            "order.level_approved",
            "order.approved",
        ]

    async def test_a_rejection_at_any_level_rejects_the_order(
        self, client: httpx.AsyncClient, tenant_a: TenantContext, team: Team
    ) -> None:
        await create_rule(client, tenant_a, ["manager"], ["finance"])
        order = await _submitted(client, team)
        await step(client, team.headers["manager"], order, "approve")

        rejected = await step(
            client, team.headers["finance"], order, "reject", "margin too thin"
        )

        assert rejected["status"] == "rejected"
        assert rejected["allowed_actions"] == ["reopen", "cancel"]
        last = (await transitions(client, tenant_a.headers, order))[-1]
        assert (last["action"], last["comment"], last["user_id"]) == (
            "reject",
            "margin too thin",
            team.users["finance"]["id"],
        )

    async def test_nobody_approves_an_order_they_submitted(
        self, client: httpx.AsyncClient, tenant_a: TenantContext, team: Team
    ) -> None:
        await create_rule(client, tenant_a, ["manager"])
        customer = await create_customer(client, tenant_a)
        # The manager sells for once (the admin's customer is in their department).
        order = await create_order(client, team.headers["manager"], customer)
        await step(client, team.headers["manager"], order, "submit")

        own = await act(client, team.headers["manager"], order, "approve")
        own_reject = await act(client, team.headers["manager"], order, "reject")
        colleague = await act(client, team.headers["other_manager"], order, "approve")

        assert own.status_code == own_reject.status_code == 403
        assert "own order" in own.json()["detail"]
        assert colleague.status_code == 200

    async def test_nobody_approves_an_order_they_own(
        self, client: httpx.AsyncClient, tenant_a: TenantContext, team: Team
    ) -> None:
        await create_rule(client, tenant_a, ["manager"])
        customer = await create_customer(client, tenant_a)
        order = await create_order(
            client,
            tenant_a.headers,
            customer,
            owner_id=team.users["manager"]["employee_id"],
        )
        await step(client, tenant_a.headers, order, "submit")

        response = await act(client, team.headers["manager"], order, "approve")

        assert response.status_code == 403
        assert (await read_order(client, tenant_a.headers, order))[
            "status"
        ] == "pending_approval"

    async def test_an_approver_without_the_levels_role_is_refused(
        self, client: httpx.AsyncClient, tenant_a: TenantContext, team: Team
    ) -> None:
        await create_rule(client, tenant_a, ["manager"])
        order = await _submitted(client, team)

        finance = await act(client, team.headers["finance"], order, "approve")
        admin = await act(client, tenant_a.headers, order, "reject")

        assert finance.status_code == admin.status_code == 403

    async def test_one_person_decides_at_most_one_level(
        self, client: httpx.AsyncClient, tenant_a: TenantContext, team: Team
    ) -> None:
        await create_rule(client, tenant_a, ["manager"], ["finance"])
        _, both = await add_user(client, tenant_a, roles=["manager", "finance"])
        order = await _submitted(client, team)
        await step(client, both, order, "approve")

        again = await act(client, both, order, "approve")

        assert again.status_code == 409
        assert again.json()["extra"] == {
            "status": "pending_approval",
            "current_level": 2,
        }

    async def test_an_api_key_cannot_decide(
        self, client: httpx.AsyncClient, tenant_a: TenantContext, team: Team
    ) -> None:
        await create_rule(client, tenant_a, ["admin"])
        order = await _submitted(client, team)
        created = await client.post(
            "/api/v1/api-keys",
            json={"name": "robot", "scopes": ["orders:read", "orders:write"]},
            headers=tenant_a.headers,
        )
        assert created.status_code == 201, created.text

        response = await act(
            client, {"X-API-Key": created.json()["key"]}, order, "approve"
        )

        assert response.status_code == 403


class TestInbox:
    async def test_lists_what_awaits_the_callers_decision_only(
        self, client: httpx.AsyncClient, tenant_a: TenantContext, team: Team
    ) -> None:
        await create_rule(client, tenant_a, ["manager"], ["finance"])
        waiting = await _submitted(client, team)
        draft = await _seller_order(client, team)
        customer = await create_customer(client, tenant_a)
        managers_own = await create_order(client, team.headers["manager"], customer)
        await step(client, team.headers["manager"], managers_own, "submit")

        assert await _inbox(client, team.headers["manager"]) == [waiting["id"]]
        assert await _inbox(client, team.headers["other_manager"]) == [
            waiting["id"],
            managers_own["id"],
        ]
        assert await _inbox(client, team.headers["finance"]) == []
        assert await _inbox(client, team.headers["seller"]) == []
        assert draft["status"] == "draft"

        await step(client, team.headers["manager"], waiting, "approve")

        assert await _inbox(client, team.headers["manager"]) == []
        assert await _inbox(client, team.headers["finance"]) == [waiting["id"]]

    async def test_an_approver_reads_what_awaits_them_outside_their_scope(
        self, client: httpx.AsyncClient, tenant_a: TenantContext, team: Team
    ) -> None:
        await create_rule(client, tenant_a, ["manager"])
        east = await client.post(
            "/api/v1/departments",
            json={"name": "East", "parent_id": tenant_a.root_department_id},
            headers=tenant_a.headers,
        )
        assert east.status_code == 201, east.text
        _, east_manager = await add_user(
            client, tenant_a, roles=["manager"], department_id=east.json()["id"]
        )
        draft = await _seller_order(client, team)
        hidden = await client.get(f"{ORDERS}/{draft['id']}", headers=east_manager)
        assert hidden.status_code == 404
        order = await step(client, team.headers["seller"], draft, "submit")

        seen = await client.get(f"{ORDERS}/{order['id']}", headers=east_manager)
        approved = await step(client, east_manager, order, "approve")
        still_seen = await client.get(f"{ORDERS}/{order['id']}", headers=east_manager)
        not_writable = await act(client, east_manager, order, "start")

        assert seen.status_code == 200
        assert approved["status"] == "approved"
        # They keep reading what they decided on, but cannot move it on.
        assert still_seen.status_code == 200
        assert not_writable.status_code == 404


class TestConcurrency:
    async def test_two_approvers_at_the_same_moment_exactly_one_decision_counts(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        team: Team,
        owner: asyncpg.Connection,
    ) -> None:
        await create_rule(client, tenant_a, ["manager"])
        for _ in range(3):
            order = await _submitted(client, team)

            responses = await asyncio.gather(
                act(client, team.headers["manager"], order, "approve"),
                act(client, team.headers["other_manager"], order, "approve"),
            )

            assert sorted(r.status_code for r in responses) == [200, 409]
            loser = next(r for r in responses if r.status_code == 409)
            assert loser.json()["extra"]["status"] == "approved"
            assert len(await _decisions(owner, order)) == 1
            history = await transitions(client, tenant_a.headers, order)
            assert [t["action"] for t in history] == ["submit", "approve"]

    async def test_an_approval_and_a_rejection_at_once_one_of_them_counts(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        team: Team,
        owner: asyncpg.Connection,
    ) -> None:
        await create_rule(client, tenant_a, ["manager"])
        order = await _submitted(client, team)

        approve, reject = await asyncio.gather(
            act(client, team.headers["manager"], order, "approve"),
            act(client, team.headers["other_manager"], order, "reject"),
        )

        assert sorted([approve.status_code, reject.status_code]) == [200, 409]
        winner = approve if approve.status_code == 200 else reject
        decisions = await _decisions(owner, order)
        assert len(decisions) == 1
        final = await read_order(client, tenant_a.headers, order)
        assert final["status"] == winner.json()["status"]
        assert decisions[0][2] == final["status"]

    async def test_two_approvers_of_a_first_level_at_once_one_decides_it(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        team: Team,
        owner: asyncpg.Connection,
    ) -> None:
        await create_rule(client, tenant_a, ["manager"], ["finance"])
        order = await _submitted(client, team)

        responses = await asyncio.gather(
            act(client, team.headers["manager"], order, "approve"),
            act(client, team.headers["other_manager"], order, "approve"),
        )

        assert sorted(r.status_code for r in responses) == [200, 409]
        loser = next(r for r in responses if r.status_code == 409)
        assert loser.json()["extra"] == {
            "status": "pending_approval",
            "current_level": 2,
        }
        assert [d[1] for d in await _decisions(owner, order)] == [1]

    async def test_the_database_refuses_a_second_decision_for_a_level(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        team: Team,
        owner: asyncpg.Connection,
    ) -> None:
        await create_rule(client, tenant_a, ["manager"])
        order = await _submitted(client, team)
        await step(client, team.headers["manager"], order, "approve")

        with pytest.raises(asyncpg.UniqueViolationError):
            await owner.execute(
                "INSERT INTO order_approvals (id, tenant_id, order_id, round, level, "
                "decision, user_id, roles) VALUES ($1, $2, $3, 1, 1, 'rejected', $4, "
                "ARRAY['manager'])",
                uuid.uuid4(),
                uuid.UUID(tenant_a.tenant["id"]),
                uuid.UUID(order["id"]),
                uuid.UUID(team.users["other_manager"]["id"]),
            )
