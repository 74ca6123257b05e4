"""DDL for tenant isolation, used by migrations.

Every tenant-owned table gets row-level security with one policy: rows are visible and
writable only when their ``tenant_id`` equals the transaction's ``app.tenant_id``
setting. The application role owns nothing, so it cannot switch RLS off; the owner
(the role migrations run as) is not subject to it, which is what lets the few
SECURITY DEFINER look-ups below cross tenants on purpose.
"""

from __future__ import annotations

import re

CURRENT_TENANT_FUNCTION = """
CREATE OR REPLACE FUNCTION crm_current_tenant() RETURNS uuid
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid $$
"""


def _identifier(name: str) -> str:
    """DDL cannot bind identifiers, so only plain lower-case names are let in."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
        raise ValueError(f"not a plain SQL identifier: {name!r}")
    return name


def create_app_role(role: str) -> list[str]:
    role = _identifier(role)
    return [
        f"""
        DO $$ BEGIN
          IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
            CREATE ROLE {role} NOLOGIN NOSUPERUSER NOBYPASSRLS;
          END IF;
          IF NOT pg_has_role(current_user, '{role}', 'MEMBER') THEN
            EXECUTE format('GRANT {role} TO %I', current_user);
          END IF;
        END $$
        """,  # noqa: S608 - role is a checked identifier
        f"GRANT USAGE ON SCHEMA public TO {role}",
    ]


def isolate(table: str, role: str, *, column: str = "tenant_id") -> list[str]:
    """Enable RLS on ``table`` keyed on ``column`` and grant DML to the app role."""
    table, role, column = _identifier(table), _identifier(role), _identifier(column)
    return [
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
        f"""CREATE POLICY tenant_isolation ON {table}
            USING ({column} = crm_current_tenant())
            WITH CHECK ({column} = crm_current_tenant())""",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {role}",
    ]


def security_definer_lookup(
    name: str, arguments: str, returns: str, body: str, role: str
) -> list[str]:
    """A narrow cross-tenant look-up the app role may call but not see inside."""
    name, role = _identifier(name), _identifier(role)
    return [
        f"""CREATE OR REPLACE FUNCTION {name}({arguments}) RETURNS {returns}
            LANGUAGE sql STABLE SECURITY DEFINER
            SET search_path = pg_catalog, public
            AS $$ {body} $$""",
        f"REVOKE ALL ON FUNCTION {name}({arguments}) FROM PUBLIC",
        f"GRANT EXECUTE ON FUNCTION {name}({arguments}) TO {role}",
    ]
