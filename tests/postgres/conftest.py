"""PostgreSQL tier fixtures: one throwaway server per major under test, reset between tests.

The `deployment` stack's admin is the server's superuser, or, in a module that sets
`ADMIN_PROFILES = tests.support.deployment.ADMIN_PROFILES`, each admin profile in turn
("superuser", and "managed": the CREATEROLE, non-superuser admin of RDS, Cloud SQL or Azure;
see tests/support/deployment.py). A module-scoped fixture may depend on `admin_profile` too.
PG_TENANTS_ADMIN_PROFILES (e.g. "superuser") narrows the profiles; default: every one.
"""

import os

import pytest

from pg_tenants.local.throwaway import pg_versions_under_test, running_postgres
from tests.support.deployment import (
    ADMIN_PROFILES,
    SERVER_SETTINGS,
    SUPERUSER,
    Deployment,
    create_tenant_database,
    prepare_admin,
    reset_server,
    stack_for,
)


@pytest.fixture(scope="session", params=pg_versions_under_test(), ids=lambda major: f"pg{major}")
def pg_server(request):
    with running_postgres(request.param, server_settings=SERVER_SETTINGS, sources=("docker", "local")) as pg:
        yield pg


@pytest.fixture(scope="session")
def admin_profile():
    """The admin profile of the `deployment` stack; ADMIN_PROFILES in a module parametrizes it."""
    return SUPERUSER


def admin_profiles_under_test(wanted: tuple[str, ...]) -> tuple[str, ...]:
    """A module's ADMIN_PROFILES narrowed by PG_TENANTS_ADMIN_PROFILES (e.g. "superuser"; default: all)."""
    raw = os.environ.get("PG_TENANTS_ADMIN_PROFILES", "").strip()
    if not raw:
        return wanted
    chosen = {p.strip() for p in raw.split(",") if p.strip()}
    unknown = chosen - set(ADMIN_PROFILES)
    if unknown:
        raise pytest.UsageError(f"PG_TENANTS_ADMIN_PROFILES={raw!r}: unknown {sorted(unknown)}; known: {', '.join(ADMIN_PROFILES)}")
    return tuple(p for p in wanted if p in chosen)


def pytest_generate_tests(metafunc):
    profiles = getattr(metafunc.module, "ADMIN_PROFILES", None)
    if profiles and "admin_profile" in metafunc.fixturenames:
        profiles = admin_profiles_under_test(tuple(profiles))
        if not profiles:  # every profile of the module was left out: nothing to run here
            metafunc.parametrize("admin_profile", [pytest.param(None, marks=pytest.mark.skip(
                reason="PG_TENANTS_ADMIN_PROFILES leaves out every admin profile of this module"))], scope="module")
            return
        # Module scope: a module's tests run profile by profile, and module fixtures once per profile.
        metafunc.parametrize("admin_profile", profiles, scope="module")


@pytest.fixture
def deployment(pg_server, admin_profile, tmp_path):
    """An empty stack whose tenants go to a fresh database `app`, created by the profile's admin;
    `deployment.pg` is the server's superuser (`stack_admin(deployment)`: the stack's admin).
    The server is reset after."""
    admin = prepare_admin(pg_server, admin_profile)
    try:
        create_tenant_database(pg_server, admin, "app")
        yield Deployment(pg_server, stack_for(admin, tmp_path / "tenants", "app", profile=admin_profile))
    finally:
        reset_server(pg_server)
