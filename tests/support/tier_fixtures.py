"""Fixtures the PostgreSQL tier and the engine tier share, so one test body runs in both.

Each tier's conftest imports these and defines the two that differ: `pg_server` (the server)
and `new_deployment` (`Deployment`, the provider double; or `CliDeployment`, the real CLI).
A test module that sets `ADMIN_PROFILES = tests.support.deployment.ADMIN_PROFILES` runs
once per admin profile ("superuser", "managed": see tests/support/deployment.py);
PG_TENANTS_ADMIN_PROFILES (e.g. "superuser") narrows the profiles; default: every one.
"""

from __future__ import annotations

import os

import pytest

from tests.support.deployment import ADMIN_PROFILES, SUPERUSER, create_tenant_database, prepare_admin, reset_server, stack_for


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
def deployment(pg_server, admin_profile, new_deployment, tmp_path):
    """An empty stack whose tenants go to a fresh database `app`, created by the profile's admin;
    `deployment.pg` is the server's superuser (`stack_admin(deployment)`: the stack's admin).
    The server is reset after."""
    admin = prepare_admin(pg_server, admin_profile)
    try:
        create_tenant_database(pg_server, admin, "app")
        yield new_deployment(pg_server, stack_for(admin, tmp_path / "tenants", "app", profile=admin_profile))
    finally:
        reset_server(pg_server)


def pytest_collection_modifyitems(items):
    """Run each module's tests server by server and profile by profile, in collection order otherwise.

    pytest's own reordering splits a module's profile group when its tests also take
    function-level parameters, and a module-scoped fleet is then deployed again for each piece.
    """
    first_seen: dict[object, int] = {}

    def rank(value: object) -> int:
        return first_seen.setdefault(value, len(first_seen))

    def key(item) -> tuple[int, int, int]:
        params = item.callspec.params if hasattr(item, "callspec") else {}
        return (rank(("server", params.get("pg_server"))), rank(("module", item.path)),
                rank(("profile", params.get("admin_profile"))))

    items[:] = sorted(items, key=key)
