"""What pulumi-postgresql cannot declare, run by Pulumi dynamic providers as the admin.

- `RoleTempFileLimitProvider`: `ALTER ROLE … SET temp_file_limit` (the provider's Role has
  arguments for search_path and two timeouts only). temp_file_limit is a superuser-only
  parameter, so the tenant cannot lift what is set here.
- `PasswordRemovalProvider`: `ALTER ROLE … PASSWORD NULL` for an offboarded tenant. The
  provider's Role leaves the old password in place when the argument is removed
  (resource_postgresql_role.go setRolePassword: "Nothing to set").
- `LoginHandoverProvider`: before zero-downtime login slots are dropped, what they own goes to
  the tenant's owner role (REASSIGN to the owner, never to the admin).
- `OwnedObjectsPurgeProvider`: on delete, `DROP OWNED BY` the tenant's roles in its database,
  large objects included. The provider's own Role delete would first `REASSIGN OWNED` to the
  admin, handing the tenant's code to it; tenant roles skip that, and purge comes here.
- `PublicPrivilegeRecordProvider`: database hardening that can be undone. On create it reads
  which of the privileges hardening takes away PUBLIC holds (on a database: CONNECT, TEMPORARY,
  CREATE; on its schema `public`: CREATE, which PostgreSQL 14 and older give PUBLIC by default
  and 15+ does not), keeps that list in the resource's id and revokes it; on delete it grants
  back exactly that list. USAGE on `public` is never revoked. pulumi-postgresql's Grant cannot
  do this: deleting a Grant to PUBLIC only revokes (TF resource_postgresql_grant.go Delete:
  `REVOKE ALL … FROM public`), which gives nothing back and strips PUBLIC's USAGE on `public`.

The providers live in this installed package, not in `components/`, because the engine runs
them in a separate process that unpickles them by module name.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql
from pulumi.dynamic import CreateResult, ReadResult, ResourceProvider, UpdateResult

from pg_tenants.admin_membership import privileges_of

# Input keys of the admin's connection, shared by every resource here.
CONNECTION_KEYS = ("host", "port", "dbname", "user", "password", "sslmode", "connect_timeout")
TLS_KEYS = ("sslrootcert", "sslcert", "sslkey")  # present only where the stack sets them


def connect(props: dict[str, Any]) -> psycopg.Connection:
    kwargs = {key: props[key] for key in CONNECTION_KEYS} | {key: props[key] for key in TLS_KEYS if props.get(key)}
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

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        # Refresh: the roles that really have the limit. Returned as inputs too (the SDK host
        # then diffs against them), so a setting lost with a role dropped by hand is set again.
        with connect(props) as conn:
            kilobytes = str(int(props["kilobytes"]))
            rows = conn.execute(
                "SELECT r.rolname FROM pg_roles r JOIN pg_db_role_setting s ON s.setrole = r.oid AND s.setdatabase = 0"
                " WHERE r.rolname = ANY(%s) AND %s = ANY(s.setconfig)",
                (list(props["roles"]), f"temp_file_limit={kilobytes}"),
            )
            limited = {row[0] for row in rows}
        current = {**props, "roles": [role for role in props["roles"] if role in limited]}
        return ReadResult(id_=id_, outs=current, inputs=current)


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


class LoginHandoverProvider(ResourceProvider):
    """Inputs: the connection keys, `slots` (login roles) and `owner`. Create does nothing.

    A NOINHERIT login slot holds no privilege, yet after SET ROLE NONE it can still make what
    needs none: large objects and its own default privileges. Before its DROP ROLE, the delete
    gives what it owns to the tenant's owner role (never to the admin) and drops the rest."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(id_=f"{props['dbname']}.{props['owner']}", outs=props)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs=news)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        with connect(props) as conn:
            slots = [role for role in props["slots"] if _role_exists(conn, role)]
            if not slots or not _role_exists(conn, props["owner"]):
                return
            listed = sql.SQL(", ").join(map(sql.Identifier, slots))
            # Both need the privileges of every role named: an admin that is not a superuser
            # takes them for this transaction only (pg_tenants.admin_membership).
            # REASSIGN also needs, of the new owner, the right to SET ROLE to it (16+) and its
            # privileges (17+).
            with conn.transaction(), privileges_of(conn, [*slots, props["owner"]], set_roles=[props["owner"]]):
                # DROP OWNED revokes the slots' CONNECT: the same pg_database row as every database grant.
                _lock_database(conn, props["dbname"])
                conn.execute(sql.SQL("REASSIGN OWNED BY {} TO {}").format(listed, sql.Identifier(props["owner"])))
                conn.execute(sql.SQL("DROP OWNED BY {}").format(listed))


class OwnedObjectsPurgeProvider(ResourceProvider):
    """Inputs: the connection keys, `roles` (the tenant's roles) and, for a tenant with a read-only
    login, `grantees` (that login). Create does nothing.

    A grantee goes first, in a statement of its own: one DROP OWNED naming both the owner of a
    default-privileges entry and its grantee fails ("could not find tuple for default ACL").
    """

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(id_=f"{props['dbname']}.{props['roles'][0]}", outs=props)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs=news)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        with connect(props) as conn:
            for grantee in props.get("grantees") or []:
                if _role_exists(conn, grantee):
                    with conn.transaction(), privileges_of(conn, [grantee]):
                        _lock_database(conn, props["dbname"])
                        conn.execute(sql.SQL("DROP OWNED BY {} CASCADE").format(sql.Identifier(grantee)))
            roles = [role for role in props["roles"] if _role_exists(conn, role)]
            if roles:
                # Drops what they own in this database (their tables, functions, large objects)
                # and revokes what they were granted; runs no code the tenant wrote. CASCADE:
                # a cast has no owner, so a tenant's cast on its own function would block it.
                # It needs the privileges of each role: an admin that is not a superuser takes
                # them for this transaction only (pg_tenants.admin_membership).
                with conn.transaction(), privileges_of(conn, roles):
                    # DROP OWNED revokes their CONNECT: the same pg_database row as every database grant.
                    _lock_database(conn, props["dbname"])
                    conn.execute(sql.SQL("DROP OWNED BY {} CASCADE").format(sql.SQL(", ").join(map(sql.Identifier, roles))))


# What database hardening takes away from PUBLIC, per target, in this order.
PUBLIC_DATABASE = "database"
PUBLIC_SCHEMA = "public schema"
HARDENED_PRIVILEGES: dict[str, tuple[str, ...]] = {
    PUBLIC_DATABASE: ("CONNECT", "TEMPORARY", "CREATE"),
    # USAGE stays: shared extensions live in `public`, and taking it would break their users.
    PUBLIC_SCHEMA: ("CREATE",),
}

# PUBLIC's privileges (grantee 0) as PostgreSQL applies them: a NULL ACL is the built-in default
# (acldefault), which for a database gives PUBLIC CONNECT and TEMPORARY. On PostgreSQL 14 and
# older initdb gives `public` an explicit ACL with PUBLIC's CREATE; 15 and later only USAGE.
_PUBLIC_HOLDS = {
    PUBLIC_DATABASE: "SELECT e.privilege_type FROM pg_database d, aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) e"
                     " WHERE d.datname = %s AND e.grantee = 0",
    PUBLIC_SCHEMA: "SELECT e.privilege_type FROM pg_namespace n, aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) e"
                   " WHERE n.nspname = 'public' AND e.grantee = 0",
}


def record_id(database: str, target: str, held: list[str]) -> str:
    """The id of a PublicPrivilegeRecord: what it will give back, readable in `pulumi stack`."""
    return f"{database}/{target}:{','.join(held)}"


def recorded_privileges(resource_id: str) -> list[str]:
    """The privileges a record's id says PUBLIC held before hardening (privilege names hold no ':')."""
    held = resource_id.rsplit(":", 1)[1] if ":" in resource_id else ""
    return [p for p in held.split(",") if p]


def _lock_database(conn: psycopg.Connection, database: str) -> bool:
    """The advisory lock pulumi-postgresql takes for database grants (TF helpers.go:pgLockDatabase), so a
    change to the pg_database row never runs beside a tenant's CONNECT grant; False if the database is gone."""
    conn.execute("SET LOCAL statement_timeout = 0")
    row = conn.execute("SELECT pg_advisory_xact_lock(oid::bigint) FROM pg_database WHERE datname = %s", (database,)).fetchone()
    return row is not None


def _public_holds(conn: psycopg.Connection, database: str, target: str) -> list[str]:
    holds = {row[0] for row in conn.execute(_PUBLIC_HOLDS[target], (database,) if target == PUBLIC_DATABASE else None)}
    return [p for p in HARDENED_PRIVILEGES[target] if p in holds]


def _change_public(conn: psycopg.Connection, action: str, privileges: list[str], database: str, target: str) -> None:
    # Privilege keywords cannot be identifiers; these come from HARDENED_PRIVILEGES only.
    keywords = sql.SQL(", ").join(sql.SQL(p) for p in privileges if p in HARDENED_PRIVILEGES[target])
    on = sql.SQL("DATABASE {}").format(sql.Identifier(database)) if target == PUBLIC_DATABASE else sql.SQL("SCHEMA public")
    template = "REVOKE {} ON {} FROM PUBLIC" if action == "REVOKE" else "GRANT {} ON {} TO PUBLIC"
    conn.execute(sql.SQL(template).format(keywords, on))


class PublicPrivilegeRecordProvider(ResourceProvider):
    """Inputs: the connection keys (the server's admin database), `database` and `target`
    (PUBLIC_DATABASE or PUBLIC_SCHEMA). The changes run over a connection to `database`.

    The record lives in the id, which the engine keeps and passes to update and delete (a
    refresh keeps it too: this provider has no read); `held` in the outputs repeats it. Update
    changes nothing: a new admin password or address is no reason to forget what PUBLIC held.
    """

    def create(self, props: dict[str, Any]) -> CreateResult:
        database, target = props["database"], props["target"]
        with self._connect(props) as conn:
            if conn is None:
                raise RuntimeError(f"database {database!r} does not exist")
            with conn.transaction():
                _lock_database(conn, database)
                held = _public_holds(conn, database, target)
                if held:
                    _change_public(conn, "REVOKE", held, database, target)
                # A grant to PUBLIC made by another grantor survives a superuser's REVOKE (which
                # acts as the owner): fail rather than report a hardening that did not happen.
                still = _public_holds(conn, database, target)
                if still:
                    raise RuntimeError(
                        f"PUBLIC still holds {', '.join(still)} on {_describe(database, target)} after REVOKE: a role "
                        "other than the owner granted it; revoke it as that role (aclexplode shows the grantor)")
        return CreateResult(id_=record_id(database, target, held), outs={**props, "held": held})

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs={**news, "held": recorded_privileges(_id)})

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        held = recorded_privileges(_id)
        if not held:
            return
        database, target = props["database"], props["target"]
        with self._connect(props) as conn:
            if conn is None:
                return  # the database was dropped, and what PUBLIC held on it with it
            with conn.transaction():
                if not _lock_database(conn, database):
                    return
                if target == PUBLIC_SCHEMA and conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = 'public'").fetchone() is None:
                    return
                _change_public(conn, "GRANT", held, database, target)

    @staticmethod
    @contextmanager
    def _connect(props: dict[str, Any]) -> Iterator[psycopg.Connection | None]:
        """A connection to `database` itself, None if it does not exist (asked of the admin database).

        Itself even for its pg_database row: the advisory lock pulumi-postgresql takes for a
        database grant is taken there, and advisory locks are per database.
        """
        with connect(props) as admin:
            exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (props["database"],)).fetchone()
        if exists is None:
            yield None
            return
        with connect({**props, "dbname": props["database"]}) as conn:
            yield conn


def _describe(database: str, target: str) -> str:
    return f"database {database}" if target == PUBLIC_DATABASE else f"schema public of database {database}"
