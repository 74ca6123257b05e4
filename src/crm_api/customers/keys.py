"""Normalised keys for duplicate detection: name, phone and email."""

from __future__ import annotations

import unicodedata

import phonenumbers

# Legal-form words that do not tell two companies apart.
_LEGAL_FORMS = frozenset(
    {
        "ag", "bv", "co", "company", "corp", "corporation", "gmbh", "inc", "kg",
        "limited", "llc", "ltd", "plc", "sa", "sarl", "sas", "spa", "srl",
        "有限公司", "股份有限公司", "有限责任公司", "集团",
    }
)  # fmt: skip


def name_key(name: str) -> str:
    """Case-, width- and punctuation-blind form of a name, legal forms dropped."""
    folded = unicodedata.normalize("NFKC", name).casefold()
    words = "".join(ch if ch.isalnum() else " " for ch in folded).split()
    kept = [word for word in words if word not in _LEGAL_FORMS] or words
    result = "".join(kept)
    for suffix in sorted(_LEGAL_FORMS, key=len, reverse=True):
        if (
            not suffix.isascii()
            and result.endswith(suffix)
            and len(result) > len(suffix)
        ):
            result = result[: -len(suffix)]
            break
    return result


def phone_key(phone: str | None, *, region: str | None) -> str | None:
    """E.164 where the number parses (with the tenant's region), else its digits."""
    if not phone:
        return None
    try:
        parsed = phonenumbers.parse(phone, region)
        if phonenumbers.is_possible_number(parsed):
            return phonenumbers.format_number(
                parsed, phonenumbers.PhoneNumberFormat.E164
            )
    except phonenumbers.NumberParseException:
        pass
    digits = "".join(ch for ch in phone if ch.isdigit())
    return digits if len(digits) >= 6 else None


def email_key(email: str | None) -> str | None:
    return email.strip().lower() if email else None
