"""The ASGI entry point uvicorn imports: ``crm_api.asgi:app``."""

from crm_api.app import create_app
from crm_api.kernel.logging import configure_logging
from crm_api.settings import get_settings

_settings = get_settings()
configure_logging(json_output=_settings.log_json, level=_settings.log_level)
app = create_app(_settings)
