"""Everything the program reads before it declares a resource, validated in one pass."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from pg_tenants.existing_objects import existing_objects
from pg_tenants.problems import ConfigurationInvalid
from pg_tenants.stack_config import StackSettings, configured_tenants_dir, settings_from_pulumi_config
from pg_tenants.tenants.tenant_list import load_tenant_list, tenant_list_problems
from pg_tenants.tenants.model import Tenant
from pg_tenants.credentials.valid_until import utc_text


@dataclass(frozen=True)
class ProgramInput:
    settings: StackSettings
    tenants: list[Tenant]
    # (server, role) pairs known to exist already; None when the catalogs were not read.
    existing_roles: frozenset[tuple[str, str]] | None


def load_program_input(project_dir: Path) -> ProgramInput:
    """Stack settings and tenants; ConfigurationInvalid lists the problems of both at once."""
    try:
        settings, config = settings_from_pulumi_config()
    except ConfigurationInvalid as invalid:
        # Still check the tenant files, so one run shows every problem.
        tenants_problems = tenant_list_problems(project_dir / configured_tenants_dir(), None, None)
        raise ConfigurationInvalid(invalid.problems + tenants_problems) from None
    tenants = load_tenant_list(project_dir / settings.tenants_dir, settings, config)
    if not settings.check_existing_schemas:
        # Without the catalogs, the text a server on UTC reads back (README: valid_until).
        return ProgramInput(settings, [replace(t, valid_until=utc_text(t.valid_until)) for t in tenants], None)
    found = existing_objects(tenants, settings, config.secret_value)
    if found.problems:
        raise ConfigurationInvalid(found.problems)
    as_read_back = [
        replace(t, valid_until=found.valid_until_texts.get((t.server, t.database, t.valid_until), t.valid_until))
        for t in tenants
    ]
    return ProgramInput(settings, as_read_back, found.roles)
