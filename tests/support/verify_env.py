"""The admin login `pg-tenants verify` takes from the environment, set for one test."""

from __future__ import annotations

import pytest


def use_admin_login(monkeypatch: pytest.MonkeyPatch, conninfo: str) -> None:
    """PG_TENANTS_ADMIN_URL for this test; the older name unset, so an outer value cannot contradict it."""
    monkeypatch.setenv("PG_TENANTS_ADMIN_URL", conninfo)
    monkeypatch.delenv("PG_TENANTS_ADMIN_CONNINFO", raising=False)
