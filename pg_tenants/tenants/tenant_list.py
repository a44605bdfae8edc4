"""The merged tenant list, validated once: read by `files`, checked by `rules`, resolved by `placement`.

The program registers nothing unless the whole list is valid.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pg_tenants.problems import ConfigurationInvalid, Problem, explained
from pg_tenants.shards.ownership import stack_owns
from pg_tenants.stack_config import ConfigSource, StackSettings
from pg_tenants.tenants.files import read_tenant_paths
from pg_tenants.tenants.model import Tenant, TenantEntry
from pg_tenants.tenants.placement import resolve as resolve_tenant
from pg_tenants.tenants.rules import entry_problems

TENANT_FIELDS = sorted(field.alias or name for name, field in TenantEntry.model_fields.items())


@dataclass(frozen=True)
class TenantListCheck:
    problems: list[Problem]  # errors and warnings
    files: int  # files read (or found unreadable)
    tenants: int  # items of every `tenants:` list, valid or not
    # The tenants the stack owns (all, unsharded), sorted by name, when asked for, the list is valid and settings were given.
    resolved: list[Tenant]
    # Tenants of the list another stack owns (sharded fleets): name -> (file, line), when resolved.
    not_owned: dict[str, tuple[str, int | None]] = field(default_factory=dict)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.is_error]


def load_tenant_list(tenants_dir: Path, settings: StackSettings, config: ConfigSource) -> list[Tenant]:
    """Validated tenants sorted by name; raises ConfigurationInvalid listing every error."""
    checked = check_tenant_paths([tenants_dir], settings, config, resolve=True)
    if checked.errors:
        raise ConfigurationInvalid(checked.errors)
    return checked.resolved


def tenant_list_problems(tenants_dir: Path, settings: StackSettings | None, config: ConfigSource | None) -> list[Problem]:
    """Every error in the tenant files; without settings, the checks that need them are skipped."""
    return check_tenant_paths([tenants_dir], settings, config).errors


def check_tenant_paths(
    paths: Sequence[Path], settings: StackSettings | None, config: ConfigSource | None, *, resolve: bool = False
) -> TenantListCheck:
    """Tenant directories (by the rule of `find_tenant_files`) and files, merged into one list and checked."""
    read = read_tenant_paths(paths)
    problems = explained(read.problems + entry_problems(read.entries, settings, config), read.unclear)
    resolved: list[Tenant] = []
    not_owned: dict[str, tuple[str, int | None]] = {}
    if resolve and settings is not None and not any(p.is_error for p in problems):
        owned = (located for located in read.entries if stack_owns(settings, located.entry))
        resolved = sorted((resolve_tenant(located, settings) for located in owned), key=lambda t: t.name)
        not_owned = {l.entry.name: (l.document.file, l.line()) for l in read.entries if not stack_owns(settings, l.entry)}
    return TenantListCheck(problems, read.files, read.tenants, resolved, not_owned)


def empty_fleet_problem(where: str, *, allowed: bool) -> Problem:
    """No tenant at all: an error unless the caller says an empty fleet is intended."""
    if allowed:
        return Problem(where, None, "tenants", "no tenant is declared", "nothing to do: --allow-empty says an empty tenant list is intended", "warning")
    return Problem(where, None, "tenants", "no tenant is declared", "add a tenant, or pass --allow-empty if an empty tenant list is intended")
