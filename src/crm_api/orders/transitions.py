"""The order state machine, as one table.

::

    draft --submit--> pending_approval --approve--> approved --start--> in_execution
      ^                      |                          |                    |
      |                    reject                       |                 complete
      +------reopen----- rejected                       |                    v
                                                        |                completed
    cancel: from draft, pending_approval, rejected or approved -> cancelled

``approve`` reaches ``approved`` only when the last required level approves; earlier
levels leave the order in ``pending_approval`` (see approvals.py). Once an order is
``in_execution`` work has been done against it (goods shipped, money collected), so it
can no longer be cancelled: it runs to ``completed``. ``completed`` and ``cancelled``
are final.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from crm_api.kernel.errors import Conflict

Action = Literal["submit", "approve", "reject", "reopen", "start", "complete", "cancel"]
ACTIONS: tuple[Action, ...] = get_args(Action)


@dataclass(frozen=True)
class Transition:
    sources: frozenset[str]
    target: str
    event: str


def _t(sources: str, target: str, event: str) -> Transition:
    return Transition(frozenset(sources.split()), target, event)


TRANSITIONS: dict[Action, Transition] = {
    "submit": _t("draft", "pending_approval", "order.submitted"),
    "approve": _t("pending_approval", "approved", "order.approved"),
    "reject": _t("pending_approval", "rejected", "order.rejected"),
    "reopen": _t("rejected", "draft", "order.reopened"),
    "start": _t("approved", "in_execution", "order.started"),
    "complete": _t("in_execution", "completed", "order.completed"),
    "cancel": _t(
        "draft pending_approval rejected approved", "cancelled", "order.cancelled"
    ),
}


# Not an action anyone can take: a historical order brought in from another system
# (history.py) is recorded as one step from draft straight to completed.
RecordedAction = Literal[Action, "import"]
IMPORTED = _t("draft", "completed", "order.imported")


def allowed_actions(status: str) -> list[Action]:
    """The actions an order in ``status`` can take, in the table's order."""
    return [action for action in ACTIONS if status in TRANSITIONS[action].sources]


def transition_for(action: Action, status: str) -> Transition:
    """The transition ``action`` takes from ``status``; 409 naming the state if none."""
    transition = TRANSITIONS[action]
    if status not in transition.sources:
        allowed = allowed_actions(status)
        hint = f" Allowed now: {', '.join(allowed)}." if allowed else ""
        raise Conflict(
            f"Cannot {action} an order that is {status}.{hint}",
            extra={"status": status, "allowed_actions": allowed},
        )
    return transition
