"""The last deployment's `tenants` map from `pulumi stack export`, as the state holds it now.

`pulumi state move` rewrites the state but not the stack outputs (pg_tenants.shards.move_plan),
so after a move the source's `tenants` output still lists the moved tenants until its next
`pulumi up`. The export holds both: a tenant whose `pg-tenants:index:Tenant` component has left
the state was moved out, and is not "removed" by the edit that hands it to its new stack.
Only the non-secret output and resource URNs and types are read; secrets stay ciphertext.
"""

from __future__ import annotations

from typing import Any

from pg_tenants.shards.move_plan import TENANT_TYPE

ROOT_STACK_TYPE = "pulumi:pulumi:Stack"


def is_stack_export(data: Any) -> bool:
    return isinstance(data, dict) and isinstance(data.get("deployment"), dict)


def tenants_in_export(data: dict) -> dict[str, Any] | None:
    """The `tenants` output, less the tenants whose component is no longer in the state; None if malformed."""
    resources = data["deployment"].get("resources") or []
    if not isinstance(resources, list) or not all(isinstance(r, dict) for r in resources):
        return None
    roots = [r for r in resources if r.get("type") == ROOT_STACK_TYPE and not r.get("parent")]
    tenants = ((roots[0].get("outputs") or {}).get("tenants") or {}) if roots else {}
    if not isinstance(tenants, dict):
        return None
    present = {str(r.get("urn", "")).rsplit("::", 1)[-1] for r in resources if r.get("type") == TENANT_TYPE}
    return {name: entry for name, entry in tenants.items() if name in present}
