"""A problem found in the tenant list or the stack config, located for a human to fix."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Problem:
    file: str
    line: int | None
    field: str
    message: str
    fix: str

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}" if self.line is not None else self.file

    def __str__(self) -> str:
        return f"{self.location}: {self.field}: {self.message} (fix: {self.fix})"


class ConfigurationInvalid(Exception):
    """Raised with every problem found; nothing may be registered after it."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.file, p.line or 0, p.field, p.message))
        count = len(self.problems)
        header = f"{count} problem{'s' if count != 1 else ''} in the tenant list or stack config; nothing was changed:"
        super().__init__("\n".join([header, *(f"  {p}" for p in self.problems)]))
