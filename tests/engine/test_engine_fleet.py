"""Engine tier: the same fleet and probes as the PostgreSQL tier, through the real Pulumi CLI.

Runs wherever `pulumi` is on PATH; elsewhere every test here is skipped with that reason.
"""

from __future__ import annotations

import pytest

from tests.postgres.test_tenant_isolation import FLEET, NAMES  # noqa: F401 - the same fleet
from tests.postgres.test_tenant_isolation import (  # noqa: F401 - the same probes, collected here too
    test_dsn_logs_in,
    test_env_logs_in_with_psql,
    test_every_tenant_password_is_stored_as_a_scram_verifier,
    test_pgpass_line_logs_in_with_psql,
    test_tenant_cannot_connect_to_another_database,
    test_tenant_cannot_create_a_role,
    test_tenant_cannot_create_a_schema,
    test_tenant_cannot_create_in_public,
    test_tenant_cannot_read_another_tenants_rows,
    test_tenant_cannot_set_role_to_another_tenant,
    test_tenant_creates_alters_and_drops_objects_in_its_schema,
    test_tenant_logs_in_to_its_database_as_itself,
    test_unqualified_names_resolve_to_the_tenants_schema,
)
from tests.support.deployment import connect_as, create_database, reset_server, stack_for
from tests.support.engine_stack import CLI_MISSING, CliDeployment, cli_available

pytestmark = pytest.mark.skipif(not cli_available(), reason=CLI_MISSING)


@pytest.fixture(scope="module")
def fleet(pg_server, tmp_path_factory):
    import secrets
    import string

    create_database(pg_server, "app")
    base = tmp_path_factory.mktemp("engine")
    stack = stack_for(pg_server, base / "tenants", "app")
    stack.secrets["initechPassword"] = "".join(secrets.choice(string.punctuation + "aZ9") for _ in range(32))
    deployment = CliDeployment(pg_server, stack, base / "project")
    deployment.write(FLEET)
    deployment.up()
    for name in NAMES:
        with connect_as(deployment.connections[name]) as tenant:
            tenant.execute("CREATE TABLE private_rows (id int, secret text)")
            tenant.execute("INSERT INTO private_rows VALUES (1, %s)", (f"{name}'s secret",))
    yield deployment
    deployment.forget()
    reset_server(pg_server)


def test_a_second_preview_shows_no_changes(fleet):
    fleet.preview_expects_no_changes()


def test_destroy_of_a_tenant_marked_for_purge_leaves_no_tenant_role(fleet, pg_server, tmp_path):
    create_database(pg_server, "other")
    stack = stack_for(pg_server, tmp_path / "tenants", "other")
    deployment = CliDeployment(pg_server, stack, tmp_path / "project")
    deployment.write([{"name": "transient", "on_remove": "purge"}])
    deployment.up()
    deployment.destroy()
    with pg_server.admin_connect() as admin:
        assert admin.execute("SELECT count(*) FROM pg_roles WHERE rolname = 'transient'").fetchone() == (0,)
