"""What `pg-tenants validate` found, and how it is shown: human lines, GitHub annotations or JSON.

Colour (a Style) reaches the human format only; annotations and JSON are for machines.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from pg_tenants.problems import Problem, plural, printable
from pg_tenants.terminal import PLAIN, Style


@dataclass
class ValidateReport:
    problems: list[Problem]  # errors and warnings, in one stable order
    paths: list[Path]  # what was checked: the tenants directory, or the files given
    stack_file: str | None  # as problems name it
    files: int = 0
    tenants: int = 0
    stack_files: tuple[str, ...] = ()  # the stack configs checked together (--stacks), as problems name them

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.is_error]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if not p.is_error]


def _github_escape(text: str, *, property_value: bool = False) -> str:
    """Workflow-command escaping: data escapes %, CR, LF; property values also : and ,."""
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if property_value else text


def format_problems(problems: list[Problem], output_format: str, style: Style = PLAIN) -> str:
    """Human lines (`file:line: field: message` + `fix:`) or GitHub annotations; warnings marked as such."""
    lines = []
    for p in problems:
        if output_format == "github":
            props = f"file={_github_escape(p.file, property_value=True)}"
            if p.line is not None:
                props += f",line={p.line}"
            props += f",title={_github_escape(p.field, property_value=True)}"
            lines.append(f"::{p.severity} {props}::{_github_escape(f'{p.message}. Fix: {p.fix}')}")
        else:
            location = style.red(p.location) if p.is_error else style.yellow(p.location)
            lines.append(f"{location}: {p.field}: {'' if p.is_error else style.yellow('warning: ')}{p.message}")
            lines.append(f"    {style.dim('fix:')} {p.fix}")
    return "\n".join(lines)


def tenants_label(paths: list[Path]) -> str:
    return printable(", ".join(str(path) for path in paths)) if len(paths) <= 3 else f"the {len(paths)} paths given"


def _where(report: ValidateReport) -> str:
    """`the stack config`, `tenants`, or `the stack config and tenants`: where the problems are."""
    places = []
    stack_files = {report.stack_file, *report.stack_files}
    if any(p.file in stack_files for p in report.problems):
        places.append("the stack configs" if len(report.stack_files) > 1 else "the stack config")
    if any(p.file not in stack_files for p in report.problems):
        places.append(tenants_label(report.paths))
    return " and ".join(places)


def _summary(report: ValidateReport, elapsed: float, style: Style = PLAIN) -> str:
    """`2 problems and 1 warning in tenants (3 tenants in 2 files, 0.01 s)`, or `OK: … is valid (…)`."""
    counts = f"({plural(report.tenants, 'tenant')} in {plural(report.files, 'file')}, {elapsed:.2f} s)"
    if report.errors:
        warned = f" and {plural(len(report.warnings), 'warning')}" if report.warnings else ""
        return f"{style.red(plural(len(report.errors), 'problem') + warned + ' in ' + _where(report))} {counts}"
    tenants = tenants_label(report.paths)
    checked = f"the stack config and {tenants} are" if report.stack_file else f"{tenants} is"
    if report.stack_files:
        checked = f"{plural(len(report.stack_files), 'stack config')} and {tenants} are"
    warned = f", {plural(len(report.warnings), 'warning')}" if report.warnings else ""
    return f"{style.green(f'OK: {checked} valid')}{style.yellow(warned)} {counts}"


def _as_dicts(problems: list[Problem]) -> list[dict]:
    return [{"file": p.file, "line": p.line, "field": p.field, "message": p.message, "fix": p.fix} for p in problems]


def format_report(report: ValidateReport, output_format: str, elapsed: float, style: Style = PLAIN) -> str:
    if output_format == "json":
        return json.dumps({
            "valid": not report.errors,
            "tenants_dir": str(report.paths[0]),
            "paths": [str(path) for path in report.paths],
            "files": report.files,
            "tenants": report.tenants,
            "problems": _as_dicts(report.errors),
            "warnings": _as_dicts(report.warnings),
        }, indent=2)
    if output_format == "github":
        style = PLAIN  # annotations are read by the runner, not by a terminal
    lines = format_problems(report.problems, output_format, style)
    summary = _summary(report, elapsed, style)
    return f"{lines}\n{summary}" if lines else summary
