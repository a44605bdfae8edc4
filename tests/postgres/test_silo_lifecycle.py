"""A silo tenant's lifecycle on a real server, and where silo tenants are refused.

Offboarding keeps its database with its data; purge drops it in two reviewed changes; through
all of it (and the admin's ANALYZE and VACUUM) the escalation payloads of
tests/support/payloads.py, planted by the silo tenants, never run as anyone but themselves.
"""

from __future__ import annotations

import pytest
from psycopg import sql

from tests.postgres.test_silo_isolation import as_tenant, silos_refused
from tests.support.deployment import ADMIN_PROFILES, MANAGED, stack_admin
from tests.support.payloads import Tenant, create_evidence_table, evidence, payload_runs, plant_all
from tests.support.server_log import ServerLog

ADMIN_PROFILES = ADMIN_PROFILES


def test_silo_tenant_is_refused_where_public_cannot_be_closed(deployment, admin_profile):
    if not silos_refused(deployment.pg, admin_profile):
        pytest.skip("only a managed admin on PostgreSQL 14 and older is refused")
    deployment.write([{"name": "initech", "isolation": "database"}])
    with pytest.raises(Exception, match="schema public belongs to the bootstrap superuser"):
        deployment.up()
    with deployment.pg.admin_connect() as su:
        assert su.execute("SELECT 1 FROM pg_database WHERE datname = 'initech'").fetchone() is None


RETAINED = {"name": "initech", "isolation": "database"}
PURGED = {"name": "hooli", "isolation": "database", "zero_downtime_rotation": True}


def test_silo_lifecycle_never_runs_tenant_code_as_the_admin_and_keeps_or_purges_the_database(deployment, admin_profile):
    """Payloads planted by two silo tenants (tests/support/payloads.py); then one is offboarded
    and removed (its database stays, with its data), the other purged in two changes (its
    database goes), with the admin's ANALYZE and VACUUM after every change."""
    if silos_refused(deployment.pg, admin_profile):
        pytest.skip("silo tenants are refused under a managed admin on PostgreSQL 14 and older")
    pg, admin = deployment.pg, stack_admin(deployment).admin_user
    log = ServerLog.of(pg)  # whether and as whom tenant code ran is read from it: unreadable fails
    offset = log.size()
    deployment.write([RETAINED, PURGED])
    deployment.up()
    for name, login in (("initech", "initech"), ("hooli", "hooli")):
        with pg.admin_connect(name) as su:
            create_evidence_table(su)
        with as_tenant(deployment, login) as conn:
            plant_all(conn, Tenant(schema=name, owner=name, roles=(name, f"{name}_a", f"{name}_b"), admin=admin))
            conn.execute("CREATE TABLE kept (v text)")
            conn.execute("INSERT INTO kept VALUES ('still here')")
    for step in ([{**RETAINED, "state": "offboarded"}, {**PURGED, "on_remove": "purge"}], []):
        deployment.write(step)
        deployment.up()
        with pg.admin_connect("initech") as su:
            su.execute("ANALYZE")
            su.execute("VACUUM ANALYZE")
            assert su.execute("SELECT v FROM initech.kept").fetchall() == [("still here",)]
            assert evidence(su) == []
            assert su.execute("SELECT rolcanlogin FROM pg_roles WHERE rolname = 'initech'").fetchone() == (False,)
            assert su.execute("SELECT has_database_privilege('initech', 'initech', 'CONNECT')").fetchone() == (False,)
    with pg.admin_connect() as su:
        assert su.execute("SELECT datname FROM pg_database WHERE datname IN ('initech', 'hooli')").fetchall() == [("initech",)]
        assert su.execute("SELECT rolname FROM pg_roles WHERE rolname LIKE 'hooli%'").fetchall() == []
        assert su.execute("SELECT rolsuper, rolcreaterole, rolbypassrls FROM pg_roles WHERE rolname = 'initech'").fetchone() == (
            False, False, False)
    runs = payload_runs(log, offset)
    assert runs and {current for _kind, current, _session in runs} <= {"initech", "hooli"}, runs


def test_a_silo_tenant_whose_database_exists_already_is_refused_before_anything_changes(deployment, admin_profile):
    if silos_refused(deployment.pg, admin_profile):
        pytest.skip("silo tenants are refused under a managed admin on PostgreSQL 14 and older")
    with deployment.pg.admin_connect() as su:
        su.execute("CREATE DATABASE initech")
    deployment.write([RETAINED])
    with pytest.raises(Exception, match="initech.database: database 'initech' already exists on server 'main' and is not this tenant's"):
        deployment.up()
    with deployment.pg.admin_connect() as su:
        assert su.execute("SELECT 1 FROM pg_roles WHERE rolname = 'initech'").fetchone() is None


def test_a_silo_tenant_is_refused_when_the_admin_cannot_create_databases(deployment, admin_profile):
    if admin_profile != MANAGED:
        pytest.skip("a superuser can create databases")
    with deployment.pg.admin_connect() as su:
        su.execute(sql.SQL("ALTER ROLE {} NOCREATEDB").format(sql.Identifier(stack_admin(deployment).admin_user)))
    deployment.write([RETAINED])
    with pytest.raises(Exception, match="is neither a superuser nor CREATEDB, so it cannot create the tenant's own database 'initech'"):
        deployment.up()
