"""Turn pydantic validation errors into located, stable, human `Problem`s.

Messages describe the kind of value found, never the value itself for strings, so a
password pasted into the wrong field is not echoed into CI logs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from pg_tenants.problems import Problem

LineOf = Callable[[tuple[str | int, ...]], int | None]


def describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


_EXPECTED = {
    "string_type": "text",
    "int_type": "a whole number",
    "bool_type": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}


def field_path(loc: tuple[str | int, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _message_and_fix(error: dict[str, Any], known_fields: Callable[[tuple[str | int, ...]], list[str]]) -> tuple[str, str]:
    kind, value, ctx = error["type"], error.get("input"), error.get("ctx") or {}
    if kind == "missing":
        return "is required", "add this field"
    if kind == "extra_forbidden":
        known = known_fields(error["loc"][:-1])
        return "is not a known field", f"remove it or correct its spelling; known fields: {', '.join(known)}"
    if kind in _EXPECTED:
        return f"must be {_EXPECTED[kind]}, found {describe(value)}", f"write {_EXPECTED[kind]} here"
    if kind == "greater_than_equal":
        return f"must be at least {ctx['ge']}, found {value}", f"use a value of {ctx['ge']} or more"
    if kind == "less_than_equal":
        return f"must be at most {ctx['le']}, found {value}", f"use a value of {ctx['le']} or less"
    if kind == "too_short":
        return "must not be empty", "give at least one item"
    if kind == "string_pattern_mismatch":
        return "is not a valid config key name", "use letters, digits, '_', '-' or '.', starting with a letter"
    if kind == "literal_error":
        return f"must be one of {ctx['expected']}", f"use one of {ctx['expected']}"
    return error["msg"], "correct the value"


def problems_from_validation_error(
    error: ValidationError,
    *,
    file: str,
    line_of: LineOf,
    field_prefix: str = "",
    known_fields: Callable[[tuple[str | int, ...]], list[str]] = lambda loc: [],
) -> list[Problem]:
    problems = []
    for item in error.errors(include_url=False):
        loc = tuple(item["loc"])
        message, fix = _message_and_fix(item, known_fields)
        problems.append(Problem(file, line_of(loc), f"{field_prefix}{field_path(loc)}", message, fix))
    return problems
