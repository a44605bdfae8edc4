"""What a plain (unquoted) YAML scalar means, refused where YAML 1.1 and YAML 1.2 disagree.

PyYAML (and yq, Ansible and other tools that review or rewrite these files) reads YAML 1.1,
where `010` is 8, `yes`/`no`/`on`/`off` are booleans, `1_000` is 1000 and `2027-01-31` is a
date. Editors (and the JSON Schema they check against) read YAML 1.2's core schema, where
`010` is 10, those words are text and `1e9` is a number. A tenant file must mean the same to
every reader, so a plain scalar both versions read alike gets that value, and any other is a
problem that says what to write: the number without the surprise, or the text quoted.
"""

from __future__ import annotations

import datetime
import math
import re
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.resolver import Resolver

_PREFIX = "tag:yaml.org,2002:"
_NULLS_12 = frozenset({"", "~", "null", "Null", "NULL"})
_BOOLS_12 = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT_12 = re.compile(r"[-+]?[0-9]+")
_OCT_12 = re.compile(r"0o[0-7]+")
_HEX_12 = re.compile(r"0x[0-9a-fA-F]+")
_FLOAT_12 = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_INF_12 = re.compile(r"[-+]?\.(inf|Inf|INF)")
_NAN_12 = re.compile(r"\.(nan|NaN|NAN)")
# Text in both versions: a plain scalar starting with a letter, unless it is one of these
# words, or starting with anything but these characters (the fast path).
_WORDS = frozenset(
    f"{word}" for base in ("yes", "no", "true", "false", "on", "off", "null") for word in (base, base.title(), base.upper())
)
_SPECIAL_FIRST = frozenset("~-+.0123456789<=")
MAX_DIGITS = 32  # longer numbers are refused before Python is asked to convert them

_CONSTRUCTOR = SafeConstructor()
_BUILD_11 = {
    "null": _CONSTRUCTOR.construct_yaml_null,
    "bool": _CONSTRUCTOR.construct_yaml_bool,
    "int": _CONSTRUCTOR.construct_yaml_int,
    "float": _CONSTRUCTOR.construct_yaml_float,
    "timestamp": _CONSTRUCTOR.construct_yaml_timestamp,
}


class _Special:
    """A YAML 1.1 reading with no plain value (`<<` merge key, `=` value key, a date that does not exist)."""

    def __init__(self, description: str) -> None:
        self.description = description


@dataclass(frozen=True)
class PlainScalar:
    value: Any  # as YAML 1.2 reads it, so later checks see what the author most likely meant
    problem: tuple[str, str] | None = None  # (message, fix) when YAML 1.1 reads it otherwise


def read_plain_scalar(text: str) -> PlainScalar:
    if text and (text[0].isalpha() or text[0] not in _SPECIAL_FIRST) and text not in _WORDS:
        return PlainScalar(text)  # the fast path: names, most values
    if len(text) > MAX_DIGITS and _too_long_a_number(text):
        digits = sum(char.isdigit() for char in text)
        return PlainScalar(text, (f"a number of {digits} digits is too large", "write a number PostgreSQL accepts (at most 2147483647)"))
    old, new = _value_11(text), _value_12(text)
    if _same(old, new):
        return PlainScalar(new)
    return PlainScalar(new, (f"`{text}` is {_describe(old)} in YAML 1.1 but {_describe(new)} in YAML 1.2", _fix(text, old, new)))


def _too_long_a_number(text: str) -> bool:
    """Python refuses to convert integers of more than 4300 digits; no setting needs 33."""
    is_integer = _INT_12.fullmatch(text) or _HEX_12.fullmatch(text) or _tag_11(text) == "int"
    return bool(is_integer) and sum(char.isdigit() for char in text) > MAX_DIGITS


def _tag_11(text: str) -> str:
    for tag, pattern in Resolver.yaml_implicit_resolvers.get(text[:1] if text else "", []):
        if pattern.match(text):
            return tag.removeprefix(_PREFIX)
    return "str"


def _value_11(text: str) -> Any:
    tag = _tag_11(text)
    if tag == "str":
        return text
    if tag not in _BUILD_11:
        return _Special(f"a {tag} key")
    try:
        return _BUILD_11[tag](yaml.ScalarNode(_PREFIX + tag, text))
    except (ValueError, OverflowError):
        return _Special(f"an invalid {tag}")


def _value_12(text: str) -> Any:
    if text in _NULLS_12:
        return None
    if text in _BOOLS_12:
        return _BOOLS_12[text]
    if _INT_12.fullmatch(text):
        return int(text)
    if _OCT_12.fullmatch(text):
        return int(text[2:], 8)
    if _HEX_12.fullmatch(text):
        return int(text[2:], 16)
    if _INF_12.fullmatch(text):
        return -math.inf if text.startswith("-") else math.inf
    if _NAN_12.fullmatch(text):
        return math.nan
    if _FLOAT_12.fullmatch(text):
        return float(text)
    return text


def _same(old: Any, new: Any) -> bool:
    if type(old) is not type(new):
        return False
    if isinstance(old, float) and math.isnan(old):
        return math.isnan(new)
    return bool(old == new)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if _is_number(value):
        return repr(value)
    if isinstance(value, datetime.datetime):
        return "a timestamp"
    if isinstance(value, datetime.date):
        return "a date"
    if isinstance(value, _Special):
        return value.description
    return "text"


def _plain_number(value: int | float) -> str:
    if isinstance(value, float) and math.isfinite(value) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return repr(value)


def _fix(text: str, old: Any, new: Any) -> str:
    quoted = "'" + text.replace("'", "''") + "'"
    for reading in (new, old):
        if _is_number(reading):
            return f"write {_plain_number(reading)} if you mean the number, or quote it ({quoted}) if it is text"
    if isinstance(old, bool):
        word = "true" if old else "false"
        return f"write {word} if you mean {word}, or quote it ({quoted}) if it is text"
    return f"quote it ({quoted})"
