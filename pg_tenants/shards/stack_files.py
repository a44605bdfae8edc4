"""The stack configs of a fleet, as named on the command line: files or quoted globs."""

from __future__ import annotations

import glob
from collections.abc import Sequence
from pathlib import Path


def expand_stack_patterns(patterns: Sequence[str]) -> list[Path]:
    """Every file the patterns name, once, in a stable order; ValueError when one names nothing."""
    found: dict[Path, None] = {}
    for pattern in patterns:
        matches = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else ([pattern] if Path(pattern).is_file() else [])
        if not matches:
            raise ValueError(f"no stack config file matches {pattern}")
        found |= dict.fromkeys(Path(match) for match in matches)
    return list(found)


def stack_file_for(stack: str, project_dir: Path) -> Path:
    """`eu-1` and `org/pg-tenants/eu-1` both keep their config in Pulumi.eu-1.yaml."""
    return project_dir / f"Pulumi.{short_stack_name(stack)}.yaml"


def short_stack_name(stack: str) -> str:
    """The stack segment of a URN: the last part of a fully qualified `org/project/stack`."""
    return stack.rsplit("/", 1)[-1]
