"""Stack configuration (`pg-tenants:*` keys): servers, defaults and hardening switches.

Read from the Pulumi runtime by the program and from a `Pulumi.<stack>.yaml` file by
`pg-tenants validate`; both go through `parse_stack_settings`, so the rules are one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pg_tenants.identifiers import IDENTIFIER, IDENTIFIER_FIX
from pg_tenants.problems import ConfigurationInvalid, Problem, explained
from pg_tenants.shards.settings import ShardSettings
from pg_tenants.tenants.entry_problems import describe, did_you_mean, field_path, problems_from_validation_error, unknown_name_fix
from pg_tenants.tenants.yaml_source import YamlDocument, YamlFileError, load_yaml

NAMESPACE = "pg-tenants"
SslMode = Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]
_BASE64_PARTS = re.compile(r"[A-Za-z0-9+/=:]+")


# A PEM file on the machine that runs `pulumi` and `pg-tenants verify`. Paths, not inline PEM:
# libpq (the program's catalog reads, its dynamic resources, verify) reads only files, and
# lib/pq's `sslinline` would make the provider read sslrootcert inline too (lib/pq v1.12.3
# ssl.go sslCertificateAuthority), so paths are the one form all of them share; and the
# client key then never enters the Pulumi config or the state. Checked in _tls_problems.
PemPath = Annotated[str, Field(min_length=1)]


class ServerSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=True)

    host: str = Field(min_length=1)
    port: int = Field(default=5432, ge=1, le=65535)
    admin_database: str = Field(default="postgres", alias="adminDatabase")
    admin_username: str = Field(default="postgres", alias="adminUsername")
    admin_password_secret: str = Field(alias="adminPasswordSecret", min_length=1)
    sslmode: SslMode = "require"
    # TLS for the admin's connections (provider, catalog reads, dynamic resources, verify):
    # the CA that signed the server's certificate, and a client certificate and key.
    sslrootcert: PemPath | None = None
    sslcert: PemPath | None = None
    sslkey: PemPath | None = None
    # The CA file's path on the tenants' machines, written into their connection strings.
    tenant_sslrootcert: str | None = Field(default=None, min_length=1, alias="tenantSslrootcert")
    superuser: bool = True
    connect_timeout: int = Field(default=30, ge=1, le=3600, alias="connectTimeout")  # seconds; fail fast in pipelines
    databases: list[str] = Field(min_length=1)
    protected_databases: list[str] = Field(default=["postgres", "template1"], alias="protectedDatabases")

    def tls_params(self) -> dict[str, str]:
        """libpq's TLS file parameters for the admin's connections; only those that are set."""
        files = {"sslrootcert": self.sslrootcert, "sslcert": self.sslcert, "sslkey": self.sslkey}
        return {key: path for key, path in files.items() if path is not None}


class StackSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=True)

    servers: dict[str, ServerSettings] = Field(min_length=1)
    default_server: str | None = Field(default=None, alias="defaultServer")
    default_database: str | None = Field(default=None, alias="defaultDatabase")
    # Of tenants that do not say `isolation:`: a schema in a shared database, or a database of their own.
    default_isolation: Literal["schema", "database"] = Field(default="schema", alias="defaultIsolation")
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
    # The tenants this stack owns in a sharded fleet; None: every tenant (pg_tenants.shards.settings).
    shard: ShardSettings | None = None

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
            error, file=source.file, field_prefix=f"{NAMESPACE}:", line_of=source.line_of, model=StackSettings
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
    if settings.shard is not None:
        databases = {f"{key}/{db}" for key, server in settings.servers.items() for db in server.databases}
        for key in settings.shard.servers:
            if key not in settings.servers:
                problem("shard", "shard.servers", f"server {key!r} is not in servers", f"use one of: {', '.join(sorted(settings.servers))}")
        for ref in settings.shard.databases:
            if ref not in databases:
                problem("shard", "shard.databases", f"{ref!r} is not a server/database of this stack", f"use one of: {', '.join(sorted(databases))}")
    for name, server in settings.servers.items():
        for field, message, fix in _tls_problems(server):
            line = source.line_of(("servers", name, field)) or source.line_of(("servers", name))
            problems.append(Problem(source.file, line, f"{NAMESPACE}:servers.{name}.{field}", message, fix))
        if not source.has_secret(server.admin_password_secret):
            problem(
                "servers",
                f"servers.{name}.adminPasswordSecret",
                f"config key {NAMESPACE}:{server.admin_password_secret} is not set as a secret",
                f"run `pulumi config set --secret {NAMESPACE}:{server.admin_password_secret}`, which prompts for the value",
            )
    return problems


def _tls_problems(server: ServerSettings) -> list[tuple[str, str, str]]:
    """(field, message, fix) for TLS file settings the provider, the program and verify cannot share."""
    problems = []
    for field, path in server.tls_params().items():
        # They run in different working directories; only an absolute path names one file for all.
        if not Path(path).is_absolute():
            problems.append((field, f"{path!r} is not an absolute path",
                             "write the full path of the PEM file on the machine that runs `pulumi` and `pg-tenants verify`"))
    if (server.sslcert is None) != (server.sslkey is None):
        missing = "sslkey" if server.sslkey is None else "sslcert"
        problems.append((missing, "a client certificate needs both sslcert and sslkey",
                         f"set {missing} too (the path of the client {'key' if missing == 'sslkey' else 'certificate'}), or remove the other"))
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
    except (ValueError, RecursionError):
        return raw


@dataclass(frozen=True)
class StackFile:
    """A `Pulumi.<stack>.yaml` as read by `pg-tenants validate`: whatever it holds, never an exception."""

    settings: StackSettings | None  # None when the settings are invalid
    source: ConfigSource | None
    tenants_dir: str  # tenantsDir as written, even when other settings are invalid
    problems: list[Problem]


def load_stack_file(path: Path) -> tuple[StackSettings, ConfigSource]:
    """Read settings from a `Pulumi.<stack>.yaml` file (secure values stay encrypted).

    Raises ConfigurationInvalid when the file cannot be read or the settings are invalid;
    unknown keys and placeholder secrets are `read_stack_file`'s concern (validate).
    """
    stack, _ = _read_stack_file(path)
    if stack.problems or stack.settings is None or stack.source is None:
        raise ConfigurationInvalid(stack.problems)
    return stack.settings, stack.source


def read_stack_file(path: Path) -> StackFile:
    """Every problem of a stack file: what `load_stack_file` refuses, unknown `pg-tenants:` keys
    (with "did you mean") and secure values that are placeholders, not ciphertext."""
    stack, values = _read_stack_file(path)
    if stack.source is None:
        return stack
    extra = _unknown_keys(values, stack.source) + _placeholder_secrets(values, stack.source)
    return StackFile(stack.settings, stack.source, stack.tenants_dir, stack.problems + extra)


def _read_stack_file(path: Path) -> tuple[StackFile, dict[str, Any]]:
    """The file's problems and its `pg-tenants:` values (short keys)."""
    display, default_dir = str(path), StackSettings.model_fields["tenants_dir"].default
    try:
        document = load_yaml(path, display, kind="the stack config")
    except YamlFileError as error:
        return StackFile(None, None, default_dir, [Problem(error.file, error.line, "(file)", error.message, error.fix)]), {}
    prefix = f"{NAMESPACE}:"
    shape = _shape_problems(document)
    values = _namespace_values(document.data) if not shape else {}
    secret_keys = {k for k, v in values.items() if isinstance(v, dict) and set(v) == {"secure"}}
    source = ConfigSource(
        file=display,
        has_secret=secret_keys.__contains__,
        secret_value=lambda key: None,
        line_of=lambda key_path: document.line_of(("config", *((f"{prefix}{key_path[0]}", *key_path[1:]) if key_path else ()))),
    )
    settings, problems = None, list(shape)
    try:
        settings = parse_stack_settings(values, source) if not shape else None
    except ConfigurationInvalid as invalid:
        problems += invalid.problems
    tenants_dir = values.get("tenantsDir")
    problems = explained(problems, _unclear_settings(document))
    return StackFile(settings, source, tenants_dir if isinstance(tenants_dir, str) else default_dir, problems), values


def _unclear_settings(document: YamlDocument) -> list[Problem]:
    """Values of `pg-tenants:` keys that YAML 1.1 and 1.2 read differently (other namespaces are not ours)."""
    return [
        Problem(document.file, u.line, field_path(u.path[1:]), u.message, u.fix)
        for u in document.unclear_scalars
        if len(u.path) > 1 and u.path[0] == "config" and isinstance(u.path[1], str) and u.path[1].startswith(f"{NAMESPACE}:")
    ]


def _shape_problems(document: YamlDocument) -> list[Problem]:
    data = document.data
    if not isinstance(data, dict):
        return [Problem(document.file, 1, "(file)", f"a stack file must be a mapping with a `config:` section, found {describe(data)}",
                        "write `config:` followed by the `pg-tenants:` keys")]
    if "config" in data and not isinstance(data["config"], dict):
        return [Problem(document.file, document.line_of(("config",)), "config", f"must be a mapping, found {describe(data['config'])}",
                        "write the `pg-tenants:` keys under `config:`")]
    return []


def _namespace_values(data: Any) -> dict[str, Any]:
    config = data.get("config") if isinstance(data, dict) else None
    prefix = f"{NAMESPACE}:"
    if not isinstance(config, dict):
        return {}
    # `pulumi config set key false` stores the text "false"; the program reads it as JSON, so do we.
    return {k[len(prefix):]: _decode_config_value(v) if isinstance(v, str) else v
            for k, v in config.items() if isinstance(k, str) and k.startswith(prefix)}


def _unknown_keys(values: Mapping[str, Any], source: ConfigSource) -> list[Problem]:
    """A plain value the program never reads is a misspelt setting (a secret is a password key).

    A key named by an adminPasswordSecret is left to that check ("is not set as a secret").
    """
    servers = values.get("servers")
    admin_keys = {s.get("adminPasswordSecret") for s in servers.values() if isinstance(s, dict)} if isinstance(servers, dict) else set()
    return [
        Problem(source.file, source.line_of((key,)), f"{NAMESPACE}:{key}", f"is not a setting of {NAMESPACE}", _unknown_key_fix(key))
        for key in values
        if key not in SETTINGS_KEYS and key not in admin_keys and not source.has_secret(key)
    ]


def _unknown_key_fix(key: str) -> str:
    settings = sorted(SETTINGS_KEYS)
    if did_you_mean(key, settings):
        return unknown_name_fix(key, settings, noun="settings", prefix=f"{NAMESPACE}:")
    return (f"remove it or correct its spelling (a password belongs in a secret: `pulumi config set --secret "
            f"{NAMESPACE}:{key}`); settings: {', '.join(settings)}")


def _placeholder_secrets(values: Mapping[str, Any], source: ConfigSource) -> list[Problem]:
    """`secure: v1:REPLACE-…` was copied from an example and never set: `pulumi up` cannot decrypt it."""
    return [
        Problem(source.file, source.line_of((key,)), f"{NAMESPACE}:{key}", "the secure value is a placeholder, not ciphertext",
                f"run `pulumi config set --secret {NAMESPACE}:{key}`, which prompts for the value")
        for key, value in values.items()
        if isinstance(value, dict) and "secure" in value and not _looks_like_ciphertext(value["secure"])
    ]


def _looks_like_ciphertext(value: Any) -> bool:
    """Pulumi writes base64: `v1:<nonce>:<ciphertext>` (passphrase) or one long base64 string (cloud KMS, service)."""
    if not isinstance(value, str):
        return False
    if value.startswith("v1:"):
        return bool(_BASE64_PARTS.fullmatch(value[3:]))
    return len(value) >= 16 and bool(_BASE64_PARTS.fullmatch(value))
