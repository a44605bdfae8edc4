"""PostgreSQL tier fixtures: one throwaway server per major under test, reset between tests."""

import pytest

from pg_tenants.local_postgres import pg_versions_under_test, running_postgres
from tests.support.deployment import SERVER_SETTINGS, Deployment, create_database, reset_server, stack_for


@pytest.fixture(scope="session", params=pg_versions_under_test(), ids=lambda major: f"pg{major}")
def pg_server(request):
    with running_postgres(request.param, server_settings=SERVER_SETTINGS, sources=("docker", "local")) as pg:
        yield pg


@pytest.fixture
def deployment(pg_server, tmp_path):
    """An empty stack whose tenants go to a fresh database `app`; the server is reset after."""
    create_database(pg_server, "app")
    yield Deployment(pg_server, stack_for(pg_server, tmp_path / "tenants", "app"))
    reset_server(pg_server)
