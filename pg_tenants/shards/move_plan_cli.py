"""`pg-tenants move-plan`: print the commands and edits that move tenants between stacks.

It reads the stack files and the tenant list only: no Pulumi, no database, no secret.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import IO


def add_move_plan_parser(commands: argparse._SubParsersAction) -> None:
    plan = commands.add_parser(
        "move-plan", help="print the `pulumi state move` commands and edits that move tenants to another stack",
        description="Print, in order, the commands and edits that move tenants from one stack of a sharded fleet to "
                    "another without deleting or re-creating them. Runs nothing. Exit 0 plan printed, 1 the move "
                    "cannot be planned (problems printed), 2 usage error.")
    plan.add_argument("--from", dest="source", required=True, metavar="STACK", help="stack that owns the tenants now")
    plan.add_argument("--to", dest="dest", required=True, metavar="STACK", help="stack to move them to")
    plan.add_argument("--tenant", action="append", required=True, metavar="NAME", help="tenant to move (repeatable)")
    plan.add_argument("--cwd", type=Path, default=Path("."), help="the Pulumi project directory (default: current)")


def run_move_plan(args: argparse.Namespace, out: IO[str]) -> int:
    from pg_tenants.cli import EXIT_FINDINGS, EXIT_OK, UsageError
    from pg_tenants.validate_report import format_problems
    from pg_tenants.problems import ConfigurationInvalid, sort_problems
    from pg_tenants.shards.move_plan import StackView, format_plan, plan_moves
    from pg_tenants.shards.stack_files import short_stack_name, stack_file_for
    from pg_tenants.stack_config import load_stack_file
    from pg_tenants.tenants.files import read_tenant_paths
    from pg_tenants.tenants.yaml_source import YamlFileError, load_yaml

    if short_stack_name(args.source) == short_stack_name(args.dest):
        raise UsageError("--from and --to name the same stack")
    views = []
    for stack in (args.source, args.dest):
        path = stack_file_for(stack, args.cwd)
        if not path.is_file():
            raise UsageError(f"stack config file not found: {path}")
        try:
            settings, source = load_stack_file(path)
        except ConfigurationInvalid:
            raise UsageError(f"{path} is invalid; run `pg-tenants validate --stacks {path}`") from None
        views.append(StackView(stack, path, settings, source))
    try:
        project = load_yaml(args.cwd / "Pulumi.yaml", "Pulumi.yaml", kind="the project file").data["name"]
    except (YamlFileError, TypeError, KeyError):
        raise UsageError(f"cannot read the project name from {args.cwd / 'Pulumi.yaml'}") from None
    directories = {(view.file.parent / view.settings.tenants_dir).resolve() for view in views}
    if len(directories) > 1:
        raise UsageError("the two stacks read different tenant lists (tenantsDir); a sharded fleet has one")
    read = read_tenant_paths([views[0].file.parent / views[0].settings.tenants_dir])
    if any(p.is_error for p in read.problems):
        raise UsageError("the tenant list is invalid; run `pg-tenants validate --stacks` first")
    planned = plan_moves(views[0], views[1], str(project), read.entries, list(dict.fromkeys(args.tenant)))
    if isinstance(planned, list):
        print(format_problems(sort_problems(planned), "human"), file=out)
        return EXIT_FINDINGS
    print(format_plan(planned), file=out)
    return EXIT_OK
