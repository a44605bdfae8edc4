"""Per-role and per-database settings (pg_db_role_setting) against what is declared.

Declared, per role of a tenant (set role-wide, `ALTER ROLE … SET`, in no particular database):
- every role: `search_path` = its schema; `statement_timeout` and
  `idle_in_transaction_session_timeout` when the tenant declares them (0: not set);
- each role that logs in, the read-only login too (not once the tenant is offboarded): `temp_file_limit` in kB
  (-1: not set);
- each zero-downtime login slot: `role` = the owner role;
- the read-only login: `default_transaction_read_only` = on (known from the outputs alone).

Nothing else is declared: no other role-wide setting, no setting of a tenant role in one
database (`ALTER ROLE … IN DATABASE …`), no setting of a tenant database for every role
(`ALTER DATABASE … SET`). Without the tenant files only `search_path` and `role` are known,
so other settings are not judged at all.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .fleet import NO_TEMP_FILE_LIMIT, Tenant
from .search_path import parse_search_path

# Known whether or not verify was given the stack config.
ALWAYS_KNOWN = frozenset({"search_path", "role"})

_TIME_UNITS_MS = {"us": 0.001, "ms": 1, "s": 1000, "min": 60_000, "h": 3_600_000, "d": 86_400_000}
_MEMORY_UNITS_KB = {"B": 1 / 1024, "kB": 1, "MB": 1024, "GB": 1024**2, "TB": 1024**3}
# Integer settings with a unit: the base unit PostgreSQL stores them in, and the units it accepts.
_INTEGER_SETTINGS: dict[str, dict[str, float]] = {
    "statement_timeout": _TIME_UNITS_MS,
    "idle_in_transaction_session_timeout": _TIME_UNITS_MS,
    "temp_file_limit": _MEMORY_UNITS_KB,
}
# How the server reads the number in front of the unit (parse_int): strtol with base 0, so
# hexadecimal and octal too, and a decimal fraction or exponent when one follows.
_FRACTION = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_INTEGER = re.compile(r"[+-]?(?:0[xX][0-9a-fA-F]+|0[0-7]*|[1-9]\d*)")


def _leading_number(text: str) -> tuple[float, str] | None:
    integer = _INTEGER.match(text)
    if integer is not None and text[integer.end():integer.end() + 1] not in (".", "e", "E"):
        digits = integer.group(0)
        sign = -1 if digits.startswith("-") else 1
        digits = digits.lstrip("+-")
        if digits[:2] in ("0x", "0X"):
            number = int(digits[2:], 16)
        elif len(digits) > 1 and digits.startswith("0"):
            number = int(digits[1:], 8)
        else:
            number = int(digits)
        return float(sign * number), text[integer.end():]
    fraction = _FRACTION.match(text)
    if fraction is None:
        return None
    return float(fraction.group(0)), text[fraction.end():]


def parse_integer_setting(name: str, value: str) -> int | None:
    """`5s` -> 5000 for statement_timeout; None when the server would not read it as that setting."""
    units = _INTEGER_SETTINGS[name]
    parsed = _leading_number(value.strip())
    if parsed is None:
        return None
    number, rest = parsed
    unit = rest.strip()
    if unit and unit not in units:
        return None
    scaled = number * (units[unit] if unit else 1)
    # Like the server's rint(): to the nearest base unit, halves to even.
    return int(round(scaled))


def split_setting(entry: str) -> tuple[str, str]:
    """`statement_timeout=5s` (an element of pg_db_role_setting.setconfig) -> (name, value)."""
    name, _, value = entry.partition("=")
    return name.lower(), value


@dataclass(frozen=True)
class Expected:
    """One declared role-wide setting: how to show it and how to recognise it."""

    shown: str

    def matches(self, name: str, value: str) -> bool:  # pragma: no cover - overridden
        raise NotImplementedError


@dataclass(frozen=True)
class _SearchPath(Expected):
    schema: str

    def matches(self, name: str, value: str) -> bool:
        return parse_search_path(value) == [self.schema]


@dataclass(frozen=True)
class _Exact(Expected):
    value: str

    def matches(self, name: str, value: str) -> bool:
        return value == self.value


@dataclass(frozen=True)
class _On(Expected):
    """A boolean setting that is on, however it was spelled (on, true, yes, 1)."""

    def matches(self, name: str, value: str) -> bool:
        return value.strip().lower() in ("on", "true", "yes", "1", "t", "y")


@dataclass(frozen=True)
class _Integer(Expected):
    value: int

    def matches(self, name: str, value: str) -> bool:
        return parse_integer_setting(name, value) == self.value


def declared_settings(tenant: Tenant, role: str) -> dict[str, Expected]:
    """The settings `role` of `tenant` must have role-wide, as far as verify knows them."""
    expected: dict[str, Expected] = {"search_path": _SearchPath(tenant.schema, tenant.schema)}
    if role in tenant.slots:
        expected["role"] = _Exact(tenant.role, tenant.role)
    if role in tenant.readonly_roles:
        expected["default_transaction_read_only"] = _On("on")
    declared = tenant.declared
    if declared is None:
        return expected
    for name, value in (("statement_timeout", declared.statement_timeout),
                        ("idle_in_transaction_session_timeout", declared.idle_in_transaction_session_timeout)):
        if value > 0:
            expected[name] = _Integer(f"{value} ms", value)
    if tenant.logs_in(role) and declared.temp_file_limit != NO_TEMP_FILE_LIMIT:
        expected["temp_file_limit"] = _Integer(f"{declared.temp_file_limit} kB", declared.temp_file_limit)
    return expected


@dataclass(frozen=True)
class Mismatch:
    """One setting that is not as declared: missing, different, or not declared at all."""

    setting: str
    actual: str | None  # None: not set
    expected: str | None  # None: not declared (here)


def role_mismatches(tenant: Tenant, role: str, role_wide: Mapping[str, str],
                    per_database: Mapping[str, Mapping[str, str]]) -> list[tuple[str | None, Mismatch]]:
    """Mismatches of one tenant role: (database or None for role-wide, mismatch)."""
    known = tenant.declared is not None
    expected = declared_settings(tenant, role)
    found: list[tuple[str | None, Mismatch]] = []
    for name, want in expected.items():
        value = role_wide.get(name)
        if value is None or not want.matches(name, value):
            found.append((None, Mismatch(name, value, want.shown)))
    for name, value in role_wide.items():
        if name not in expected and (known or name in ALWAYS_KNOWN):
            found.append((None, Mismatch(name, value, None)))
    for database, settings in per_database.items():
        for name, value in settings.items():
            if known or name in ALWAYS_KNOWN:
                found.append((database, Mismatch(name, value, None)))
    return found


def database_mismatches(settings: Mapping[str, str], *, known: bool) -> list[Mismatch]:
    """Settings of a tenant database for every role: none is declared."""
    return [Mismatch(name, value, None) for name, value in settings.items() if known or name in ALWAYS_KNOWN]


def as_dict(setconfig: Iterable[str] | None) -> dict[str, str]:
    return dict(split_setting(entry) for entry in setconfig or ())
