"""A stack with `sslmode: verify-full`, a CA and a client certificate works end to end against a
server with `ssl = on`: the program's catalog reads, the provider (double) and the dynamic
resources deploy over TLS, the tenants log in with their exported strings, and `pg-tenants
verify` passes; a wrong CA stops each of them with a clear error.

One server per major for the module, with its own CA (openssl, made here). Its pg_hba.conf
accepts TLS only, and the stack's admin (`tls_admin`, a superuser) only with a client
certificate for its name: every step that works here proved it used the CA and the certificate.
"""

from __future__ import annotations

import io
import json
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import yaml
from psycopg import sql

from pg_tenants.cli import main
from pg_tenants.local.cluster import LOOPBACK
from pg_tenants.local.server import RunningPostgres
from pg_tenants.local.throwaway import pg_versions_under_test, running_postgres
from tests.support.deployment import SERVER_SETTINGS, Deployment, as_role
from tests.support.stack import StackConfig

ADMIN = "tls_admin"
ADMIN_PASSWORD = "tls-admin-password-0123456789"
TENANTS = [{"name": "acme"}, {"name": "globex"}]

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="the openssl command makes this test's CA")


@dataclass(frozen=True)
class Pki:
    ca: Path
    other_ca: Path  # a CA that signed nothing this server presents
    client_cert: Path
    client_key: Path


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def _ca(directory: Path, name: str) -> None:
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
             "-subj", f"/CN=pg-tenants test {name}", "-keyout", f"{name}.key", "-out", f"{name}.crt", cwd=directory)


def _signed(directory: Path, name: str, subject: str, extensions: str) -> None:
    (directory / f"{name}.ext").write_text(extensions + "\n")
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", subject,
             "-keyout", f"{name}.key", "-out", f"{name}.csr", cwd=directory)
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
             "-extfile", f"{name}.ext", "-out", f"{name}.crt", cwd=directory)


def make_pki(directory: Path) -> Pki:
    _ca(directory, "ca")
    _ca(directory, "other-ca")
    _signed(directory, "server", "/CN=localhost", f"subjectAltName=IP:{LOOPBACK},DNS:localhost")
    _signed(directory, "client", f"/CN={ADMIN}", "extendedKeyUsage=clientAuth")
    return Pki(directory / "ca.crt", directory / "other-ca.crt", directory / "client.crt", directory / "client.key")


def _give_to_server(path: Path) -> None:
    """The server's key must belong to the user the server runs as (as root: `postgres`), mode 0600."""
    os.chmod(path, 0o600)
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(path, user.pw_uid, user.pw_gid)


@pytest.fixture(scope="module", params=pg_versions_under_test(), ids=lambda major: f"pg{major}")
def tls_server(request) -> Iterator[tuple[RunningPostgres, Pki]]:
    directory = Path(tempfile.mkdtemp(prefix="pg-tenants-tls-"))
    try:
        directory.chmod(0o755)  # the server's OS user reads its certificate, key, CA and pg_hba.conf here
        pki = make_pki(directory)
        for public in ("server.crt", "ca.crt"):
            (directory / public).chmod(0o644)
        _give_to_server(directory / "server.key")
        os.chmod(pki.client_key, 0o600)  # libpq refuses a key others can read
        hba = directory / "pg_hba.conf"
        hba.write_text(
            "local     all  all                   scram-sha-256\n"
            f"hostssl   all  {ADMIN}  {LOOPBACK}/32  scram-sha-256 clientcert=verify-full\n"
            f"hostssl   all  all        {LOOPBACK}/32  scram-sha-256\n"
        )
        hba.chmod(0o644)
        settings = {**SERVER_SETTINGS, "ssl": "on", "ssl_cert_file": str(directory / "server.crt"),
                    "ssl_key_file": str(directory / "server.key"), "ssl_ca_file": str(pki.ca), "hba_file": str(hba)}
        with running_postgres(request.param, server_settings=settings, sources=("local",)) as pg:
            with pg.admin_connect() as su:
                su.execute(sql.SQL("CREATE ROLE {} LOGIN SUPERUSER PASSWORD {}").format(
                    sql.Identifier(ADMIN), sql.Literal(ADMIN_PASSWORD)))
                su.execute("CREATE DATABASE app")
            yield pg, pki
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def tls_stack(pg: RunningPostgres, pki: Pki, tenants_dir: Path, *, ca: Path | None = None) -> StackConfig:
    server = {
        "host": pg.host, "port": pg.port, "adminUsername": ADMIN, "adminPasswordSecret": "mainAdminPassword",
        "sslmode": "verify-full", "sslrootcert": str(ca or pki.ca), "sslcert": str(pki.client_cert),
        "sslkey": str(pki.client_key), "tenantSslrootcert": str(pki.ca), "databases": ["app"],
    }
    return StackConfig(tenants_dir=tenants_dir, servers={"main": server}, secrets={"mainAdminPassword": ADMIN_PASSWORD})


@pytest.fixture(scope="module")
def deployed(tls_server, tmp_path_factory) -> Deployment:
    """The tenants deployed once over TLS: catalog reads, provider double, dynamic resources."""
    pg, pki = tls_server
    project = tmp_path_factory.mktemp("tls-project")
    deployment = Deployment(as_role(pg, ADMIN, ADMIN_PASSWORD), tls_stack(pg, pki, project / "tenants"))
    deployment.write(TENANTS)
    deployment.up()
    return deployment


def write_stack_file(stack: StackConfig, project: Path) -> Path:
    """The stack as `Pulumi.tls.yaml` for verify (the admin password comes from PGPASSWORD)."""
    config = {"pg-tenants:servers": stack.servers, "pg-tenants:tenantsDir": str(stack.tenants_dir),
              "pg-tenants:mainAdminPassword": {"secure": "v1:ciphertext"}}
    path = project / "Pulumi.tls.yaml"
    path.write_text(yaml.safe_dump({"config": config}, sort_keys=False))
    return path


def run_verify(deployment: Deployment, project: Path, stack: StackConfig, monkeypatch) -> tuple[int, str, str]:
    assert deployment.last_run is not None
    outputs = project / "outputs.json"
    outputs.write_text(json.dumps({"tenants": deployment.last_run.outputs["tenants"].value,
                                   "connections": deployment.connections}))
    monkeypatch.setenv("PGPASSWORD", ADMIN_PASSWORD)
    monkeypatch.delenv("PG_TENANTS_ADMIN_CONNINFO", raising=False)
    out, err = io.StringIO(), io.StringIO()
    code = main(["verify", "--outputs", str(outputs), "--stack-config", str(write_stack_file(stack, project)),
                 "--json", "--no-progress"], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_the_server_refuses_the_admin_without_its_client_certificate(tls_server):
    pg, pki = tls_server
    with pytest.raises(psycopg.OperationalError, match="certificate"):
        psycopg.connect(host=pg.host, port=pg.port, dbname="app", user=ADMIN, password=ADMIN_PASSWORD,
                        sslmode="verify-full", sslrootcert=str(pki.ca), connect_timeout=10).close()


def test_tenants_log_in_with_their_exported_strings_over_verified_tls(deployed):
    for name in ("acme", "globex"):
        with psycopg.connect(deployed.connections[name]["uri"], connect_timeout=10) as conn:
            ssl, user = conn.execute("SELECT s.ssl, current_user FROM pg_stat_ssl s WHERE s.pid = pg_backend_pid()").fetchone()
            assert (ssl, user) == (True, name)


def test_verify_passes_over_verified_tls(deployed, tmp_path, monkeypatch):
    code, stdout, stderr = run_verify(deployed, tmp_path, deployed.stack, monkeypatch)

    report = json.loads(stdout)
    assert (code, report["verdict"]) == (0, "pass"), stderr
    assert {t["tenant"]: t["login"] for t in report["tenants"]} == {"acme": "ok", "globex": "ok"}


def test_a_wrong_ca_stops_the_program_before_anything_is_declared(tls_server, tmp_path):
    pg, pki = tls_server
    deployment = Deployment(as_role(pg, ADMIN, ADMIN_PASSWORD), tls_stack(pg, pki, tmp_path / "tenants", ca=pki.other_ca))
    deployment.write([{"name": "initech"}])

    with pytest.raises(Exception) as refused:
        deployment.up()

    message = str(refused.value)
    assert "cannot read database 'app' to check for existing schemas" in message
    assert "certificate verify failed" in message
    assert f"sslrootcert ({pki.other_ca})" in message
    with pg.admin_connect("app") as su:
        assert su.execute("SELECT count(*) FROM pg_roles WHERE rolname = 'initech'").fetchone() == (0,)


def test_a_wrong_ca_stops_verify_with_a_clear_error(tls_server, deployed, tmp_path, monkeypatch):
    _, pki = tls_server
    server = {**deployed.stack.servers["main"], "sslrootcert": str(pki.other_ca)}
    stack = StackConfig(tenants_dir=deployed.stack.tenants_dir, servers={"main": server}, secrets=deployed.stack.secrets)

    code, stdout, stderr = run_verify(deployed, tmp_path, stack, monkeypatch)

    assert code == 2
    assert "admin login to database app failed" in stderr and "certificate verify failed" in stderr
    assert ADMIN_PASSWORD not in stdout + stderr
