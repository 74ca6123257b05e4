"""Revisions and their states: drafts change, sent ones are frozen, newer ones
supersede, and validity is judged on the tenant's own calendar."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import asyncpg
import httpx
import pytest

from tests.fixtures.api import TenantContext, sign_up
from tests.quotes.conftest import (
    QUOTES,
    create_quote,
    line,
    read_revision,
    revision_path,
    sent_quote,
    transition,
)


async def _new_revision(
    client: httpx.AsyncClient, ctx: TenantContext, quote: dict[str, Any]
) -> httpx.Response:
    return await client.post(f"{QUOTES}/{quote['id']}/revisions", headers=ctx.headers)


async def _events(owner: asyncpg.Connection, quote: dict[str, Any]) -> list[str]:
    rows = await owner.fetch(
        "SELECT type FROM outbox_events WHERE subject_id = $1 ORDER BY occurred_at, id",
        uuid.UUID(quote["id"]),
    )
    return [row["type"] for row in rows]


class TestDrafts:
    async def test_a_draft_takes_new_lines_and_recomputes_its_totals(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        quote = await create_quote(client, tenant_a)

        response = await client.patch(
            revision_path(quote),
            json={
                "valid_until": "2099-01-31",
                "notes": "Delivery in May",
                "lines": [
                    line(quantity="2"),
                    line(description="Travel", unit_price="5"),
                ],
            },
            headers={**tenant_a.headers, "If-Match": '"1"'},
        )

        assert response.status_code == 200, response.text
        revision = response.json()
        assert response.headers["ETag"] == '"2"'
        assert [item["position"] for item in revision["lines"]] == [1, 2]
        assert [item["description"] for item in revision["lines"]] == [
            "Consulting",
            "Travel",
        ]
        assert revision["net_total"] == "25.00"
        assert (revision["valid_until"], revision["notes"]) == (
            "2099-01-31",
            "Delivery in May",
        )
        reread = await client.get(f"{QUOTES}/{quote['id']}", headers=tenant_a.headers)
        assert reread.headers["ETag"] == '"2"'
        assert reread.json()["revision"]["gross_total"] == "25.00"

    async def test_a_stale_etag_is_412(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        quote = await create_quote(client, tenant_a)
        await client.patch(
            revision_path(quote), json={"notes": "one"}, headers=tenant_a.headers
        )

        response = await client.patch(
            revision_path(quote),
            json={"notes": "two"},
            headers={**tenant_a.headers, "If-Match": '"1"'},
        )

        assert response.status_code == 412

    async def test_a_bad_line_changes_nothing(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        quote = await create_quote(client, tenant_a)

        response = await client.patch(
            revision_path(quote),
            json={"notes": "x", "lines": [line(quantity="-1")]},
            headers=tenant_a.headers,
        )

        assert response.status_code == 422
        assert await read_revision(client, tenant_a, quote) == quote["revision"]

    @pytest.mark.parametrize("field", ["lines", "valid_until"])
    async def test_null_lines_or_validity_are_refused_naming_the_field(
        self, client: httpx.AsyncClient, tenant_a: TenantContext, field: str
    ) -> None:
        quote = await create_quote(client, tenant_a)

        response = await client.patch(
            revision_path(quote), json={field: None}, headers=tenant_a.headers
        )

        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == field
        assert response.json()["errors"][0]["code"] == "required"
        assert await read_revision(client, tenant_a, quote) == quote["revision"]


class TestSending:
    async def test_a_sent_revision_is_frozen(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        quote = await sent_quote(client, tenant_a)

        response = await client.patch(
            revision_path(quote),
            json={"notes": "late change"},
            headers=tenant_a.headers,
        )

        assert response.status_code == 409
        assert response.json()["extra"]["state"] == "sent"
        assert "sent" in response.json()["detail"]

    async def test_sending_records_who_and_when(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        owner: asyncpg.Connection,
    ) -> None:
        quote = await create_quote(client, tenant_a)

        response = await transition(client, tenant_a, quote, "send")

        assert response.status_code == 200, response.text
        sent = response.json()
        assert sent["state"] == "sent"
        assert sent["sent_by"] == tenant_a.admin["id"]
        assert sent["sent_at"] is not None
        assert await _events(owner, quote) == ["quote.created", "quote.sent"]

    async def test_sending_twice_is_409_naming_the_state(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        quote = await sent_quote(client, tenant_a)

        response = await transition(client, tenant_a, quote, "send")

        assert response.status_code == 409
        assert response.json()["extra"] == {"state": "sent", "revision": 1}

    async def test_a_revision_without_lines_cannot_be_sent(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        quote = await create_quote(client, tenant_a, lines=[])

        response = await transition(client, tenant_a, quote, "send")

        assert response.status_code == 422

    async def test_a_revision_past_its_validity_cannot_be_sent(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        clock: Callable[[str], None],
    ) -> None:
        quote = await create_quote(client, tenant_a, valid_until="2026-03-10")
        clock("2026-03-11T12:00:00Z")

        response = await transition(client, tenant_a, quote, "send")

        assert response.status_code == 422
        assert response.json()["extra"]["valid_until"] == "2026-03-10"


class TestNewRevisions:
    async def test_a_new_revision_is_a_draft_copy_of_the_latest(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        quote = await sent_quote(
            client,
            tenant_a,
            notes="First offer",
            lines=[line(quantity="3", unit_price="0.10", tax_rate_percent="19")],
        )

        response = await _new_revision(client, tenant_a, quote)

        assert response.status_code == 201, response.text
        second = response.json()
        first = await read_revision(client, tenant_a, quote, 1)
        assert response.headers["Location"] == revision_path(quote, 2)
        assert (second["number"], second["state"]) == (2, "draft")
        assert second["notes"] == "First offer"
        assert first["state"] == "sent"
        keys = (
            "description",
            "quantity",
            "unit_price",
            "tax_rate_percent",
            "net",
            "tax",
        )
        assert [{k: item[k] for k in keys} for item in second["lines"]] == [
            {k: item[k] for k in keys} for item in first["lines"]
        ]
        assert second["lines"][0]["id"] != first["lines"][0]["id"]
        assert second["gross_total"] == first["gross_total"] == "0.36"

    async def test_editing_the_copy_leaves_the_sent_revision_alone(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        quote = await sent_quote(client, tenant_a)
        await _new_revision(client, tenant_a, quote)

        await client.patch(
            revision_path(quote, 2),
            json={"lines": [line(unit_price="99.00")]},
            headers=tenant_a.headers,
        )

        first = await read_revision(client, tenant_a, quote, 1)
        assert first["lines"][0]["unit_price"] == "10.00"
        assert first["gross_total"] == "10.00"

    async def test_only_one_draft_at_a_time(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        quote = await create_quote(client, tenant_a)

        response = await _new_revision(client, tenant_a, quote)

        assert response.status_code == 409
        assert response.json()["extra"]["state"] == "draft"

    async def test_sending_a_newer_revision_supersedes_the_older(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        owner: asyncpg.Connection,
    ) -> None:
        quote = await sent_quote(client, tenant_a)
        await _new_revision(client, tenant_a, quote)

        response = await transition(client, tenant_a, quote, "send", 2)

        assert response.status_code == 200, response.text
        first = await read_revision(client, tenant_a, quote, 1)
        assert first["state"] == "superseded"
        reread = await client.get(f"{QUOTES}/{quote['id']}", headers=tenant_a.headers)
        assert (reread.json()["state"], reread.json()["latest_revision"]) == ("sent", 2)
        assert await _events(owner, quote) == [
            "quote.created",
            "quote.sent",
            "quote.revised",
            "quote.superseded",
            "quote.sent",
        ]

    async def test_a_superseded_revision_can_no_longer_be_accepted(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        quote = await sent_quote(client, tenant_a)
        await _new_revision(client, tenant_a, quote)
        await transition(client, tenant_a, quote, "send", 2)

        response = await transition(client, tenant_a, quote, "accept", 1)

        assert response.status_code == 409
        assert response.json()["extra"]["state"] == "superseded"

    async def test_the_revision_list_shows_every_revision_in_order(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        quote = await sent_quote(client, tenant_a)
        await _new_revision(client, tenant_a, quote)

        first = await client.get(
            f"{QUOTES}/{quote['id']}/revisions",
            params={"limit": 1},
            headers=tenant_a.headers,
        )
        rest = await client.get(
            f"{QUOTES}/{quote['id']}/revisions",
            params={"limit": 1, "cursor": first.json()["next_cursor"]},
            headers=tenant_a.headers,
        )

        assert [r["state"] for r in first.json()["items"]] == ["sent"]
        assert [r["state"] for r in rest.json()["items"]] == ["draft"]
        assert rest.json()["next_cursor"] is None


class TestDecisions:
    async def test_accepting_a_sent_revision_closes_the_quote(
        self,
        client: httpx.AsyncClient,
        tenant_a: TenantContext,
        owner: asyncpg.Connection,
    ) -> None:
        quote = await sent_quote(client, tenant_a)

        accepted = await transition(
            client, tenant_a, quote, "accept", comment="Signed PO 4711"
        )
        again = await _new_revision(client, tenant_a, quote)

        assert accepted.status_code == 200, accepted.text
        assert accepted.json()["state"] == "accepted"
        assert accepted.json()["decision_comment"] == "Signed PO 4711"
        assert accepted.json()["decided_by"] == tenant_a.admin["id"]
        reread = await client.get(f"{QUOTES}/{quote['id']}", headers=tenant_a.headers)
        assert (reread.json()["state"], reread.json()["accepted_revision"]) == (
            "accepted",
            1,
        )
        assert again.status_code == 409
        assert again.json()["extra"]["state"] == "accepted"
        assert (await _events(owner, quote))[-1] == "quote.accepted"

    async def test_accepting_discards_an_unsent_newer_draft(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        quote = await sent_quote(client, tenant_a)
        await _new_revision(client, tenant_a, quote)

        response = await transition(client, tenant_a, quote, "accept", 1)

        assert response.status_code == 200
        reread = await client.get(f"{QUOTES}/{quote['id']}", headers=tenant_a.headers)
        assert reread.json()["latest_revision"] == 1
        gone = await client.get(revision_path(quote, 2), headers=tenant_a.headers)
        assert gone.status_code == 404

    async def test_illegal_transitions_are_409_naming_the_current_state(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        draft = await create_quote(client, tenant_a)
        accepted = await sent_quote(client, tenant_a)
        await transition(client, tenant_a, accepted, "accept")
        rejected = await sent_quote(client, tenant_a)
        await transition(client, tenant_a, rejected, "reject")

        cases = [
            (draft, "accept", "draft"),
            (draft, "reject", "draft"),
            (accepted, "accept", "accepted"),
            (accepted, "reject", "accepted"),
            (accepted, "send", "accepted"),
            (rejected, "accept", "rejected"),
            (rejected, "send", "rejected"),
        ]
        for quote, action, state in cases:
            response = await transition(client, tenant_a, quote, action)
            assert response.status_code == 409, (action, state, response.text)
            assert response.json()["extra"]["state"] == state
            assert state in response.json()["detail"]

    async def test_a_rejected_quote_can_be_offered_again(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        quote = await sent_quote(client, tenant_a)
        rejected = await transition(
            client, tenant_a, quote, "reject", comment="Too expensive"
        )
        await _new_revision(client, tenant_a, quote)
        await client.patch(
            revision_path(quote, 2),
            json={"lines": [line(unit_price="8.00")]},
            headers=tenant_a.headers,
        )

        sent = await transition(client, tenant_a, quote, "send", 2)
        accepted = await transition(client, tenant_a, quote, "accept", 2)

        assert rejected.json()["decision_comment"] == "Too expensive"
        assert sent.status_code == accepted.status_code == 200
        first = await read_revision(client, tenant_a, quote, 1)
        assert first["state"] == "rejected"

    async def test_a_missing_revision_is_404(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        quote = await create_quote(client, tenant_a)

        response = await transition(client, tenant_a, quote, "send", 5)

        assert response.status_code == 404

    async def test_a_transition_checks_if_match(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        quote = await create_quote(client, tenant_a)
        await client.patch(
            revision_path(quote), json={"notes": "x"}, headers=tenant_a.headers
        )

        response = await client.post(
            f"{revision_path(quote)}/send",
            headers={**tenant_a.headers, "If-Match": '"1"'},
        )

        assert response.status_code == 412

    async def test_unknown_field_in_a_transition_is_422(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        quote = await sent_quote(client, tenant_a)

        response = await transition(client, tenant_a, quote, "reject", reason="no")

        assert response.status_code == 422
        assert response.json()["errors"][0]["code"] == "unknown_field"


class TestConcurrency:
    async def test_two_accepts_at_once_give_one_winner(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        quote = await sent_quote(client, tenant_a)

        first, second = await asyncio.gather(
            transition(client, tenant_a, quote, "accept"),
            transition(client, tenant_a, quote, "accept"),
        )

        assert sorted((first.status_code, second.status_code)) == [200, 409]
        loser = first if first.status_code == 409 else second
        assert loser.json()["extra"]["state"] == "accepted"

    async def test_accept_and_reject_at_once_give_one_decision(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        quote = await sent_quote(client, tenant_a)

        accept, reject = await asyncio.gather(
            transition(client, tenant_a, quote, "accept"),
            transition(client, tenant_a, quote, "reject"),
        )

        assert sorted((accept.status_code, reject.status_code)) == [200, 409]
        revision = await read_revision(client, tenant_a, quote)
        winner = "accepted" if accept.status_code == 200 else "rejected"
        assert revision["state"] == winner

    async def test_two_new_revisions_at_once_give_one(
        self, client: httpx.AsyncClient, tenant_a: TenantContext
    ) -> None:
        quote = await sent_quote(client, tenant_a)

        first, second = await asyncio.gather(
            _new_revision(client, tenant_a, quote),
            _new_revision(client, tenant_a, quote),
        )

        assert sorted((first.status_code, second.status_code)) == [201, 409]


class TestExpiry:
    """valid_until is the last day on the tenant's calendar. At 23:30 UTC on
    10 March it is already 11 March in Shanghai, still 10 March in Sao Paulo."""

    async def _tenant(self, client: httpx.AsyncClient, time_zone: str) -> TenantContext:
        slug = "sh" if time_zone == "Asia/Shanghai" else "sp"
        return await sign_up(client, slug=f"zone-{slug}", time_zone=time_zone)

    async def test_the_same_instant_is_past_validity_in_shanghai_only(
        self, client: httpx.AsyncClient, clock: Callable[[str], None]
    ) -> None:
        shanghai = await self._tenant(client, "Asia/Shanghai")
        sao_paulo = await self._tenant(client, "America/Sao_Paulo")
        clock("2026-03-09T12:00:00Z")
        in_shanghai = await sent_quote(client, shanghai, valid_until="2026-03-10")
        in_sao_paulo = await sent_quote(client, sao_paulo, valid_until="2026-03-10")

        clock("2026-03-10T23:30:00Z")
        refused = await transition(client, shanghai, in_shanghai, "accept")
        accepted = await transition(client, sao_paulo, in_sao_paulo, "accept")

        assert refused.status_code == 409
        assert refused.json()["extra"]["state"] == "expired"
        assert "2026-03-11" in refused.json()["detail"]
        assert accepted.status_code == 200, accepted.text
        reread = await client.get(
            f"{QUOTES}/{in_shanghai['id']}", headers=shanghai.headers
        )
        assert reread.json()["state"] == "expired"
        assert reread.json()["revision"]["state"] == "expired"

    async def test_the_last_valid_day_still_accepts_until_local_midnight(
        self, client: httpx.AsyncClient, clock: Callable[[str], None]
    ) -> None:
        shanghai = await self._tenant(client, "Asia/Shanghai")
        clock("2026-03-09T12:00:00Z")
        quote = await sent_quote(client, shanghai, valid_until="2026-03-10")

        # 23:59 on 10 March in Shanghai
        clock("2026-03-10T15:59:00Z")
        accepted = await transition(client, shanghai, quote, "accept")

        assert accepted.status_code == 200, accepted.text

    async def test_a_local_midnight_later_it_is_expired(
        self, client: httpx.AsyncClient, clock: Callable[[str], None]
    ) -> None:
        sao_paulo = await self._tenant(client, "America/Sao_Paulo")
        clock("2026-03-09T12:00:00Z")
        quote = await sent_quote(client, sao_paulo, valid_until="2026-03-10")

        # 00:00 on 11 March in Sao Paulo (UTC-3)
        clock("2026-03-11T03:00:00Z")
        refused = await transition(client, sao_paulo, quote, "accept")
        rejected = await transition(client, sao_paulo, quote, "reject")

        assert refused.status_code == rejected.status_code == 409
        assert rejected.json()["extra"]["state"] == "expired"

    async def test_lists_filter_on_the_expired_state(
        self, client: httpx.AsyncClient, clock: Callable[[str], None]
    ) -> None:
        shanghai = await self._tenant(client, "Asia/Shanghai")
        clock("2026-03-09T12:00:00Z")
        expiring = await sent_quote(client, shanghai, valid_until="2026-03-10")
        lasting = await sent_quote(client, shanghai, valid_until="2026-04-30")

        clock("2026-03-10T23:30:00Z")
        expired = await client.get(
            QUOTES, params={"state": "expired"}, headers=shanghai.headers
        )
        sent = await client.get(
            QUOTES, params={"state": "sent"}, headers=shanghai.headers
        )

        assert [q["id"] for q in expired.json()["items"]] == [expiring["id"]]
        assert [q["id"] for q in sent.json()["items"]] == [lasting["id"]]

    async def test_an_expired_offer_is_renewed_by_a_new_revision(
        self, client: httpx.AsyncClient, clock: Callable[[str], None]
    ) -> None:
        shanghai = await self._tenant(client, "Asia/Shanghai")
        clock("2026-03-09T12:00:00Z")
        quote = await sent_quote(client, shanghai, valid_until="2026-03-10")
        clock("2026-03-12T00:00:00Z")

        created = await _new_revision(client, shanghai, quote)
        still_past = await transition(client, shanghai, quote, "send", 2)
        await client.patch(
            revision_path(quote, 2),
            json={"valid_until": "2026-03-31"},
            headers=shanghai.headers,
        )
        sent = await transition(client, shanghai, quote, "send", 2)

        assert created.status_code == 201
        assert still_past.status_code == 422
        assert sent.status_code == 200, sent.text
        first = await read_revision(client, shanghai, quote, 1)
        # It ran out before the new one went: expired, not superseded.
        assert first["state"] == "expired"
