"""Which approvals an order needs, and who may give them.

**Matching.** A rule applies to an order when every condition it sets holds: total
gross at least X, some line's discount at least Y %, customer level in a set. The
amount is compared only in the rule's currency (the tenant's default currency when the
rule was made); the CRM keeps no exchange rates, so for an order in another currency
the amount condition counts as met. That errs towards asking: nobody escapes an
approval by choosing a currency.

**Combining.** An order needs every level of every rule that applies. The levels are
merged into one sequence: all first levels, then all second levels, and so on (rules
oldest first within a level); a set of roles asked for twice is asked once, at its
earliest place. So no rule's roles are ever replaced by another rule's, and each
rule's levels are decided in its own order (unless two rules ask for the same role
sets in opposite orders: then the earliest place wins).
With no rule applying, the order is approved on submit (recorded as automatic).

**Deciding.** The current level is decided by a user holding any of its roles. Nobody
decides on an order they submitted or own (403). A person decides at most one level of
a round: several levels mean several people. API keys never decide (403): an approval
is a person's judgement.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from crm_api.auth.principal import Principal
from crm_api.orders.models import ApprovalRule, Order


@dataclass(frozen=True)
class OrderFacts:
    """What rules look at, gathered once per submit."""

    currency: str
    total_gross: Decimal
    largest_discount_percent: Decimal
    customer_level: str | None


def facts_of(order: Order, customer_level: str | None) -> OrderFacts:
    return OrderFacts(
        currency=order.currency,
        total_gross=order.total_gross,
        largest_discount_percent=max(
            (line.discount_percent for line in order.lines), default=Decimal(0)
        ),
        customer_level=customer_level,
    )


def applies(rule: ApprovalRule, facts: OrderFacts) -> bool:
    """Whether every condition ``rule`` sets holds for the order."""
    if (
        rule.min_total_gross is not None
        and facts.currency == rule.currency
        and facts.total_gross < rule.min_total_gross
    ):
        return False
    if (
        rule.min_line_discount_percent is not None
        and facts.largest_discount_percent < rule.min_line_discount_percent
    ):
        return False
    return not (
        rule.customer_levels is not None
        and facts.customer_level not in rule.customer_levels
    )


def required_levels(
    rules: Sequence[ApprovalRule], facts: OrderFacts
) -> list[dict[str, Any]]:
    """The merged levels of the rules that apply: [{level, roles, rule_ids}, ...]."""
    matching = [rule for rule in rules if applies(rule, facts)]
    merged: list[dict[str, Any]] = []
    by_roles: dict[frozenset[str], dict[str, Any]] = {}
    depth = max((len(rule.levels) for rule in matching), default=0)
    for index in range(depth):
        for rule in matching:
            if index >= len(rule.levels):
                continue
            roles = frozenset(rule.levels[index])
            step = by_roles.get(roles)
            if step is None:
                step = {"roles": sorted(roles), "rule_ids": []}
                by_roles[roles] = step
                merged.append(step)
            if str(rule.id) not in step["rule_ids"]:
                step["rule_ids"].append(str(rule.id))
    return [{"level": n, **step} for n, step in enumerate(merged, start=1)]


def roles_of(principal: Principal) -> list[str]:
    """The caller's role keys; an API key holds none of its own."""
    if principal.user is None:
        return []
    return sorted(set(principal.user.roles))


def level_roles(order: Order, level: int) -> list[str]:
    for step in order.approval_levels:
        if step["level"] == level:
            return list(step["roles"])
    return []


def eligible_roles(principal: Principal, roles: Sequence[str]) -> list[str]:
    mine = set(roles_of(principal))
    return sorted(mine.intersection(roles))


def is_own_order(
    principal: Principal, order: Order, owner_user_id: uuid.UUID | None
) -> bool:
    """The caller submitted the order, or is the user of its owner employee."""
    return principal.user_id is not None and principal.user_id in (
        order.submitted_by,
        owner_user_id,
    )
