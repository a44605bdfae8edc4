"""A running PostgreSQL server and how to reach it as its admin (a superuser)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import quote, urlencode

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from pg_tenants.local.cluster import ADMIN_DATABASE, ADMIN_USER, LOOPBACK

Source = Literal["env", "docker", "local"]
ENV_ADMIN_URL = "PG_TENANTS_ADMIN_URL"  # an existing server to use instead of starting one


@dataclass(frozen=True)
class RunningPostgres:
    """A running server and how to reach it as the admin (a superuser)."""

    source: Source
    host: str
    port: int
    admin_user: str
    admin_password: str | None = field(repr=False)  # None only for an env URL without one
    admin_database: str
    major: int
    log_path: Path | None  # server's stderr log; local servers only
    data_dir: Path | None  # local servers only
    password_file: Path | None  # persistent servers only
    # Full libpq conninfo incl. password and any extra URL params (sslmode...).
    base_conninfo: str = field(repr=False)

    def admin_conninfo(self, dbname: str | None = None) -> str:
        return make_conninfo(self.base_conninfo, dbname=dbname or self.admin_database)

    def admin_uri(self, dbname: str | None = None) -> str:
        """The same as admin_conninfo() as a postgresql:// URI (password percent-encoded)."""
        params = conninfo_to_dict(self.admin_conninfo(dbname))
        userinfo = quote(str(params.pop("user", "")), safe="")
        password = params.pop("password", None)
        if password is not None:
            userinfo += ":" + quote(str(password), safe="")
        host = str(params.pop("host", ""))
        host = f"[{host}]" if ":" in host else quote(host, safe="")
        port = params.pop("port", None)
        netloc = f"{userinfo}@{host}" + (f":{port}" if port else "")
        path = quote(str(params.pop("dbname", "")), safe="")
        query = urlencode({k: str(v) for k, v in params.items()})
        return f"postgresql://{netloc}/{path}" + (f"?{query}" if query else "")

    def admin_connect(self, dbname: str | None = None, autocommit: bool = True) -> psycopg.Connection:
        return psycopg.connect(self.admin_conninfo(dbname), autocommit=autocommit)



def check_databases(databases: Sequence[str]) -> tuple[str, ...]:
    if isinstance(databases, str):  # "app" would otherwise become "a", "p", "p"
        raise TypeError("databases must be a sequence of names, not a string")
    return tuple(databases)


def server_major(conn: psycopg.Connection) -> int:
    row = conn.execute("select current_setting('server_version_num')::int").fetchone()
    assert row is not None
    return int(row[0]) // 10000


def local_result(
    port: int, password: str, log_path: Path, data_dir: Path, password_file: Path | None = None
) -> RunningPostgres:
    base = make_conninfo(
        host=LOOPBACK, port=port, user=ADMIN_USER, password=password, dbname=ADMIN_DATABASE, connect_timeout=10
    )
    with psycopg.connect(base, autocommit=True) as conn:
        major = server_major(conn)
    return RunningPostgres(
        source="local", host=LOOPBACK, port=port, admin_user=ADMIN_USER, admin_password=password,
        admin_database=ADMIN_DATABASE, major=major, log_path=log_path, data_dir=data_dir,
        password_file=password_file, base_conninfo=base,
    )  # fmt: skip


def create_databases(pg: RunningPostgres, databases: Sequence[str], *, if_missing: bool = False) -> list[str]:
    created = []
    with pg.admin_connect() as conn:
        for name in databases:
            if if_missing and conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone():
                continue
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            created.append(name)
    return created


