"""No code a tenant writes ever runs with the privileges of the admin, a superuser or another role.

docs/ownership-model.md: every object a tenant creates stays its own, the admin never uses a
tenant's objects, and no tenant role is ever REASSIGNed to the admin. The proof here is the
attack, not the SQLSTATE: each test plants tenant code (tests/support/payloads.py) that, every
time it runs, tries to make the tenant SUPERUSER, CREATEROLE BYPASSRLS and a member of the
admin and of the predefined roles that read, write or run anything, and writes a row into
`public.evidence` whenever it runs as a role that is not the tenant's own. Then the step under
test runs — a lifecycle edit applied like `pulumi up`, the admin's maintenance (ANALYZE, VACUUM
ANALYZE, autovacuum), `pg_dump --schema` as the admin, the tenant's own migrations, another
tenant's attempts — and the catalogs must show nothing gained. The `test_control_…` tests run
the same code the unsafe way and show it does fire and escalate, so no assertion is vacuous.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from pg_tenants.local.binaries import SUPPORTED_MAJORS, resolve_binaries
from pg_tenants.local.processes import LocalPostgresError
from tests.support.deployment import Deployment, connect_as, login_refusal
from tests.support.server_log import ServerLog
from tests.support.payloads import (
    KINDS,
    Tenant,
    create_evidence_table,
    evidence,
    fire,
    fire_all,
    large_object_owners,
    memberships,
    owners_in_schema,
    payload_runs,
    plant,
    plant_all,
    role_attributes,
    superusers,
)

INSUFFICIENT_PRIVILEGE = "42501"
TOO_MANY_CONNECTIONS = "53300"

ACME = {"name": "acme"}
HOOLI = {"name": "hooli", "zero_downtime_rotation": True}  # owner NOLOGIN, login slots hooli_a/hooli_b
GLOBEX = {"name": "globex"}

# (rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls), as the model declares
# every tenant role, and as the control payload leaves the tenant's owner.
NO_ATTRIBUTES = (False, False, False, False, False)
ESCALATED = (True, True, False, False, True)
SLOT_MEMBERSHIPS = {("hooli_a", "hooli"), ("hooli_b", "hooli")}


@pytest.fixture
def app(deployment: Deployment) -> Deployment:
    """The `deployment` stack, with the evidence table in its database `app`."""
    with deployment.pg.admin_connect("app") as admin:
        create_evidence_table(admin)
    return deployment


def tenant(deployment: Deployment, name: str) -> Tenant:
    """Whose code it is: schema and owner role are named `name` here; its own roles are the
    owner, the login slots a zero-downtime tenant has (or may get) and its read-only login."""
    return Tenant(schema=name, owner=name, roles=(name, f"{name}_a", f"{name}_b", f"{name}_ro"), admin=deployment.pg.admin_user)


def as_tenant(deployment: Deployment, entry: str) -> psycopg.Connection:
    return connect_as(deployment.connections[entry])


def plant_everything(deployment: Deployment, *entries: str, kinds: tuple[str, ...] = KINDS) -> None:
    """Every kind of payload, and a large object, planted by each tenant with its credentials."""
    for entry in entries:
        with as_tenant(deployment, entry) as conn:
            for kind in kinds:
                plant(conn, tenant(deployment, entry), kind)
            conn.execute("SELECT lo_from_bytea(0, 'tenant data')")


def admin_maintenance(pg) -> None:
    """What an admin runs on every database: ANALYZE and VACUUM ANALYZE, as the superuser."""
    with pg.admin_connect("app") as admin:
        admin.execute("ANALYZE")
        admin.execute("VACUUM ANALYZE")


def assert_nothing_gained(
    deployment: Deployment,
    owners: dict[str, tuple[str, ...]],
    expected_memberships: set[tuple[str, str]],
    admin_made: frozenset[str] = frozenset(),
) -> None:
    """The invariant, read from the catalogs of `app`.

    owners: each tenant's owner role (also the name of its schema) -> every role of that
    tenant. No payload ran as another role (evidence), the admin is the only superuser, no
    tenant role holds an attribute, the memberships are exactly the expected ones, and every
    relation, function, type and operator in a tenant's schema (but the `admin_made` names)
    and every large object belongs to a tenant's owner role.
    """
    pg = deployment.pg
    every_role = [role for roles in owners.values() for role in roles]
    with pg.admin_connect("app") as admin:
        assert evidence(admin) == []
        assert superusers(admin) == {pg.admin_user}
        attributes = role_attributes(admin, every_role)
        assert attributes == {role: NO_ATTRIBUTES for role in attributes}
        assert memberships(admin, every_role) == expected_memberships
        for owner in owners:
            objects = {key: who for key, who in owners_in_schema(admin, owner).items() if key[1] not in admin_made}
            assert {who for who in objects.values()} <= {owner}, objects
        tenant_owners = {roles[0] for roles in owners.values()}
        assert set(large_object_owners(admin).values()) <= tenant_owners


# ---------------------------------------------------------------- controls: the payloads do fire


@pytest.mark.parametrize("kind", [k for k in KINDS if k != "security_definer"])
def test_control_payload_escalates_when_the_admin_uses_the_tenants_object(app, kind):
    """What the old model led to (the admin querying tenant views and tables, running migrations
    in the tenant's schema): the payload runs as the superuser and the tenant becomes one."""
    app.write([ACME])
    app.up()
    with as_tenant(app, "acme") as conn:
        plant(conn, tenant(app, "acme"), kind)
    admin_user = app.pg.admin_user
    with app.pg.admin_connect("app") as admin:
        fire(admin, "acme", kind)
        assert set(evidence(admin)) == {(admin_user, admin_user, kind)}
        assert role_attributes(admin, ["acme"]) == {"acme": ESCALATED}
        assert ("acme", admin_user) in memberships(admin, ["acme"])


def test_control_security_definer_function_escalates_once_reassigned_to_the_admin(app):
    """The old model's removal ran REASSIGN OWNED BY <tenant> TO <admin>: the tenant's SECURITY
    DEFINER function (EXECUTE for PUBLIC by default) then runs as the admin for whoever calls it."""
    app.write([ACME])
    app.up()
    with as_tenant(app, "acme") as conn:
        plant(conn, tenant(app, "acme"), "security_definer")
    with app.pg.admin_connect("app") as admin:
        admin.execute(sql.SQL("REASSIGN OWNED BY acme TO {}").format(sql.Identifier(app.pg.admin_user)))
    with as_tenant(app, "acme") as conn:
        fire(conn, "acme", "security_definer")
    with app.pg.admin_connect("app") as admin:
        assert evidence(admin) == [(app.pg.admin_user, "acme", "security_definer")]
        assert role_attributes(admin, ["acme"]) == {"acme": ESCALATED}


# ---------------------------------------------------------------- the lifecycle


def offboarded(entry):
    return {**entry, "state": "offboarded"}


ACME_CORP = {"name": "acme_corp", "username": "acme", "schema": "acme"}
HOOLI_CORP = {"name": "hooli_corp", "username": "hooli", "schema": "hooli", "zero_downtime_rotation": True}

# state -> the tenant lists applied one after the other, after [ACME, HOOLI, GLOBEX] was
# deployed and acme and hooli planted their code.
LIFECYCLE: dict[str, list[list[dict]]] = {
    "active": [],
    "suspended": [[{**ACME, "state": "suspended"}, {**HOOLI, "state": "suspended"}, GLOBEX]],
    "offboarded": [[offboarded(ACME), offboarded(HOOLI), GLOBEX]],
    "removed_retained": [[offboarded(ACME), offboarded(HOOLI), GLOBEX], [GLOBEX]],
    "purged": [[{**ACME, "on_remove": "purge"}, {**HOOLI, "on_remove": "purge"}, GLOBEX], [GLOBEX]],
    "reactivated": [[offboarded(ACME), offboarded(HOOLI), GLOBEX], [ACME, HOOLI, GLOBEX]],
    "rotated": [[{**ACME, "rotation": 1}, {**HOOLI, "rotation": 1}, GLOBEX]],
    "switched_to_zero_downtime": [[{**ACME, "zero_downtime_rotation": True}, HOOLI, GLOBEX]],
    # Validation wants an adopted tenant adopted first and switched to zero-downtime after.
    "adopted_by_another_entry": [
        [offboarded(ACME), offboarded(HOOLI), GLOBEX],
        [GLOBEX],
        [{**ACME_CORP, "adopt": True}, {**HOOLI_CORP, "zero_downtime_rotation": False, "adopt": True}, GLOBEX],
        [ACME_CORP, {**HOOLI_CORP, "zero_downtime_rotation": False}, GLOBEX],
        [ACME_CORP, HOOLI_CORP, GLOBEX],
    ],
}
# The entries that log in at the end and run their migrations (their code, as themselves).
LOGS_IN_AT_THE_END = {
    "active": ["acme", "hooli"],
    "suspended": [],
    "offboarded": [],
    "removed_retained": [],
    "purged": [],
    "reactivated": ["acme", "hooli"],
    "rotated": ["acme", "hooli"],
    "switched_to_zero_downtime": ["acme", "hooli"],
    "adopted_by_another_entry": ["acme_corp", "hooli_corp"],
}
# Memberships of tenant roles at the end: the zero-downtime slots in their owner, while they exist.
MEMBERSHIPS_AT_THE_END = {
    "active": SLOT_MEMBERSHIPS,
    "suspended": SLOT_MEMBERSHIPS,
    "offboarded": set(),
    "removed_retained": set(),
    "purged": set(),
    "reactivated": SLOT_MEMBERSHIPS,
    "rotated": SLOT_MEMBERSHIPS,
    "switched_to_zero_downtime": SLOT_MEMBERSHIPS | {("acme_a", "acme"), ("acme_b", "acme")},
    "adopted_by_another_entry": SLOT_MEMBERSHIPS,
}
SCHEMA_OF = {"acme": "acme", "hooli": "hooli", "acme_corp": "acme", "hooli_corp": "hooli"}
# Every role each tenant may have (slots only exist for zero-downtime tenants).
TENANT_ROLES = {"acme": ("acme", "acme_a", "acme_b"), "hooli": ("hooli", "hooli_a", "hooli_b"), "globex": ("globex",)}


def migrate(conn: psycopg.Connection, schema: str) -> None:
    """A migration with the tenant's own credentials: DDL and DML on tables full of its code."""
    conn.execute(sql.SQL("ALTER TABLE {}.trigger_table ADD COLUMN note text").format(sql.Identifier(schema)))
    fire_all(conn, schema)


@pytest.mark.parametrize("state", list(LIFECYCLE))
def test_tenant_code_runs_only_as_the_tenant_through_the_lifecycle(app, state):
    """Each edit applied like `pulumi up`, then the admin's ANALYZE and VACUUM ANALYZE, then the
    tenants that can log in run their migrations (their code, as themselves)."""
    app.write([ACME, HOOLI, GLOBEX])
    app.up()
    plant_everything(app, "acme", "hooli")
    for tenants in LIFECYCLE[state]:
        app.write(tenants)
        app.up()
    admin_maintenance(app.pg)
    for entry in LOGS_IN_AT_THE_END[state]:
        with as_tenant(app, entry) as conn:
            migrate(conn, SCHEMA_OF[entry])
    assert_nothing_gained(app, TENANT_ROLES, MEMBERSHIPS_AT_THE_END[state])


def test_purge_runs_no_tenant_code(app):
    """Purge with every payload kind planted, the cast included (DROP OWNED BY … CASCADE)."""
    app.write([ACME, HOOLI, GLOBEX])
    app.up()
    plant_everything(app, "acme", "hooli")
    for tenants in LIFECYCLE["purged"]:
        app.write(tenants)
        app.up()
    admin_maintenance(app.pg)
    with app.pg.admin_connect("app") as admin:
        left = admin.execute("SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)", (["acme", "hooli", "hooli_a", "hooli_b"],))
        assert left.fetchall() == []
    assert_nothing_gained(app, TENANT_ROLES, set())


# ---------------------------------------------------------------- maintenance and reading retained data


RETAINING = {
    "active": [],
    "offboarded": [[offboarded(ACME), GLOBEX]],
    "removed_retained": [[offboarded(ACME), GLOBEX], [GLOBEX]],
}


def deploy_acme_and_plant(app: Deployment, state: str) -> None:
    app.write([ACME, GLOBEX])
    app.up()
    plant_everything(app, "acme")
    for tenants in RETAINING[state]:
        app.write(tenants)
        app.up()


def require_log(pg) -> ServerLog:
    """Whether and as whom tenant code ran is read from the log: unreadable fails the test."""
    return ServerLog.of(pg)


@pytest.mark.parametrize("state", list(RETAINING))
def test_admin_analyze_runs_tenant_index_code_as_the_tenant(app, state):
    """ANALYZE evaluates index expressions: PostgreSQL runs them as the table's owner."""
    deploy_acme_and_plant(app, state)
    log = require_log(app.pg)
    offset = log.size()
    with app.pg.admin_connect("app") as admin:
        admin.execute("ANALYZE acme.expression_index_table")
        admin.execute("VACUUM ANALYZE acme.expression_index_table")
    runs = payload_runs(log, offset)
    assert ("expression_index", "acme", app.pg.admin_user) in runs  # it ran, called by the superuser's ANALYZE
    assert {current for _kind, current, _session in runs} == {"acme"}
    assert_nothing_gained(app, {"acme": ("acme",), "globex": ("globex",)}, set())


@pytest.fixture
def fast_autovacuum(pg_server):
    """Autovacuum visits every database each second while the test runs (server-wide, reverted)."""
    with pg_server.admin_connect() as admin:
        admin.execute("ALTER SYSTEM SET autovacuum_naptime = 1")
        admin.execute("SELECT pg_reload_conf()")
    yield
    with pg_server.admin_connect() as admin:
        admin.execute("ALTER SYSTEM RESET autovacuum_naptime")
        admin.execute("SELECT pg_reload_conf()")


@pytest.mark.parametrize("state", ["active", "offboarded"])
def test_autovacuum_runs_tenant_index_code_as_the_tenant(app, fast_autovacuum, state):
    """Autovacuum's worker is the bootstrap superuser; it analyzes a table as the table's owner."""
    app.write([ACME, GLOBEX])
    app.up()
    log = require_log(app.pg)
    with as_tenant(app, "acme") as conn:
        plant_all(conn, tenant(app, "acme"))  # 3 rows: below the default threshold of 50 changes
        # The tenant asks for an analyze after any change (its own table: it may); autovacuum
        # stays off for the table until the state under test is reached.
        conn.execute("ALTER TABLE expression_index_table SET (autovacuum_enabled = false,"
                     " autovacuum_analyze_threshold = 0, autovacuum_analyze_scale_factor = 0)")  # fmt: skip
    if state == "offboarded":
        app.write([offboarded(ACME), GLOBEX])
        app.up()
    offset = log.size()
    with app.pg.admin_connect("app") as admin:
        # A storage parameter: no tenant code runs. Rows inserted by the tenant are pending.
        admin.execute("ALTER TABLE acme.expression_index_table SET (autovacuum_enabled = true)")
        deadline = time.monotonic() + 60
        while (count := autoanalyze_count(admin, "acme", "expression_index_table")) == 0 and time.monotonic() < deadline:
            time.sleep(0.2)
        bootstrap_superuser = admin.execute("SELECT rolname FROM pg_roles WHERE oid = 10").fetchone()[0]
    assert count > 0, "autovacuum did not analyze acme.expression_index_table within 60 s"
    runs = payload_runs(log, offset)
    assert ("expression_index", "acme", bootstrap_superuser) in runs  # the worker's session user
    assert {current for _kind, current, _session in runs} == {"acme"}
    assert_nothing_gained(app, {"acme": ("acme",), "globex": ("globex",)}, set())


def autoanalyze_count(admin: psycopg.Connection, schema: str, table: str) -> int:
    row = admin.execute(
        "SELECT autoanalyze_count FROM pg_stat_user_tables WHERE schemaname = %s AND relname = %s", (schema, table)
    ).fetchone()
    return row[0] if row else 0


def pg_dump_for(major: int) -> tuple[str, dict[str, str]]:
    """A pg_dump of this major or newer (pg_dump refuses newer servers): the launcher's binaries
    first, then Debian's per-major directories, then PATH."""
    candidates: list[tuple[str, dict[str, str]]] = []
    try:
        binaries = resolve_binaries(major)
        candidates.append((binaries.tool("pg_dump"), binaries.env()))
    except LocalPostgresError:
        pass
    candidates += [(f"/usr/lib/postgresql/{m}/bin/pg_dump", dict(os.environ)) for m in SUPPORTED_MAJORS if m >= major]
    if shutil.which("pg_dump"):
        candidates.append((shutil.which("pg_dump"), dict(os.environ)))
    seen = []
    for path, env in candidates:
        if not Path(path).is_file():
            continue
        version = subprocess.run([path, "--version"], env=env, capture_output=True, text=True).stdout
        seen.append(f"{path}: {version.strip()}")
        found = [int(part.split(".")[0]) for part in version.split() if part[:1].isdigit()]
        if found and found[0] >= major:
            return path, env
    pytest.skip(
        f"no pg_dump of PostgreSQL {major} or newer here (pg_dump refuses a newer server); "
        f"the launcher's build of {major} has none, and found only: {seen or 'nothing'}"
    )


@pytest.mark.parametrize("state", list(RETAINING))
def test_pg_dump_of_the_tenant_schema_as_the_admin_runs_no_tenant_code(app, state):
    """The documented way to read a retained tenant's data as the admin."""
    deploy_acme_and_plant(app, state)
    pg_dump, env = pg_dump_for(app.pg.major)
    log = require_log(app.pg)
    offset = log.size()
    env = {**env, "PGPASSWORD": app.pg.admin_password}
    dump = subprocess.run(
        [pg_dump, "-h", app.pg.host, "-p", str(app.pg.port), "-U", app.pg.admin_user, "-d", "app", "--schema=acme", "--no-password"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert dump.returncode == 0, dump.stderr
    assert "COPY acme.cast_table (m) FROM stdin;\ncalm\n" in dump.stdout  # it did read the tenant's rows
    assert payload_runs(log, offset) == []
    assert_nothing_gained(app, {"acme": ("acme",), "globex": ("globex",)}, set())


# ---------------------------------------------------------------- other identities


def assert_refused(conn: psycopg.Connection, statement: sql.Composable | str, sqlstate: str = INSUFFICIENT_PRIVILEGE) -> None:
    with pytest.raises(psycopg.Error) as refused:
        conn.execute(statement)
    assert refused.value.sqlstate == sqlstate, refused.value


def test_another_tenant_cannot_make_the_tenant_or_the_admin_run_its_code(app):
    app.write([ACME, GLOBEX])
    app.up()
    plant_everything(app, "acme", "globex")
    with as_tenant(app, "globex") as globex:
        # Hand its code to the tenant, or open its schema to it, or hook it onto the tenant's table.
        globex.execute("GRANT USAGE ON SCHEMA globex TO acme")  # not the owner, no grant option: a warning
        assert_refused(globex, "ALTER FUNCTION globex.definer() OWNER TO acme")
        assert_refused(globex, "ALTER VIEW globex.payload_view OWNER TO acme")
        assert_refused(globex, "CREATE TRIGGER fire BEFORE INSERT ON acme.trigger_table FOR EACH ROW EXECUTE FUNCTION globex.fire_trigger()")
        assert_refused(globex, "ALTER ROLE acme SET search_path = globex")
        globex.execute("GRANT EXECUTE ON FUNCTION globex.definer() TO acme")  # its own function: allowed, and useless
    with app.pg.admin_connect("app") as admin:
        assert admin.execute("SELECT has_schema_privilege('acme', 'globex', 'USAGE')").fetchone() == (False,)
    with as_tenant(app, "acme") as acme:
        assert_refused(acme, "SELECT globex.definer()")
        assert_refused(acme, "SELECT * FROM globex.payload_view")
        assert_refused(acme, "INSERT INTO globex.trigger_table VALUES (1)")
        migrate(acme, "acme")  # its own varchar = and upper(): its own schema's, as itself
    admin_maintenance(app.pg)
    assert_nothing_gained(app, {"acme": ("acme",), "globex": ("globex",)}, set())


def test_self_grant_gives_the_other_tenant_at_most_the_tenants_own_privileges(app):
    """PostgreSQL 14 and older let a login role grant itself (session_user's implicit ADMIN
    OPTION); 15 removed that. Documented, not prevented: B gets A's privileges, nothing more."""
    app.write([ACME, GLOBEX])
    app.up()
    with as_tenant(app, "acme") as acme:
        if app.pg.major <= 14:
            acme.execute("GRANT acme TO globex")
        else:
            assert_refused(acme, "GRANT acme TO globex")
    expected = {("globex", "acme")} if app.pg.major <= 14 else set()
    with app.pg.admin_connect("app") as admin:
        reachable = {
            r[0]
            for r in admin.execute(
                "SELECT rolname FROM pg_roles WHERE pg_has_role('globex', oid, 'MEMBER') OR pg_has_role('globex', oid, 'USAGE')"
            )
        }
    assert reachable == ({"globex", "acme"} if app.pg.major <= 14 else {"globex"})
    assert_nothing_gained(app, {"acme": ("acme",), "globex": ("globex",)}, expected)


# Planted code the read-only login runs by reading (SELECT only), and code only a write would run.
READ_FIRES = ("view", "rls_policy", "cast", "operator", "function", "security_definer")
WRITE_FIRES = ("trigger", "rule", "expression_index", "partial_index", "column_default", "check_constraint", "domain")


def test_tenant_code_its_read_only_login_runs_runs_as_that_login_and_gains_nothing(app):
    """Reading the tenant's views, casts, operators, functions and policies runs the tenant's
    code as the read-only login (its SECURITY DEFINER function as the owner, as for any caller):
    never as another role, and the payload's escalation attempts fail. Code only a write would
    run never runs: the write is refused first, even in a read-write transaction."""
    app.write([{**ACME, "readonly_login": True}, GLOBEX])
    app.up()
    plant_everything(app, "acme")
    log = require_log(app.pg)
    offset = log.size()
    with connect_as(app.connections["acme"]["readonly"]) as readonly:
        for kind in READ_FIRES:
            fire(readonly, "acme", kind)
        readonly.execute("SET default_transaction_read_only = off")
        refused = {}
        for kind in WRITE_FIRES:
            with pytest.raises(psycopg.Error) as error:
                fire(readonly, "acme", kind)
            refused[kind] = error.value.sqlstate
    assert refused == dict.fromkeys(WRITE_FIRES, INSUFFICIENT_PRIVILEGE)
    runs = {(kind, current) for kind, current, _session in payload_runs(log, offset)}
    assert runs == {(kind, "acme_ro") for kind in READ_FIRES if kind != "security_definer"} | {("security_definer", "acme")}
    assert_nothing_gained(app, {"acme": ("acme", "acme_ro"), "globex": ("globex",)}, set())


ADMIN_SESSION_PLANTS = {
    # The admin's search_path is "$user", public: code there would capture its unqualified calls.
    "public_function": "CREATE FUNCTION public.upper(a varchar) RETURNS text LANGUAGE sql AS 'SELECT acme.escalate(''function'')::text'",
    "public_operator": "CREATE OPERATOR public.= (LEFTARG = varchar, RIGHTARG = varchar, FUNCTION = acme.varchar_eq)",
    "admin_named_schema": "CREATE SCHEMA {admin}",
    # An event trigger would run on the admin's own DDL (the provider's, purge's).
    "event_trigger": "CREATE EVENT TRIGGER fire ON ddl_command_start EXECUTE FUNCTION acme.fire_event()",
}


@pytest.mark.parametrize("plant_attempt", list(ADMIN_SESSION_PLANTS))
def test_tenant_cannot_plant_code_that_the_admins_own_sessions_would_run(app, plant_attempt):
    app.write([ACME])
    app.up()
    with as_tenant(app, "acme") as conn:
        plant_all(conn, tenant(app, "acme"))
        conn.execute(
            "CREATE FUNCTION acme.fire_event() RETURNS event_trigger LANGUAGE plpgsql"
            " AS 'BEGIN PERFORM acme.escalate(''event_trigger''); END'"
        )
        assert_refused(conn, sql.SQL(ADMIN_SESSION_PLANTS[plant_attempt]).format(admin=sql.Identifier(app.pg.admin_user)))
    with app.pg.admin_connect("app") as admin:
        assert admin.execute("SHOW search_path").fetchone() == ('"$user", public',)
        admin.execute("SELECT upper(v), v = 'x' FROM (VALUES ('x'::varchar)) AS t (v)")
        admin.execute("CREATE TABLE public.admin_ddl (id integer)")
    assert_nothing_gained(app, {"acme": ("acme",)}, set())


@pytest.mark.parametrize(
    "statement",
    ["CREATE TABLE hooli.own_table (id integer)", "CREATE FUNCTION hooli.own_function() RETURNS integer LANGUAGE sql AS 'SELECT 1'"],
    ids=["table", "function"],
)
def test_login_slot_cannot_create_in_the_schema_once_it_drops_the_owner_role(app, statement):
    app.write([HOOLI])
    app.up()
    with as_tenant(app, "hooli") as slot:
        slot.execute("SET ROLE NONE")
        assert slot.execute("SELECT current_user").fetchone() == ("hooli_a",)
        assert_refused(slot, statement)
    with app.pg.admin_connect("app") as admin:
        owners = set(owners_in_schema(admin, "hooli").values())
    assert owners <= {"hooli"}


@pytest.mark.parametrize(
    "statement",
    ["SELECT lo_from_bytea(0, 'slot data')", "ALTER DEFAULT PRIVILEGES FOR ROLE hooli_a GRANT SELECT ON TABLES TO PUBLIC"],
    ids=["large_object", "default_privileges"],
)
def test_offboarding_succeeds_after_a_login_slot_made_something_of_its_own(app, statement):
    """Nothing refuses these to a role without privileges; whatever the slot made must not stop
    the offboarding, nor end up with the admin."""
    app.write([HOOLI])
    app.up()
    with as_tenant(app, "hooli") as slot:
        slot.execute("SET ROLE NONE")
        slot.execute(statement)
    app.write([offboarded(HOOLI)])
    app.up()
    assert_nothing_gained(app, {"hooli": ("hooli", "hooli_a", "hooli_b")}, set())


# ---------------------------------------------------------------- lesser findings


ADMIN_MADE_ATTACHMENTS = {
    "truncate": "TRUNCATE acme.admin_made",
    "references": "CREATE TABLE acme.referrer (id integer REFERENCES acme.admin_made (id))",
    "trigger": "CREATE TRIGGER fire BEFORE INSERT ON acme.admin_made FOR EACH ROW EXECUTE FUNCTION acme.fire_trigger()",
    "index": "CREATE INDEX fire ON acme.admin_made (acme.immutable_int('expression_index', id))",
    "rule": "CREATE RULE fire AS ON INSERT TO acme.admin_made DO ALSO SELECT acme.escalate('rule')",
    "policy": "CREATE POLICY fire ON acme.admin_made USING (acme.escalate('rls_policy'))",
}


@pytest.mark.parametrize("attempt", list(ADMIN_MADE_ATTACHMENTS))
def test_tenant_cannot_touch_or_hook_code_onto_a_table_the_admin_created_in_its_schema(app, attempt):
    """No default privileges: the tenant holds nothing on it, so the admin's own writes run no tenant code."""
    app.write([ACME])
    app.up()
    with app.pg.admin_connect("app") as admin:
        admin.execute("CREATE TABLE acme.admin_made (id integer PRIMARY KEY)")
    with as_tenant(app, "acme") as conn:
        plant_all(conn, tenant(app, "acme"))
        assert_refused(conn, ADMIN_MADE_ATTACHMENTS[attempt])
    with app.pg.admin_connect("app") as admin:
        admin.execute("INSERT INTO acme.admin_made VALUES (1)")
        admin.execute("SELECT * FROM acme.admin_made")
    assert_nothing_gained(app, {"acme": ("acme",)}, set(), admin_made=frozenset({"admin_made", "_admin_made", "admin_made_pkey"}))


@pytest.mark.parametrize("entry", ["acme", "hooli"])
def test_purge_removes_the_tenants_large_objects(app, entry):
    declared = {"acme": ACME, "hooli": HOOLI}[entry]
    app.write([declared, GLOBEX])
    app.up()
    for name in (entry, "globex"):
        with as_tenant(app, name) as conn:
            conn.execute("SELECT lo_from_bytea(0, 'tenant data')")
    app.write([{**declared, "on_remove": "purge"}, GLOBEX])
    app.up()
    app.write([GLOBEX])
    app.up()
    with app.pg.admin_connect("app") as admin:
        assert list(large_object_owners(admin).values()) == ["globex"]


def role_settings(pg) -> dict[str, list[str]]:
    with pg.admin_connect() as admin:
        rows = admin.execute(
            "SELECT r.rolname, s.setconfig FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole WHERE s.setdatabase = 0"
        )
        return {name: sorted(config) for name, config in rows}


def test_temp_file_limit_is_set_for_every_login_role(app):
    app.write([ACME, HOOLI])
    app.up()
    assert role_settings(app.pg) == {
        "acme": ["search_path=acme", "temp_file_limit=1048576"],
        "hooli": ["search_path=hooli"],
        "hooli_a": ["role=hooli", "search_path=hooli", "temp_file_limit=1048576"],
        "hooli_b": ["role=hooli", "search_path=hooli", "temp_file_limit=1048576"],
    }


def tenant_session(app: Deployment, entry: str) -> psycopg.Connection:
    """Logged in as the tenant; a zero-downtime slot drops the owner role to act as itself."""
    conn = as_tenant(app, entry)
    if entry == "hooli":
        conn.execute("RESET ROLE")
    return conn


@pytest.mark.parametrize("entry", ["acme", "hooli"])
def test_tenant_cannot_lift_its_temp_file_limit_in_a_session(app, entry):
    app.write([ACME, HOOLI])
    app.up()
    with tenant_session(app, entry) as conn:
        assert_refused(conn, "SET temp_file_limit = -1")
        assert conn.execute("SHOW temp_file_limit").fetchone() == ("1GB",)


@pytest.mark.parametrize("entry", ["acme", "hooli"])
def test_tenant_cannot_reset_the_temp_file_limit_of_its_login_role(app, entry):
    app.write([ACME, HOOLI])
    app.up()
    login = app.connections[entry]["env"]["PGUSER"]
    with tenant_session(app, entry) as conn:
        assert_refused(conn, sql.SQL("ALTER ROLE {} RESET temp_file_limit").format(sql.Identifier(login)))
    assert "temp_file_limit=1048576" in role_settings(app.pg)[login]


@pytest.mark.parametrize("entry", ["acme", "hooli"])
def test_tenant_cannot_lift_the_connection_limit_of_its_login_role(app, entry):
    app.write([ACME, HOOLI])
    app.up()
    login = app.connections[entry]["env"]["PGUSER"]
    with tenant_session(app, entry) as conn:
        assert_refused(conn, sql.SQL("ALTER ROLE {} CONNECTION LIMIT -1").format(sql.Identifier(login)))
    with app.pg.admin_connect() as admin:
        assert admin.execute("SELECT rolconnlimit FROM pg_roles WHERE rolname = %s", (login,)).fetchone() == (20,)


def test_twenty_first_concurrent_connection_of_a_tenant_is_refused(app):
    app.write([ACME])
    app.up()
    formats = app.connections["acme"]
    sessions = [connect_as(formats) for _ in range(20)]
    try:
        with pytest.raises(psycopg.OperationalError) as refused:
            connect_as(formats).close()
        sqlstate = refused.value.sqlstate or login_refusal(app.pg, formats)
    finally:
        for session in sessions:
            session.close()
    assert sqlstate == TOO_MANY_CONNECTIONS
    with app.pg.admin_connect() as admin:  # backends exit a moment after their client closes
        deadline = time.monotonic() + 10
        while admin.execute("SELECT count(*) FROM pg_stat_activity WHERE usename = 'acme'").fetchone()[0] and time.monotonic() < deadline:
            time.sleep(0.05)
    assert login_refusal(app.pg, formats) is None
