"""Token verification on its own, including the asymmetric configuration."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from crm_api.auth.tokens import decode_token, issue_token
from crm_api.kernel.errors import NotAuthenticated
from crm_api.settings import Settings

NOW = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)


def _settings(**values: object) -> Settings:
    return Settings(**{"jwt_secret": "s" * 48, **values})  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def rsa_settings() -> Settings:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        .decode()
    )
    return _settings(
        jwt_algorithm="RS256", jwt_private_key=private, jwt_public_key=public
    )


def _issue(settings: Settings, now: datetime = NOW) -> str:
    token, _ = issue_token(
        settings,
        token_type="access",
        user_id=uuid.uuid4(),
        tenant_id=uuid.uuid4(),
        family_id=uuid.uuid4(),
        now=now,
    )
    return token


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def test_valid_token_round_trips() -> None:
    settings = _settings()

    claims = decode_token(settings, _issue(settings), expected_type="access", now=NOW)

    assert claims.token_type == "access"
    assert claims.expires_at == NOW + timedelta(seconds=settings.access_token_ttl_s)


def test_token_is_dead_exactly_at_exp() -> None:
    settings = _settings()
    token = _issue(settings)
    exp = NOW + timedelta(seconds=settings.access_token_ttl_s)

    decode_token(
        settings, token, expected_type="access", now=exp - timedelta(seconds=1)
    )
    with pytest.raises(NotAuthenticated):
        decode_token(settings, token, expected_type="access", now=exp)


def test_token_issued_in_the_future_is_refused() -> None:
    settings = _settings()
    token = _issue(settings, now=NOW + timedelta(minutes=10))

    with pytest.raises(NotAuthenticated):
        decode_token(settings, token, expected_type="access", now=NOW)


@pytest.mark.parametrize(
    ("claim", "value"), [("iss", "someone-else"), ("aud", "another-api")]
)
def test_wrong_issuer_or_audience_is_refused(claim: str, value: str) -> None:
    issuing = _settings(**{f"jwt_{'issuer' if claim == 'iss' else 'audience'}": value})

    with pytest.raises(NotAuthenticated):
        decode_token(_settings(), _issue(issuing), expected_type="access", now=NOW)


def test_token_of_another_algorithm_is_refused() -> None:
    token = _issue(_settings(jwt_algorithm="HS512"))

    with pytest.raises(NotAuthenticated):
        decode_token(_settings(), token, expected_type="access", now=NOW)


def test_rs256_round_trips(rsa_settings: Settings) -> None:
    claims = decode_token(
        rsa_settings, _issue(rsa_settings), expected_type="access", now=NOW
    )

    assert claims.token_type == "access"


def test_hs256_signed_with_the_public_key_is_refused(rsa_settings: Settings) -> None:
    genuine = _issue(rsa_settings)
    _, payload, _ = genuine.split(".")
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    assert rsa_settings.jwt_public_key is not None
    signature = hmac.new(
        rsa_settings.jwt_public_key.encode(),
        f"{header}.{payload}".encode(),
        hashlib.sha256,
    ).digest()
    confused = f"{header}.{payload}.{_b64(signature)}"

    with pytest.raises(NotAuthenticated):
        decode_token(rsa_settings, confused, expected_type="access", now=NOW)


def test_asymmetric_algorithm_without_keys_is_a_settings_error() -> None:
    with pytest.raises(ValueError, match="CRM_JWT_PRIVATE_KEY"):
        _settings(jwt_algorithm="ES256")


def test_wildcard_cors_origin_is_a_settings_error() -> None:
    with pytest.raises(ValueError, match="may not contain"):
        _settings(cors_origins=["*"])
