"""`pg-tenants`: the pipeline's commands.

    pg-tenants validate [PATH ...] [--stack-config Pulumi.<stack>.yaml] [--previous OUTPUTS.json]
                        [--format human|github|json] [--json] [--allow-empty] [--color auto|always|never]
    pg-tenants validate --stacks 'Pulumi.*.yaml' [--stacks FILE ...]   (a sharded fleet)
    pg-tenants move-plan --from STACK --to STACK --tenant NAME [--tenant NAME ...]
    pg-tenants verify [--outputs FILE|-] [--stack NAME] [--stack-config FILE] [--format human|json] [--json] ...
    pg-tenants completion bash|zsh|fish
    pg-tenants --version

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
from typing import IO, TYPE_CHECKING

from pg_tenants.terminal import COLOR_MODES, choose_style

if TYPE_CHECKING:  # imported where used, so `verify` does not pay for validate's imports
    from pg_tenants.stack_config import StackFile
    from pg_tenants.validate_report import ValidateReport

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad arguments or input, or a login that failed: exit 2, with `fix` printed under the message."""

    def __init__(self, message: str, fix: str | None = None) -> None:
        super().__init__(message)
        self.fix = fix


# ----------------------------------------------------------------------------- validate


def _validate(args: argparse.Namespace, stdin: IO[str]) -> ValidateReport:
    """Every problem of the stack config and the tenant files, by the same rules as the program.

    Mirrors pg_tenants.program_input.load_program_input: invalid stack settings are reported
    together with the tenant files' own problems, checked without the settings. Beyond what the
    program refuses: unknown stack keys, placeholder secrets, an empty fleet (unless
    --allow-empty). With `previous` (the last deployment's outputs), edits the provider cannot
    apply in place are refused too, once the list itself is valid.
    """
    from pg_tenants.deployment_changes import unsupported_changes
    from pg_tenants.problems import printable, sort_problems
    from pg_tenants.tenants.tenant_list import check_tenant_paths, empty_fleet_problem
    from pg_tenants.validate_report import ValidateReport, tenants_label

    if args.stacks:
        return _validate_stacks(args)
    whole_list = all(path.is_dir() for path in args.paths)
    previous_tenants = _previous_tenants(args, whole_list, stdin)
    stack = _stack_file(args.stack_config)
    paths = _tenant_paths(args.paths, args.stack_config, stack)
    settings, source = (stack.settings, stack.source) if stack else (None, None)
    checked = check_tenant_paths(paths, settings, source, resolve=previous_tenants is not None)
    report = ValidateReport([*(stack.problems if stack else []), *checked.problems], paths,
                            printable(str(args.stack_config)) if stack else None, checked.files, checked.tenants)
    if whole_list and checked.tenants == 0 and not checked.errors:
        report.problems.append(empty_fleet_problem(tenants_label(paths), allowed=args.allow_empty))
    # A sharded stack may own no tenant at all: its previous ones must still be accounted for.
    if previous_tenants is not None and not report.errors and (checked.resolved or checked.not_owned):
        report.problems += unsupported_changes(checked.resolved, previous_tenants, checked.not_owned)
    report.problems = sort_problems(report.problems)
    return report


def _validate_stacks(args: argparse.Namespace) -> ValidateReport:
    from pg_tenants.problems import sort_problems
    from pg_tenants.shards.fleet_check import check_stacks
    from pg_tenants.shards.stack_files import expand_stack_patterns
    from pg_tenants.validate_report import ValidateReport

    if args.paths or args.stack_config or args.previous:
        raise UsageError("--stacks checks the stacks' own tenant list: give no PATH, --stack-config or --previous "
                         "(run --previous per stack)")
    try:
        paths = expand_stack_patterns(args.stacks)
    except ValueError as error:
        raise UsageError(str(error)) from None
    checked = check_stacks(paths, allow_empty=args.allow_empty)
    return ValidateReport(sort_problems(checked.problems), [checked.tenants_dir], None, checked.files, checked.tenants,
                          tuple(str(path) for path in paths))


def _previous_tenants(args: argparse.Namespace, whole_list: bool, stdin: IO[str]) -> dict | None:
    if args.previous is None:
        return None
    if args.stack_config is None:
        raise UsageError("--previous needs --stack-config: a tenant's server and database come from it")
    if not whole_list:
        raise UsageError("--previous needs the whole tenant list: give the tenants directory, not files")
    return _read_previous(args.previous, stdin)


def _stack_file(path: Path | None) -> StackFile | None:
    from pg_tenants.stack_config import read_stack_file

    if path is None:
        return None
    if not _exists(path):
        raise UsageError(f"stack config file not found: {path}")
    return read_stack_file(path)


def _tenant_paths(given: list[Path], stack_path: Path | None, stack: StackFile | None) -> list[Path]:
    """The paths given, else the stack config's tenantsDir, else ./tenants; each must exist."""
    paths = given or [stack_path.parent / stack.tenants_dir if stack_path and stack else Path("tenants")]
    for path in paths:
        if not _exists(path):
            raise UsageError(f"{'tenant file' if path.suffix else 'tenants directory'} not found: {path}")
    return paths


def _exists(path: Path) -> bool:
    return path.exists() or path.is_symlink()


def _read_previous(source: str, stdin: IO[str]) -> dict:
    """The `tenants` map of `pulumi stack output --json` (no secrets needed), from a file or '-'."""
    try:
        text = stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
        data = json.loads(text)
    except OSError as error:
        raise UsageError(f"cannot read --previous: {error.strerror}: {source}") from None
    except UnicodeDecodeError:
        raise UsageError(f"--previous {source} is not UTF-8 text") from None
    except (json.JSONDecodeError, RecursionError):
        raise UsageError(f"--previous {source} is not JSON") from None
    from pg_tenants.shards.previous_state import is_stack_export, tenants_in_export

    if is_stack_export(data):
        tenants = tenants_in_export(data)
    else:
        tenants = data.get("tenants", data) if isinstance(data, dict) else None
    if not isinstance(tenants, dict) or not all(isinstance(entry, dict) for entry in tenants.values()):
        raise UsageError("--previous must hold `pulumi stack output --json` (its `tenants` map) or `pulumi stack export`")
    return tenants


def run_validate(args: argparse.Namespace, out: IO[str], stdin: IO[str]) -> int:
    from pg_tenants.validate_report import format_report

    started = time.perf_counter()
    report = _validate(args, stdin)
    style = choose_style(args.color, out)
    print(format_report(report, args.format, time.perf_counter() - started, style), file=out)
    return EXIT_FINDINGS if report.errors else EXIT_OK


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
    from pg_tenants.tenants.tenant_list import load_tenant_list

    from .verify.admin import (
        AdminSettingsError,
        ServerAccess,
        access_from_stack,
        conninfo_from_environment,
        explicit_params,
        merge,
    )
    from .verify.runner import VerifyOptions

    try:
        conninfo, conninfo_source = ((args.admin_conninfo, "--admin-conninfo") if args.admin_conninfo is not None
                                     else conninfo_from_environment(os.environ))
    except AdminSettingsError as error:
        raise UsageError(str(error)) from None
    try:
        explicit = explicit_params(conninfo)
    except Exception:  # psycopg's ProgrammingError; never echo the conninfo, it may hold a password
        raise UsageError(f"the admin conninfo ({conninfo_source}) is not a valid libpq connection string or URI",
                         "write it as postgresql://USER@HOST:PORT/DBNAME?sslmode=require, or as "
                         "host=HOST port=PORT user=USER; give the password in PGPASSWORD") from None
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
        access={name: merge(a, explicit, args.admin_role, conninfo_source) for name, a in from_stack.items()},
        default_access=merge(None, explicit, args.admin_role, conninfo_source),
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
        raise UsageError(str(error), error.fix) from None
    progress = None if args.no_progress else Progress(err)  # stderr: stdout stays clean for JSON
    try:
        result = verify_fleet(fleet, options, progress)
    except AdminConnectionError as error:
        raise UsageError(str(error), error.fix) from None
    json_output = args.format == "json"
    print(as_json(result) if json_output else as_table(result, choose_style(args.color, out)), file=out)
    return EXIT_OK if result.ok else EXIT_FINDINGS


def run_completion(args: argparse.Namespace, out: IO[str]) -> int:
    from pg_tenants.completion import script

    out.write(script(args.shell, build_parser()))
    return EXIT_OK


# ----------------------------------------------------------------------------- parser


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return number


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pg-tenants")
    except PackageNotFoundError:
        return "unknown (not installed: `pip install -e .` records the version)"


def _output_options(parser: argparse.ArgumentParser, formats: Sequence[str], format_help: str) -> None:
    """--format, --json (its alias for --format json) and --color, alike on every command."""
    parser.add_argument("--format", choices=formats, default="human", help=format_help)
    parser.add_argument("--json", dest="format", action="store_const", const="json",
                        help="the same as --format json")
    parser.add_argument("--color", choices=COLOR_MODES, default="auto",
                        help="colour the human format: auto (default) on a terminal unless NO_COLOR is set")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pg-tenants", description="Pipeline commands of pg-tenants.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="{validate,verify,move-plan,completion}")

    validate = commands.add_parser(
        "validate", help="check the tenant files (and a stack config) without Pulumi or a database",
        description="Check tenant files with exactly the rules `pulumi up` enforces. "
                    "Exit 0 valid, 1 invalid, 2 usage error.")
    validate.add_argument("paths", nargs="*", type=Path, metavar="PATH",
                          help="the tenants directory, or tenant files to check as a list of their own (for "
                               "pre-commit); default: the stack config's tenantsDir, else ./tenants")
    validate.add_argument("--stack-config", type=Path, metavar="FILE",
                          help="a Pulumi.<stack>.yaml: also check the settings and each tenant's server/database")
    validate.add_argument("--previous", metavar="FILE|-",
                          help="`pulumi stack output --json` or `pulumi stack export` of the last deployment ('-' = "
                               "stdin): also refuse moving a tenant to another server/database, renames without "
                               "previous_names, and a tenant leaving the stack's shard before `pulumi state move` "
                               "(the export shows the move; needs --stack-config)")
    validate.add_argument("--stacks", action="append", metavar="FILE|GLOB",
                          help="the stack configs of a sharded fleet (repeatable; a quoted glob like 'Pulumi.*.yaml' "
                               "is expanded here): check each, and that every tenant belongs to exactly one stack")
    _output_options(validate, ["human", "github", "json"],
                    "github prints workflow annotations (::error file=...,line=...::, ::warning ...)")
    validate.add_argument("--allow-empty", action="store_true",
                          help="accept a tenants directory without any tenant (reported as a warning)")

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
                       help="libpq conninfo or URI overriding the stack config (default: $PG_TENANTS_ADMIN_URL, "
                            "or its older name $PG_TENANTS_ADMIN_CONNINFO; PG* variables fill the rest). Prefer "
                            "PGPASSWORD to a password in here")
    admin.add_argument("--admin-role", help="role that owns the tenant schemas (default: adminUsername, else the admin login)")
    run = verify.add_argument_group("run")
    run.add_argument("--jobs", type=_positive, default=4, help="parallel tenant logins (default 4)")
    run.add_argument("--catalog-only", action="store_true", help="skip the hands-on logins")
    _output_options(run, ["human", "json"], "human: a table (default); json: the report for machines")
    run.add_argument("--no-progress", action="store_true", help="no progress on stderr")
    from pg_tenants.shards.move_plan_cli import add_move_plan_parser

    add_move_plan_parser(commands)

    completion = commands.add_parser(
        "completion", help="print a shell completion script",
        description="Print a completion script for bash, zsh or fish. Load it with "
                    "`eval \"$(pg-tenants completion bash)\"` (or zsh) in the shell's rc file, or for fish: "
                    "`pg-tenants completion fish > ~/.config/fish/completions/pg-tenants.fish`.")
    completion.add_argument("shell", choices=["bash", "zsh", "fish"])
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
        if args.command == "move-plan":
            from pg_tenants.shards.move_plan_cli import run_move_plan

            return run_move_plan(args, out)
        if args.command == "completion":
            return run_completion(args, out)
        return run_verify(args, out, err, stdin or sys.stdin)
    except UsageError as error:
        print(f"pg-tenants {args.command}: error: {error}", file=err)
        if error.fix:
            print(f"  fix: {error.fix}", file=err)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
