"""crm-api: a multi-tenant, API-first CRM backend."""
