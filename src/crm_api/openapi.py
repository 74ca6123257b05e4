"""Rendering the OpenAPI contract, byte for byte as committed under ``openapi/``."""

from __future__ import annotations

import json

from crm_api.app import create_app
from crm_api.settings import Settings


def render_openapi() -> str:
    # Rendering never signs anything; the secret only satisfies the settings check.
    app = create_app(Settings(jwt_secret="unused-for-rendering"))  # type: ignore[arg-type]  # noqa: S106
    return (
        json.dumps(app.openapi(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    )
