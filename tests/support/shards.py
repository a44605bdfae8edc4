"""A sharded fleet for tests: one tenant list, stacks eu-1 and eu-2, written like an admin would."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from tests.support.stack import INITECH_PASSWORD, StackConfig, write_tenant_file

MAIN = {"host": "db.example.internal", "port": 5432, "adminUsername": "postgres",
        "adminPasswordSecret": "mainAdminPassword", "sslmode": "require", "databases": ["app"]}
SECOND = {**MAIN, "host": "db2.example.internal", "adminPasswordSecret": "secondAdminPassword"}

# eu-1 is home to server main, eu-2 to server second; hooli lives on main but belongs to eu-2.
FLEET: list[dict[str, Any]] = [
    {"name": "acme", "server": "main", "connection_limit": 20},
    {"name": "globex", "server": "second"},
    {"name": "hooli", "server": "main", "shard": "eu-2"},
    {"name": "initech", "server": "main", "password_secret": "initechPassword"},
]


def eu1(tenants_dir: Path) -> StackConfig:
    return StackConfig(
        tenants_dir=tenants_dir,
        servers={"main": copy.deepcopy(MAIN)},
        secrets={"mainAdminPassword": "admin-password", "initechPassword": INITECH_PASSWORD},
        settings={"checkExistingSchemas": False, "shard": {"name": "eu-1", "servers": ["main"]}},
    )


def eu2(tenants_dir: Path) -> StackConfig:
    return StackConfig(
        tenants_dir=tenants_dir,
        servers={"main": copy.deepcopy(MAIN), "second": copy.deepcopy(SECOND)},
        secrets={"mainAdminPassword": "admin-password", "secondAdminPassword": "second-password"},
        settings={"checkExistingSchemas": False, "defaultServer": "second", "shard": {"name": "eu-2", "servers": ["second"]}},
    )


def write_fleet(tenants_dir: Path, tenants: list[dict[str, Any]] = FLEET) -> Path:
    return write_tenant_file(tenants_dir, "tenants.yaml", tenants)


def write_stack_file(project: Path, stack: str, config: StackConfig) -> Path:
    """Pulumi.<stack>.yaml as `pulumi config set` leaves it (secrets encrypted), tenantsDir relative."""
    values, secret_keys = config.as_pulumi_config()
    document = {key: ({"secure": "v1:ciphertext"} if key in secret_keys else value) for key, value in values.items()}
    document["pg-tenants:tenantsDir"] = "tenants"
    path = project / f"Pulumi.{stack}.yaml"
    path.write_text(yaml.safe_dump({"config": document}, sort_keys=False))
    return path


def with_shard(tenants: list[dict[str, Any]], name: str, shard: str) -> list[dict[str, Any]]:
    """The tenant list after the move's edit: `shard:` written on one tenant."""
    return [{**t, "shard": shard} if t["name"] == name else t for t in tenants]
