"""Engine tier fixtures: one throwaway PostgreSQL 15 for the stacks the real CLI deploys."""

import pytest

from pg_tenants.local.throwaway import running_postgres
from tests.support.deployment import SERVER_SETTINGS


@pytest.fixture(scope="session")
def pg_server():
    with running_postgres(15, server_settings=SERVER_SETTINGS, sources=("docker", "local")) as pg:
        yield pg
