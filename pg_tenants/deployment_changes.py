"""Edits the provider cannot apply in place, found by comparing with the last deployment.

The program cannot see its previous state, but pipelines can: `pulumi stack output --json`
holds the non-secret `tenants` map. Moving a tenant to another server or database would
replace its schema (the old one is kept, the tenant starts empty); changing a schema or
username makes the provider fail halfway; renaming a key without `previous_names` would drop
and recreate its role; removing a tenant that can still log in is refused by the engine
(its owner role is protected); changing `isolation` moves the tenant between a shared database
and one of its own. All are refused with the safe way.
"""

from __future__ import annotations

from collections.abc import Mapping

from pg_tenants.problems import Problem
from pg_tenants.tenants.model import Tenant

PlacementMap = Mapping[str, Mapping[str, str]]  # the `tenants` stack output
_PLACEMENT = "its schema would be replaced: the old one stays behind with the data and the tenant starts empty"
# The provider replaces the grants after renaming the object, and revoking from the old name fails.
_RENAME = "the provider renames the object, then fails to revoke the old grants from the old name"
_CONSEQUENCE = {"server": _PLACEMENT, "database": _PLACEMENT, "schema": _RENAME, "username": _RENAME}


def unsupported_changes(
    tenants: list[Tenant], previous: PlacementMap, not_owned: Mapping[str, tuple[str, int | None]] | None = None
) -> list[Problem]:
    """`not_owned`: tenants of the list another stack owns (name -> file, line); one still in
    this stack's state is refused as a removal would be, with the move procedure as the fix."""
    problems: list[Problem] = []
    claimed: set[str] = set()
    for tenant in tenants:
        before_key = next((k for k in (tenant.name, *tenant.previous_names) if k in previous), None)
        if before_key is None:
            continue
        claimed.add(before_key)
        before = previous[before_key]
        # Outputs written before isolation tiers existed have no isolation: every tenant shared.
        isolation_before = before.get("isolation", "schema")
        if isolation_before != tenant.isolation:
            problems.append(_isolation_change(tenant, isolation_before))
            continue  # its database changes too: one problem says it all
        for field in ("server", "database", "schema", "username"):
            if before.get(field) != getattr(tenant, field):
                problems.append(
                    Problem(
                        tenant.file,
                        tenant.line,
                        f"{tenant.name}.{field}",
                        f"changing {field} from {before.get(field)!r} to {getattr(tenant, field)!r} cannot be applied in "
                        f"place: {_CONSEQUENCE[field]}",
                        f"keep {field}: {before.get(field)}; to move or rename a tenant's objects, declare a new tenant, "
                        "copy the data (pg_dump --schema), then offboard the old one",
                    )
                )
    renamed_from: set[str] = set()
    for tenant in tenants:
        if tenant.name in previous or any(old in previous for old in tenant.previous_names):
            continue
        for old_key, before in previous.items():
            same_place = (before.get("server"), before.get("database"), before.get("schema")) == (
                tenant.server, tenant.database, tenant.schema,
            )  # fmt: skip
            if old_key not in claimed and same_place:
                renamed_from.add(old_key)
                problems.append(
                    Problem(
                        tenant.file,
                        tenant.line,
                        f"{tenant.name}.name",
                        f"tenant {old_key!r} was removed and {tenant.name!r} takes its schema {tenant.schema!r}: "
                        "without previous_names this drops the old role and creates a new one",
                        f"if this is a rename, add `previous_names: [{old_key}]`",
                    )
                )
    for old_key, before in sorted(previous.items()):
        state = before.get("state", "active")
        if old_key in (not_owned or {}):
            problems.append(_left_the_shard(old_key, *not_owned[old_key]))
            continue
        if old_key in claimed or old_key in renamed_from or state == "offboarded" or before.get("on_remove") == "purge":
            continue
        problems.append(
            Problem(
                "(removed entry)",
                None,
                f"{old_key}.state",
                f"tenant {old_key!r} was removed while {state}: its owner role is protected, so `pulumi up` refuses "
                "to delete it (removing a tenant that can log in would also drop its login)",
                "put the entry back with `state: offboarded` and apply; remove the entry in a later change, which "
                "keeps its schema, data and owner role (or mark it `on_remove: purge` first to drop everything)",
            )
        )
    return problems


def _left_the_shard(name: str, file: str, line: int | None) -> Problem:
    """Whatever its state: `pulumi up` would delete it here while its entry says it lives on."""
    return Problem(
        file,
        line,
        f"{name}.shard",
        f"tenant {name!r} no longer belongs to this stack, whose state still holds it: `pulumi up` would delete it "
        "here, and the stack that now owns it would try to create it again",
        "to move it, follow `pg-tenants move-plan --from <this stack> --to <its new stack> --tenant "
        f"{name}` (`pulumi state move` first, then pass `pulumi stack export` as --previous); otherwise undo the edit",
    )


def _isolation_change(tenant: Tenant, before: str) -> Problem:
    return Problem(
        tenant.file,
        tenant.line,
        f"{tenant.name}.isolation",
        f"changing isolation from {before!r} to {tenant.isolation!r} cannot be applied in place: it moves the tenant to "
        "another database, so its roles and schema would be replaced and it would start empty (the engine refuses "
        "while its owner role is protected)",
        f"keep isolation: {before}; to move the tenant between tiers, declare a new tenant with isolation: "
        f"{tenant.isolation} (another name and username), copy the data with pg_dump --schema as the README's "
        "procedures do, then offboard the old tenant",
    )
