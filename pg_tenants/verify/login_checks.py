"""Hands-on checks: log in once as the tenant and try what it must and must not be able to do.

Everything the probe creates happens inside one transaction that is rolled back, except
CREATE DATABASE, which cannot run in a transaction; should that one succeed, the probe
drops the database again before reporting it.

A forbidden statement that fails for another reason (a read-only session, an event trigger,
a lock timeout) proves nothing either way: the session then asks the server whether it
holds the privilege, so such a failure never hides what the tenant can do.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import psycopg
from psycopg import errors, sql

from .findings import Code, Finding, redact
from .fleet import Tenant
from .search_path import parse_search_path

# libpq learned require_auth in 16; with it a login also proves the server used SCRAM.
LIBPQ_HAS_REQUIRE_AUTH = psycopg.pq.version() >= 160000
_AUTH_REFUSED_MARKERS = ("require_auth", "authentication method requirement", "server requested")
CONNECT_TIMEOUT_SECONDS = 10
STATEMENT_TIMEOUT = "10s"
# Probes send several statements per round trip (simple query protocol, no parameters): each
# round trip costs client and server CPU, and verify is CPU-bound (benchmarks/verify_benchmark.py).
_SAVEPOINT = sql.Identifier("pg_tenants_verify_probe")
# Errors that mean "refused", which is what every forbidden probe should get.
_DENIED = (errors.InsufficientPrivilege, errors.InvalidSchemaName)
# Whether the session holds what a forbidden probe tries, should the statement fail otherwise.
_HOLDS_CREATE_ON_SCHEMA = "SELECT has_schema_privilege(n.oid, 'CREATE') FROM pg_namespace n WHERE n.nspname = %s"
_HOLDS_CREATE_ON_DATABASE = "SELECT has_database_privilege(current_database(), 'CREATE')"
_HOLDS_CREATEROLE = "SELECT rolcreaterole OR rolsuper FROM pg_roles WHERE rolname = current_user"
_HOLDS_CREATEDB = "SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user"
_Query = tuple[str, list[str]]  # SQL and its parameters


@dataclass(frozen=True)
class LoginResult:
    tenant: str
    status: str  # "ok"; "failed"; "refused" (a suspended tenant, as it should be); "skipped" (also: offboarded)
    findings: tuple[Finding, ...]


def _connect(tenant: Tenant, *, require_scram: bool) -> psycopg.Connection:
    params: dict[str, object] = {
        "host": tenant.host, "port": tenant.port, "dbname": tenant.database, "user": tenant.login_roles[0],
        "password": tenant.password, "connect_timeout": CONNECT_TIMEOUT_SECONDS,
        "application_name": "pg-tenants verify",
    }
    if tenant.sslmode:
        params["sslmode"] = tenant.sslmode
    if tenant.sslrootcert:
        params["sslrootcert"] = tenant.sslrootcert
    if require_scram:
        params["require_auth"] = "scram-sha-256"
    return psycopg.connect(**{k: v for k, v in params.items() if v is not None})


def _login(tenant: Tenant) -> tuple[psycopg.Connection | None, list[Finding]]:
    """One login; a second only when SCRAM was refused, so the remaining probes still run."""
    secret, user = [tenant.password or ""], tenant.login_roles[0]
    try:
        return _connect(tenant, require_scram=LIBPQ_HAS_REQUIRE_AUTH), []
    except psycopg.OperationalError as error:
        text = redact(str(error).strip(), secret)
        if not (LIBPQ_HAS_REQUIRE_AUTH and any(m in text for m in _AUTH_REFUSED_MARKERS)):
            return None, [Finding(tenant.name, Code.LOGIN_FAILED, user, f"{user} could not log in: {_first_line(text)}")]
    not_scram = Finding(tenant.name, Code.PASSWORD_NOT_SCRAM, "login",
                        f"the server did not authenticate {user} with SCRAM-SHA-256")
    try:
        return _connect(tenant, require_scram=False), [not_scram]
    except psycopg.OperationalError as error:
        text = redact(str(error).strip(), secret)
        return None, [not_scram, Finding(tenant.name, Code.LOGIN_FAILED, user,
                                         f"{user} could not log in: {_first_line(text)}")]


def _back_to_savepoint(cur: psycopg.Cursor) -> None:
    cur.execute(sql.SQL("ROLLBACK TO SAVEPOINT {0}; RELEASE SAVEPOINT {0}").format(_SAVEPOINT))


def _last_result(cur: psycopg.Cursor) -> psycopg.Cursor:
    """The cursor on the result of the last statement of a multi-statement execute."""
    while cur.nextset():
        pass
    return cur


def _first_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1].strip() if lines else "unknown error"


def check_tenant(tenant: Tenant, neighbour: Tenant | None) -> LoginResult:
    """Log in as `tenant`; `neighbour` is another tenant of the same database to probe against."""
    if tenant.offboarded:  # nothing may log in, and there are no credentials to try
        return LoginResult(tenant.name, "skipped", ())
    if not tenant.has_credentials:
        return LoginResult(tenant.name, "skipped", (Finding(
            tenant.name, Code.NO_CREDENTIALS, tenant.role, "no password in the `connections` output"),))
    if tenant.suspended:
        return _suspended(tenant)
    conn, findings = _login(tenant)
    if conn is None:
        return LoginResult(tenant.name, "failed", tuple(findings))
    probe = _Probe(tenant, conn)
    try:
        findings += probe.in_transaction(neighbour)
        findings += probe.create_database()
    except psycopg.Error as error:
        findings.append(probe.inconclusive("the session", error))
    finally:
        conn.close()
    return LoginResult(tenant.name, "ok", tuple(findings))


def _suspended(tenant: Tenant) -> LoginResult:
    """A suspended tenant's credentials must be refused."""
    try:
        _connect(tenant, require_scram=False).close()
    except psycopg.OperationalError:
        return LoginResult(tenant.name, "refused", ())
    return LoginResult(tenant.name, "ok", (Finding(
        tenant.name, Code.SUSPENDED_CAN_LOG_IN, tenant.login_roles[0],
        f"{tenant.login_roles[0]} logged in although the tenant is suspended"),))


class _Probe:
    def __init__(self, tenant: Tenant, conn: psycopg.Connection) -> None:
        self.tenant = tenant
        self.conn = conn
        # Random names: never collide with real objects or with a concurrent verify run.
        self.name = f"pg_tenants_verify_{secrets.token_hex(6)}"

    def inconclusive(self, what: str, error: psycopg.Error) -> Finding:
        text = redact(_first_line(str(error)), [self.tenant.password or ""])
        return Finding(self.tenant.name, Code.PROBE_INCONCLUSIVE, what, f"probing {what} failed: {text}")

    def in_transaction(self, neighbour: Tenant | None) -> list[Finding]:
        t, probe = self.tenant, sql.Identifier(self.name)
        findings: list[Finding] = []
        with self.conn.cursor() as cur:
            cur.execute(sql.SQL("SET statement_timeout = {}; SELECT current_setting('search_path'), current_schema()")
                        .format(sql.Literal(STATEMENT_TIMEOUT)))
            search_path, current = _last_result(cur).fetchone() or ("", None)
            if parse_search_path(search_path) != [t.schema] or current != t.schema:
                findings.append(Finding(t.name, Code.SEARCH_PATH_MISMATCH, search_path,
                                        f"logged in as {t.role}, search_path is {search_path!s} "
                                        f"and new objects would go to {current or 'no schema'}"))
            findings += self._use_own_schema(cur, probe)
            findings += self._must_fail(cur, "CREATE in schema public", Code.COULD_CREATE_IN_PUBLIC, "public",
                                        sql.SQL("CREATE TABLE public.{} (id int)").format(probe),
                                        (_HOLDS_CREATE_ON_SCHEMA, ["public"]))
            findings += self._must_fail(cur, "CREATE SCHEMA", Code.COULD_CREATE_SCHEMA, "CREATE SCHEMA",
                                        sql.SQL("CREATE SCHEMA {}").format(probe), (_HOLDS_CREATE_ON_DATABASE, []))
            findings += self._must_fail(cur, "CREATE ROLE", Code.COULD_CREATE_ROLE, "CREATE ROLE",
                                        sql.SQL("CREATE ROLE {}").format(probe), (_HOLDS_CREATEROLE, []))
            if neighbour is not None:
                findings += self._neighbour(cur, neighbour, probe)
        self.conn.rollback()
        return findings

    def _use_own_schema(self, cur: psycopg.Cursor, probe: sql.Identifier) -> list[Finding]:
        t = self.tenant
        try:
            with self.conn.transaction():
                # Unqualified on purpose: the table must land in the tenant's schema via search_path.
                cur.execute(sql.SQL(
                    "CREATE TABLE {probe} (id int); INSERT INTO {probe} VALUES (1); SELECT count(*) FROM {probe}; "
                    "SELECT relnamespace::regnamespace::text FROM pg_class WHERE oid = {name}::regclass",
                ).format(probe=probe, name=sql.Literal(self.name)))
                row = _last_result(cur).fetchone()
        except _DENIED as error:
            return [Finding(t.name, Code.OWN_SCHEMA_UNUSABLE, t.schema,
                            f"{t.role} cannot create a table in its schema: {_first_line(str(error))}")]
        except psycopg.Error as error:
            return [self.inconclusive("own schema", error)]
        landed = parse_search_path(row[0])[0] if row else None
        if landed != t.schema:
            return [Finding(t.name, Code.SEARCH_PATH_MISMATCH, landed or "",
                            f"a table {t.role} created without a schema landed in {landed}, not {t.schema}")]
        return []

    def _must_fail(self, cur: psycopg.Cursor, what: str, code: Code, detail: str,
                   statement: sql.Composable, holds: _Query) -> list[Finding]:
        # A savepoint, in the statement's round trip: the outer transaction survives the refusal.
        failed: psycopg.Error | None = None
        try:
            cur.execute(sql.SQL("SAVEPOINT {}; {}").format(_SAVEPOINT, statement))
        except psycopg.Error as error:
            failed = error
        _back_to_savepoint(cur)
        if failed is None:
            return [Finding(self.tenant.name, code, detail, f"{self.tenant.role} could {what}")]
        if isinstance(failed, _DENIED):
            return []
        return self._failed_otherwise(cur, what, code, detail, failed, holds)

    def _failed_otherwise(self, cur: psycopg.Cursor, what: str, code: Code, detail: str, error: psycopg.Error,
                          holds: _Query) -> list[Finding]:
        """The statement failed, but not for want of the privilege: does the session hold it?"""
        try:
            with self.conn.transaction():
                row = cur.execute(*holds).fetchone()
        except psycopg.Error:
            return [self.inconclusive(what, error)]
        if not (row and row[0]):
            return [self.inconclusive(what, error)]
        reason = redact(_first_line(str(error)), [self.tenant.password or ""])
        return [Finding(self.tenant.name, code, detail,
                        f"{self.tenant.role} holds the privilege to {what} (the probe statement itself failed "
                        f"for another reason: {reason})")]

    def _neighbour(self, cur: psycopg.Cursor, neighbour: Tenant, probe: sql.Identifier) -> list[Finding]:
        t, other = self.tenant, neighbour.schema
        findings: list[Finding] = []
        # The server leaves schemas without USAGE out of the effective search path.
        # Rolled back to the savepoint: SET LOCAL would otherwise outlive it.
        try:
            cur.execute(sql.SQL("SAVEPOINT {}; SET LOCAL search_path TO {}; SELECT current_schema()").format(
                _SAVEPOINT, sql.Identifier(other)))
            row = _last_result(cur).fetchone()
        finally:
            _back_to_savepoint(cur)
        if row and row[0] == other:
            findings.append(Finding(t.name, Code.COULD_USE_OTHER_SCHEMA, f"USAGE on schema {other}",
                                    f"{t.role} can use schema {other} of tenant {neighbour.name}"))
        findings += self._must_fail(
            cur, f"CREATE in schema {other} of tenant {neighbour.name}", Code.COULD_USE_OTHER_SCHEMA,
            f"CREATE on schema {other}",
            sql.SQL("CREATE TABLE {}.{} (id int)").format(sql.Identifier(other), probe), (_HOLDS_CREATE_ON_SCHEMA, [other]))
        return findings

    def create_database(self) -> list[Finding]:
        self.conn.autocommit = True
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.name))
        try:
            self.conn.execute(statement)
        except _DENIED:
            return []
        except psycopg.Error as error:
            with self.conn.cursor() as cur:
                return self._failed_otherwise(cur, "CREATE DATABASE", Code.COULD_CREATE_DATABASE, "CREATE DATABASE",
                                              error, (_HOLDS_CREATEDB, []))
        self.conn.execute(sql.SQL("DROP DATABASE {}").format(sql.Identifier(self.name)))
        return [Finding(self.tenant.name, Code.COULD_CREATE_DATABASE, "CREATE DATABASE",
                        f"{self.tenant.role} could CREATE DATABASE")]

