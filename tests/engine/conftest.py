"""Engine tier fixtures: one throwaway PostgreSQL (the default major) for the stacks the real
Pulumi CLI deploys. `deployment`, admin profiles and their parametrization are the PostgreSQL
tier's (tests/support/tier_fixtures.py); only `new_deployment` differs: `CliDeployment`."""

import pytest

from pg_tenants.local.binaries import DEFAULT_MAJOR
from pg_tenants.local.throwaway import running_postgres
from tests.support.deployment import SERVER_SETTINGS
from tests.support.engine_stack import CliDeployment
from tests.support.tier_fixtures import admin_profile, deployment, pytest_collection_modifyitems, pytest_generate_tests  # noqa: F401 - shared with tests/postgres


@pytest.fixture(scope="session")
def pg_server():
    with running_postgres(DEFAULT_MAJOR, server_settings=SERVER_SETTINGS, sources=("docker", "local")) as pg:
        yield pg


@pytest.fixture(scope="session")
def new_deployment(tmp_path_factory):
    """How this tier deploys a stack: `pulumi preview` and `pulumi up` in a project of its own."""

    def deploy_with_the_cli(pg, stack):
        return CliDeployment(pg, stack, tmp_path_factory.mktemp("engine-project"))

    return deploy_with_the_cli
