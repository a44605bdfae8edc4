"""What pulumi-postgresql cannot declare, run by Pulumi dynamic providers as the admin.

- `RoleTempFileLimitProvider`: `ALTER ROLE … SET temp_file_limit` (the provider's Role has
  arguments for search_path and two timeouts only). temp_file_limit is a superuser-only
  parameter, so the tenant cannot lift what is set here.
- `PasswordRemovalProvider`: `ALTER ROLE … PASSWORD NULL` for an offboarded tenant. The
  provider's Role leaves the old password in place when the argument is removed
  (resource_postgresql_role.go setRolePassword: "Nothing to set").
- `OwnedObjectsPurgeProvider`: on delete, `DROP OWNED BY` the tenant's roles in its database,
  large objects included. The provider's own Role delete would first `REASSIGN OWNED` to the
  admin, handing the tenant's code to it; tenant roles skip that, and purge comes here.

The providers live in this installed package, not in `components/`, because the engine runs
them in a separate process that unpickles them by module name.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql
from pulumi.dynamic import CreateResult, ResourceProvider, UpdateResult

# Input keys of the admin's connection, shared by both resources.
CONNECTION_KEYS = ("host", "port", "dbname", "user", "password", "sslmode", "connect_timeout")


def connect(props: dict[str, Any]) -> psycopg.Connection:
    kwargs = {key: props[key] for key in CONNECTION_KEYS}
    # The engine hands numbers to dynamic providers as floats (protobuf Struct).
    kwargs["port"], kwargs["connect_timeout"] = int(kwargs["port"]), int(kwargs["connect_timeout"])
    return psycopg.connect(**kwargs, autocommit=True)


def _role_exists(conn: psycopg.Connection, role: str) -> bool:
    return conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone() is not None


class RoleTempFileLimitProvider(ResourceProvider):
    """Inputs: the connection keys, `roles` (the tenant's login roles), `kilobytes` (>= 0)."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        with connect(props) as conn:
            _set_limit(conn, props["roles"], int(props["kilobytes"]))
        return CreateResult(id_=props["roles"][0], outs=props)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        with connect(news) as conn:
            _reset_limit(conn, [role for role in olds["roles"] if role not in news["roles"]])
            _set_limit(conn, news["roles"], int(news["kilobytes"]))
        return UpdateResult(outs=news)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        with connect(props) as conn:
            _reset_limit(conn, props["roles"])


def _set_limit(conn: psycopg.Connection, roles: list[str], kilobytes: int) -> None:
    for role in roles:
        conn.execute(sql.SQL("ALTER ROLE {} SET temp_file_limit = {}").format(sql.Identifier(role), sql.Literal(kilobytes)))


def _reset_limit(conn: psycopg.Connection, roles: list[str]) -> None:
    # A role dropped in the same change took its settings with it.
    for role in roles:
        if _role_exists(conn, role):
            conn.execute(sql.SQL("ALTER ROLE {} RESET temp_file_limit").format(sql.Identifier(role)))


class PasswordRemovalProvider(ResourceProvider):
    """Inputs: the connection keys and `role`. Delete does nothing: a later password is the Role's."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        self._clear(props)
        return CreateResult(id_=props["role"], outs=props)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        self._clear(news)
        return UpdateResult(outs=news)

    @staticmethod
    def _clear(props: dict[str, Any]) -> None:
        with connect(props) as conn:
            conn.execute(sql.SQL("ALTER ROLE {} PASSWORD NULL").format(sql.Identifier(props["role"])))


class OwnedObjectsPurgeProvider(ResourceProvider):
    """Inputs: the connection keys and `roles` (the tenant's roles). Create does nothing."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(id_=f"{props['dbname']}.{props['roles'][0]}", outs=props)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs=news)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        with connect(props) as conn:
            roles = [role for role in props["roles"] if _role_exists(conn, role)]
            if roles:
                # Drops what they own in this database (their tables, functions, large objects)
                # and revokes what they were granted; runs no code the tenant wrote.
                conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.SQL(", ").join(map(sql.Identifier, roles))))
