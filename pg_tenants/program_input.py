"""Everything the program reads before it declares a resource, validated in one pass.

With `checkExistingSchemas` on (the default) that includes the catalogs of every tenant
database, read as the admin, during `pulumi preview` as much as during `pulumi up`: a preview
needs a runner that reaches the databases. PG_TENANTS_PREVIEW_WITHOUT_DATABASE=true lets a
preview run without them, with the checks that need the catalogs skipped and named in a
warning; `pulumi up` reads them whatever it says.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from pg_tenants.existing_objects import PREVIEW_NOT_CHECKED, existing_objects, preview_without_database
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
    warnings: tuple[str, ...] = ()  # for the engine's log: what this run did not check


def load_program_input(project_dir: Path, *, preview: bool = False) -> ProgramInput:
    """Stack settings and tenants; ConfigurationInvalid lists the problems of both at once.
    `preview`: this run is a `pulumi preview` (see the module docstring)."""
    try:
        settings, config = settings_from_pulumi_config()
    except ConfigurationInvalid as invalid:
        # Still check the tenant files, so one run shows every problem.
        tenants_problems = tenant_list_problems(project_dir / configured_tenants_dir(), None, None)
        raise ConfigurationInvalid(invalid.problems + tenants_problems) from None
    tenants = load_tenant_list(project_dir / settings.tenants_dir, settings, config)
    if not settings.check_existing_schemas or preview_without_database(preview):
        # Without the catalogs, the text a server on UTC reads back (README: valid_until).
        as_utc = [replace(t, valid_until=utc_text(t.valid_until)) for t in tenants]
        return ProgramInput(settings, as_utc, None, () if not settings.check_existing_schemas else (PREVIEW_NOT_CHECKED,))
    found = existing_objects(tenants, settings, config.secret_value)
    if found.problems:
        raise ConfigurationInvalid(found.problems)
    as_read_back = [
        replace(t, valid_until=found.valid_until_texts.get((t.server, t.database, t.valid_until), t.valid_until))
        for t in tenants
    ]
    return ProgramInput(settings, as_read_back, found.roles)
