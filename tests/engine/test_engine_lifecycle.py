"""Engine tier: lifecycle edits through the real Pulumi CLI, checked by logging in.

Runs wherever `pulumi` is on PATH; elsewhere every test here is skipped with that reason.
"""

from __future__ import annotations

import pytest

from pg_tenants.local_postgres import running_postgres
from tests.postgres.test_tenant_lifecycle_on_postgres import (
    INVALID_PASSWORD,
    LOGIN_NOT_PERMITTED,
    admin_count,
    login_error,
    role_exists,
    schema_exists,
    write_rows,
)
from tests.support.deployment import create_database, reset_server, stack_for
from tests.support.engine_stack import CLI_MISSING, CliDeployment, cli_available

pytestmark = pytest.mark.skipif(not cli_available(), reason=CLI_MISSING)
ACME = {"name": "acme"}


@pytest.fixture(scope="module")
def pg_server():
    with running_postgres(15, sources=("docker", "local")) as pg:
        yield pg


@pytest.fixture
def deployment(pg_server, tmp_path):
    create_database(pg_server, "app")
    yield CliDeployment(pg_server, stack_for(pg_server, tmp_path / "tenants", "app"), tmp_path / "project")
    reset_server(pg_server)


def test_suspend_then_reactivate_through_the_cli(deployment):
    deployment.write([ACME])
    deployment.up()
    credentials = deployment.connections["acme"]
    write_rows(credentials)
    deployment.write([{**ACME, "state": "suspended"}])
    deployment.up()
    assert login_error(credentials) == LOGIN_NOT_PERMITTED
    deployment.write([ACME])
    deployment.up()
    assert login_error(credentials) is None


def test_offboarding_through_the_cli_keeps_every_row(deployment):
    deployment.write([ACME])
    deployment.up()
    write_rows(deployment.connections["acme"], count=5)
    deployment.write([])
    deployment.up()
    assert not role_exists(deployment.pg, "acme")
    assert schema_exists(deployment.pg, "acme")
    assert admin_count(deployment.pg, "acme") == 5


def test_purge_through_the_cli_removes_the_schema(deployment):
    deployment.write([ACME])
    deployment.up()
    deployment.write([{**ACME, "on_remove": "purge"}])
    deployment.up()
    deployment.write([])
    deployment.up()
    assert not role_exists(deployment.pg, "acme") and not schema_exists(deployment.pg, "acme")


def test_rotation_through_the_cli(deployment):
    deployment.write([ACME])
    deployment.up()
    old = deployment.connections["acme"]
    deployment.write([{**ACME, "rotation": 1}])
    deployment.up()
    assert login_error(old) == INVALID_PASSWORD
    assert login_error(deployment.connections["acme"]) is None


def test_zero_downtime_rotation_through_the_cli(deployment):
    tenant = {**ACME, "zero_downtime_rotation": True}
    deployment.write([tenant])
    deployment.up()
    first = deployment.connections["acme"]
    deployment.write([{**tenant, "rotation": 1}])
    deployment.up()
    assert login_error(deployment.connections["acme"]) is None
    assert login_error(first) is None
    deployment.write([{**tenant, "rotation": 2}])
    deployment.up()
    assert login_error(first) == INVALID_PASSWORD
