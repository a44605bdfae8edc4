"""Log in as every tenant with its exported credentials and prove what it can and cannot do.

The fleet is deployed once per PostgreSQL major by the real program, applied the way
pulumi-postgresql would (tests/support/provider_double.py), with 10 resources at a time.
"""

from __future__ import annotations

import os
import secrets
import string
import subprocess
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest
from psycopg import sql

from tests.support.deployment import (
    ADMIN_PROFILES,
    connect_as,
    create_tenant_database,
    login_refusal,
    prepare_admin,
    reset_server,
    stack_admin,
    stack_for,
)
from tests.support.server_log import ServerLog

# The fleet is deployed once per admin profile: the server's superuser, and a managed service's
# admin (CREATEROLE, not SUPERUSER; tests/support/deployment.py), and every test runs on both.
ADMIN_PROFILES = ADMIN_PROFILES

FLEET = [
    {"name": "acme"},
    {"name": "globex", "schema": "globex_data", "username": "globex_app"},
    {"name": "initech", "password_secret": "initechPassword"},
    {"name": "umbrella", "connection_limit": 5, "statement_timeout": 60000},
    {"name": "hooli", "zero_downtime_rotation": True},
]
NAMES = [t["name"] for t in FLEET]
SCHEMAS = {t["name"]: t.get("schema", t["name"]) for t in FLEET}
OWNERS = {t["name"]: t.get("username", t["name"]) for t in FLEET}
INSUFFICIENT_PRIVILEGE = "42501"


@pytest.fixture(scope="module")
def fleet(pg_server, admin_profile, new_deployment, tmp_path_factory):
    admin = prepare_admin(pg_server, admin_profile)
    try:
        create_tenant_database(pg_server, admin, "app")
        stack = stack_for(admin, tmp_path_factory.mktemp("fleet") / "tenants", "app", profile=admin_profile)
        # An admin-provided password full of characters every format must escape.
        stack.secrets["initechPassword"] = "".join(secrets.choice(string.punctuation + "aZ9") for _ in range(32))
        deployment = new_deployment(pg_server, stack)
        deployment.write(FLEET)
        deployment.up(parallelism=10)
        with stack_admin(deployment).admin_connect("app") as conn:
            for schema in SCHEMAS.values():
                # An admin who creates objects in a tenant schema anyway (the README says not to):
                # with no default privileges, the tenant gets no handle on them.
                conn.execute(sql.SQL("CREATE TABLE {}.admin_made (id int PRIMARY KEY, note text)").format(sql.Identifier(schema)))
                conn.execute(sql.SQL("INSERT INTO {}.admin_made VALUES (1, 'from the admin')").format(sql.Identifier(schema)))
        for name in NAMES:
            with connect_as(deployment.connections[name]) as tenant:
                tenant.execute("CREATE TABLE private_rows (id int, secret text)")
                tenant.execute("INSERT INTO private_rows VALUES (1, %s)", (f"{name}'s secret",))
        yield deployment
    finally:
        reset_server(pg_server)


def as_tenant(fleet, name):
    return connect_as(fleet.connections[name])


def other(name):
    return NAMES[(NAMES.index(name) + 1) % len(NAMES)]


def assert_refused(conn, statement, sqlstate=INSUFFICIENT_PRIVILEGE):
    with pytest.raises(psycopg.Error) as refused:
        conn.execute(statement)
    assert refused.value.sqlstate == sqlstate, refused.value


# ---------------------------------------------------------------- what a tenant can do


@pytest.mark.parametrize("name", NAMES)
def test_tenant_logs_in_to_its_database_as_itself(fleet, name):
    with as_tenant(fleet, name) as conn:
        user, database = conn.execute("SELECT session_user, current_database()").fetchone()
    assert (user, database) == (fleet.connections[name]["env"]["PGUSER"], "app")


@pytest.mark.parametrize("name", NAMES)
def test_tenant_creates_alters_and_drops_objects_in_its_schema(fleet, name):
    with as_tenant(fleet, name) as conn:
        conn.execute("CREATE TABLE t_work (id serial PRIMARY KEY, v text)")
        conn.execute("ALTER TABLE t_work ADD COLUMN n int")
        conn.execute("CREATE INDEX t_work_v ON t_work (v)")
        conn.execute("CREATE SEQUENCE s_work")
        conn.execute("CREATE VIEW v_work AS SELECT id, v FROM t_work")
        conn.execute("CREATE FUNCTION f_work(x int) RETURNS int LANGUAGE sql AS 'SELECT x + 1'")
        conn.execute("INSERT INTO t_work (v, n) VALUES ('a', 1), ('b', 2)")
        conn.execute("UPDATE t_work SET n = n + nextval('s_work') WHERE v = 'a'")
        conn.execute("DELETE FROM t_work WHERE v = 'b'")
        rows = conn.execute("SELECT v, f_work(n) FROM v_work JOIN t_work USING (id, v)").fetchall()
        for statement in ("DROP VIEW v_work", "DROP FUNCTION f_work(int)", "DROP SEQUENCE s_work", "DROP TABLE t_work"):
            conn.execute(statement)
    assert rows == [("a", 3)]


@pytest.mark.parametrize("name", NAMES)
def test_unqualified_names_resolve_to_the_tenants_schema(fleet, name):
    with as_tenant(fleet, name) as conn:
        assert conn.execute("SELECT current_schema()").fetchone() == (SCHEMAS[name],)
        assert conn.execute("SELECT secret FROM private_rows").fetchone() == (f"{name}'s secret",)


@pytest.mark.parametrize("name", NAMES)
def test_tenant_migrations_run_with_its_own_credentials_and_it_owns_the_result(fleet, name):
    with as_tenant(fleet, name) as conn:
        conn.execute("CREATE TABLE migrated (id int PRIMARY KEY)")
        owner = conn.execute("SELECT tableowner FROM pg_tables WHERE tablename = 'migrated' AND schemaname = current_schema()").fetchone()[0]
        conn.execute("DROP TABLE migrated")
    assert owner == OWNERS[name]


# ---------------------------------------------------------------- what a tenant cannot do


@pytest.mark.parametrize("name", NAMES)
def test_tenant_holds_no_privilege_on_a_table_the_admin_created_in_its_schema(fleet, name):
    with as_tenant(fleet, name) as conn:
        held = conn.execute(
            "SELECT p FROM unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) p"
            " WHERE has_table_privilege('admin_made', p)"
        ).fetchall()
    assert held == []


@pytest.mark.parametrize("name", NAMES)
def test_tenant_cannot_put_a_trigger_on_a_table_the_admin_created(fleet, name):
    with as_tenant(fleet, name) as conn:
        conn.execute("CREATE FUNCTION noop() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END'")
        try:
            assert_refused(conn, "CREATE TRIGGER planted BEFORE INSERT ON admin_made FOR EACH ROW EXECUTE FUNCTION noop()")
        finally:
            conn.execute("DROP FUNCTION noop()")


@pytest.mark.parametrize("name", NAMES)
def test_tenant_cannot_read_another_tenants_rows(fleet, name):
    victim = SCHEMAS[other(name)]
    with as_tenant(fleet, name) as conn:
        assert_refused(conn, sql.SQL("SELECT * FROM {}.private_rows").format(sql.Identifier(victim)))


@pytest.mark.parametrize("name", NAMES)
def test_tenant_cannot_create_in_another_tenants_schema(fleet, name):
    victim = SCHEMAS[other(name)]
    with as_tenant(fleet, name) as conn:
        assert_refused(conn, sql.SQL("CREATE TABLE {}.planted (id int)").format(sql.Identifier(victim)))


@pytest.mark.parametrize("name", NAMES)
def test_tenant_cannot_create_in_public(fleet, name):
    with as_tenant(fleet, name) as conn:
        assert_refused(conn, "CREATE TABLE public.planted (id int)")


@pytest.mark.parametrize("name", NAMES)
def test_tenant_cannot_create_a_schema(fleet, name):
    with as_tenant(fleet, name) as conn:
        assert_refused(conn, "CREATE SCHEMA planted")


@pytest.mark.parametrize("name", NAMES)
def test_tenant_cannot_create_a_database(fleet, name):
    with as_tenant(fleet, name) as conn:
        assert_refused(conn, "CREATE DATABASE planted")


@pytest.mark.parametrize("name", NAMES)
def test_tenant_cannot_create_a_role(fleet, name):
    with as_tenant(fleet, name) as conn:
        assert_refused(conn, "CREATE ROLE planted")


@pytest.mark.parametrize("name", NAMES)
def test_tenant_cannot_connect_to_another_database(fleet, name):
    # Every database the stack protects (a managed admin's stack leaves out template1, which it
    # cannot harden: test_managed_admin.py::test_template1_cannot_be_protected_by_a_managed_admin).
    protected = fleet.stack.servers["main"].get("protectedDatabases", ["postgres", "template1"])
    assert "postgres" in protected
    refusals = {database: login_refusal(fleet.pg, fleet.connections[name], dbname=database) for database in protected}
    assert refusals == dict.fromkeys(protected, INSUFFICIENT_PRIVILEGE)


@pytest.mark.parametrize("name", NAMES)
def test_tenant_cannot_set_role_to_another_tenant(fleet, name):
    victim = fleet.connections[other(name)]["env"]["PGUSER"]
    with as_tenant(fleet, name) as conn:
        assert_refused(conn, sql.SQL("SET ROLE {}").format(sql.Identifier(victim)))


@pytest.mark.parametrize("name", NAMES)
def test_tenant_cannot_read_pg_authid(fleet, name):
    with as_tenant(fleet, name) as conn:
        assert_refused(conn, "SELECT rolpassword FROM pg_authid")


@pytest.mark.parametrize("name", NAMES)
def test_tenant_cannot_drop_its_own_schema(fleet, name):
    with as_tenant(fleet, name) as conn:
        assert_refused(conn, sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(SCHEMAS[name])))


@pytest.mark.parametrize("name", NAMES)
def test_tenant_cannot_rename_its_own_schema(fleet, name):
    with as_tenant(fleet, name) as conn:
        assert_refused(conn, sql.SQL("ALTER SCHEMA {} RENAME TO renamed").format(sql.Identifier(SCHEMAS[name])))


@pytest.mark.parametrize("name", NAMES)
def test_tenant_cannot_give_itself_role_attributes(fleet, name):
    with as_tenant(fleet, name) as conn:
        assert_refused(conn, "ALTER ROLE CURRENT_USER CREATEDB")


@pytest.mark.parametrize("name", NAMES)
def test_tenant_cannot_grant_itself_another_tenants_role(fleet, name):
    victim = fleet.connections[other(name)]["env"]["PGUSER"]
    with as_tenant(fleet, name) as conn:
        assert_refused(conn, sql.SQL("GRANT {} TO CURRENT_USER").format(sql.Identifier(victim)))


@pytest.mark.parametrize("name", NAMES)
def test_tenant_granting_itself_database_privileges_gains_nothing(fleet, name):
    with as_tenant(fleet, name) as conn:
        try:
            # Only a warning for a role that holds CONNECT itself; an error for a zero-downtime
            # owner, which holds nothing on the database (its slots hold CONNECT).
            conn.execute("GRANT CREATE, TEMPORARY ON DATABASE app TO CURRENT_USER")
        except psycopg.errors.InsufficientPrivilege:
            pass
        assert conn.execute("SELECT has_database_privilege('app', 'CREATE'), has_database_privilege('app', 'TEMP')").fetchone() == (False, False)


@pytest.mark.parametrize("name", NAMES)
def test_tenant_cannot_create_temporary_tables_when_hardened(fleet, name):
    with as_tenant(fleet, name) as conn:
        assert_refused(conn, "CREATE TEMPORARY TABLE scratch (id int)")


# ---------------------------------------------------------------- every credential format


def test_dsn_logs_in(fleet):
    with psycopg.connect(fleet.connections["initech"]["dsn"]) as conn:
        assert conn.execute("SELECT session_user").fetchone() == ("initech",)


def test_jdbc_parts_log_in(fleet):
    url = urlsplit(fleet.connections["initech"]["jdbc"].removeprefix("jdbc:"))
    query = parse_qs(url.query)
    with psycopg.connect(host=url.hostname, port=url.port, dbname=url.path.lstrip("/"), user=query["user"][0], password=query["password"][0]) as conn:
        assert conn.execute("SELECT session_user").fetchone() == ("initech",)


def test_env_logs_in_with_psql(fleet):
    env = {**os.environ, **fleet.connections["initech"]["env"]}
    out = subprocess.run(["psql", "-XAtc", "SELECT session_user"], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "initech"


def test_pgpass_line_logs_in_with_psql(fleet, tmp_path):
    formats = fleet.connections["initech"]
    passfile = tmp_path / "pgpass"
    passfile.write_text(formats["pgpass"] + "\n")
    passfile.chmod(0o600)
    env = {k: v for k, v in {**os.environ, **formats["env"]}.items() if k != "PGPASSWORD"} | {"PGPASSFILE": str(passfile)}
    out = subprocess.run(["psql", "-XAtwc", "SELECT session_user"], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "initech"


def test_previous_credentials_of_a_zero_downtime_tenant_log_in(fleet):
    with connect_as(fleet.connections["hooli"]["previous"]) as conn:
        assert conn.execute("SELECT session_user, current_user").fetchone() == ("hooli_b", "hooli")


# ---------------------------------------------------------------- passwords on the server


def test_every_tenant_password_is_stored_as_a_scram_verifier(fleet, pg_server):
    users = [fleet.connections[n]["env"]["PGUSER"] for n in NAMES] + ["hooli_b"]
    with pg_server.admin_connect() as admin:
        stored = dict(admin.execute("SELECT rolname, rolpassword FROM pg_authid WHERE rolname = ANY(%s)", (users,)).fetchall())
    assert set(stored) == set(users)
    assert all(value.startswith("SCRAM-SHA-256$4096:") for value in stored.values())


def test_server_log_of_the_whole_apply_holds_no_plaintext_password(fleet, pg_server):
    log = ServerLog.of(pg_server).since(0)  # unreadable: the test fails (tests/support/server_log.py)
    assert "CREATE ROLE" in log  # log_statement = 'all' really logged the apply
    passwords = [fleet.connections[n]["env"]["PGPASSWORD"] for n in NAMES] + [fleet.connections["hooli"]["previous"]["env"]["PGPASSWORD"]]
    assert not [p for p in passwords if p in log]
