"""Engine tier: a tenant moves between two stacks of a sharded fleet with the real `pulumi state move`.

The commands are the ones `pg-tenants move-plan` prints, run as printed. Afterwards neither
stack's `pulumi up` creates, replaces or deletes anything, and the tenant's role and schema
in PostgreSQL are the same objects (same OIDs) that the source stack created.
Runs wherever `pulumi` is on PATH; elsewhere it is skipped with that reason.
"""

from __future__ import annotations

import io
import os
import subprocess

import pytest

from pg_tenants.cli import main
from tests.support.deployment import create_database, reset_server, stack_for
from tests.support.engine_stack import CLI_MISSING, CliDeployment, cli_available
from tests.support.stack import write_tenant_file

pytestmark = pytest.mark.skipif(not cli_available(), reason=CLI_MISSING)

TENANTS = [{"name": "acme", "server": "main"}, {"name": "hooli", "server": "main", "shard": "eu-2"}]


def oids(pg_server, name: str) -> tuple[int, int]:
    with pg_server.admin_connect(dbname="app") as admin:
        role = admin.execute("SELECT oid FROM pg_roles WHERE rolname = %s", (name,)).fetchone()
        schema = admin.execute("SELECT oid FROM pg_namespace WHERE nspname = %s", (name,)).fetchone()
    assert role and schema, name
    return role[0], schema[0]


def move_plan(project, *args: str) -> list[str]:
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(project)
        assert main(["move-plan", *args], stdout=out) == 0, out.getvalue()
    return [line for line in out.getvalue().splitlines() if not line.startswith("#")]


def tenant_urns(deployment: CliDeployment) -> set[str]:
    return {r.urn for r in deployment.state.resources if r.type == "pg-tenants:index:Tenant"}


@pytest.fixture(scope="module")
def fleet(pg_server, tmp_path_factory):
    create_database(pg_server, "app")
    project = tmp_path_factory.mktemp("state-move") / "project"
    tenants_dir = project.parent / "tenants"
    home = stack_for(pg_server, tenants_dir, "app")
    home.settings["shard"] = {"name": "eu-1", "servers": ["main"]}
    visitor = stack_for(pg_server, tenants_dir, "app")
    visitor.settings["shard"] = {"name": "eu-2"}
    eu1 = CliDeployment(pg_server, home, project, stack_name="eu-1")
    eu2 = CliDeployment(pg_server, visitor, project, stack_name="eu-2", beside=eu1)
    write_tenant_file(tenants_dir, "tenants.yaml", TENANTS)
    eu1.up()
    eu2.up()
    yield eu1, eu2, tenants_dir
    eu1.forget()
    eu2.forget()
    reset_server(pg_server)


def test_the_printed_move_keeps_the_tenant_and_changes_nothing(fleet, pg_server):
    eu1, eu2, tenants_dir = fleet
    before = oids(pg_server, "acme")
    commands = move_plan(eu1.work_dir, "--from", "eu-1", "--to", "eu-2", "--tenant", "acme")
    write_tenant_file(tenants_dir, "tenants.yaml", [{**TENANTS[0], "shard": "eu-2"}, TENANTS[1]])  # step 2's edit

    for command in commands:
        subprocess.run(["bash", "-c", command], cwd=eu1.work_dir, env={**os.environ, **eu1.env}, check=True, capture_output=True)

    assert tenant_urns(eu1) == set()
    assert tenant_urns(eu2) == {"urn:pulumi:eu-2::pg-tenants::pg-tenants:index:Tenant::acme",
                                "urn:pulumi:eu-2::pg-tenants::pg-tenants:index:Tenant::hooli"}
    for deployment in (eu1, eu2):
        deployment.up()
        assert set(deployment.last_plan.counts()) <= {"same"}, (deployment.stack_name, deployment.last_plan.summary())
    assert oids(pg_server, "acme") == before
    assert sorted(eu2.last_run.outputs["tenants"].value) == ["acme", "hooli"]
