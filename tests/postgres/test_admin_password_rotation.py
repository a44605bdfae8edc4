"""The admin password rotation the README describes (Production setup): change it on the server,
store it in the stack, `pulumi up` without `--refresh`. Only the providers and the dynamic
resources change, the tenants keep logging in, and the next `pulumi up --refresh` is empty;
a refresh before that `up` reads with the password the state stored, and fails."""

from __future__ import annotations

import secrets

import psycopg
import pytest
from psycopg import sql

from pg_tenants.credentials.scram import scram_sha256_verifier
from tests.support import engine_plan
from tests.support.deployment import MANAGED, SUPERUSER, connect_as, stack_admin
from tests.support.program_run import DYNAMIC, POSTGRES_PROVIDER

ADMIN_PROFILES = (SUPERUSER, MANAGED)  # the `deployment` fixture runs with each admin in turn
TENANTS = [{"name": "acme"}, {"name": "globex", "zero_downtime_rotation": True}]


def set_password(conn: psycopg.Connection, role: str, password: str) -> None:
    # A verifier computed here: the plaintext never reaches the server or its log.
    verifier = scram_sha256_verifier(password, secrets.token_bytes(16))
    conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(role), sql.Literal(verifier)))


@pytest.fixture
def rotated(deployment):
    """A deployed fleet whose admin password was just changed on the server (README step 2),
    restored afterwards over a session opened before the change."""
    deployment.write(TENANTS)
    deployment.up()
    server = deployment.stack.servers["main"]
    admin, old = server["adminUsername"], deployment.stack.secrets[server["adminPasswordSecret"]]
    new = "rotated-" + secrets.token_urlsafe(24)
    with deployment.pg.admin_connect() as keep:
        set_password(keep, admin, new)
        try:
            yield deployment, new
        finally:
            set_password(keep, admin, old)


def test_the_readme_rotation_changes_only_the_admin_login_and_leaves_a_clean_stack(rotated):
    """One procedure, in the README's order: its steps depend on each other."""
    deployment, new = rotated
    before = deployment.connections
    deployment.stack.secrets["mainAdminPassword"] = new  # step 3

    # The refresh reads with the providers as the state stores them: the old password.
    with pytest.raises(engine_plan.ApplyError, match="password authentication failed"):
        deployment.up(refresh=True)

    deployment.up()  # step 4: no refresh
    plan = deployment.last_plan
    assert plan is not None
    changed = [s for s in [*plan.steps, *plan.deletes] if s.op != "same"]
    assert changed and {s.op for s in changed} == {"update"}
    assert {s.type for s in changed} == {POSTGRES_PROVIDER, DYNAMIC}
    assert {s.changed for s in changed} == {("password",)}

    deployment.up(refresh=True)  # step 5: the state now holds the new password
    plan = deployment.last_plan
    assert plan is not None and [s for s in [*plan.steps, *plan.deletes] if s.op != "same"] == []
    assert deployment.connections == before
    for name in ("acme", "globex"):
        with connect_as(before[name]) as conn:
            assert conn.execute("SELECT current_user").fetchone()[0] in (name, f"{name}_a", f"{name}_b")
    with stack_admin(deployment).admin_connect() as admin:  # the stack's admin, with the new password
        assert admin.execute("SELECT current_user").fetchone() is not None
