"""Stack config and tenant files for tests: a temporary project state, written like an admin would."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

NS = "pg-tenants"


@dataclass
class StackConfig:
    """The `pg-tenants:*` config of a test stack; secrets listed by short key."""

    tenants_dir: Path
    servers: dict[str, dict[str, Any]] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)

    def as_pulumi_config(self) -> tuple[dict[str, Any], frozenset[str]]:
        values: dict[str, Any] = {f"{NS}:servers": self.servers, f"{NS}:tenantsDir": str(self.tenants_dir)}
        values |= {f"{NS}:{k}": v for k, v in self.settings.items()}
        values |= {f"{NS}:{k}": v for k, v in self.secrets.items()}
        return values, frozenset(f"{NS}:{k}" for k in self.secrets)


def one_server_stack(tenants_dir: Path, *, host: str = "db.example.internal", port: int = 5432, admin_password: str = "admin-password") -> StackConfig:
    return StackConfig(
        tenants_dir=tenants_dir,
        servers={
            "main": {
                "host": host,
                "port": port,
                "adminUsername": "postgres",
                "adminPasswordSecret": "mainAdminPassword",
                "sslmode": "require",
                "databases": ["app"],
            }
        },
        secrets={"mainAdminPassword": admin_password},
        # No server answers at this host: the catalog check is proven in the PostgreSQL tier.
        settings={"checkExistingSchemas": False},
    )


def write_tenant_file(tenants_dir: Path, filename: str, tenants: list[Mapping[str, Any]] | str) -> Path:
    """Write a tenant file; a string is written verbatim (for malformed-input tests)."""
    tenants_dir.mkdir(parents=True, exist_ok=True)
    path = tenants_dir / filename
    text = tenants if isinstance(tenants, str) else yaml.safe_dump({"tenants": list(tenants)}, sort_keys=False)
    path.write_text(text)
    return path


THREE_TENANTS: list[dict[str, Any]] = [
    {"name": "acme", "connection_limit": 20, "statement_timeout": 30000},
    {"name": "globex", "schema": "globex_data", "username": "globex_app", "idle_in_transaction_session_timeout": 60000},
    {"name": "initech", "password_secret": "initechPassword", "valid_until": "2027-12-31T23:59:59+00:00"},
]
INITECH_PASSWORD = "initech-provided-password-0123456789"
