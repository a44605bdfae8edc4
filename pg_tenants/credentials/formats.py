"""Every format a tenant's credentials are handed over in, each escaped for its syntax.

Generated passwords use all 94 printable ASCII characters, so each format must escape what
its syntax reserves: percent-encoding in URIs, quoting in libpq key=value strings, `\\` and
`:` in .pgpass lines.

TLS: every format carries `sslmode`, and `sslrootcert` where the stack names the CA file's
path on the tenants' machines (`tenantSslrootcert`). A .pgpass line has no TLS fields. No
client certificate or key is ever exported: the admin's are the admin's, and a tenant that
must present one has its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlencode

from psycopg.conninfo import make_conninfo


@dataclass(frozen=True)
class Credentials:
    host: str
    port: int
    database: str
    user: str
    password: str
    sslmode: str
    sslrootcert: str | None = None  # a path on the tenant's machine

    def _tls(self) -> dict[str, str]:
        return {"sslmode": self.sslmode} | ({"sslrootcert": self.sslrootcert} if self.sslrootcert else {})

    def uri(self) -> str:
        user, password = quote(self.user, safe=""), quote(self.password, safe="")
        query = urlencode(self._tls(), quote_via=quote, safe="")
        return f"postgresql://{user}:{password}@{_uri_host(self.host)}:{self.port}/{quote(self.database, safe='')}?{query}"

    def dsn(self) -> str:
        return make_conninfo(host=self.host, port=self.port, dbname=self.database, user=self.user, password=self.password, **self._tls())

    def jdbc(self) -> str:
        # pgJDBC percent-decodes its query parameters; its `sslrootcert` is a file path as in libpq.
        query = urlencode({"user": self.user, "password": self.password, **self._tls()}, quote_via=quote, safe="")
        return f"jdbc:postgresql://{_uri_host(self.host)}:{self.port}/{quote(self.database, safe='')}?{query}"

    def env(self) -> dict[str, str]:
        return {
            "PGHOST": self.host,
            "PGPORT": str(self.port),
            "PGDATABASE": self.database,
            "PGUSER": self.user,
            "PGPASSWORD": self.password,
            "PGSSLMODE": self.sslmode,
        } | ({"PGSSLROOTCERT": self.sslrootcert} if self.sslrootcert else {})

    def pgpass(self) -> str:
        fields = (self.host, str(self.port), self.database, self.user, self.password)
        return ":".join(_pgpass_escape(field) for field in fields)

    def all_formats(self) -> dict[str, object]:
        return {"uri": self.uri(), "dsn": self.dsn(), "jdbc": self.jdbc(), "env": self.env(), "pgpass": self.pgpass()}


def _uri_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _pgpass_escape(field: str) -> str:
    return field.replace("\\", "\\\\").replace(":", "\\:")


def parse_pgpass_line(line: str) -> tuple[str, str, str, str, str]:
    """Split a .pgpass line the way libpq does (backslash escapes the next character)."""
    fields, current, chars = [], [], iter(line)
    for char in chars:
        if char == "\\":
            current.append(next(chars, ""))
        elif char == ":" and len(fields) < 4:
            fields.append("".join(current))
            current = []
        else:
            current.append(char)
    fields.append("".join(current))
    if len(fields) != 5:
        raise ValueError("a .pgpass line has five fields")
    host, port, database, user, password = fields
    return host, port, database, user, password
