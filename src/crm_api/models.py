"""Every mapped table, imported in one place for Alembic and the metadata checks."""

from crm_api.api_keys.models import ApiKey
from crm_api.auth.models import RefreshToken
from crm_api.custom_attributes.models import CustomAttribute
from crm_api.custom_attributes.value_index import CustomValueIndex
from crm_api.customers.models import Contact, Customer, CustomerMerge, Interaction
from crm_api.imports.models import CustomerImport, ImportChunk, ImportRowError
from crm_api.kernel.db import Base
from crm_api.kernel.idempotency import IdempotencyKey
from crm_api.kernel.outbox import OutboxEvent
from crm_api.orders.models import (
    ApprovalRule,
    Order,
    OrderApproval,
    OrderLine,
    OrderTransition,
)
from crm_api.organisation.models import Department, Employee
from crm_api.plans.models import (
    ActionType,
    PaymentNotice,
    PaymentReminderPolicy,
    Plan,
    PlanStep,
    Receipt,
)
from crm_api.products.models import Product
from crm_api.quotes.models import Quote, QuoteLine, QuoteRevision
from crm_api.roles.models import Role
from crm_api.tenants.models import Tenant
from crm_api.users.models import User

__all__ = [
    "ActionType",
    "ApiKey",
    "ApprovalRule",
    "Base",
    "Contact",
    "CustomAttribute",
    "CustomValueIndex",
    "Customer",
    "CustomerImport",
    "CustomerMerge",
    "Department",
    "Employee",
    "IdempotencyKey",
    "ImportChunk",
    "ImportRowError",
    "Interaction",
    "Order",
    "OrderApproval",
    "OrderLine",
    "OrderTransition",
    "OutboxEvent",
    "PaymentNotice",
    "PaymentReminderPolicy",
    "Plan",
    "PlanStep",
    "Product",
    "Quote",
    "QuoteLine",
    "QuoteRevision",
    "Receipt",
    "RefreshToken",
    "Role",
    "Tenant",
    "User",
]
