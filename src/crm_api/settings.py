"""Process settings, read from the environment (and an optional ``.env`` file)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SYMMETRIC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512"}
)
JwtAlgorithm = Literal[
    "HS256",
    "HS384",
    "HS512",
    "RS256",
    "RS384",
    "RS512",
    "ES256",
    "ES384",
    "ES512",
    "PS256",
    "PS384",
    "PS512",
]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CRM_", env_file=".env", extra="ignore", frozen=True
    )

    environment: Literal["development", "production", "test"] = "development"

    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "CRM_DATABASE_URL")
    )
    redis_url: str | None = Field(
        default=None, validation_alias=AliasChoices("REDIS_URL", "CRM_REDIS_URL")
    )
    # The role every API and worker transaction runs as. It owns nothing and cannot
    # bypass row-level security; migrations run as the connecting (owner) role.
    database_app_role: str = "crm_app"
    # A fixed pool: overflow connections are closed on return and reopened under load,
    # which costs far more than waiting briefly for a pooled one.
    database_pool_size: int = Field(default=20, ge=1)
    database_max_overflow: int = Field(default=0, ge=0)

    data_dir: Path = Path(".crm-data")

    jwt_algorithm: JwtAlgorithm = "HS256"
    jwt_secret: SecretStr | None = None
    jwt_private_key: SecretStr | None = None
    jwt_public_key: str | None = None
    jwt_issuer: str = "crm-api"
    jwt_audience: str = "crm-api"
    access_token_ttl_s: int = Field(default=900, ge=30)
    refresh_token_ttl_s: int = Field(default=30 * 24 * 3600, ge=60)

    cors_origins: list[str] = Field(default_factory=list)
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    # File uploads (POST .../imports) may be larger; they are spooled to disk.
    max_upload_bytes: int = Field(default=512 * 1_048_576, ge=1024)
    idempotency_ttl_s: int = Field(default=24 * 3600, ge=60)

    login_attempts_per_minute: int = Field(default=10, ge=1)
    # Sign-ups are anonymous: limited per client address.
    signups_per_hour: int = Field(default=20, ge=1)
    # Every Redis key this process writes starts with this (besides arq's queue).
    redis_key_prefix: str = "crm:"
    # argon2id cost; the defaults are argon2-cffi's recommendation.
    password_hash_time_cost: int = Field(default=3, ge=1)
    password_hash_memory_kib: int = Field(default=65536, ge=8)

    log_json: bool = True
    log_level: str = "INFO"

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if "*" in self.cors_origins:
            raise ValueError(
                "CRM_CORS_ORIGINS may not contain '*': credentials are allowed, so "
                "every origin must be named"
            )
        if self.jwt_algorithm in ASYMMETRIC_ALGORITHMS and (
            self.jwt_private_key is None or self.jwt_public_key is None
        ):
            raise ValueError(
                f"{self.jwt_algorithm} needs CRM_JWT_PRIVATE_KEY and CRM_JWT_PUBLIC_KEY"
            )
        return self

    @property
    def jwt_signing_key(self) -> str:
        if self.jwt_algorithm in SYMMETRIC_ALGORITHMS:
            if self.jwt_secret is None:
                raise RuntimeError("CRM_JWT_SECRET is not set")
            return self.jwt_secret.get_secret_value()
        assert self.jwt_private_key is not None
        return self.jwt_private_key.get_secret_value()

    @property
    def jwt_verification_key(self) -> str:
        if self.jwt_algorithm in SYMMETRIC_ALGORITHMS:
            return self.jwt_signing_key
        assert self.jwt_public_key is not None
        return self.jwt_public_key


@lru_cache
def get_settings() -> Settings:
    return Settings()
