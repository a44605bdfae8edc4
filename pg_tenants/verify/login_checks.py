"""Hands-on checks: log in once as the tenant and try what it must and must not be able to do.

Everything the probe creates happens inside one transaction that is rolled back
(pg_tenants.verify.probe_steps), except CREATE DATABASE, which cannot run in a transaction; should
that one succeed, the probe drops the database again before reporting it.

A forbidden statement that fails for another reason (a read-only session, an event trigger,
a lock timeout) proves nothing either way: the session then asks the server whether it
holds the privilege, so such a failure never hides what the tenant can do.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
from psycopg import sql

from . import probe_steps
from .findings import Code, Finding, redact
from .fleet import Tenant
from .search_path import parse_search_path

# libpq learned require_auth in 16; with it a login also proves the server used SCRAM.
LIBPQ_HAS_REQUIRE_AUTH = psycopg.pq.version() >= 160000
_AUTH_REFUSED_MARKERS = ("require_auth", "authentication method requirement", "server requested")
CONNECT_TIMEOUT_SECONDS = 10
STATEMENT_TIMEOUT = "10s"
# Whether the session holds what a forbidden probe tries, should the statement fail otherwise.
# Schema-qualified: they may run under a search_path the tenant changed.
_HOLDS_CREATE_ON_DATABASE = sql.SQL("SELECT pg_catalog.has_database_privilege(pg_catalog.current_database(), 'CREATE')")
_HOLDS_CREATEROLE = sql.SQL("SELECT rolcreaterole OR rolsuper FROM pg_catalog.pg_roles "
                            "WHERE rolname OPERATOR(pg_catalog.=) CURRENT_USER")
_HOLDS_CREATEDB = sql.SQL("SELECT rolcreatedb OR rolsuper FROM pg_catalog.pg_roles "
                          "WHERE rolname OPERATOR(pg_catalog.=) CURRENT_USER")
_Judge = Callable[[probe_steps.StepResult], list[Finding]]


def _holds_create_on_schema(schema: str) -> sql.Composable:
    return sql.SQL("SELECT pg_catalog.has_schema_privilege(n.oid, 'CREATE') FROM pg_catalog.pg_namespace n "
                   "WHERE n.nspname OPERATOR(pg_catalog.=) {}").format(sql.Literal(schema))


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
        conn.autocommit = True  # the steps bring their own transaction; CREATE DATABASE needs none
        # Random names: never collide with real objects or with a concurrent verify run.
        self.name = f"pg_tenants_verify_{secrets.token_hex(6)}"

    def inconclusive(self, what: str, error: psycopg.Error | str) -> Finding:
        message = probe_steps.primary_message(error) if isinstance(error, psycopg.Error) else error
        text = redact(_first_line(message), [self.tenant.password or ""])
        return Finding(self.tenant.name, Code.PROBE_INCONCLUSIVE, what, f"probing {what} failed: {text}")

    def in_transaction(self, neighbour: Tenant | None) -> list[Finding]:
        t = self.tenant
        steps = self._steps(neighbour)
        view, results = probe_steps.run_steps(self.conn, STATEMENT_TIMEOUT, [step for step, _ in steps])
        findings: list[Finding] = []
        if not view.only_in(t.schema):
            findings.append(Finding(t.name, Code.SEARCH_PATH_MISMATCH, view.search_path,
                                    f"logged in as {t.role}, search_path is {view.search_path!s} "
                                    f"and new objects would go to {view.current_schema or 'no schema'}"))
        for (_, judge), result in zip(steps, results, strict=True):
            findings += judge(result)
        return findings

    def _steps(self, neighbour: Tenant | None) -> list[tuple[probe_steps.Step, _Judge]]:
        probe = sql.Identifier(self.name)
        # Unqualified on purpose: the table must land in the tenant's schema via search_path.
        own = probe_steps.Step(
            (sql.SQL("CREATE TABLE {} (id int)").format(probe), sql.SQL("INSERT INTO {} VALUES (1)").format(probe),
             sql.SQL("SELECT count(*) FROM {}").format(probe)),
            value=sql.SQL("SELECT relnamespace::pg_catalog.regnamespace::pg_catalog.text FROM pg_catalog.pg_class "
                          "WHERE oid OPERATOR(pg_catalog.=) {}::pg_catalog.regclass").format(sql.Literal(self.name)))
        steps = [
            (own, self._own_schema),
            self._must_fail("CREATE in schema public", Code.COULD_CREATE_IN_PUBLIC, "public",
                            sql.SQL("CREATE TABLE public.{} (id int)").format(probe), _holds_create_on_schema("public")),
            self._must_fail("CREATE SCHEMA", Code.COULD_CREATE_SCHEMA, "CREATE SCHEMA",
                            sql.SQL("CREATE SCHEMA {}").format(probe), _HOLDS_CREATE_ON_DATABASE),
            self._must_fail("CREATE ROLE", Code.COULD_CREATE_ROLE, "CREATE ROLE",
                            sql.SQL("CREATE ROLE {}").format(probe), _HOLDS_CREATEROLE),
        ]
        if neighbour is not None:
            steps += self._neighbour(neighbour, probe)
        return steps

    def _own_schema(self, result: probe_steps.StepResult) -> list[Finding]:
        t = self.tenant
        if result.outcome == "denied":
            return [Finding(t.name, Code.OWN_SCHEMA_UNUSABLE, t.schema,
                            f"{t.role} cannot create a table in its schema: {result.error}")]
        if result.outcome == "failed":
            return [self.inconclusive("own schema", result.error)]
        landed = parse_search_path(result.value)[0] if result.value else None
        if landed != t.schema:
            return [Finding(t.name, Code.SEARCH_PATH_MISMATCH, landed or "",
                            f"a table {t.role} created without a schema landed in {landed}, not {t.schema}")]
        return []

    def _must_fail(self, what: str, code: Code, detail: str, statement: sql.Composable,
                   holds: sql.Composable) -> tuple[probe_steps.Step, _Judge]:
        def judge(result: probe_steps.StepResult) -> list[Finding]:
            if result.outcome == "succeeded":
                return [Finding(self.tenant.name, code, detail, f"{self.tenant.role} could {what}")]
            if result.outcome == "denied":
                return []
            return self._failed_otherwise(what, code, detail, result.error, result.holds)

        return probe_steps.Step((statement,), holds=holds), judge

    def _failed_otherwise(self, what: str, code: Code, detail: str, error: str, holds: bool | None) -> list[Finding]:
        """The statement failed, but not for want of the privilege: does the session hold it?"""
        if not holds:
            return [self.inconclusive(what, error)]
        reason = redact(_first_line(error), [self.tenant.password or ""])
        return [Finding(self.tenant.name, code, detail,
                        f"{self.tenant.role} holds the privilege to {what} (the probe statement itself failed "
                        f"for another reason: {reason})")]

    def _neighbour(self, neighbour: Tenant, probe: sql.Identifier) -> list[tuple[probe_steps.Step, _Judge]]:
        t, other = self.tenant, neighbour.schema

        # The server leaves schemas without USAGE out of the effective search path.
        def judge_usage(result: probe_steps.StepResult) -> list[Finding]:
            if result.outcome != "succeeded":
                return [self.inconclusive(f"USAGE on schema {other}", result.error)]
            if result.value == other:
                return [Finding(t.name, Code.COULD_USE_OTHER_SCHEMA, f"USAGE on schema {other}",
                                f"{t.role} can use schema {other} of tenant {neighbour.name}")]
            return []

        usage = probe_steps.Step((sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(other)),),
                                 value=sql.SQL("SELECT pg_catalog.current_schema()"))
        return [(usage, judge_usage), self._must_fail(
            f"CREATE in schema {other} of tenant {neighbour.name}", Code.COULD_USE_OTHER_SCHEMA,
            f"CREATE on schema {other}", sql.SQL("CREATE TABLE {}.{} (id int)").format(sql.Identifier(other), probe),
            _holds_create_on_schema(other))]

    def create_database(self) -> list[Finding]:
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.name))
        try:
            self.conn.execute(statement)
        except probe_steps.DENIED:
            return []
        except psycopg.Error as error:
            return self._failed_otherwise("CREATE DATABASE", Code.COULD_CREATE_DATABASE, "CREATE DATABASE",
                                          probe_steps.primary_message(error), probe_steps.holds(self.conn, _HOLDS_CREATEDB))
        self.conn.execute(sql.SQL("DROP DATABASE {}").format(sql.Identifier(self.name)))
        return [Finding(self.tenant.name, Code.COULD_CREATE_DATABASE, "CREATE DATABASE",
                        f"{self.tenant.role} could CREATE DATABASE")]
