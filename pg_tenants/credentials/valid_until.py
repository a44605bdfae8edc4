"""Password expiries written the way pulumi-postgresql reads them back.

The provider's Role Read stores `COALESCE(rolvaliduntil::TEXT, 'infinity')`
(resource_postgresql_role.go, resourcePostgreSQLRoleReadImpl): PostgreSQL's text form in the
session's TimeZone, e.g. `2027-12-31 23:59:59+00`, or `2028-01-01 00:59:59+01` under
Europe/Berlin. The bridge diffs the next run's inputs against that, so an ISO 8601 input
would show `~ validUntil` and re-run ALTER ROLE on every `pulumi up`. The program therefore
asks the server for the text of each expiry, in the same database and as the same admin the
provider uses, and declares exactly that (the same instant).
"""

from __future__ import annotations

import datetime

import psycopg

INFINITY = "infinity"


def server_texts(conn: psycopg.Connection, values: list[str]) -> dict[str, str]:
    """Each timestamp as this session's `timestamptz::text`; infinity stays as it is."""
    finite = sorted({v for v in values if v != INFINITY})
    if not finite:
        return {}
    rows = conn.execute("SELECT v, v::timestamptz::text FROM unnest(%s::text[]) v", (finite,))
    return {value: text for value, text in rows}


def utc_text(value: str) -> str:
    """Without the catalogs: the text a server whose TimeZone is UTC reads back."""
    if value == INFINITY:
        return value
    moment = datetime.datetime.fromisoformat(value).astimezone(datetime.timezone.utc)
    fraction = f".{moment.microsecond:06d}".rstrip("0") if moment.microsecond else ""
    return moment.strftime("%Y-%m-%d %H:%M:%S") + fraction + "+00"
