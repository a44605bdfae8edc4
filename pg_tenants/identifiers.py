"""Rules for the PostgreSQL names pg-tenants creates.

Names are always quoted in SQL, but tenants' own tools often write them unquoted, and
unquoted SQL folds to lower case: a mixed-case name would hand out credentials that do not
log in (Cloacina's `AcmeMixed` bug). So only lowercase identifiers are accepted.
"""

from __future__ import annotations

import re

IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")
MAX_IDENTIFIER_BYTES = 63  # NAMEDATALEN - 1: PostgreSQL silently truncates longer names
RESERVED = frozenset(
    {"public", "information_schema", "postgres", "none", "current_role", "current_user", "session_user"}
)
IDENTIFIER_FIX = "use 1 to 63 lowercase letters, digits or underscores, starting with a letter or underscore"


def identifier_problem(value: str, reserved_extra: frozenset[str] = frozenset()) -> tuple[str, str] | None:
    """Return (message, fix) if `value` is not an acceptable name, else None."""
    if not IDENTIFIER.fullmatch(value):
        return f"{value!r} is not a lowercase SQL identifier", IDENTIFIER_FIX
    if len(value.encode()) > MAX_IDENTIFIER_BYTES:
        return f"{value!r} is {len(value.encode())} bytes long; PostgreSQL allows at most 63", IDENTIFIER_FIX
    if value in RESERVED or value.startswith("pg_") or value in reserved_extra:
        return f"{value!r} is a reserved name", "choose another name; public, postgres, information_schema, pg_* and the admin's own name are reserved"
    return None
