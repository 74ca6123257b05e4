"""The money rule, in one place for quotes, orders and everything that adds them up.

A line's net is quantity x unit price x (1 - discount / 100), rounded half-up to the
currency's minor unit; its tax is net x tax rate / 100, rounded the same way; its gross
is net + tax. A document's totals are the sums of its lines' rounded figures, so the
total always equals what the lines show. Everything is ``Decimal``; products are taken
at full precision and rounded once per figure.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal, localcontext
from functools import cache
from typing import Annotated, Any

from babel.numbers import get_currency_precision
from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    PlainSerializer,
    WithJsonSchema,
)

# The rule in words, for the API's descriptions of everything that applies it.
MONEY_RULE_TEXT = (
    "Money rule: line net = quantity x unit price x (1 - discount / 100), rounded "
    "half-up to the currency's minor unit; line tax = net x tax rate / 100, rounded "
    "the same way; a document's totals are the sums of its lines' rounded figures. "
    "Amounts with more decimals than the currency has are refused (422)."
)

_HUNDRED = Decimal(100)
# Wide enough that no product of in-range inputs is rounded before the rule rounds it.
_WIDE = Context(prec=60)


@cache
def minor_units(currency: str) -> int:
    """Decimal places of the currency (EUR 2, JPY 0, BHD 3)."""
    return int(get_currency_precision(currency))


def quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-minor_units(currency))


def round_money(amount: Decimal, currency: str) -> Decimal:
    """Half-up to the currency's minor unit (2.345 EUR -> 2.35, -2.345 -> -2.35)."""
    with localcontext(_WIDE):
        return amount.quantize(quantum(currency), rounding=ROUND_HALF_UP)


def fits_currency(amount: Decimal, currency: str) -> bool:
    """True when ``amount`` has no more decimal places than the currency allows."""
    exponent = amount.normalize().as_tuple().exponent
    return isinstance(exponent, int) and -exponent <= minor_units(currency)


@dataclass(frozen=True)
class LineFigures:
    net: Decimal
    tax: Decimal

    @property
    def gross(self) -> Decimal:
        return self.net + self.tax


def line_figures(
    *,
    quantity: Decimal,
    unit_price: Decimal,
    discount_percent: Decimal,
    tax_rate_percent: Decimal,
    currency: str,
) -> LineFigures:
    with localcontext(_WIDE):
        net = round_money(
            quantity * unit_price * (1 - discount_percent / _HUNDRED), currency
        )
        tax = round_money(net * tax_rate_percent / _HUNDRED, currency)
    return LineFigures(net=net, tax=tax)


@dataclass(frozen=True)
class Totals:
    net: Decimal
    tax: Decimal

    @property
    def gross(self) -> Decimal:
        return self.net + self.tax


def totals(lines: Iterable[LineFigures], currency: str) -> Totals:
    zero = Decimal(0).quantize(quantum(currency))
    net, tax = zero, zero
    for line in lines:
        net += line.net
        tax += line.tax
    return Totals(net=net, tax=tax)


def _decimal_string(value: Decimal) -> str:
    return format(value, "f")


_DECIMAL_TEXT = re.compile(r"-?[0-9]+(\.[0-9]+)?")
# Left to the finiteness check, which names them as such.
_NOT_FINITE = frozenset({"nan", "snan", "inf", "infinity"})


def _decimal_text(value: object) -> object:
    """A decimal sent as a string is written plainly: ASCII digits, an optional sign
    and point, nothing else (no spaces, exponents or other scripts' digits)."""
    if (
        isinstance(value, str)
        and not _DECIMAL_TEXT.fullmatch(value)
        and value.lstrip("+-").lower() not in _NOT_FINITE
    ):
        raise ValueError("must be written like 12.30 (ASCII digits, no spaces)")
    return value


# For every exact-decimal input (money, quantities, percentages).
DecimalText = BeforeValidator(_decimal_text)


def _finite(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise ValueError("must be a finite number")
    return value


_AS_STRING = PlainSerializer(_decimal_string, return_type=str, when_used="json")

# In responses money is a decimal string ("12.30"), never a JSON number.
MoneyOut = Annotated[
    Decimal,
    _AS_STRING,
    WithJsonSchema({"type": "string", "format": "decimal", "examples": ["12.30"]}),
]
# Quantities and percentages are exact decimals too, sent back as decimal strings.
DecimalOut = Annotated[
    Decimal,
    _AS_STRING,
    WithJsonSchema({"type": "string", "format": "decimal", "examples": ["1.5"]}),
]


def _money_schema(**extra: Any) -> WithJsonSchema:
    return WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "format": "decimal"},
                {"type": "number"},
            ],
            **extra,
        }
    )


# In requests a decimal string or a JSON number (read as an exact decimal). Whether it
# fits the document's currency is checked where the currency is known.
MoneyIn = Annotated[
    Decimal,
    DecimalText,
    AfterValidator(_finite),
    Field(max_digits=18),
    _money_schema(description='Decimal string or number, e.g. "12.30".'),
]
