"""One PostgreSQL cluster's processes: initdb, pg_ctl start/status/stop on a loopback port."""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import socket
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pg_tenants.local.binaries import PgBinaries
from pg_tenants.local.processes import LocalPostgresError, chown, run_tool, server_user

ADMIN_USER = "postgres"
ADMIN_DATABASE = "postgres"
LOOPBACK = "127.0.0.1"

# Every server we start logs to stderr, which pg_ctl -l sends to log_path.
BASE_SETTINGS: dict[str, str] = {
    "password_encryption": "scram-sha-256",  # PG 13 still defaults to md5
    "log_destination": "stderr",
    "logging_collector": "off",
}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def initdb(binaries: PgBinaries, data_dir: Path, password: str, *, no_sync: bool) -> None:
    owner = server_user()
    # initdb reads the password from a file; keep it in a private dir and delete it.
    pw_dir = Path(tempfile.mkdtemp(prefix="pg-tenants-pw-"))
    try:
        chown(pw_dir, owner)
        pwfile = pw_dir / "pw"
        pwfile.write_text(password + "\n")
        os.chmod(pwfile, 0o600)
        chown(pwfile, owner)
        cmd = [
            binaries.tool("initdb"), "-D", str(data_dir), "-U", ADMIN_USER,
            "--auth=scram-sha-256", f"--pwfile={pwfile}",
            "-E", "UTF8", "--locale=C",
        ]  # fmt: skip
        if no_sync:
            cmd.append("--no-sync")
        run_tool(cmd, binaries.env(), timeout=300)
    finally:
        shutil.rmtree(pw_dir, ignore_errors=True)


def log_tail(log_path: Path) -> str:
    try:
        return log_path.read_text(errors="replace")[-3000:]
    except OSError:
        return ""


def pg_ctl_start(
    binaries: PgBinaries,
    data_dir: Path,
    log_path: Path,
    socket_dir: Path,
    settings: Mapping[str, str],
    port: int | None,
) -> int:
    """Start the server; returns its port.  A free port is picked when `port` is None
    (and picked again if another process grabbed it before the server bound it)."""
    for _attempt in range(3 if port is None else 1):
        chosen = port or free_port()
        final = {
            **settings,
            "listen_addresses": LOOPBACK,
            "port": str(chosen),
            "unix_socket_directories": str(socket_dir),
        }
        # pg_ctl hands -o to /bin/sh, so every value is shell-quoted.
        options = " ".join(f"-c {shlex.quote(f'{k}={v}')}" for k, v in final.items())
        cmd = [binaries.tool("pg_ctl"), "-D", str(data_dir), "-l", str(log_path),
               "-w", "-t", "60", "-o", options, "start"]  # fmt: skip
        proc_out = run_tool(cmd, binaries.env(), timeout=120, check=False)
        if pg_ctl_running(binaries, data_dir):
            return chosen
        tail = log_tail(log_path)
        if port is None and ("could not bind" in tail or "already in use" in tail):
            continue
        raise LocalPostgresError(f"pg_ctl start failed: {proc_out.strip()}\n--- {log_path} ---\n{tail}")
    raise LocalPostgresError(f"pg_ctl start: no free port found; see {log_path}")


def pg_ctl_running(binaries: PgBinaries, data_dir: Path) -> bool:
    out = run_tool([binaries.tool("pg_ctl"), "-D", str(data_dir), "status"], binaries.env(), timeout=30, check=False)
    return "server is running" in out


def pg_ctl_stop(binaries: PgBinaries, data_dir: Path, mode: Literal["fast", "immediate"]) -> None:
    """Stop the server in data_dir if one runs; SIGKILL it if pg_ctl cannot."""
    pid_file = data_dir / "postmaster.pid"
    if not pid_file.exists():
        return
    try:
        run_tool([binaries.tool("pg_ctl"), "-D", str(data_dir), "-m", mode, "-w", "-t", "60", "stop"],
                 binaries.env(), timeout=90)  # fmt: skip
    except LocalPostgresError:
        try:
            pid = int(pid_file.read_text().split()[0])
            os.kill(pid, signal.SIGKILL)
        except (OSError, ValueError, IndexError):
            pass

