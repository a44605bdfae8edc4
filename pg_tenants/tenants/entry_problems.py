"""Turn pydantic validation errors into located, stable, human `Problem`s.

Messages describe the kind of value found, never the value itself for strings, so a
password pasted into the wrong field is not echoed into CI logs.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ValidationError

from pg_tenants.problems import Problem
from pg_tenants.shards.settings import DATABASE_REF_PATTERN, SHARD_NAME_FIX, SHARD_NAME_PATTERN

LineOf = Callable[[tuple[Any, ...]], int | None]
MAX_INT4 = 2**31 - 1


def describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int):
        return "a number"
    if isinstance(value, float):
        return "a decimal number"
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


def field_path(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) and not isinstance(part, bool) else (f".{part}" if text else str(part))
    return text


def did_you_mean(name: Any, known: list[str], *, prefix: str = "") -> str | None:
    """`did you mean `schema`?` for a close spelling, else None (difflib)."""
    if not isinstance(name, str):
        return None
    lowered = {candidate.lower(): candidate for candidate in known}
    close = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
    return f"did you mean `{prefix}{lowered[close[0]]}`?" if close else None


def unknown_name_fix(name: Any, known: list[str], *, noun: str = "known fields", prefix: str = "") -> str:
    listed = f"{noun}: {', '.join(known)}" if known else ""
    suggestion = did_you_mean(name, known, prefix=prefix)
    if suggestion:
        return f"{suggestion} {listed[:1].upper()}{listed[1:]}" if listed else suggestion
    return f"remove it or correct its spelling; {listed}" if listed else "remove it or correct its spelling"


def known_fields(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The field names (aliases) of the model found at `loc` inside `model`, or []."""
    target: Any = model
    for part in loc:
        target = _child_type(target, part)
        if target is None:
            return []
    target = _without_none(target)
    if isinstance(target, type) and issubclass(target, BaseModel):
        return sorted(info.alias or name for name, info in target.model_fields.items())
    return []


def _without_none(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        options = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        return options[0] if len(options) == 1 else annotation
    return annotation


def _child_type(annotation: Any, part: Any) -> Any:
    annotation = _without_none(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        for name, info in annotation.model_fields.items():
            if part in (name, info.alias):
                return info.annotation
        return None
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is list and isinstance(part, int) and args:
        return args[0]
    if origin is dict and len(args) == 2:
        return args[1]
    return None


def _message_and_fix(error: dict[str, Any], known: Callable[[tuple[Any, ...]], list[str]]) -> tuple[str, str]:
    kind, value, ctx = error["type"], error.get("input"), error.get("ctx") or {}
    if kind == "missing":
        return "is required", "add this field"
    if kind == "extra_forbidden":
        return "is not a known field", unknown_name_fix(error["loc"][-1], known(error["loc"][:-1]))
    if kind == "invalid_key":
        return f"a field name must be text, found {describe(value)}", unknown_name_fix(None, known(error["loc"][:-1]))
    if kind == "string_type" and isinstance(value, (int, float)):
        return f"must be text, found {describe(value)}", "write text here; quote it if it looks like a number or true/false"
    if kind in _EXPECTED:
        return f"must be {_EXPECTED[kind]}, found {describe(value)}", f"write {_EXPECTED[kind]} here"
    if kind == "greater_than_equal":
        return f"must be at least {ctx['ge']}, found {value}", f"use a value of {ctx['ge']} or more"
    if kind == "less_than_equal":
        why = ", the largest value PostgreSQL accepts (a 4-byte integer)," if ctx["le"] == MAX_INT4 else ","
        return f"must be at most {ctx['le']}{why} found {value}", f"use a value of {ctx['le']} or less"
    if kind == "too_short":
        return "must not be empty", "give at least one item"
    if kind == "string_pattern_mismatch" and ctx.get("pattern") == SHARD_NAME_PATTERN:
        return f"{value!r} is not a shard name", SHARD_NAME_FIX
    if kind == "string_pattern_mismatch" and ctx.get("pattern") == DATABASE_REF_PATTERN:
        return f"{value!r} is not `server/database`", "write a server key of this stack, '/', and one of its databases"
    if kind == "string_pattern_mismatch":
        return "is not a valid config key name", "use letters, digits, '_', '-' or '.', starting with a letter"
    if kind == "string_too_long":
        return f"is longer than {ctx['max_length']} characters", f"use at most {ctx['max_length']} characters"
    if kind == "literal_error":
        return f"must be one of {ctx['expected']}", f"use one of {ctx['expected']}"
    return error["msg"], "correct the value"


def problems_from_validation_error(
    error: ValidationError,
    *,
    file: str,
    line_of: LineOf,
    model: type[BaseModel],
    field_prefix: str = "",
) -> list[Problem]:
    """One problem per pydantic error; unknown fields list the fields `model` knows at that place."""
    problems = []
    for item in error.errors(include_url=False):
        loc = tuple(item["loc"])
        message, fix = _message_and_fix(item, lambda at: known_fields(model, at))
        problems.append(Problem(file, line_of(loc), f"{field_prefix}{field_path(loc)}", message, fix))
    return problems
