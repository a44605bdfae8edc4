"""A tenant's read-only login `<username>_ro`, logged in with its exported credentials.

The fleet is deployed once per admin profile: first without read-only logins, then the tenants
create tables, then `readonly_login: true` is turned on (the usual order: a tenant asks for a
read-only login when it already has data), then the tenants create more objects. The login
must read all of them and change none, whatever it sets in its session.
"""

from __future__ import annotations

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

ADMIN_PROFILES = ADMIN_PROFILES

ACME = {"name": "acme", "connection_limit": 5, "statement_timeout": 60000}
HOOLI = {"name": "hooli", "zero_downtime_rotation": True}  # owner NOLOGIN, sessions SET ROLE hooli
GLOBEX = {"name": "globex", "schema": "globex_data", "username": "globex_app"}
READONLY = {"readonly_login": True}
INSUFFICIENT_PRIVILEGE = "42501"
READ_ONLY_TRANSACTION = "25006"
INVALID_PASSWORD = "28P01"
LOGIN_NOT_PERMITTED = "28000"


def create_rows(conn, table, count=3):
    conn.execute(sql.SQL("CREATE TABLE {} (id int PRIMARY KEY, item text)").format(sql.Identifier(table)))
    conn.execute(sql.SQL("INSERT INTO {} SELECT g, 'item ' || g FROM generate_series(1, %s) g").format(sql.Identifier(table)), (count,))


@pytest.fixture(scope="module")
def fleet(pg_server, admin_profile, new_deployment, tmp_path_factory):
    admin = prepare_admin(pg_server, admin_profile)
    try:
        create_tenant_database(pg_server, admin, "app")
        deployment = new_deployment(pg_server, stack_for(admin, tmp_path_factory.mktemp("ro") / "tenants", "app", profile=admin_profile))
        deployment.write([ACME, HOOLI, GLOBEX])
        deployment.up()
        for name in ("acme", "hooli", "globex"):
            with connect_as(deployment.connections[name]) as tenant:
                create_rows(tenant, "before_rows")
        deployment.write([{**ACME, **READONLY}, {**HOOLI, **READONLY}, GLOBEX])
        deployment.up()
        for name in ("acme", "hooli"):
            with connect_as(deployment.connections[name]) as tenant:
                create_rows(tenant, "after_rows", 4)
                tenant.execute("CREATE SEQUENCE counter")
                tenant.execute("CREATE VIEW after_view AS SELECT id, item FROM after_rows WHERE id > 2")
                tenant.execute("CREATE MATERIALIZED VIEW after_summary AS SELECT count(*) AS n FROM after_rows")
                tenant.execute("CREATE TABLE parted (id int) PARTITION BY RANGE (id)")
                tenant.execute("CREATE TABLE parted_low PARTITION OF parted FOR VALUES FROM (0) TO (100)")
                tenant.execute("INSERT INTO parted VALUES (1), (2)")
                # Code the read-only login runs when it reads: its own privileges apply inside.
                tenant.execute("CREATE FUNCTION add_row() RETURNS int LANGUAGE sql AS"
                               " 'INSERT INTO after_rows VALUES (100, ''via function'') RETURNING id'")
                # The tenant's own API: runs as its owner for whoever may call it (PUBLIC, by default).
                tenant.execute("CREATE FUNCTION add_row_as_owner() RETURNS int LANGUAGE sql SECURITY DEFINER AS"
                               " 'INSERT INTO after_rows VALUES (101, ''as the owner'') RETURNING id'")
        yield deployment
    finally:
        reset_server(pg_server)


def as_readonly(fleet, name="acme"):
    return connect_as(fleet.connections[name]["readonly"])


def read_write_session(conn):
    """What a client of the read-only login can do to its own session: writable transactions."""
    conn.execute("SET default_transaction_read_only = off")
    return conn


# ---------------------------------------------------------------- what it can do
#
# No test here is parametrized: with a module-scoped fleet per admin profile, pytest would
# interleave the profiles and deploy the fleet again for each parameter. Each test checks a
# list of statements and shows every outcome at once.


def test_read_only_login_reads_every_table_and_view_old_and_new(fleet):
    tables = ("before_rows", "after_rows", "after_view", "after_summary", "parted", "parted_low")
    seen = {}
    for name in ("acme", "hooli"):
        with as_readonly(fleet, name) as conn:
            who = conn.execute("SELECT session_user, current_user, current_schema(), current_database()").fetchone()
            seen[name] = (who, [conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(t))).fetchone()[0]
                                for t in tables])
    assert seen == {name: ((f"{name}_ro", f"{name}_ro", name, "app"), [3, 4, 2, 1, 2, 2]) for name in ("acme", "hooli")}


def test_read_only_login_is_read_only_by_default(fleet):
    with as_readonly(fleet) as conn:
        assert conn.execute("SHOW default_transaction_read_only").fetchone() == ("on",)
        assert outcomes(conn, ["INSERT INTO after_rows VALUES (10, 'x')"]) == {"INSERT INTO after_rows VALUES (10, 'x')": READ_ONLY_TRANSACTION}


def test_a_table_created_after_the_deploy_is_no_drift_for_a_refreshing_up(fleet):
    fleet.up(refresh=True)
    assert fleet.last_plan.counts() == {"same": len(fleet.last_plan.steps)}, fleet.last_plan.summary()


# ---------------------------------------------------------------- what it cannot do, even read-write


def outcomes(conn, statements) -> dict[str, str | None]:
    """Each statement in a transaction of its own, rolled back: the SQLSTATE it failed with, or None."""
    found: dict[str, str | None] = {}
    for statement in statements:
        try:
            with conn.transaction(force_rollback=True):
                conn.execute(statement)
        except psycopg.Error as error:
            found[statement] = error.sqlstate
        else:
            found[statement] = None
    return found


def assert_all_refused(fleet, statements, sqlstate=INSUFFICIENT_PRIVILEGE, name="acme"):
    with read_write_session(as_readonly(fleet, name)) as conn:
        assert conn.execute("SHOW transaction_read_only").fetchone() == ("off",)
        assert outcomes(conn, statements) == dict.fromkeys(statements, sqlstate)


def test_read_only_login_cannot_write_even_in_a_read_write_transaction(fleet):
    assert_all_refused(fleet, [
        "INSERT INTO after_rows VALUES (10, 'x')",
        "UPDATE before_rows SET item = 'changed'",
        "DELETE FROM after_rows",
        "TRUNCATE before_rows",
        "COPY after_rows FROM STDIN",
        "INSERT INTO after_view VALUES (11, 'through the view')",
        "UPDATE parted SET id = 3",
        "REFRESH MATERIALIZED VIEW after_summary",
        "SELECT add_row()",
        "SELECT * FROM before_rows FOR UPDATE",
        "LOCK TABLE after_rows IN EXCLUSIVE MODE",
    ])


def test_read_only_login_cannot_create_or_change_objects(fleet):
    assert_all_refused(fleet, [
        "CREATE TABLE mine (id int)",
        "CREATE VIEW mine AS SELECT 1",
        "CREATE FUNCTION mine() RETURNS int LANGUAGE sql AS 'SELECT 1'",
        "CREATE TEMP TABLE scratch (id int)",
        "CREATE SCHEMA mine",
        "CREATE TABLE public.mine (id int)",
        "ALTER TABLE after_rows ADD COLUMN extra int",
        "DROP TABLE before_rows",
        "CREATE INDEX mine ON after_rows (item)",
        "ALTER DEFAULT PRIVILEGES FOR ROLE acme GRANT SELECT ON TABLES TO globex_app",
    ])


def test_read_only_login_cannot_pass_on_what_it_reads(fleet):
    with read_write_session(as_readonly(fleet)) as conn:
        conn.execute("GRANT SELECT ON after_rows TO globex_app")  # PostgreSQL only warns: nothing granted
    with fleet.pg.admin_connect("app") as admin:
        assert admin.execute("SELECT has_table_privilege('globex_app', 'acme.after_rows', 'SELECT')").fetchone() == (False,)


def test_a_security_definer_function_the_tenant_wrote_writes_for_the_read_only_login_too(fleet):
    """The documented limit (README, Read-only login): such a function runs as the owner. Only the
    read-only default stops it, and the login may turn that off; verify reports each one."""
    statement = "SELECT add_row_as_owner()"
    with as_readonly(fleet) as conn:
        assert outcomes(conn, [statement]) == {statement: READ_ONLY_TRANSACTION}
        read_write_session(conn)
        with conn.transaction(force_rollback=True):
            assert conn.execute(statement).fetchone() == (101,)
            assert conn.execute("SELECT item FROM after_rows WHERE id = 101").fetchone() == ("as the owner",)


def test_read_only_login_cannot_use_sequences(fleet):
    assert_all_refused(fleet, ["SELECT nextval('counter')", "SELECT setval('counter', 42)", "SELECT * FROM counter"])


def test_read_only_login_cannot_read_another_tenant(fleet):
    assert_all_refused(fleet, ["SELECT * FROM globex_data.before_rows", "SELECT * FROM hooli.before_rows",
                               "SELECT * FROM hooli.after_view"])
    with as_readonly(fleet) as conn:
        conn.execute("SET search_path TO hooli")  # schemas without USAGE drop out of the effective path
        assert conn.execute("SELECT current_schema()").fetchone() == (None,)


def test_read_only_login_cannot_become_another_role(fleet):
    roles = ["acme", "hooli", "hooli_a", "hooli_ro", "globex_app", stack_admin(fleet).admin_user]
    with as_readonly(fleet) as conn:
        statements = [f"{verb} {sql.Identifier(role).as_string(conn)}" for role in roles
                      for verb in ("SET ROLE", "SET SESSION AUTHORIZATION")]
    assert_all_refused(fleet, statements)


def test_read_only_login_cannot_connect_to_another_database(fleet):
    assert login_refusal(fleet.pg, fleet.connections["acme"]["readonly"], dbname=fleet.pg.admin_database) == INSUFFICIENT_PRIVILEGE


# ---------------------------------------------------------------- the role, from the catalogs


def role_facts(fleet, role):
    with fleet.pg.admin_connect("app") as admin:
        return admin.execute(
            "SELECT r.rolcanlogin, r.rolinherit, r.rolsuper OR r.rolcreaterole OR r.rolcreatedb OR r.rolreplication OR r.rolbypassrls,"
            " r.rolconnlimit, (SELECT array_agg(pg_get_userbyid(roleid)) FROM pg_auth_members WHERE member = r.oid),"
            " (SELECT setconfig FROM pg_db_role_setting WHERE setrole = r.oid AND setdatabase = 0),"
            " left(a.rolpassword, 14)"
            " FROM pg_roles r JOIN pg_authid a ON a.oid = r.oid WHERE r.rolname = %s", (role,)).fetchone()


def test_read_only_role_is_a_noinherit_login_member_of_nothing_with_its_settings(fleet, admin_profile):
    login, inherit, elevated, connlimit, member_of, settings, password = role_facts(fleet, "acme_ro")
    assert (login, inherit, elevated, connlimit, member_of, password) == (True, False, False, 5, None, "SCRAM-SHA-256$")
    expected = {"search_path=acme", "statement_timeout=60000", "default_transaction_read_only=on"}
    if admin_profile == "superuser":  # the managed profile's stack sets no temp_file_limit
        expected.add("temp_file_limit=1048576")
    assert set(settings) == expected


def test_only_the_owners_default_privileges_name_the_read_only_login(fleet):
    with fleet.pg.admin_connect("app") as admin:
        rows = admin.execute(
            "SELECT pg_get_userbyid(d.defaclrole), n.nspname, d.defaclobjtype::text, pg_get_userbyid(e.grantee), e.privilege_type"
            " FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace, aclexplode(d.defaclacl) e"
            " ORDER BY 1").fetchall()
    assert rows == [("acme", "acme", "r", "acme_ro", "SELECT"), ("hooli", "hooli", "r", "hooli_ro", "SELECT")]


def test_read_only_password_never_reaches_the_server_in_plaintext(fleet):
    log = ServerLog.of(fleet.pg).since(0)  # unreadable: the test fails (tests/support/server_log.py)
    for name in ("acme", "hooli"):
        assert fleet.connections[name]["readonly"]["env"]["PGPASSWORD"] not in log


# ---------------------------------------------------------------- the tenant gains nothing by it


def test_tenant_cannot_take_over_its_read_only_login(fleet):
    statements = ["ALTER ROLE acme_ro NOLOGIN", "ALTER ROLE acme_ro SET default_transaction_read_only = off",
                  "GRANT acme_ro TO acme", "SET ROLE acme_ro", "DROP ROLE acme_ro"]
    with connect_as(fleet.connections["acme"]) as conn:
        assert outcomes(conn, statements) == dict.fromkeys(statements, INSUFFICIENT_PRIVILEGE)


def test_read_only_login_holds_no_privilege_its_owner_lacks(fleet):
    """Everything granted to acme_ro is on acme's own schema, its objects and its database."""
    with fleet.pg.admin_connect("app") as admin:
        outside = admin.execute(
            "SELECT 'database ' || datname FROM pg_database, aclexplode(coalesce(datacl, acldefault('d', datdba))) e"
            " WHERE e.grantee = 'acme_ro'::regrole AND datname <> 'app'"
            " UNION ALL SELECT 'schema ' || nspname FROM pg_namespace, aclexplode(nspacl) e"
            " WHERE e.grantee = 'acme_ro'::regrole AND nspname <> 'acme'"
            " UNION ALL SELECT c.oid::regclass::text || ' ' || e.privilege_type FROM pg_class c, aclexplode(c.relacl) e"
            " WHERE e.grantee = 'acme_ro'::regrole AND (c.relnamespace <> 'acme'::regnamespace OR e.privilege_type <> 'SELECT'"
            "   OR c.relkind = 'S')").fetchall()
    assert outside == []


def test_a_membership_the_tenant_gives_its_read_only_login_goes_with_a_refreshing_up(fleet):
    """PostgreSQL 14 and older let a login role grant itself (test_escalation's self-grant test):
    there the tenant can make its read-only login a member of its owner, its own choice to share
    its own privileges (verify: unexpected_membership). `pulumi up --refresh` takes it away: the
    Role's refresh reads the membership and its update revokes every membership of the role.
    15 and later refuse the grant."""
    with connect_as(fleet.connections["acme"]) as tenant:
        if fleet.pg.major <= 14:
            tenant.execute("GRANT acme TO acme_ro")
        else:
            assert outcomes(tenant, ["GRANT acme TO acme_ro"]) == {"GRANT acme TO acme_ro": INSUFFICIENT_PRIVILEGE}
    fleet.up(refresh=True)
    with fleet.pg.admin_connect() as admin:
        member_of = admin.execute("SELECT count(*) FROM pg_auth_members WHERE member = 'acme_ro'::regrole").fetchone()
    assert member_of == (0,)
    assert_all_refused(fleet, ["SET ROLE acme"])
