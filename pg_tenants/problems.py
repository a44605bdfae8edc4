"""A problem found in the tenant list or the stack config, located for a human to fix."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True, order=True)
class Problem:
    file: str
    line: int | None
    field: str
    message: str
    fix: str
    # Warnings are reported but change nothing: they never stop `pulumi up` or fail `validate`.
    severity: Severity = "error"

    def __post_init__(self) -> None:
        for name in ("file", "field", "message", "fix"):
            object.__setattr__(self, name, printable(getattr(self, name)))

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}" if self.line is not None else self.file

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def as_warning(self) -> Problem:
        return Problem(self.file, self.line, self.field, self.message, self.fix, "warning")

    def __str__(self) -> str:
        return f"{self.location}: {self.field}: {self.message} (fix: {self.fix})"


def printable(text: str) -> str:
    r"""Text that any UTF-8 output (a log, gRPC, a strict terminal) accepts.

    File names that are not UTF-8 reach Python as lone surrogates (`\udcff`); they are shown
    as their bytes (`\xff`) instead of failing whoever prints the problem.
    """
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        try:
            return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        except UnicodeEncodeError:
            return text.encode("utf-8", "backslashreplace").decode("utf-8")


def plural(count: int, noun: str) -> str:
    """`1 tenant`, `2 tenants`, `0 tenants`."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def sort_problems(problems: list[Problem]) -> list[Problem]:
    """One stable order everywhere: by file, line, field, message; duplicates dropped."""
    return sorted(set(problems), key=lambda p: (p.file, p.line or 0, p.field, p.message, p.severity))


def explained(problems: list[Problem], explanations: list[Problem]) -> list[Problem]:
    """The explanations, and the other problems except those of a field an explanation covers.

    A value YAML 1.1 and 1.2 read differently (`adopt: yes`) is one problem; that the value
    is then not true/false either would only repeat it.
    """
    covered = {(p.file, p.field) for p in explanations}
    return explanations + [p for p in problems if (p.file, p.field) not in covered]


class ConfigurationInvalid(Exception):
    """Raised with every problem found; nothing may be registered after it."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.file, p.line or 0, p.field, p.message))
        header = f"{plural(len(self.problems), 'problem')} in the tenant list or stack config; nothing was changed:"
        super().__init__("\n".join([header, *(f"  {p}" for p in self.problems)]))
