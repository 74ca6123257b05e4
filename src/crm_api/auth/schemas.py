from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from crm_api.kernel.schemas import InputModel


class TokenRequest(InputModel):
    """OAuth2 token request (form-encoded): password or refresh_token grant."""

    grant_type: Literal["password", "refresh_token"] = "password"
    username: str | None = Field(default=None, max_length=254, description="Email.")
    password: str | None = Field(default=None, max_length=256)
    refresh_token: str | None = Field(default=None, max_length=4096)
    scope: str = Field(default="", max_length=1000)
    client_id: str | None = Field(default=None, max_length=200)
    client_secret: str | None = Field(default=None, max_length=200)


class TokenPair(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds until the access token expires.")
    refresh_token: str
    refresh_expires_in: int
