"""Isolation tiers, proven by logging in: what a silo tenant (`isolation: database`) and a pool
tenant (`isolation: schema`) can learn of, or do to, the other tenants of their server.

One mixed fleet per admin profile: pool tenants acme and globex share the database `app`; silo
tenants initech (with a read-only login) and umbrella (zero-downtime login slots, database
`umbrella_db`) each have their own. Every channel is tried both ways, so the README's table ("Choosing an isolation tier") is
backed for both tiers: what stays open between pool tenants, what a database of one's own
closes, and what stays shared whatever the tier (server-wide catalogs and statistics).
"""

from __future__ import annotations

import re
import time

import psycopg
import pytest
from psycopg import sql

from tests.support.deployment import (
    ADMIN_PROFILES,
    MANAGED,
    Deployment,
    connect_as,
    create_tenant_database,
    login_refusal,
    prepare_admin,
    reset_server,
    stack_admin,
    stack_for,
)
from tests.postgres.test_verify_on_deployed_fleets import fleet_findings, run_verify

ADMIN_PROFILES = ADMIN_PROFILES
INSUFFICIENT_PRIVILEGE = "42501"

FLEET = [
    {"name": "acme"},
    {"name": "globex"},
    {"name": "initech", "isolation": "database", "readonly_login": True},
    {"name": "umbrella", "isolation": "database", "database": "umbrella_db", "zero_downtime_rotation": True},
]
DATABASE = {"acme": "app", "globex": "app", "initech": "initech", "umbrella": "umbrella_db"}
SILOS = ("initech", "umbrella")
# (silo tenant, another tenant): every other tenant, pool or silo, seen from each silo.
SILO_PAIRS = [(silo, other) for silo in SILOS for other in DATABASE if other != silo]


def silos_refused(pg, profile) -> bool:
    """A managed admin on 14 and older cannot take PUBLIC's CREATE on `public` of a database it
    creates; silo tenants are refused there (test_silo_lifecycle.py proves the refusal)."""
    return profile == MANAGED and pg.major < 15


@pytest.fixture(scope="module")
def fleet(pg_server, admin_profile, new_deployment, tmp_path_factory):
    if silos_refused(pg_server, admin_profile):
        pytest.skip("silo tenants are refused under a managed admin on PostgreSQL 14 and older (proven by the refusal test)")
    admin = prepare_admin(pg_server, admin_profile)
    try:
        create_tenant_database(pg_server, admin, "app")
        deployment = new_deployment(pg_server, stack_for(admin, tmp_path_factory.mktemp("silo") / "tenants", "app", profile=admin_profile))
        deployment.write(FLEET)
        deployment.up(parallelism=10)
        for name in DATABASE:
            with as_tenant(deployment, name) as conn:
                plant_secrets(conn, name)
        yield deployment
    finally:
        reset_server(pg_server)


def as_tenant(fleet: Deployment, name: str, **params) -> psycopg.Connection:
    conn = connect_as(fleet.connections[name])
    for key, value in params.items():
        conn.execute(sql.SQL("SET {} = {}").format(sql.Identifier(key), sql.Literal(value)))
    return conn


def plant_secrets(conn: psycopg.Connection, name: str) -> None:
    """What a tenant keeps to itself: names, code, a view, a comment, rows (counted by ANALYZE)."""
    conn.execute(sql.SQL("CREATE TABLE {} (id int, {} text)").format(sql.Identifier(f"{name}_ledger"), sql.Identifier(f"{name}_iban")))
    conn.execute(sql.SQL("INSERT INTO {} SELECT g, 'x' FROM generate_series(1, 500) g").format(sql.Identifier(f"{name}_ledger")))
    conn.execute(sql.SQL("COMMENT ON TABLE {} IS {}").format(sql.Identifier(f"{name}_ledger"), sql.Literal(f"{name} comment")))
    conn.execute(sql.SQL("CREATE FUNCTION {}() RETURNS text LANGUAGE sql AS {}").format(
        sql.Identifier(f"{name}_pricing"), sql.Literal(f"SELECT '{name} source'::text")))
    conn.execute(sql.SQL("CREATE VIEW {} AS SELECT id AS {} FROM {}").format(
        sql.Identifier(f"{name}_report"), sql.Identifier(f"{name}_view_column"), sql.Identifier(f"{name}_ledger")))
    conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(f"{name}_ledger")))


def catalog_view(conn: psycopg.Connection, name: str) -> dict[str, object]:
    """Everything the catalogs of the connected database say about tenant `name`'s objects."""
    ledger = f"{name}_ledger"
    return {
        "tables": conn.execute("SELECT relname FROM pg_class WHERE relname LIKE %s", (f"{name}_%",)).fetchall(),
        "columns": conn.execute("SELECT attname FROM pg_attribute WHERE attname = %s", (f"{name}_iban",)).fetchall(),
        "function source": conn.execute("SELECT prosrc FROM pg_proc WHERE proname = %s", (f"{name}_pricing",)).fetchall(),
        "view definition": conn.execute("SELECT definition FROM pg_views WHERE viewname = %s", (f"{name}_report",)).fetchall(),
        "comments": conn.execute("SELECT description FROM pg_description WHERE description = %s", (f"{name} comment",)).fetchall(),
        "row count and size": conn.execute(
            "SELECT reltuples, pg_relation_size(oid) FROM pg_class WHERE relname = %s", (ledger,)).fetchall(),
    }


# ---------------------------------------------------------------- the channels


def test_catalogs_show_other_pool_tenants_and_nothing_of_other_databases(fleet):
    with as_tenant(fleet, "acme") as pool:
        seen = catalog_view(pool, "globex")
    assert all(seen.values()), seen  # pool: names, code, views, comments, row counts and sizes
    assert seen["row count and size"][0][0] == 500
    for silo, other in SILO_PAIRS:
        with as_tenant(fleet, silo) as conn:
            assert not any(catalog_view(conn, other).values()), (silo, other)
        with as_tenant(fleet, other) as conn:
            assert not any(catalog_view(conn, silo).values()), (other, silo)


def test_server_wide_catalogs_stay_shared_whatever_the_tier(fleet):
    """Observed, not assumed: role and database names, the other databases' statistics, and
    every session's role, database and application name. Query text stays hidden."""
    with as_tenant(fleet, "globex", application_name="globex-billing") as watched:
        watched.execute("SELECT 'globex private query'")
        with as_tenant(fleet, "initech") as silo:
            roles = {r[0] for r in silo.execute("SELECT rolname FROM pg_roles")}
            databases = {r[0] for r in silo.execute("SELECT datname FROM pg_database")}
            app_stats = silo.execute("SELECT xact_commit > 0 FROM pg_stat_database WHERE datname = 'app'").fetchone()
            sessions = silo.execute("SELECT datname, usename, application_name, query FROM pg_stat_activity "
                                    "WHERE application_name = 'globex-billing'").fetchall()
            with pytest.raises(psycopg.Error) as size:
                silo.execute("SELECT pg_database_size('app')")
    assert {"acme", "globex", "umbrella_a"} <= roles and {"app", "umbrella_db"} <= databases
    assert app_stats == (True,)
    assert sessions == [("app", "globex", "globex-billing", "<insufficient privilege>")]
    assert size.value.sqlstate == INSUFFICIENT_PRIVILEGE


def test_notify_reaches_pool_listeners_and_never_crosses_a_database(fleet):
    """Every tenant listens on one channel and sends on it: each hears what was sent in its own
    database only (for pool tenants, each other's: receiving and forging both work)."""
    conns = {name: as_tenant(fleet, name) for name in DATABASE}
    try:
        for conn in conns.values():
            conn.execute("LISTEN orders")
        for name, conn in conns.items():
            conn.execute(sql.SQL("NOTIFY orders, {}").format(sql.Literal(f"from {name}")))
        time.sleep(0.2)  # delivery is asynchronous: let the senders' commits reach the listeners
        heard = {name: sorted(n.payload for n in conn.notifies(timeout=0.3, stop_after=10)) for name, conn in conns.items()}
    finally:
        for conn in conns.values():
            conn.close()
    assert heard == {"acme": ["from acme", "from globex"], "globex": ["from acme", "from globex"],
                     "initech": ["from initech"], "umbrella": ["from umbrella"]}


def test_advisory_locks_block_pool_tenants_and_never_cross_a_database(fleet):
    key = 4242
    with as_tenant(fleet, "acme") as holder, as_tenant(fleet, "globex") as other:
        holder.execute("SELECT pg_advisory_lock(%s)", (key,))
        assert other.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone() == (False,)
    for silo, other_name in SILO_PAIRS:
        with as_tenant(fleet, silo) as conn_silo, as_tenant(fleet, other_name) as conn_other:
            conn_silo.execute("SELECT pg_advisory_lock(%s)", (key,))
            conn_other.execute("SELECT pg_advisory_lock(%s)", (key + 1,))
            assert conn_other.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone() == (True,), (other_name, silo)
            assert conn_silo.execute("SELECT pg_try_advisory_lock(%s)", (key + 1,)).fetchone() == (True,), (silo, other_name)


_NOT_REMOVABLE = re.compile(r"(\d+) (?:are dead but not yet removable|dead row versions cannot be removed yet)")


def dead_rows_kept_by_vacuum(fleet: Deployment, victim: str, holder: str) -> int:
    """`holder` keeps an idle transaction open while `victim` deletes its rows and vacuums them:
    how many dead rows VACUUM had to keep (its VERBOSE report, 13's wording and 14+'s)."""
    table = sql.Identifier(f"{victim}_ledger")
    with as_tenant(fleet, holder) as idle, as_tenant(fleet, victim) as conn:
        idle.autocommit = False
        idle.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        idle.execute("SELECT txid_current()")
        conn.execute(sql.SQL("DELETE FROM {} WHERE id <= 100").format(table))
        reports: list[str] = []
        conn.add_notice_handler(lambda d: reports.append(f"{d.message_primary} {d.message_detail or ''}"))
        conn.execute(sql.SQL("VACUUM (VERBOSE) {}").format(table))
        conn.execute(sql.SQL("INSERT INTO {} SELECT g, 'x' FROM generate_series(1, 100) g").format(table))
        idle.rollback()
    kept = [int(m.group(1)) for report in reports for m in _NOT_REMOVABLE.finditer(report)]
    assert kept, reports
    return max(kept)


def test_an_idle_transaction_holds_back_vacuum_in_its_database_only(fleet):
    assert dead_rows_kept_by_vacuum(fleet, victim="globex", holder="acme") == 100
    for silo, other in SILO_PAIRS:
        assert dead_rows_kept_by_vacuum(fleet, victim=other, holder=silo) == 0, (silo, other)
        assert dead_rows_kept_by_vacuum(fleet, victim=silo, holder=other) == 0, (other, silo)


# ---------------------------------------------------------------- the silo database itself


def test_silo_tenants_connect_to_their_own_database_only(fleet):
    for name, database in DATABASE.items():
        with as_tenant(fleet, name) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == (database,)
    for silo, other in SILO_PAIRS:
        assert login_refusal(fleet.pg, fleet.connections[silo], dbname=DATABASE[other]) == INSUFFICIENT_PRIVILEGE
        assert login_refusal(fleet.pg, fleet.connections[other], dbname=DATABASE[silo]) == INSUFFICIENT_PRIVILEGE


def test_silo_tenant_can_neither_drop_alter_nor_open_its_database(fleet):
    for silo in SILOS:
        assert_cannot_drop_alter_or_open(fleet, silo)


def assert_cannot_drop_alter_or_open(fleet, silo):
    database = sql.Identifier(DATABASE[silo])
    with as_tenant(fleet, silo) as conn:
        for statement in ("DROP DATABASE {}", "ALTER DATABASE {} RENAME TO stolen", "ALTER DATABASE {} OWNER TO CURRENT_USER",
                          "ALTER DATABASE {} SET search_path = public", "ALTER DATABASE {} CONNECTION LIMIT 1"):
            with pytest.raises(psycopg.Error) as refused:
                conn.execute(sql.SQL(statement).format(database))
            assert refused.value.sqlstate == INSUFFICIENT_PRIVILEGE, statement
        # Not the owner, no grant option: refused outright when the current role holds nothing on
        # the database (a zero-downtime tenant acts as its owner role), else a WARNING that
        # changes nothing; either way acme still cannot connect (below).
        try:
            conn.execute(sql.SQL("GRANT CONNECT, TEMPORARY ON DATABASE {} TO acme, PUBLIC").format(database))
        except psycopg.Error as refused:
            assert refused.sqlstate == INSUFFICIENT_PRIVILEGE
        with pytest.raises(psycopg.Error) as public_create:
            conn.execute("CREATE TABLE public.planted (id int)")
    assert public_create.value.sqlstate == INSUFFICIENT_PRIVILEGE
    assert login_refusal(fleet.pg, fleet.connections["acme"], dbname=DATABASE[silo]) == INSUFFICIENT_PRIVILEGE


def test_silo_database_is_the_admins_with_connect_for_the_tenants_logins_only_and_holds_only_tenant_objects(fleet):
    for silo in SILOS:
        assert_closed_database(fleet, silo)


def assert_closed_database(fleet, silo):
    admin = stack_admin(fleet).admin_user
    logins = {"initech": {"initech", "initech_ro"}, "umbrella": {"umbrella_a", "umbrella_b"}}[silo]
    with fleet.pg.admin_connect(DATABASE[silo]) as su:
        owner, acl = su.execute("SELECT pg_get_userbyid(datdba), ARRAY(SELECT (CASE WHEN e.grantee = 0 THEN 'PUBLIC' ELSE "
                                "pg_get_userbyid(e.grantee) END) || ':' || e.privilege_type FROM aclexplode(datacl) e) "
                                "FROM pg_database WHERE datname = current_database()").fetchone()
        public_create = su.execute("SELECT has_schema_privilege('public', 'public', 'CREATE')").fetchone()
        # Copied from template0: no object but the tenant's own outside the system schemas.
        owners = {r[0] for r in su.execute(
            "SELECT pg_get_userbyid(c.relowner) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') UNION "
            "SELECT pg_get_userbyid(p.proowner) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')")}
    assert owner == admin
    assert {entry for entry in acl if not entry.startswith(f"{admin}:")} == {f"{login}:CONNECT" for login in logins}
    assert public_create == (False,)
    assert owners == {silo}


# ---------------------------------------------------------------- verify


def test_verify_passes_the_mixed_fleet_and_finds_a_stranger_let_into_a_silo_database(fleet, admin_profile, tmp_path, monkeypatch):
    assert fleet_findings(run_verify(fleet, tmp_path, monkeypatch), admin_profile) == []
    with fleet.pg.admin_connect() as su:
        su.execute("CREATE ROLE intruder LOGIN")
        su.execute("GRANT CONNECT ON DATABASE initech TO intruder")
        su.execute("GRANT CONNECT ON DATABASE umbrella_db TO acme")
    try:
        found = fleet_findings(run_verify(fleet, tmp_path, monkeypatch), admin_profile)
    finally:
        with fleet.pg.admin_connect() as su:
            su.execute("REVOKE CONNECT ON DATABASE umbrella_db FROM acme")
            su.execute("REVOKE CONNECT ON DATABASE initech FROM intruder")
            su.execute("DROP ROLE intruder")
    assert sorted(found) == [("acme", "can_connect_other_database"), ("initech", "own_database_connect")]
