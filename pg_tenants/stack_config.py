"""Stack configuration (`pg-tenants:*` keys): servers, defaults and hardening switches.

Read from the Pulumi runtime by the program and from a `Pulumi.<stack>.yaml` file by
`pg-tenants validate`; both go through `parse_stack_settings`, so the rules are one.
"""

from __future__ import annotations

import json

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pg_tenants.identifiers import IDENTIFIER, IDENTIFIER_FIX
from pg_tenants.problems import ConfigurationInvalid, Problem
from pg_tenants.pydantic_problems import problems_from_validation_error
from pg_tenants.yaml_source import YamlSyntaxError, load_yaml

NAMESPACE = "pg-tenants"
SslMode = Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]


class ServerSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=True)

    host: str = Field(min_length=1)
    port: int = Field(default=5432, ge=1, le=65535)
    admin_database: str = Field(default="postgres", alias="adminDatabase")
    admin_username: str = Field(default="postgres", alias="adminUsername")
    admin_password_secret: str = Field(alias="adminPasswordSecret", min_length=1)
    sslmode: SslMode = "require"
    superuser: bool = True
    connect_timeout: int = Field(default=30, ge=1, le=3600, alias="connectTimeout")  # seconds; fail fast in pipelines
    databases: list[str] = Field(min_length=1)
    protected_databases: list[str] = Field(default=["postgres", "template1"], alias="protectedDatabases")


class StackSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=True)

    servers: dict[str, ServerSettings] = Field(min_length=1)
    default_server: str | None = Field(default=None, alias="defaultServer")
    default_database: str | None = Field(default=None, alias="defaultDatabase")
    harden_databases: bool = Field(default=True, alias="hardenDatabases")
    scram_iterations: int = Field(default=4096, ge=4096, le=10_000_000, alias="scramIterations")
    tenants_dir: str = Field(default="tenants", alias="tenantsDir")
    # Pulumi `protect` on every schema: `pulumi up` refuses to delete one, except a tenant marked purge.
    protect_schemas: bool = Field(default=False, alias="protectSchemas")
    # Finite by default: one tenant must not take every connection of a shared server.
    default_connection_limit: int = Field(default=20, ge=-1, le=2**31 - 1, alias="defaultConnectionLimit")
    # Kilobytes per session (1 GiB); -1 sets no per-role limit.
    default_temp_file_limit: int = Field(default=1_048_576, ge=-1, le=2**31 - 1, alias="defaultTempFileLimit")
    # Read the catalogs before deploying, so an existing schema is never taken over silently.
    check_existing_schemas: bool = Field(default=True, alias="checkExistingSchemas")

    def server_for(self, name: str | None) -> str | None:
        if name is not None:
            return name
        if self.default_server is not None:
            return self.default_server
        return next(iter(self.servers)) if len(self.servers) == 1 else None


@dataclass(frozen=True)
class ConfigSource:
    """Where config values come from, so problems can point at them."""

    file: str
    has_secret: Callable[[str], bool]  # is this short key (no namespace) set, as a secret?
    secret_value: Callable[[str], str | None]  # its plaintext where readable (not from a stack file)
    line_of: Callable[[tuple[str | int, ...]], int | None]  # line of a key path, if known


SETTINGS_KEYS = tuple(
    field.alias or name for name, field in StackSettings.model_fields.items()
)


def parse_stack_settings(values: Mapping[str, Any], source: ConfigSource) -> StackSettings:
    """Validate the `pg-tenants:*` settings keys; raise ConfigurationInvalid with every problem."""
    problems: list[Problem] = []
    try:
        settings = StackSettings.model_validate({k: v for k, v in values.items() if k in SETTINGS_KEYS})
    except ValidationError as error:
        problems += problems_from_validation_error(
            error, file=source.file, field_prefix=f"{NAMESPACE}:", line_of=source.line_of
        )
        raise ConfigurationInvalid(problems) from None
    problems += _cross_check(settings, source)
    if problems:
        raise ConfigurationInvalid(problems)
    return settings


def _cross_check(settings: StackSettings, source: ConfigSource) -> list[Problem]:
    problems = []

    def problem(key: str, field: str, message: str, fix: str) -> None:
        problems.append(Problem(source.file, source.line_of((key,)), f"{NAMESPACE}:{field}", message, fix))

    for name, server in settings.servers.items():
        if not IDENTIFIER.fullmatch(name):
            problem("servers", f"servers.{name}", f"server key {name!r} is not a lowercase identifier", IDENTIFIER_FIX)
        for database in sorted({*server.databases, *server.protected_databases}):
            if not IDENTIFIER.fullmatch(database):
                problem("servers", f"servers.{name}.databases", f"database {database!r} is not a lowercase identifier", IDENTIFIER_FIX)
    if settings.default_server is not None and settings.default_server not in settings.servers:
        problem("defaultServer", "defaultServer", f"server {settings.default_server!r} is not in servers", f"use one of: {', '.join(sorted(settings.servers))}")
    if settings.default_server is None and len(settings.servers) > 1:
        problem("servers", "defaultServer", "several servers are configured but none is the default", "set pg-tenants:defaultServer, or give every tenant a server")
    for name, server in settings.servers.items():
        if not source.has_secret(server.admin_password_secret):
            problem(
                "servers",
                f"servers.{name}.adminPasswordSecret",
                f"config key {NAMESPACE}:{server.admin_password_secret} is not set as a secret",
                f"run `pulumi config set --secret {NAMESPACE}:{server.admin_password_secret}`, which prompts for the value",
            )
    return problems


def settings_from_pulumi_config() -> tuple[StackSettings, ConfigSource]:
    """Read settings from the running Pulumi program's config."""
    import pulumi.runtime

    def raw(key: str) -> Any:
        return pulumi.runtime.get_config(f"{NAMESPACE}:{key}")

    present = {key: value for key in SETTINGS_KEYS if (value := raw(key)) is not None}
    values = {key: _decode_config_value(value) for key, value in present.items()}
    source = ConfigSource(
        file="stack config",
        has_secret=lambda key: raw(key) is not None and pulumi.runtime.is_config_secret(f"{NAMESPACE}:{key}"),
        secret_value=raw,
        line_of=lambda path: None,
    )
    return parse_stack_settings(values, source), source


def configured_tenants_dir() -> str:
    """tenantsDir as configured, even when other settings are invalid."""
    import pulumi.runtime

    value = pulumi.runtime.get_config(f"{NAMESPACE}:tenantsDir")
    return value if isinstance(value, str) else StackSettings.model_fields["tenants_dir"].default


def _decode_config_value(raw: str) -> Any:
    """The CLI hands structured values, numbers and booleans over as JSON text."""
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def load_stack_file(path: Path) -> tuple[StackSettings, ConfigSource]:
    """Read settings from a `Pulumi.<stack>.yaml` file (secure values stay encrypted)."""
    try:
        document = load_yaml(path, str(path))
    except YamlSyntaxError as error:
        problem = Problem(error.file, error.line, "(file)", f"not valid YAML: {error.message}", "fix the YAML syntax")
        raise ConfigurationInvalid([problem]) from None
    config = (document.data or {}).get("config") or {}
    prefix = f"{NAMESPACE}:"
    values = {k[len(prefix):]: v for k, v in config.items() if isinstance(k, str) and k.startswith(prefix)}
    secret_keys = {k for k, v in values.items() if isinstance(v, dict) and set(v) == {"secure"}}
    source = ConfigSource(
        file=str(path),
        has_secret=secret_keys.__contains__,
        secret_value=lambda key: None,
        line_of=lambda key_path: document.line_of(("config", f"{prefix}{key_path[0]}", *key_path[1:])),
    )
    return parse_stack_settings(values, source), source
