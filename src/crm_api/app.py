"""The ASGI application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware

import crm_api.models  # noqa: F401  - every mapped class, whatever routers import
from crm_api.api_keys.router import router as api_keys_router
from crm_api.auth.router import router as auth_router
from crm_api.custom_attributes.router import router as custom_attributes_router
from crm_api.customers.router import router as customers_router
from crm_api.health.router import router as health_router
from crm_api.imports.router import router as imports_router
from crm_api.kernel.idempotency import Replay, replay_handler
from crm_api.kernel.middleware import BodyLimitMiddleware, RequestContextMiddleware
from crm_api.kernel.openapi_doc import build_openapi
from crm_api.kernel.problems import install_problem_handlers
from crm_api.kernel.resources import Resources
from crm_api.me.router import router as me_router
from crm_api.orders.router import approvals_router, rules_router
from crm_api.orders.router import router as orders_router
from crm_api.organisation.router import departments_router, employees_router
from crm_api.plans.router import action_types_router, notices_router, plans_router
from crm_api.products.router import router as products_router
from crm_api.quotes.router import router as quotes_router
from crm_api.roles.router import router as roles_router
from crm_api.settings import Settings, get_settings
from crm_api.tenants.router import router as tenants_router
from crm_api.users.router import router as users_router

DESCRIPTION = """
The server side of a hosted, multi-tenant CRM.

**Conventions.** Paths live under `/api/v1`. Every error is RFC 9457 problem details
(`application/problem+json`) with a stable `type`; invalid fields are listed under
`errors`. Request bodies with unknown fields are refused (422). Lists page with
`limit` (at most 200) and `cursor`, answering `next_cursor`. Single reads carry an
`ETag`; send it back as `If-Match` on PATCH and DELETE (412 when stale). POST honours
`Idempotency-Key`. Numbers in JSON bodies are read as exact decimals; money is a
decimal string. Times are ISO 8601 with an offset and stored in UTC.

**Money.** A line's net is quantity x unit price x (1 - discount / 100), rounded
half-up to the currency's minor unit (EUR 0.01, JPY 1); its tax is net x tax rate / 100,
rounded the same way; a document's totals are the sums of its lines' rounded figures.
An amount with more decimals than its currency has is refused (422), never rounded.

**Authentication.** `POST /api/v1/auth/token` (OAuth2 password grant: `username` is the
email) returns a short-lived bearer access token and a rotating refresh token. Servers
may use an `X-API-Key` instead.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        resources = await Resources.open(settings)
        app.state.resources = resources
        try:
            yield
        finally:
            await resources.close()

    app = FastAPI(
        title="crm-api",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_tags=[
            {"name": "tenants", "description": "Sign-up and the tenant's settings."},
            {"name": "auth", "description": "Tokens: sign in, refresh, sign out."},
            {"name": "me", "description": "The caller."},
            {"name": "users", "description": "The tenant's users (admins only)."},
            {
                "name": "roles",
                "description": "Roles: permissions and which records they reach.",
            },
            {"name": "api_keys", "description": "Server-to-server keys."},
            {
                "name": "custom_attributes",
                "description": "The tenant's own fields on customers, orders, ...",
            },
            {
                "name": "customers",
                "description": "Customers with their contacts and interaction history.",
            },
            {
                "name": "customer_imports",
                "description": "Customers from CSV files, processed as jobs.",
            },
            {"name": "departments", "description": "The department tree."},
            {
                "name": "employees",
                "description": "Employees: department, manager, leaving with handover.",
            },
            {
                "name": "orders",
                "description": "Orders, their lines and their path through the "
                "state machine.",
            },
            {
                "name": "approvals",
                "description": "What awaits the caller's approval decision.",
            },
            {
                "name": "approval_rules",
                "description": "Which orders need approval, and by whom, in levels.",
            },
            {
                "name": "products",
                "description": "The product catalogue: SKU, category, list price.",
            },
            {
                "name": "quotes",
                "description": "Quotes to customers, kept as numbered revisions: "
                "drafts are edited, sent revisions are frozen.",
            },
            {
                "name": "action_types",
                "description": "The kinds of step the tenant's plans are made of, "
                "and whether each moves money.",
            },
            {
                "name": "plans",
                "description": "Execution plans of approved orders: steps, receipts "
                "against collection steps, paid, outstanding and overdue.",
            },
            {
                "name": "payment_notices",
                "description": "Payment reminders and dunning notices made by the "
                "scheduled sweep, and the policy that says when.",
            },
            {"name": "health", "description": "Liveness, readiness, metrics."},
        ],
        swagger_ui_parameters={"persistAuthorization": True},
        # Our own Prometheus metrics and structlog cover this; the built-in
        # OpenTelemetry layer would wrap every request a second time.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.openapi = lambda: build_openapi(app)  # type: ignore[method-assign]
    install_problem_handlers(app)
    app.add_exception_handler(Replay, replay_handler)

    api = APIRouter(prefix="/api/v1")
    for router in (
        tenants_router,
        auth_router,
        me_router,
        users_router,
        roles_router,
        api_keys_router,
        custom_attributes_router,
        # Before customers: /customers/imports must not be read as a customer id.
        imports_router,
        customers_router,
        departments_router,
        employees_router,
        products_router,
        quotes_router,
        orders_router,
        approvals_router,
        rules_router,
        action_types_router,
        plans_router,
        notices_router,
    ):
        api.include_router(router)
    app.include_router(api)
    app.include_router(health_router)

    # Order: the last added runs first. Request ids wrap everything, then limits.
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        upload_max_bytes=settings.max_upload_bytes,
    )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=True,
            allow_methods=["GET", "POST", "PATCH", "PUT", "DELETE"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "If-Match",
                "Idempotency-Key",
                "X-API-Key",
                "X-Request-ID",
            ],
            expose_headers=["ETag", "Location", "X-Request-ID", "Idempotent-Replayed"],
        )
    app.add_middleware(RequestContextMiddleware)
    return app
