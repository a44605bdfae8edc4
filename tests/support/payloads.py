"""Tenant code that tries to escalate whenever it runs, and the catalog evidence of whether it did.

Used by tests/postgres/test_escalation.py. A tenant plants, with its own credentials, one kind
of code (a trigger, a view, an index expression, ...) that calls `<schema>.escalate(kind)`.
Whenever that function runs it

- tries, each in its own sub-block whose errors are swallowed, to make the tenant's owner
  SUPERUSER, CREATEROLE BYPASSRLS, a member of the predefined roles that read or write all data
  or run server programs (where the server has them), and a member of the admin;
- inserts a row into `public.evidence` when `current_user` is not one of the tenant's own
  roles: the code ran with someone else's privileges;
- logs `pg-tenants payload <kind> ran: current_user=<..> session_user=<..>` (RAISE LOG), so a
  test can show the code did run, and as whom, even when nothing was gained.

Every identifier and literal is quoted with psycopg's `sql` module.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import psycopg
from psycopg import sql

from tests.support.server_log import ServerLog

# The kinds of tenant code, each planted and fired on its own.
KINDS: tuple[str, ...] = (
    "trigger",
    "security_definer",
    "view",
    "rule",
    "expression_index",
    "partial_index",
    "column_default",
    "check_constraint",
    "rls_policy",
    "domain",
    "operator",
    "function",
    "cast",
)

# Predefined roles the payload asks for, where the server has them (pg_read_all_data and
# pg_write_all_data came with PostgreSQL 14).
PREDEFINED_ROLES = ("pg_read_all_data", "pg_write_all_data", "pg_execute_server_program")

LOG_MARK = "pg-tenants payload"
_LOG_LINE = re.compile(LOG_MARK + r" (\w+) ran: current_user=(\S+) session_user=(\S+)")


@dataclass(frozen=True)
class Tenant:
    """Whose code it is: its schema, its owner role and every role that is the tenant's own."""

    schema: str
    owner: str
    roles: tuple[str, ...]  # the owner and, for zero-downtime tenants, its login slots
    admin: str  # the admin the payload asks to be made a member of


def create_evidence_table(admin: psycopg.Connection) -> None:
    """As the admin, in the tenant database: where a payload that ran as someone else writes."""
    admin.execute(
        "CREATE TABLE public.evidence (current_role_name name, session_role_name name, payload text,"
        " at timestamptz DEFAULT now())"
    )
    admin.execute("GRANT INSERT, SELECT ON public.evidence TO PUBLIC")


def evidence(admin: psycopg.Connection) -> list[tuple[str, str, str]]:
    rows = admin.execute("SELECT current_role_name, session_role_name, payload FROM public.evidence ORDER BY at").fetchall()
    return [tuple(row) for row in rows]


def _escalation_body(conn: psycopg.Connection, tenant: Tenant) -> str:
    owner = sql.Identifier(tenant.owner)
    present = {r[0] for r in conn.execute("SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)", (list(PREDEFINED_ROLES),))}
    attempts = [
        sql.SQL("ALTER ROLE {} SUPERUSER").format(owner),
        sql.SQL("ALTER ROLE {} CREATEROLE BYPASSRLS").format(owner),
        *(sql.SQL("GRANT {} TO {}").format(sql.Identifier(role), owner) for role in PREDEFINED_ROLES if role in present),
        sql.SQL("GRANT {} TO {}").format(sql.Identifier(tenant.admin), owner),
    ]
    blocks = sql.SQL("\n").join(sql.SQL("  BEGIN {}; EXCEPTION WHEN OTHERS THEN NULL; END;").format(a) for a in attempts)
    own_roles = sql.SQL(", ").join(sql.Literal(role) for role in tenant.roles)
    body = sql.SQL(
        "BEGIN\n"
        "  RAISE LOG {mark}, kind, current_user, session_user;\n"
        "{blocks}\n"
        "  IF current_user::text <> ALL (ARRAY[{own_roles}]) THEN\n"
        "    INSERT INTO public.evidence (current_role_name, session_role_name, payload)"
        " VALUES (current_user, session_user, kind);\n"
        "  END IF;\n"
        "  RETURN true;\n"
        "END"
    ).format(mark=sql.Literal(LOG_MARK + " % ran: current_user=% session_user=%"), blocks=blocks, own_roles=own_roles)
    return body.as_string(conn)


def _function(conn: psycopg.Connection, schema: str, signature: sql.Composable, returns: str, body: str, *,
              language: str = "plpgsql", options: str = "") -> None:  # fmt: skip
    conn.execute(
        sql.SQL("CREATE OR REPLACE FUNCTION {}.{} RETURNS {} LANGUAGE {} {} AS {}").format(
            sql.Identifier(schema), signature, sql.SQL(returns), sql.SQL(language), sql.SQL(options), sql.Literal(body)
        )
    )


def plant_escalate(conn: psycopg.Connection, tenant: Tenant) -> None:
    """`<schema>.escalate(kind text) RETURNS boolean`, VOLATILE, SECURITY INVOKER."""
    _function(conn, tenant.schema, sql.SQL("escalate(kind text)"), "boolean", _escalation_body(conn, tenant))


def _call(schema: str, kind: str) -> sql.Composable:
    return sql.SQL("{}.escalate({})").format(sql.Identifier(schema), sql.Literal(kind))


def _immutable_wrappers(conn: psycopg.Connection, schema: str) -> None:
    """IMMUTABLE-declared plpgsql that calls the volatile payload: tenants can lie about volatility."""
    s = sql.Identifier(schema)
    for name, returns, result in (("immutable_int", "integer", "v"), ("immutable_check", "boolean", "v IS NOT NULL")):
        body = sql.SQL("BEGIN PERFORM {}.escalate(kind); RETURN {}; END").format(s, sql.SQL(result)).as_string(conn)
        _function(conn, schema, sql.SQL("{}(kind text, v integer)").format(sql.Identifier(name)), returns, body, options="IMMUTABLE")


def plant(conn: psycopg.Connection, tenant: Tenant, kind: str) -> None:
    """As the tenant: plant one kind of code (the payload function too, if missing) with rows to act on."""
    planted = conn.execute(
        "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE nspname = %s AND proname = 'escalate'",
        (tenant.schema,),
    ).fetchone()
    if planted == (0,):
        plant_escalate(conn, tenant)
    s = sql.Identifier(tenant.schema)
    call = _call(tenant.schema, kind)
    run = conn.execute

    def q(template: str, **extra: sql.Composable) -> None:
        run(sql.SQL(template).format(s=s, call=call, **extra))

    if kind == "trigger":
        body = sql.SQL("BEGIN PERFORM {}; RETURN NEW; END").format(call).as_string(conn)
        _function(conn, tenant.schema, sql.SQL("fire_trigger()"), "trigger", body)
        q("CREATE TABLE {s}.trigger_table (id integer)")
        q("CREATE TRIGGER fire BEFORE INSERT OR UPDATE ON {s}.trigger_table FOR EACH ROW EXECUTE FUNCTION {s}.fire_trigger()")
    elif kind == "security_definer":
        _function(conn, tenant.schema, sql.SQL("definer()"), "boolean", sql.SQL("SELECT {}").format(call).as_string(conn),
                  language="sql", options="SECURITY DEFINER")  # fmt: skip
    elif kind == "view":
        q("CREATE VIEW {s}.payload_view AS SELECT {call} AS fired")
    elif kind == "rule":
        q("CREATE TABLE {s}.rule_table (id integer)")
        q("CREATE RULE fire AS ON INSERT TO {s}.rule_table DO ALSO SELECT {call}")
    elif kind == "expression_index":
        _immutable_wrappers(conn, tenant.schema)
        q("CREATE TABLE {s}.expression_index_table (id integer)")
        q("INSERT INTO {s}.expression_index_table SELECT generate_series(1, 3)")
        q("CREATE INDEX expression_index ON {s}.expression_index_table ({s}.immutable_int({k}, id))", k=sql.Literal(kind))
    elif kind == "partial_index":
        _immutable_wrappers(conn, tenant.schema)
        q("CREATE TABLE {s}.partial_index_table (id integer)")
        q("INSERT INTO {s}.partial_index_table SELECT generate_series(1, 3)")
        q("CREATE INDEX partial_index ON {s}.partial_index_table (id) WHERE {s}.immutable_check({k}, id)", k=sql.Literal(kind))
    elif kind == "column_default":
        q("CREATE TABLE {s}.default_table (id integer, fired boolean DEFAULT {call})")
    elif kind == "check_constraint":
        q("CREATE TABLE {s}.check_table (id integer, CONSTRAINT fire CHECK ({call}))")
    elif kind == "rls_policy":
        q("CREATE TABLE {s}.policy_table (id integer)")
        q("INSERT INTO {s}.policy_table SELECT generate_series(1, 3)")
        q("ALTER TABLE {s}.policy_table ENABLE ROW LEVEL SECURITY")
        q("ALTER TABLE {s}.policy_table FORCE ROW LEVEL SECURITY")
        q("CREATE POLICY fire ON {s}.policy_table USING ({call})")
        q("CREATE VIEW {s}.policy_view AS SELECT id FROM {s}.policy_table")
    elif kind == "domain":
        q("CREATE DOMAIN {s}.checked_text AS text CONSTRAINT fire CHECK ({call})")
        q("CREATE TABLE {s}.domain_table (v {s}.checked_text)")
    elif kind in ("operator", "function"):
        if kind == "operator":
            body = sql.SQL("BEGIN PERFORM {}; RETURN pg_catalog.texteq(a::text, b::text); END").format(call).as_string(conn)
            _function(conn, tenant.schema, sql.SQL("varchar_eq(a varchar, b varchar)"), "boolean", body)
            q("CREATE OPERATOR {s}.= (LEFTARG = varchar, RIGHTARG = varchar, FUNCTION = {s}.varchar_eq)")
        else:
            body = sql.SQL("BEGIN PERFORM {}; RETURN pg_catalog.upper(a::text); END").format(call).as_string(conn)
            _function(conn, tenant.schema, sql.SQL("upper(a varchar)"), "text", body)
        q("CREATE TABLE IF NOT EXISTS {s}.capture_table (name varchar)")
        q("INSERT INTO {s}.capture_table VALUES ('x')")
    elif kind == "cast":
        q("CREATE TYPE {s}.mood AS ENUM ('calm')")
        body = sql.SQL("BEGIN PERFORM {}; RETURN 'calm'; END").format(call).as_string(conn)
        _function(conn, tenant.schema, sql.SQL("mood_text(m {}.mood)").format(s), "text", body)
        q("CREATE CAST ({s}.mood AS text) WITH FUNCTION {s}.mood_text({s}.mood)")
        q("CREATE TABLE {s}.cast_table (m {s}.mood)")
        q("INSERT INTO {s}.cast_table VALUES ('calm')")
    else:
        raise ValueError(f"unknown payload kind {kind!r}")


def plant_all(conn: psycopg.Connection, tenant: Tenant) -> None:
    for kind in KINDS:
        plant(conn, tenant, kind)


def fire(conn: psycopg.Connection, schema: str, kind: str) -> None:
    """Use the planted code of `kind` the way that runs it in this session, as whoever `conn` is.

    For the admin this is exactly what the ownership model forbids (querying the tenant's
    views and tables, putting its schema on the search_path): the controls do it on purpose.
    """
    s = sql.Identifier(schema)
    statements = {
        "trigger": ["INSERT INTO {s}.trigger_table VALUES (1)"],
        "security_definer": ["SELECT {s}.definer()"],
        "view": ["SELECT * FROM {s}.payload_view"],
        "rule": ["INSERT INTO {s}.rule_table VALUES (1)"],
        "expression_index": ["INSERT INTO {s}.expression_index_table VALUES (4)"],
        "partial_index": ["INSERT INTO {s}.partial_index_table VALUES (4)"],
        "column_default": ["INSERT INTO {s}.default_table (id) VALUES (1)"],
        "check_constraint": ["INSERT INTO {s}.check_table VALUES (1)"],
        "rls_policy": ["SELECT * FROM {s}.policy_view"],
        "domain": ["INSERT INTO {s}.domain_table VALUES ('x')"],
        # A session that puts the tenant's schema on its search_path: exact-match operator and
        # function in that schema beat pg_catalog's (text, text) ones for varchar arguments.
        "operator": ["SET search_path TO {s}, public", "SELECT count(*) FROM capture_table WHERE name = 'x'", "RESET search_path"],
        "function": ["SET search_path TO {s}, public", "SELECT upper(name) FROM capture_table", "RESET search_path"],
        "cast": ["SELECT m::text FROM {s}.cast_table"],
    }[kind]
    for statement in statements:
        conn.execute(sql.SQL(statement).format(s=s))


def fire_all(conn: psycopg.Connection, schema: str) -> None:
    for kind in KINDS:
        fire(conn, schema, kind)


def payload_runs(log: ServerLog, offset: int) -> list[tuple[str, str, str]]:
    """(kind, current_user, session_user) of every payload run logged after `offset` bytes."""
    return [m.groups() for m in _LOG_LINE.finditer(log.since(offset))]


# ----------------------------------------------------------------------- catalog evidence


ROLE_ATTRIBUTES = ("rolsuper", "rolcreaterole", "rolcreatedb", "rolreplication", "rolbypassrls")


def role_attributes(admin: psycopg.Connection, roles: Iterable[str]) -> dict[str, tuple[bool, ...]]:
    query = sql.SQL("SELECT rolname, {} FROM pg_roles WHERE rolname = ANY(%s)").format(
        sql.SQL(", ").join(map(sql.Identifier, ROLE_ATTRIBUTES))
    )
    return {row[0]: tuple(row[1:]) for row in admin.execute(query, (list(roles),))}


def memberships(admin: psycopg.Connection, roles: Iterable[str]) -> set[tuple[str, str]]:
    """(member, role) of every membership a role of `roles` has or gives."""
    rows = admin.execute(
        "SELECT m.rolname, r.rolname FROM pg_auth_members a JOIN pg_roles m ON m.oid = a.member"
        " JOIN pg_roles r ON r.oid = a.roleid WHERE m.rolname = ANY(%s) OR r.rolname = ANY(%s)",
        (list(roles), list(roles)),
    )
    return {tuple(row) for row in rows}


def superusers(admin: psycopg.Connection) -> set[str]:
    return {r[0] for r in admin.execute("SELECT rolname FROM pg_roles WHERE rolsuper")}


def owners_in_schema(admin: psycopg.Connection, schema: str) -> dict[tuple[str, str], str]:
    """(catalog, object) -> owner, for every relation, function, type and operator in `schema`."""
    rows = admin.execute(
        "SELECT 'pg_class', relname::text, pg_get_userbyid(relowner) FROM pg_class c"
        "  JOIN pg_namespace n ON n.oid = c.relnamespace WHERE nspname = %(schema)s"
        " UNION ALL SELECT 'pg_proc', proname || '(' || oidvectortypes(proargtypes) || ')', pg_get_userbyid(proowner)"
        "  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE nspname = %(schema)s"
        " UNION ALL SELECT 'pg_type', typname::text, pg_get_userbyid(typowner) FROM pg_type t"
        "  JOIN pg_namespace n ON n.oid = t.typnamespace WHERE nspname = %(schema)s"
        " UNION ALL SELECT 'pg_operator', oprname || '(' || format_type(oprleft, NULL) || ', ' || format_type(oprright, NULL) || ')',"
        "  pg_get_userbyid(oprowner) FROM pg_operator o JOIN pg_namespace n ON n.oid = o.oprnamespace WHERE nspname = %(schema)s",
        {"schema": schema},
    )
    return {(catalog, name): owner for catalog, name, owner in rows}


def large_object_owners(admin: psycopg.Connection) -> dict[int, str]:
    return dict(admin.execute("SELECT oid::bigint, pg_get_userbyid(lomowner) FROM pg_largeobject_metadata").fetchall())
