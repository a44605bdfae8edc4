"""`pg-tenants validate --stacks`: every stack's own checks, then the fleet's.

The fleet's checks: one tenant list for every stack, unique shard names, every tenant owned
by exactly one stack, and every database with tenants hardened by exactly one stack when the
fleet hardens at all (the PUBLIC-privilege record of components.database_hardening is one per
database: if two stacks each kept one, the first to drop it would give PUBLIC's CONNECT back
while the other's tenants remain).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pg_tenants.problems import Problem, explained
from pg_tenants.shards.hardening import hardening_plan
from pg_tenants.shards.ownership import ownership_reason, stack_owns
from pg_tenants.stack_config import NAMESPACE, StackFile, StackSettings, read_stack_file
from pg_tenants.tenants.files import LocatedEntry, read_tenant_paths
from pg_tenants.tenants.placement import resolve
from pg_tenants.tenants.rules import entry_problems
from pg_tenants.tenants.tenant_list import empty_fleet_problem


@dataclass(frozen=True)
class Stack:
    name: str  # from the file name, Pulumi.<name>.yaml
    path: Path
    file: StackFile

    @property
    def settings(self) -> StackSettings:
        assert self.file.settings is not None  # only used once every stack file is valid
        return self.file.settings

    def problem(self, key: str, message: str, fix: str) -> Problem:
        line = self.file.source.line_of((key,)) if self.file.source else None
        return Problem(str(self.path), line, f"{NAMESPACE}:{key}", message, fix)


@dataclass(frozen=True)
class StacksCheck:
    problems: list[Problem]
    tenants_dir: Path
    files: int
    tenants: int


def stack_name(path: Path) -> str:
    """`Pulumi.eu-1.yaml` → `eu-1`: the file Pulumi reads for stack `eu-1` (or `org/project/eu-1`)."""
    name = path.name
    for suffix in (".yaml", ".yml"):
        if name.startswith("Pulumi.") and name.endswith(suffix):
            return name[len("Pulumi."):-len(suffix)]
    return path.stem


def _prefix_names(stacks: list[Stack]) -> list[Problem]:
    """pulumi/actions edits the PR comment that starts with "`preview` on <project>/<stack>"
    (src/libs/pr.ts; pulumi/actions#1165): eu-1's preview would overwrite eu-10's comment."""
    return [
        Problem(str(longer.path), None, "(stack name)", f"stack {shorter.name!r} is a prefix of stack {longer.name!r}: "
                "pulumi/actions would post both previews in one pull request comment",
                "name stacks so none starts with another's name, e.g. eu-01 … eu-10", "warning")
        for shorter in stacks for longer in stacks
        if shorter is not longer and longer.name.startswith(shorter.name)
    ]


def check_stacks(paths: Sequence[Path], *, allow_empty: bool) -> StacksCheck:
    stacks = [Stack(stack_name(path), path, read_stack_file(path)) for path in paths]
    problems = [p for stack in stacks for p in stack.file.problems] + _prefix_names(stacks)
    directories = {stack.name: stack.path.parent / stack.file.tenants_dir for stack in stacks}
    if len({d.resolve() for d in directories.values()}) > 1:
        listed = ", ".join(f"{name}: {d}" for name, d in sorted(directories.items()))
        problems += [stack.problem("tenantsDir", f"the stacks read different tenant lists ({listed})",
                                   "one tenant list drives every stack: give every stack the same tenantsDir") for stack in stacks]
        return StacksCheck(problems, directories[stacks[0].name], 0, 0)
    tenants_dir = directories[stacks[0].name]
    read = read_tenant_paths([tenants_dir])
    list_problems = list(read.problems)
    for stack in stacks:
        list_problems += entry_problems(read.entries, stack.file.settings, stack.file.source)
    problems += explained(list_problems, read.unclear)
    if read.tenants == 0 and not any(p.is_error for p in problems):
        problems.append(empty_fleet_problem(str(tenants_dir), allowed=allow_empty))
    if all(stack.file.settings is not None for stack in stacks):
        problems += _fleet_problems(stacks, read.entries, list_is_valid=not any(p.is_error for p in problems))
    return StacksCheck(problems, tenants_dir, read.files, read.tenants)


def _fleet_problems(stacks: list[Stack], entries: list[LocatedEntry], *, list_is_valid: bool) -> list[Problem]:
    if len(stacks) > 1:
        unsharded = [stack for stack in stacks if stack.settings.shard is None]
        if unsharded:
            return [stack.problem("shard", "is not set: with several stacks, each must say which tenants it owns",
                                  "add `pg-tenants:shard:` with a `name:` (and the `servers:` or `databases:` it owns); "
                                  "README: Sharding a fleet across stacks") for stack in unsharded]
    problems = _repeated_shard_names(stacks)
    problems += [p for located in entries if (p := _ownership_problem(located, stacks)) is not None]
    if list_is_valid and not problems:
        problems += _hardening_problems(stacks, entries)
    return problems


def _repeated_shard_names(stacks: list[Stack]) -> list[Problem]:
    by_name: dict[str, list[Stack]] = defaultdict(list)
    for stack in stacks:
        if stack.settings.shard is not None:
            by_name[stack.settings.shard.name].append(stack)
    return [
        stack.problem("shard", f"shard name {name!r} is also the shard of stack {same[0].name!r}", "give every stack its own shard name")
        for name, same in sorted(by_name.items()) for stack in same[1:]
    ]


def _ownership_problem(located: LocatedEntry, stacks: list[Stack]) -> Problem | None:
    entry = located.entry
    owners = [stack for stack in stacks if stack_owns(stack.settings, entry)]
    if len(owners) == 1:
        return None
    field = "shard" if entry.shard is not None else ("server" if entry.server is not None else "name")
    if not owners:
        names = sorted(s.settings.shard.name for s in stacks if s.settings.shard is not None)
        why = f"no stack has shard {entry.shard!r}" if entry.shard is not None else "no stack lists its server or database in pg-tenants:shard"
        return located.problem(field, f"tenant {entry.name!r} belongs to no stack: {why}, so no `pulumi up` would declare it",
                               f"write `shard:` with one of: {', '.join(names)}")
    claims = "; ".join(f"{s.name} ({ownership_reason(s.settings, entry)})" for s in owners)
    return located.problem(field, f"tenant {entry.name!r} belongs to {len(owners)} stacks: {claims}",
                           "write `shard:` naming one of them, or list its server/database in one stack's pg-tenants:shard only")


def _hardening_problems(stacks: list[Stack], entries: list[LocatedEntry]) -> list[Problem]:
    """Per database (host, port, name): the stacks that harden it (pg_tenants.shards.hardening) and those with tenants there."""
    hardened_by: dict[tuple[str, int, str], list[Stack]] = defaultdict(list)
    tenants_of: dict[tuple[str, int, str], list[Stack]] = defaultdict(list)
    for stack in stacks:
        settings = stack.settings
        placed = {(t.server, t.database) for t in (resolve(l, settings) for l in entries if stack_owns(settings, l.entry))}
        plan = hardening_plan(settings, placed)
        for server_key, database in sorted(plan.tenant_databases | plan.protected_databases):
            server = settings.servers[server_key]
            hardened_by[(server.host, server.port, database)].append(stack)
        for server_key, database in sorted(placed):
            server = settings.servers[server_key]
            tenants_of[(server.host, server.port, database)].append(stack)
    problems = []
    for (host, port, database), hardening in sorted(hardened_by.items()):
        if len(hardening) > 1:
            names = ", ".join(s.name for s in hardening)
            problems += [stack.problem(
                "shard", f"database {database!r} on {host}:{port} is hardened by stacks {names}: the first to drop its "
                "hardening would give PUBLIC's privileges back while the others' tenants remain",
                "list each server (pg-tenants:shard.servers) or database (pg-tenants:shard.databases) in one stack only, "
                "and list a server's databases in that stack's config only") for stack in hardening[1:]]
    if any(stack.settings.harden_databases for stack in stacks):
        for (host, port, database), holding in sorted(tenants_of.items()):
            if not hardened_by.get((host, port, database)):
                problems += [stack.problem(
                    "shard", f"database {database!r} on {host}:{port} holds tenants of stack {stack.name} but no stack hardens it",
                    "list its server or database in the pg-tenants:shard of one stack with hardenDatabases on") for stack in holding]
    return problems
