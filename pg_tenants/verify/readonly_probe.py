"""Hands-on check of a read-only login: log in as `<username>_ro` with its exported credentials.

It must log in with SCRAM (refused while the tenant is suspended), land in its schema with
default_transaction_read_only on, read every relation there, and be refused — in a read-write
transaction, since the login can turn the default off — when it creates a table in its schema,
a temporary table, a schema, writes to a table of its schema, becomes another role or uses a
neighbour's schema. Privileges it must lack everywhere in its schema (writes on each table,
sequences) are asked of the server in its session (`has_*_privilege`), so the probe never
locks a tenant's table, calls nextval or runs a query on the tenant's data; the write it does
attempt inserts no row (`INSERT … SELECT … WHERE false`, one plain column) and is rolled back like everything else.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import replace

import psycopg
from psycopg import sql

from . import login_checks, probe_steps
from .findings import Code, Finding, redact
from .fleet import Tenant

# In its own session: what it can read, and what it holds that it must not.
# Relations named as readonly_checks names them (schema-qualified whatever the search_path).
_PRIVILEGES_SQL = sql.SQL("""
WITH rel AS (
    SELECT c.oid, c.relkind, format('%I.%I', n.nspname, c.relname) AS object
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = {schema} AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
)
SELECT 'cannot_read', object FROM rel WHERE relkind <> 'S' AND NOT has_table_privilege(oid, 'SELECT')
UNION ALL
SELECT 'can_write', p || ' on ' || object FROM rel,
       unnest(ARRAY['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) p
 WHERE relkind <> 'S' AND has_table_privilege(oid, p)
UNION ALL
SELECT 'can_use_sequence', p || ' on ' || object FROM rel, unnest(ARRAY['USAGE', 'UPDATE', 'SELECT']) p
 WHERE relkind = 'S' AND has_sequence_privilege(oid, p)
ORDER BY 1, 2
""")
# A column of one of its tables that takes an explicit value (not generated, not an identity), so
# that nothing but the privilege check can refuse an INSERT naming it.
_WRITABLE_COLUMN_SQL = sql.SQL(
    "SELECT c.relname, format('%I.%I', n.nspname, c.relname), a.attname FROM pg_class c"
    " JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_attribute a ON a.attrelid = c.oid"
    " WHERE n.nspname = {schema} AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped"
    " AND a.attgenerated = '' AND a.attidentity = '' ORDER BY c.relname, a.attnum LIMIT 1")
_Judge = Callable[[probe_steps.StepResult], list[Finding]]
_CODES = {"cannot_read": Code.READONLY_CANNOT_READ, "can_write": Code.READONLY_CAN_WRITE,
          "can_use_sequence": Code.READONLY_CAN_USE_SEQUENCE}


def as_readonly(tenant: Tenant) -> Tenant:
    """The tenant as its read-only login sees it: login_checks' connection helpers log in as it."""
    assert tenant.readonly_role is not None
    return replace(tenant, role=tenant.readonly_role, login_role=None, other_login_roles=(),
                   password=tenant.readonly_password)


def check_readonly(tenant: Tenant, neighbour: Tenant | None) -> list[Finding]:
    """Findings of the read-only login of `tenant` (none to probe once offboarded)."""
    if not tenant.readonly_roles:
        return []
    login = as_readonly(tenant)
    role = login.role
    if login.password is None:
        return [Finding(tenant.name, Code.NO_CREDENTIALS, role, "no password in `connections.<name>.readonly`")]
    if tenant.suspended:
        result = login_checks.check_tenant(login, None)  # the suspended path: only tries to log in
        return list(result.findings)
    conn, findings = login_checks._login(login)
    if conn is None:
        return findings
    try:
        findings += _Probe(tenant, role, conn).run(neighbour)
    except psycopg.Error as error:
        text = redact(login_checks._first_line(str(error)), [login.password])
        findings.append(Finding(tenant.name, Code.PROBE_INCONCLUSIVE, role, f"probing read-only login {role} failed: {text}"))
    finally:
        conn.close()
    return findings


class _Probe:
    def __init__(self, tenant: Tenant, role: str, conn: psycopg.Connection) -> None:
        self.tenant, self.role, self.conn = tenant, role, conn
        conn.autocommit = True  # probe_steps brings its own transaction
        self.name = sql.Identifier(f"pg_tenants_verify_{secrets.token_hex(6)}")

    def finding(self, code: Code, detail: str, message: str) -> Finding:
        return Finding(self.tenant.name, code, detail, f"read-only login {self.role} {message}")

    def run(self, neighbour: Tenant | None) -> list[Finding]:
        t = self.tenant
        findings: list[Finding] = []
        with self.conn.cursor() as cur:
            schema = sql.Literal(t.schema)
            cur.execute(sql.SQL("SET statement_timeout = {}; {}; {}").format(
                sql.Literal(login_checks.STATEMENT_TIMEOUT), _PRIVILEGES_SQL.format(schema=schema),
                _WRITABLE_COLUMN_SQL.format(schema=schema)))
            cur.nextset()  # past the SET
            for kind, detail in cur.fetchall():
                verb = "cannot SELECT from" if kind == "cannot_read" else "holds"
                findings.append(self.finding(_CODES[kind], detail, f"{verb} {detail}"))
            cur.nextset()
            table = cur.fetchone()
        steps = [self._must_fail(code, detail, statement) for code, detail, statement in self._attempts(table, neighbour)]
        if neighbour is not None:
            steps.append(self._neighbour_usage(neighbour))
        # Read-write, as any client of the login may ask: then only its privileges stand between it and a write.
        view, results = probe_steps.run_steps(self.conn, login_checks.STATEMENT_TIMEOUT, [s for s, _ in steps],
                                              read_write=True)
        if not view.only_in(t.schema):
            findings.append(self.finding(Code.SEARCH_PATH_MISMATCH, view.search_path,
                                         f"has search_path {view.search_path} and current schema {view.current_schema or 'none'}"))
        if view.read_only_default != "on":
            findings.append(self.finding(Code.ROLE_SETTING_MISMATCH, f"{self.role} default_transaction_read_only",
                                         f"starts with default_transaction_read_only = {view.read_only_default}; declared: on"))
        for (_, judge), result in zip(steps, results, strict=True):
            findings += judge(result)
        return findings

    def _attempts(self, table: tuple[str, str, str] | None,
                  neighbour: Tenant | None) -> list[tuple[Code, str, sql.Composable]]:
        t, schema = self.tenant, sql.Identifier(self.tenant.schema)
        attempts = [
            (Code.READONLY_CAN_CREATE, f"CREATE on schema {t.schema}", sql.SQL("CREATE TABLE {}.{} (id int)").format(schema, self.name)),
            (Code.READONLY_CAN_CREATE, f"TEMPORARY on database {t.database}",
             sql.SQL("CREATE TEMP TABLE {} (id int)").format(self.name)),
            (Code.COULD_CREATE_SCHEMA, "CREATE SCHEMA", sql.SQL("CREATE SCHEMA {}").format(self.name)),
            (Code.READONLY_CAN_BECOME_OTHER_ROLE, f"SET ROLE {t.role}", sql.SQL("SET ROLE {}").format(sql.Identifier(t.role))),
        ]
        if table is not None:
            # No row: a refusal comes at executor start, before any row is read or written.
            target, column = sql.SQL("{}.{}").format(schema, sql.Identifier(table[0])), sql.Identifier(table[2])
            attempts.append((Code.READONLY_CAN_WRITE, f"INSERT on {table[1]}",
                             sql.SQL("INSERT INTO {0} ({1}) SELECT {1} FROM {0} WHERE false").format(target, column)))
        if neighbour is not None:
            attempts.append((Code.COULD_USE_OTHER_SCHEMA, f"CREATE on schema {neighbour.schema}",
                             sql.SQL("CREATE TABLE {}.{} (id int)").format(sql.Identifier(neighbour.schema), self.name)))
        return attempts

    def _must_fail(self, code: Code, detail: str, statement: sql.Composable) -> tuple[probe_steps.Step, _Judge]:
        def judge(result: probe_steps.StepResult) -> list[Finding]:
            if result.outcome == "denied":
                return []
            if result.outcome == "failed":
                return [self.finding(Code.PROBE_INCONCLUSIVE, detail, f"could not be probed for {detail}: "
                                     f"{login_checks._first_line(result.error)}")]
            return [self.finding(code, detail, f"succeeded: {detail}")]

        return probe_steps.Step((statement,)), judge

    def _neighbour_usage(self, neighbour: Tenant) -> tuple[probe_steps.Step, _Judge]:
        other = neighbour.schema

        def judge(result: probe_steps.StepResult) -> list[Finding]:
            if result.outcome != "succeeded":
                return [self.finding(Code.PROBE_INCONCLUSIVE, f"USAGE on schema {other}",
                                     f"could not be probed for USAGE on schema {other}: {result.error}")]
            if result.value == other:
                return [self.finding(Code.COULD_USE_OTHER_SCHEMA, f"USAGE on schema {other}",
                                     f"can use schema {other} of tenant {neighbour.name}")]
            return []

        return probe_steps.Step((sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(other)),),
                                value=sql.SQL("SELECT pg_catalog.current_schema()")), judge
