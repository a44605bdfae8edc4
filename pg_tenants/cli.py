"""`pg-tenants`: the pipeline's commands.

    pg-tenants validate [PATH] [--stack-config Pulumi.<stack>.yaml] [--previous OUTPUTS.json]
                        [--format human|github|json]
    pg-tenants verify [--outputs FILE|-] [--stack NAME] [--stack-config FILE] [--json] ...

Also runnable as `python -m pg_tenants.cli`. Exit codes: 0 clean, 1 problems or findings,
2 usage error (bad arguments, unreadable input, admin login failed).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    pass


# ----------------------------------------------------------------------------- validate


def _validate_problems(path: Path | None, stack_file: Path | None, previous: str | None,
                       stdin: IO[str]) -> tuple[Path, list]:
    """The tenants directory checked and its problems, by the same rules as the program.

    Mirrors pg_tenants.program_input.load_program_input: invalid stack settings are reported
    together with the tenant files' own problems, checked without the settings. With
    `previous` (the last deployment's outputs), edits the provider cannot apply in place are
    refused too, once the list itself is valid.
    """
    from pg_tenants.deployment_changes import unsupported_changes
    from pg_tenants.problems import ConfigurationInvalid
    from pg_tenants.stack_config import load_stack_file
    from pg_tenants.tenant_list import load_tenant_list, tenant_list_problems

    settings = config = None
    problems = []
    if previous is not None and stack_file is None:
        raise UsageError("--previous needs --stack-config: a tenant's server and database come from it")
    previous_tenants = _read_previous(previous, stdin) if previous is not None else None
    if stack_file is not None:
        if not stack_file.is_file():
            raise UsageError(f"stack config file not found: {stack_file}")
        try:
            settings, config = load_stack_file(stack_file)
        except ConfigurationInvalid as invalid:
            problems += invalid.problems
    if path is None:
        path = (stack_file.parent / settings.tenants_dir) if (stack_file and settings) else Path("tenants")
    if not path.is_dir():
        raise UsageError(f"tenants directory not found: {path}")
    problems += tenant_list_problems(path, settings, config)
    if previous_tenants is not None and not problems and settings is not None and config is not None:
        problems += unsupported_changes(load_tenant_list(path, settings, config), previous_tenants)
    return path, sorted(set(problems), key=lambda p: (p.file, p.line or 0, p.field, p.message))


def _read_previous(source: str, stdin: IO[str]) -> dict:
    """The `tenants` map of `pulumi stack output --json` (no secrets needed), from a file or '-'."""
    try:
        text = stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
        data = json.loads(text)
    except OSError as error:
        raise UsageError(f"cannot read --previous: {error.strerror}: {source}") from None
    except json.JSONDecodeError:
        raise UsageError(f"--previous {source} is not JSON") from None
    tenants = data.get("tenants", data) if isinstance(data, dict) else None
    if not isinstance(tenants, dict):
        raise UsageError("--previous must hold `pulumi stack output --json` (its `tenants` map)")
    return tenants


def _github_escape(text: str, *, property_value: bool = False) -> str:
    """Workflow-command escaping: data escapes %, CR, LF; property values also : and ,."""
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if property_value else text


def format_problems(problems: list, output_format: str, *, tenants_dir: Path, files: int, elapsed: float) -> str:
    if output_format == "json":
        return json.dumps({
            "valid": not problems,
            "tenants_dir": str(tenants_dir),
            "files": files,
            "problems": [{"file": p.file, "line": p.line, "field": p.field, "message": p.message, "fix": p.fix}
                         for p in problems],
        }, indent=2)
    lines = []
    for p in problems:
        if output_format == "github":
            props = f"file={_github_escape(p.file, property_value=True)}"
            if p.line is not None:
                props += f",line={p.line}"
            props += f",title={_github_escape(p.field, property_value=True)}"
            lines.append(f"::error {props}::{_github_escape(f'{p.message}. Fix: {p.fix}')}")
        else:
            lines.append(f"{p.location}: {p.field}: {p.message}")
            lines.append(f"    fix: {p.fix}")
    count, where = len(problems), f"({files} file{'s' if files != 1 else ''}, {elapsed:.2f} s)"
    if problems:
        lines.append(f"{count} problem{'s' if count != 1 else ''} in {tenants_dir} {where}")
    else:
        lines.append(f"OK: {tenants_dir} is valid {where}")
    return "\n".join(lines)


def run_validate(args: argparse.Namespace, out: IO[str], stdin: IO[str]) -> int:
    from pg_tenants.tenant_list import tenant_files

    started = time.perf_counter()
    tenants_dir, problems = _validate_problems(args.path, args.stack_config, args.previous, stdin)
    elapsed = time.perf_counter() - started
    files = len(tenant_files(tenants_dir))
    print(format_problems(problems, args.format, tenants_dir=tenants_dir, files=files, elapsed=elapsed), file=out)
    return EXIT_FINDINGS if problems else EXIT_OK


# ----------------------------------------------------------------------------- verify


def _default_stack_file(args: argparse.Namespace) -> Path | None:
    if args.stack_config is not None:
        return args.stack_config
    if args.stack:
        # `org/project/prod` and `prod` both keep their config in Pulumi.prod.yaml.
        candidate = (args.cwd or Path.cwd()) / f"Pulumi.{args.stack.rsplit('/', 1)[-1]}.yaml"
        return candidate if candidate.is_file() else None
    return None


def _verify_setup(args: argparse.Namespace):
    """Options for the run, and the tenants as the tenant files declare them (if the stack config is known)."""
    from pg_tenants.problems import ConfigurationInvalid
    from pg_tenants.stack_config import load_stack_file
    from pg_tenants.tenant_list import load_tenant_list

    from .verify.admin import ENV_ADMIN_CONNINFO, ServerAccess, access_from_stack, explicit_params, merge
    from .verify.runner import VerifyOptions

    conninfo = args.admin_conninfo if args.admin_conninfo is not None else os.environ.get(ENV_ADMIN_CONNINFO, "")
    try:
        explicit = explicit_params(conninfo)
    except Exception:  # psycopg's ProgrammingError; never echo the conninfo, it may hold a password
        raise UsageError("the admin conninfo is not a valid libpq connection string or URI") from None
    stack_file = _default_stack_file(args)
    from_stack: dict[str, ServerAccess] = {}
    declared: list = []
    if stack_file is not None:
        if not stack_file.is_file():
            raise UsageError(f"stack config file not found: {stack_file}")
        try:
            settings, config = load_stack_file(stack_file)
            declared = load_tenant_list(stack_file.parent / settings.tenants_dir, settings, config)
        except ConfigurationInvalid as invalid:
            raise UsageError(f"the stack config or tenant files are invalid; run `pg-tenants validate --stack-config "
                             f"{stack_file}`:\n" + "\n".join(f"  {p}" for p in invalid.problems)) from None
        needs_password = "password" not in explicit and "PGPASSWORD" not in os.environ
        from_stack = access_from_stack(settings, stack=args.stack, cwd=args.cwd, fetch_password=needs_password)
    options = VerifyOptions(
        access={name: merge(a, explicit, args.admin_role) for name, a in from_stack.items()},
        default_access=merge(None, explicit, args.admin_role),
        jobs=args.jobs,
        hands_on=not args.catalog_only,
    )
    return options, declared


def run_verify(args: argparse.Namespace, out: IO[str], err: IO[str], stdin: IO[str]) -> int:
    from .verify.fleet import OutputsError, read_outputs, with_declarations
    from .verify.report import Progress, as_json, as_table
    from .verify.runner import AdminConnectionError, verify_fleet

    options, declared = _verify_setup(args)
    try:
        fleet = with_declarations(read_outputs(args.outputs, stack=args.stack, cwd=args.cwd, stdin=stdin), declared)
        if args.tenant:
            fleet = fleet.only(set(args.tenant))
    except OutputsError as error:
        raise UsageError(str(error)) from None
    progress = None if args.no_progress else Progress(err)  # stderr: stdout stays clean for --json
    try:
        result = verify_fleet(fleet, options, progress)
    except AdminConnectionError as error:
        raise UsageError(str(error)) from None
    print(as_json(result) if args.json else as_table(result), file=out)
    return EXIT_OK if result.ok else EXIT_FINDINGS


# ----------------------------------------------------------------------------- parser


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return number


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pg-tenants", description="Pipeline commands of pg-tenants.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="{validate,verify}")

    validate = commands.add_parser(
        "validate", help="check the tenant files (and a stack config) without Pulumi or a database",
        description="Check tenant files with exactly the rules `pulumi up` enforces. "
                    "Exit 0 valid, 1 invalid, 2 usage error.")
    validate.add_argument("path", nargs="?", type=Path, metavar="PATH",
                          help="tenants directory (default: the stack config's tenantsDir, else ./tenants)")
    validate.add_argument("--stack-config", type=Path, metavar="FILE",
                          help="a Pulumi.<stack>.yaml: also check the settings and each tenant's server/database")
    validate.add_argument("--previous", metavar="FILE|-",
                          help="`pulumi stack output --json` of the last deployment ('-' = stdin): also refuse "
                               "moving a tenant to another server/database and renames without previous_names "
                               "(needs --stack-config)")
    validate.add_argument("--format", choices=["human", "github", "json"], default="human",
                          help="github prints workflow annotations (::error file=...,line=...::)")

    verify = commands.add_parser(
        "verify", help="prove tenant isolation against the live database after `pulumi up`",
        description="Log in as every tenant and read the catalogs as the admin to prove isolation. "
                    "Exit 0 clean, 1 findings, 2 usage or connection error.")
    source = verify.add_argument_group("tenants and their credentials")
    source.add_argument("--outputs", metavar="FILE|-",
                        help="JSON of `pulumi stack output --json --show-secrets` ('-' = stdin); "
                             "default: run that command")
    source.add_argument("--stack", help="stack for `pulumi stack output` / `pulumi config get`")
    source.add_argument("--cwd", type=Path, help="the Pulumi project directory (default: current)")
    source.add_argument("--tenant", action="append", metavar="NAME", help="verify only this tenant (repeatable)")
    admin = verify.add_argument_group("admin login (for the catalog checks)")
    admin.add_argument("--stack-config", type=Path, metavar="FILE",
                       help="Pulumi.<stack>.yaml with the servers (default: Pulumi.<--stack>.yaml if present)")
    admin.add_argument("--admin-conninfo", metavar="CONNINFO",
                       help="libpq conninfo or URI overriding the stack config (default: $PG_TENANTS_ADMIN_CONNINFO; "
                            "PG* variables fill the rest). Prefer PGPASSWORD to a password in here")
    admin.add_argument("--admin-role", help="role that owns the tenant schemas (default: adminUsername, else the admin login)")
    run = verify.add_argument_group("run")
    run.add_argument("--jobs", type=_positive, default=4, help="parallel tenant logins (default 4)")
    run.add_argument("--catalog-only", action="store_true", help="skip the hands-on logins")
    run.add_argument("--json", action="store_true", help="print JSON instead of the table")
    run.add_argument("--no-progress", action="store_true", help="no progress on stderr")
    return parser


def main(argv: Sequence[str] | None = None, *, stdin: IO[str] | None = None,
         stdout: IO[str] | None = None, stderr: IO[str] | None = None) -> int:
    out, err = stdout or sys.stdout, stderr or sys.stderr
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse's usage errors exit 2 already; keep main() returning
        return int(exit_.code or 0)
    try:
        if args.command == "validate":
            return run_validate(args, out, stdin or sys.stdin)
        return run_verify(args, out, err, stdin or sys.stdin)
    except UsageError as error:
        print(f"pg-tenants {args.command}: error: {error}", file=err)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
