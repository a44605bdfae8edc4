"""A tenant's read-only login through rotation, suspension, offboarding, removal and purge.

Each test deploys its own stack (`deployment`: a fresh database `app`, reset after), on both
admin profiles, and logs in with the exported credentials.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from tests.support.deployment import ADMIN_PROFILES, Deployment, connect_as, login_refusal

ADMIN_PROFILES = ADMIN_PROFILES

ACME = {"name": "acme", "connection_limit": 5, "statement_timeout": 60000}
GLOBEX = {"name": "globex", "schema": "globex_data", "username": "globex_app"}
READONLY = {"readonly_login": True}
INVALID_PASSWORD = "28P01"
LOGIN_NOT_PERMITTED = "28000"


def create_rows(conn, table, count=3):
    conn.execute(sql.SQL("CREATE TABLE {} (id int PRIMARY KEY, item text)").format(sql.Identifier(table)))
    conn.execute(sql.SQL("INSERT INTO {} SELECT g, 'item ' || g FROM generate_series(1, %s) g").format(sql.Identifier(table)), (count,))


def read_write_session(conn: psycopg.Connection) -> psycopg.Connection:
    conn.execute("SET default_transaction_read_only = off")
    return conn


def deploy_with_rows(deployment: Deployment, *entries) -> dict:
    deployment.write(list(entries))
    deployment.up()
    with connect_as(deployment.connections["acme"]) as tenant:
        create_rows(tenant, "orders")
    return deployment.connections["acme"]


def read_orders(formats) -> int:
    with connect_as(formats) as conn:
        return conn.execute("SELECT count(*) FROM orders").fetchone()[0]


def test_read_only_password_is_kept_through_suspension_and_renewed_alone_by_readonly_rotation(deployment):
    credentials = deploy_with_rows(deployment, {**ACME, **READONLY})
    deployment.write([{**ACME, **READONLY, "state": "suspended"}])
    deployment.up()
    assert login_refusal(deployment.pg, credentials["readonly"]) == LOGIN_NOT_PERMITTED
    deployment.write([{**ACME, **READONLY}])
    deployment.up()
    assert deployment.connections["acme"] == credentials
    deployment.write([{**ACME, **READONLY, "readonly_rotation": 1}])
    deployment.up()
    rotated = deployment.connections["acme"]
    assert {k: v for k, v in rotated.items() if k != "readonly"} == {k: v for k, v in credentials.items() if k != "readonly"}
    assert login_refusal(deployment.pg, credentials["readonly"]) == INVALID_PASSWORD
    assert (read_orders(rotated["readonly"]), read_orders(credentials)) == (3, 3)


def large_object_owner(deployment, oid):
    with deployment.pg.admin_connect("app") as admin:
        row = admin.execute("SELECT pg_get_userbyid(lomowner) FROM pg_largeobject_metadata WHERE oid = %s", (oid,)).fetchone()
    return None if row is None else row[0]


def make_large_object(formats) -> int:
    """PostgreSQL needs no privilege to create a large object: the read-only login can own one."""
    with read_write_session(connect_as(formats)) as conn:
        return conn.execute("SELECT lo_from_bytea(0, 'made by the read-only login')").fetchone()[0]


def roles_left(deployment, *roles):
    with deployment.pg.admin_connect() as admin:
        return [r[0] for r in admin.execute("SELECT rolname FROM pg_roles WHERE rolname = ANY(%s) ORDER BY 1", (list(roles),))]


def test_offboarding_drops_the_read_only_login_and_hands_what_it_made_to_the_owner(deployment):
    credentials = deploy_with_rows(deployment, {**ACME, **READONLY})
    oid = make_large_object(credentials["readonly"])
    deployment.write([{**ACME, **READONLY, "state": "offboarded"}])
    deployment.up()
    assert roles_left(deployment, "acme", "acme_ro") == ["acme"]
    assert large_object_owner(deployment, oid) == "acme"
    with deployment.pg.admin_connect("app") as admin:
        assert admin.execute("SELECT count(*) FROM acme.orders").fetchone() == (3,)
        assert admin.execute("SELECT count(*) FROM pg_default_acl").fetchone() == (0,)


def test_turning_the_read_only_login_off_removes_it_and_its_default_privileges(deployment):
    credentials = deploy_with_rows(deployment, {**ACME, **READONLY})
    deployment.write([ACME])
    deployment.up()
    assert roles_left(deployment, "acme_ro") == []
    assert "readonly" not in deployment.connections["acme"]
    with connect_as(credentials) as tenant:  # the tenant's own work goes on
        create_rows(tenant, "later")
    with deployment.pg.admin_connect("app") as admin:
        assert admin.execute("SELECT count(*) FROM pg_default_acl").fetchone() == (0,)


def test_purge_drops_the_read_only_login_with_what_it_made(deployment):
    credentials = deploy_with_rows(deployment, {**ACME, **READONLY, "on_remove": "purge"}, GLOBEX)
    oid = make_large_object(credentials["readonly"])
    deployment.write([GLOBEX])
    deployment.up()
    assert roles_left(deployment, "acme", "acme_ro") == []
    assert large_object_owner(deployment, oid) is None
