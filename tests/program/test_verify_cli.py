"""`pg-tenants verify` before any check runs: where the admin login comes from, and a fix for
every way it fails. No database: the failures are a closed port, a listener that opens a
session as PostgreSQL does and then refuses (tests/support/fake_postgres.py), a Pulumi CLI
that is missing, or a stand-in `pulumi` that fails as the real one does without a stack.
"""

from __future__ import annotations

import io
import json
import stat
from pathlib import Path

import pytest
import yaml

from pg_tenants.cli import main
from tests.support.fake_postgres import closed_port, fake_postgres

ENV_ADMIN_URL, ENV_ADMIN_CONNINFO = "PG_TENANTS_ADMIN_URL", "PG_TENANTS_ADMIN_CONNINFO"

NO_STACK = "error: no stack selected; please use `pulumi stack select` to choose one, or `pulumi stack init`"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    """No admin login from the machine running the tests: no PG* variables, no ~/.pgpass."""
    for name in (ENV_ADMIN_URL, ENV_ADMIN_CONNINFO, "PGPASSWORD", "PGHOST", "PGPORT", "PGUSER", "PGSSLMODE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "no-pgpass"))
    monkeypatch.setenv("PGCONNECT_TIMEOUT", "5")


def outputs_file(tmp_path: Path, port: int) -> Path:
    """Stack outputs of one tenant `acme` in database `app` on 127.0.0.1:`port`."""
    env = {"PGHOST": "127.0.0.1", "PGPORT": str(port), "PGDATABASE": "app", "PGUSER": "acme",
           "PGPASSWORD": "tenant-password", "PGSSLMODE": "disable"}
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps({"tenants": {"acme": {"schema": "acme", "username": "acme", "server": "main",
                                                     "database": "app"}},
                                "connections": {"acme": {"env": env}}}))
    return path


def stack_file(tmp_path: Path, port: int) -> Path:
    """Pulumi.test.yaml naming server `main` at 127.0.0.1:`port`, its admin password a stack secret."""
    (tmp_path / "tenants").mkdir()
    (tmp_path / "tenants" / "tenants.yaml").write_text(yaml.safe_dump({"tenants": [{"name": "acme"}]}))
    server = {"host": "127.0.0.1", "port": port, "adminUsername": "admin", "adminPasswordSecret": "adminPassword",
              "sslmode": "disable", "databases": ["app"]}
    path = tmp_path / "Pulumi.test.yaml"
    path.write_text(yaml.safe_dump({"config": {"pg-tenants:servers": {"main": server},
                                               "pg-tenants:adminPassword": {"secure": "v1:ciphertext"}}}))
    return path


def path_without_pulumi(monkeypatch, tmp_path: Path) -> None:
    empty = tmp_path / "bin-without-pulumi"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))


def pulumi_without_a_stack(monkeypatch, tmp_path: Path) -> None:
    """A `pulumi` that fails as the real CLI does when no stack is selected."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "pulumi"
    script.write_text(f"#!/bin/sh\necho '{NO_STACK}' >&2\nexit 255\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")


def verify(*args: str) -> tuple[int, str]:
    err = io.StringIO()
    code = main(["verify", "--no-progress", *args], stdout=io.StringIO(), stderr=err)
    return code, err.getvalue()


# ----------------------------------------------------------------------------- one variable name


def test_the_launcher_prints_the_variable_verify_reads():
    from pg_tenants.local import server as local_postgres
    from pg_tenants.verify import admin

    assert local_postgres.ENV_ADMIN_URL == admin.ENV_ADMIN_URL == ENV_ADMIN_URL


def test_verify_takes_the_admin_login_from_pg_tenants_admin_url(tmp_path, monkeypatch):
    admin_port, tenant_port = closed_port(), closed_port()
    monkeypatch.setenv(ENV_ADMIN_URL, f"postgresql://admin@127.0.0.1:{admin_port}/postgres")

    code, err = verify("--outputs", str(outputs_file(tmp_path, tenant_port)))

    assert code == 2
    assert f'port {admin_port} failed' in err and f"port {tenant_port}" not in err


def test_the_older_name_pg_tenants_admin_conninfo_is_still_read(tmp_path, monkeypatch):
    admin_port = closed_port()
    monkeypatch.setenv(ENV_ADMIN_CONNINFO, f"host=127.0.0.1 port={admin_port} user=admin")

    code, err = verify("--outputs", str(outputs_file(tmp_path, closed_port())))

    assert code == 2
    assert f'port {admin_port} failed' in err


def test_both_names_with_different_values_are_a_usage_error_that_shows_neither(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_ADMIN_URL, "postgresql://admin:url-secret@127.0.0.1:5432/postgres")
    monkeypatch.setenv(ENV_ADMIN_CONNINFO, "host=127.0.0.1 user=admin password=conninfo-secret")

    code, err = verify("--outputs", str(outputs_file(tmp_path, closed_port())))

    assert code == 2
    assert f"{ENV_ADMIN_URL} and {ENV_ADMIN_CONNINFO} are both set" in err
    assert "url-secret" not in err and "conninfo-secret" not in err


# ----------------------------------------------------------------------------- a fix for each failure


def test_an_unreachable_server_names_host_and_port_and_where_they_come_from(tmp_path, monkeypatch):
    port = closed_port()
    monkeypatch.setenv(ENV_ADMIN_URL, f"postgresql://admin@127.0.0.1:{port}/postgres")

    _, err = verify("--outputs", str(outputs_file(tmp_path, port)))

    assert f"  fix: nothing answered at 127.0.0.1:{port}: check the host and port" in err
    assert "$PG_TENANTS_ADMIN_URL" in err


def test_a_server_that_accepts_only_tls_gets_the_sslmode_fix(tmp_path, monkeypatch):
    with fake_postgres("hba_no_encryption") as port:
        monkeypatch.setenv(ENV_ADMIN_URL, f"postgresql://admin@127.0.0.1:{port}/postgres?sslmode=disable")

        _, err = verify("--outputs", str(outputs_file(tmp_path, port)))

    assert "no pg_hba.conf entry" in err
    assert "fix: pg_hba.conf admits no unencrypted login of this user from here, as on a server that accepts TLS only. " \
           "Set sslmode=require" in err


def test_sslmode_require_against_a_server_without_tls_says_so(tmp_path, monkeypatch):
    with fake_postgres("password_request") as port:
        monkeypatch.setenv(ENV_ADMIN_URL, f"postgresql://admin@127.0.0.1:{port}/postgres?sslmode=require")

        _, err = verify("--outputs", str(outputs_file(tmp_path, port)))

    assert f"fix: sslmode=require asks for TLS, but the server at 127.0.0.1:{port} does not offer it" in err


def test_no_password_at_all_says_where_one_can_be_given(tmp_path, monkeypatch):
    with fake_postgres("password_request") as port:
        monkeypatch.setenv(ENV_ADMIN_URL, f"postgresql://admin@127.0.0.1:{port}/postgres")

        _, err = verify("--outputs", str(outputs_file(tmp_path, port)))

    assert "no password supplied" in err
    assert "fix: no admin password was given: give the password yourself: PGPASSWORD" in err


def test_a_missing_pulumi_cli_is_not_hidden_behind_no_password_supplied(tmp_path, monkeypatch):
    path_without_pulumi(monkeypatch, tmp_path)
    with fake_postgres("password_request") as port:
        stack = stack_file(tmp_path, port)

        code, err = verify("--outputs", str(outputs_file(tmp_path, port)), "--stack-config", str(stack))

    assert code == 2
    assert ("fix: the admin password comes from the stack config, but `pulumi config get pg-tenants:adminPassword` "
            "could not run: the Pulumi CLI (`pulumi`) is not on PATH") in err


def test_a_stack_that_is_not_selected_is_named_behind_no_password_supplied(tmp_path, monkeypatch):
    pulumi_without_a_stack(monkeypatch, tmp_path)
    with fake_postgres("password_request") as port:
        stack = stack_file(tmp_path, port)

        _, err = verify("--outputs", str(outputs_file(tmp_path, port)), "--stack-config", str(stack))

    assert f"`pulumi config get pg-tenants:adminPassword` failed: {NO_STACK}" in err
    assert "name the stack with --stack" in err


def test_a_missing_pulumi_cli_for_the_outputs_says_install_it_or_pass_outputs(tmp_path, monkeypatch):
    path_without_pulumi(monkeypatch, tmp_path)

    code, err = verify()

    assert code == 2
    assert "the Pulumi CLI (`pulumi`) is not on PATH" in err
    assert "fix: install it" in err and "--outputs FILE" in err


def test_no_stack_selected_for_the_outputs_says_to_name_the_stack(tmp_path, monkeypatch):
    pulumi_without_a_stack(monkeypatch, tmp_path)

    code, err = verify()

    assert code == 2
    assert "failed with exit code 255" in err
    assert "fix: if no stack is selected, name it with --stack ORG/PROJECT/STACK" in err
