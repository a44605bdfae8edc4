"""The engine model with the real program: what `pulumi up`, `pulumi refresh` and `pulumi up
--refresh` do with changes made on the server by hand.

`Deployment.up()` plans from the stored state, as `pulumi up` does: drift is invisible until a
refresh (pulumi pkg/resource/deploy/step.go:RefreshStep.Apply) reads every resource back
(the provider's Read; for pulumi-postgresql, TF resource_postgresql_*.go Read functions).
"""

from __future__ import annotations

import pytest
from psycopg import sql

from tests.support.deployment import connect_as, login_refusal
from tests.support.engine_plan import EngineError

ACME = {"name": "acme"}


def role_row(pg, role):
    with pg.admin_connect() as admin:
        return admin.execute(
            "SELECT rolconnlimit, rolcanlogin, rolconfig FROM pg_roles WHERE rolname = %s", (role,)
        ).fetchone()


def tamper(pg, *statements):
    with pg.admin_connect("app") as admin:
        for statement in statements:
            admin.execute(statement)


def changes(deployment):
    return sorted((s.op, s.name, s.changed) for s in deployment.last_plan.steps if s.op != "same")


def test_drift_made_by_hand_is_invisible_to_up_and_repaired_by_up_with_refresh(deployment):
    deployment.write([{**ACME, "connection_limit": 5}])
    deployment.up()
    before = role_row(deployment.pg, "acme")
    tamper(deployment.pg, "ALTER ROLE acme CONNECTION LIMIT 99", "ALTER ROLE acme RESET search_path",
           "REVOKE CONNECT ON DATABASE app FROM acme", "REVOKE CREATE ON SCHEMA acme FROM acme")
    deployment.up()
    assert changes(deployment) == []  # planned from the stored state: nothing to do
    assert role_row(deployment.pg, "acme")[0] == 99
    assert login_refusal(deployment.pg, deployment.connections["acme"]) is not None
    deployment.up(refresh=True)
    assert changes(deployment) == [
        ("update", "acme-database-connect", ("privileges",)),
        ("update", "acme-role", ("connectionLimit", "searchPaths")),
        ("update", "acme-schema-usage", ("privileges",)),
    ]
    after = role_row(deployment.pg, "acme")
    assert after[:2] == before[:2] and sorted(after[2]) == sorted(before[2])
    assert login_refusal(deployment.pg, deployment.connections["acme"]) is None
    with connect_as(deployment.connections["acme"]) as conn:
        conn.execute("CREATE TABLE repaired (id int)")  # CREATE on its schema is back
    deployment.up(refresh=True)
    assert changes(deployment) == []


def test_refresh_stores_what_it_read_and_the_next_up_repairs_it(deployment):
    deployment.write([ACME])
    deployment.up()
    tamper(deployment.pg, "ALTER ROLE acme CONNECTION LIMIT 99")
    state = deployment.refresh()
    role = next(r for r in state.resources if r.name == "acme-role")
    assert role.state["connectionLimit"] == 99
    deployment.up()
    assert changes(deployment) == [("update", "acme-role", ("connectionLimit",))]
    assert role_row(deployment.pg, "acme")[0] == 20  # the stack's defaultConnectionLimit


def test_up_with_refresh_whose_preview_fails_stores_nothing(deployment):
    deployment.write([ACME])
    deployment.up()
    tamper(deployment.pg, "ALTER ROLE acme CONNECTION LIMIT 99")
    deployment.write([])  # removing an active tenant: refused by the preview (protect)
    with pytest.raises(EngineError, match="protected"):
        deployment.up(refresh=True)
    role = next(r for r in deployment.state.resources if r.name == "acme-role")
    assert role.state["connectionLimit"] == 20


def drop_the_role_and_adopt(deployment):
    """Drop the tenant's role by hand; the program then refuses the orphaned schema unless the
    tenant says `adopt` (its fix message), which keeps the schema and creates the role."""
    tamper(deployment.pg, "DROP OWNED BY acme", "DROP ROLE acme")
    deployment.write([{**ACME, "adopt": True}])


def test_a_role_dropped_by_hand_comes_back_with_its_grants_on_up_with_refresh(deployment):
    deployment.write([ACME])
    deployment.up()
    credentials = deployment.connections["acme"]
    drop_the_role_and_adopt(deployment)
    deployment.up(refresh=True)
    created = {name for op, name, _ in changes(deployment) if op == "create"}
    assert {"acme-role", "acme-schema-usage", "acme-database-connect"} <= created
    # The generated password and its salt are unchanged, so the same credentials log in.
    assert deployment.connections["acme"] == credentials
    assert login_refusal(deployment.pg, credentials) is None


def test_a_role_dropped_by_hand_gets_its_temp_file_limit_back_on_up_with_refresh(deployment):
    """The temp_file_limit resource is dynamic and its provider has no read(): the SDK's
    default Read returns the stored outputs unchanged (pulumi/dynamic/dynamic.py:read), so no
    refresh ever sees that the setting went away with the role, and nothing sets it again."""
    deployment.write([ACME])
    deployment.up()
    drop_the_role_and_adopt(deployment)
    deployment.up(refresh=True)
    config = role_row(deployment.pg, "acme")[2] or []
    assert any(entry.startswith("temp_file_limit=") for entry in config), config


def test_a_schema_grant_revoked_by_hand_shows_as_drift_of_the_grant_only(deployment):
    deployment.write([ACME])
    deployment.up()
    tamper(deployment.pg, sql.SQL("REVOKE ALL ON SCHEMA acme FROM acme"))
    deployment.refresh()
    deployment.up()
    assert changes(deployment) == [("update", "acme-schema-usage", ("privileges",))]
