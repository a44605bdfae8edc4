"""`ALTER ROLE <username>_ro SET default_transaction_read_only = on`, by a Pulumi dynamic provider.

pulumi-postgresql's Role has arguments for search_path and two timeouts only (TF
resource_postgresql_role.go: `search_path`, `statement_timeout`,
`idle_in_transaction_session_timeout`), so the read-only login's default is set here, as the
admin, like pg_tenants.admin_sql sets temp_file_limit.

The setting is a convenience, not the boundary: default_transaction_read_only is a user
setting, so the login can turn it off for its session. What it may do is decided by its
privileges (SELECT on the tenant's tables and views, nothing else); the setting only makes a
tool that tries to write fail early with "cannot execute … in a read-only transaction".
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql
from pulumi.dynamic import CreateResult, ReadResult, ResourceProvider, UpdateResult

from pg_tenants.admin_sql import connect

SETTING = "default_transaction_read_only"
# How PostgreSQL stores the value given (ALTER ROLE … SET keeps the text): any spelling of true.
_TRUE = frozenset({"on", "true", "yes", "1", "t", "y"})


def _exists(conn: psycopg.Connection, role: str) -> bool:
    return conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone() is not None


def _set(conn: psycopg.Connection, role: str) -> None:
    conn.execute(sql.SQL("ALTER ROLE {} SET {} = on").format(sql.Identifier(role), sql.Identifier(SETTING)))


def is_read_only_default(setconfig: list[str] | None) -> bool:
    """Whether a pg_db_role_setting.setconfig array turns default_transaction_read_only on."""
    for entry in setconfig or ():
        name, _, value = entry.partition("=")
        if name.lower() == SETTING:
            return value.strip().lower() in _TRUE
    return False


class ReadOnlyDefaultProvider(ResourceProvider):
    """Inputs: the connection keys (pg_tenants.admin_sql.CONNECTION_KEYS) and `role`."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        with connect(props) as conn:
            _set(conn, props["role"])
        return CreateResult(id_=props["role"], outs=props)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        with connect(news) as conn:
            if olds["role"] != news["role"] and _exists(conn, olds["role"]):
                conn.execute(sql.SQL("ALTER ROLE {} RESET {}").format(sql.Identifier(olds["role"]), sql.Identifier(SETTING)))
            _set(conn, news["role"])
        return UpdateResult(outs=news)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        with connect(props) as conn:
            if _exists(conn, props["role"]):  # a role dropped in the same change took it along
                conn.execute(sql.SQL("ALTER ROLE {} RESET {}").format(sql.Identifier(props["role"]), sql.Identifier(SETTING)))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        # Refresh: a setting lost (RESET by hand, role recreated) reads back as a different
        # role, so the next `up` updates the resource and sets it again.
        with connect(props) as conn:
            row = conn.execute(
                "SELECT s.setconfig FROM pg_roles r JOIN pg_db_role_setting s ON s.setrole = r.oid AND s.setdatabase = 0"
                " WHERE r.rolname = %s", (props["role"],)).fetchone()
        current = props if row is not None and is_read_only_default(row[0]) else {**props, "role": ""}
        return ReadResult(id_=id_, outs=current, inputs=current)
