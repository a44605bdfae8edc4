"""PostgreSQL tier fixtures: one throwaway server per major under test, reset between tests.

Stacks are applied by the provider double (`Deployment`). The `deployment` fixture, admin
profiles and their parametrization are shared with the engine tier (tests/support/tier_fixtures.py):
the stack's admin is the server's superuser, or, in a module that sets
`ADMIN_PROFILES = tests.support.deployment.ADMIN_PROFILES`, each admin profile in turn
("superuser", and "managed": the CREATEROLE, non-superuser admin of RDS, Cloud SQL or Azure;
see tests/support/deployment.py). A module-scoped fixture may depend on `admin_profile` too.
PG_TENANTS_ADMIN_PROFILES (e.g. "superuser") narrows the profiles; default: every one.
"""

import pytest

from pg_tenants.local.throwaway import pg_versions_under_test, running_postgres
from tests.support.deployment import SERVER_SETTINGS, Deployment
from tests.support.tier_fixtures import admin_profile, deployment, pytest_collection_modifyitems, pytest_generate_tests  # noqa: F401 - shared with tests/engine


@pytest.fixture(scope="session", params=pg_versions_under_test(), ids=lambda major: f"pg{major}")
def pg_server(request):
    with running_postgres(request.param, server_settings=SERVER_SETTINGS, sources=("docker", "local")) as pg:
        yield pg


@pytest.fixture(scope="session")
def new_deployment():
    """How this tier deploys a stack: the provider double (tests/support/deployment.py)."""
    return Deployment
