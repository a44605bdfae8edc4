"""A rebalance: the commands and edits that move tenants from one stack to another.

`pulumi state move` rewrites both stacks' state and touches nothing in PostgreSQL
(pulumi/pulumi pkg/cmd/pulumi/state/state_move.go, read at 021b737; docs: "Moving resources
between stacks", https://www.pulumi.com/docs/iac/operations/stack-management/moving-resources-between-stacks/):

- only a top-level URN is needed: every child of a moved resource moves with it. A tenant's
  resources are all children of its `pg-tenants:index:Tenant` component, so its URN is the plan;
- providers are never moved, only copied: a provider URN given to it is refused. If the
  destination already has a provider of that URN, the same ID or equal inputs reuse it;
  different inputs stop the move with "provider … already exists in destination stack"
  before anything is saved (pulumi/pulumi #17076). So the destination's provider for the
  tenant's server and database must have the same name and inputs: checked here first;
- `--include-parents` would add the parents: the component's parent is the root stack, which
  is never moved (pulumi/pulumi #16779), so the plan does not use it;
- dependencies on resources left behind (the tenant's CONNECT grant waits for its database's
  hardening) are dropped with a warning; the destination's next `pulumi up` records its own;
- the stack outputs are not rewritten: the source's `tenants` output lists the tenant until
  its next `pulumi up`, which is why `validate --previous` reads `pulumi stack export`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from pg_tenants.problems import Problem
from pg_tenants.shards.ownership import ownership_reason, stack_owns
from pg_tenants.shards.stack_files import short_stack_name
from pg_tenants.stack_config import NAMESPACE, ConfigSource, ServerSettings, StackSettings
from pg_tenants.tenants.files import LocatedEntry
from pg_tenants.tenants.model import Tenant
from pg_tenants.tenants.placement import resolve

TENANT_TYPE = "pg-tenants:index:Tenant"
# What the provider of a server is made of (components.fleet.database_provider), apart from the password.
PROVIDER_FIELDS = ("host", "port", "admin_username", "sslmode", "superuser", "connect_timeout")
# Stack settings that reach a tenant's inputs beyond its resolved entry.
TENANT_SETTINGS = ("scram_iterations", "protect_schemas")


@dataclass(frozen=True)
class StackView:
    """One side of the move: the stack as named for Pulumi, and its parsed config file."""

    stack: str  # as given: `eu-1` or `org/pg-tenants/eu-1`
    file: Path
    settings: StackSettings
    source: ConfigSource


@dataclass(frozen=True)
class TenantMove:
    located: LocatedEntry
    urn: str
    secrets_to_copy: tuple[str, ...]  # short keys the destination lacks


@dataclass(frozen=True)
class MovePlan:
    source: StackView
    dest: StackView
    project: str
    moves: tuple[TenantMove, ...]


def tenant_urn(stack: str, project: str, tenant: str) -> str:
    return f"urn:pulumi:{short_stack_name(stack)}::{project}::{TENANT_TYPE}::{tenant}"


def plan_moves(source: StackView, dest: StackView, project: str, entries: list[LocatedEntry], names: list[str]) -> MovePlan | list[Problem]:
    by_name = {located.entry.name: located for located in entries}
    problems, moves = [], []
    if dest.settings.shard is None:
        problems.append(_stack_problem(dest, "shard", "the destination has no shard name to move tenants to",
                                       "add `pg-tenants:shard:` with a `name:` (README: Sharding a fleet across stacks)"))
    for name in names:
        located = by_name.get(name)
        if located is None:
            problems.append(Problem("(tenant list)", None, name, f"tenant {name!r} is not in the tenant list", "name a tenant of the list"))
            continue
        found = _tenant_problems(located, source, dest)
        problems += found
        if not found:
            secret = located.entry.password_secret
            missing = (secret,) if secret and not dest.source.has_secret(secret) else ()
            moves.append(TenantMove(located, tenant_urn(source.stack, project, name), missing))
    return problems or MovePlan(source, dest, project, tuple(moves))


def _tenant_problems(located: LocatedEntry, source: StackView, dest: StackView) -> list[Problem]:
    entry = located.entry
    in_source, in_dest = stack_owns(source.settings, entry), stack_owns(dest.settings, entry)
    if in_dest:
        also = " too" if in_source else ""
        return [located.problem("shard", f"tenant {entry.name!r} already belongs to stack {dest.stack}{also} ({ownership_reason(dest.settings, entry)})",
                                "nothing to move" if not in_source else "run `pg-tenants validate --stacks` and fix the ownership first")]
    if not in_source:
        return [located.problem("shard", f"tenant {entry.name!r} does not belong to stack {source.stack}", "name the stack that owns it in --from")]
    if entry.adopt:
        return [located.problem("adopt", "an adoption in progress cannot move", "apply the import and remove `adopt` first")]
    here = resolve(located, source.settings)
    server_key = here.server
    there_server = dest.settings.servers.get(server_key)
    if there_server is None:
        return [_stack_problem(dest, "servers", f"server {server_key!r} of tenant {entry.name!r} is not in this stack",
                               f"add {server_key!r} to {NAMESPACE}:servers with the settings it has in {source.file}, "
                               f"and copy its admin password: `pulumi config cp --stack {source.stack} --dest {dest.stack} "
                               f"{NAMESPACE}:{source.settings.servers[server_key].admin_password_secret}`")]
    problems = []
    here_server = source.settings.servers[server_key]
    for field in PROVIDER_FIELDS:
        if getattr(here_server, field) != getattr(there_server, field):
            key = ServerSettings.model_fields[field].alias or field
            problems.append(_stack_problem(dest, ("servers", server_key, key), f"differs from {source.file} "
                                           f"({getattr(there_server, field)!r} here, {getattr(here_server, field)!r} there): the "
                                           "copied provider would not match the one this stack declares",
                                           f"make servers.{server_key} the same in both stacks"))
    if here.database not in there_server.databases:
        problems.append(_stack_problem(dest, "servers", f"database {here.database!r} of tenant {entry.name!r} is not in servers.{server_key}.databases",
                                       f"add it to {NAMESPACE}:servers.{server_key}.databases"))
        return problems
    there = resolve(located, dest.settings)
    for field in (f.name for f in dataclasses.fields(Tenant) if f.name not in ("file", "line")):
        if getattr(here, field) != getattr(there, field):
            problems.append(located.problem(field, f"would be {getattr(there, field)!r} in stack {dest.stack} instead of {getattr(here, field)!r}: "
                                            "the stacks' defaults differ", f"write `{field}: {getattr(here, field)}` in the entry first, and apply it"))
    for field in TENANT_SETTINGS:
        if getattr(source.settings, field) != getattr(dest.settings, field):
            key = StackSettings.model_fields[field].alias
            problems.append(_stack_problem(dest, key, f"differs from {source.file} ({getattr(dest.settings, field)!r} here, "
                                           f"{getattr(source.settings, field)!r} there): the tenant's inputs would change",
                                           f"make {NAMESPACE}:{key} the same in both stacks"))
    return problems


def _stack_problem(view: StackView, key: str | tuple[str, ...], message: str, fix: str) -> Problem:
    path = (key,) if isinstance(key, str) else key
    return Problem(str(view.file), view.source.line_of(path), f"{NAMESPACE}:{'.'.join(path)}", message, fix)


def format_plan(plan: MovePlan) -> str:
    """A shell script: the commands, in order, with the manual steps as comments."""
    source, dest = plan.source.stack, plan.dest.stack
    shard = plan.dest.settings.shard.name if plan.dest.settings.shard else ""
    names = ", ".join(move.located.entry.name for move in plan.moves)
    lines = [
        f"# Move {names} from stack {source} to stack {dest}. `pulumi state move` rewrites both states: nothing in",
        "# PostgreSQL is deleted or re-created, and every URN keeps all but its stack segment.",
        "#",
    ]
    copies = [f"pulumi config cp --stack {source} --dest {dest} {NAMESPACE}:{key}" for move in plan.moves for key in move.secrets_to_copy]
    if copies:
        lines += [f"# 1. Copy the secrets {dest} needs (re-encrypted for {dest}, never printed); this edits {plan.dest.file.name}:", *copies]
    else:
        lines += [f"# 1. No secret to copy: {dest} already has every secret these tenants use."]
    lines += ["#", "# 2. Edit the tenant list; open a pull request with it (and any stack file edited above), but do not merge it:"]
    for move in plan.moves:
        located = move.located
        was = f"shard: {located.entry.shard}" if located.entry.shard else f"no shard, owned by {ownership_reason(plan.source.settings, located.entry)}"
        lines.append(f"#      {located.document.file}:{located.line()}: tenant {located.entry.name}: write `shard: {shard}` (was {was})")
    lines += [
        f"#    Its `validate --previous` for {source} refuses until step 5: {source}'s state still holds the tenants.",
        "#",
        f"# 3. Stop every `pulumi up` of {source} and {dest} until the pull request is merged.",
        "#",
        "# 4. Back up both states:",
        f"pulumi stack export --stack {source} --file {short_stack_name(source)}.before-move.json",
        f"pulumi stack export --stack {dest} --file {short_stack_name(dest)}.before-move.json",
        "#",
        "# 5. Move the tenants' components in one step: their children move with them; the provider of each",
        f"#    database is copied, or {dest}'s own is used if its inputs are equal (if not, nothing is saved):",
        f"pulumi state move --source {source} --dest {dest} --yes " + " ".join(f"'{move.urn}'" for move in plan.moves),
        "#",
        f"# 6. Re-run the pull request's checks: the previews of {source} and {dest} must not create, delete or",
        "#    replace anything of these tenants. Merge; the deploy's `pulumi up` of both stacks updates their outputs.",
    ]
    return "\n".join(lines)
