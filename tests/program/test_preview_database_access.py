"""What `pulumi preview` needs of the databases (program tier, SDK mock engine, no PostgreSQL).

With `checkExistingSchemas` on (the default) the program reads every tenant database's catalogs
before it declares anything, in a preview as in an update, so the pull request's preview needs a
runner that reaches the databases. PG_TENANTS_PREVIEW_WITHOUT_DATABASE=true makes a preview read
none, and say in a warning which checks it skipped; `pulumi up` reads them whatever it says.
A closed loopback port stands for an unreachable server; a listener that hangs up on every
connection for a reachable one (it counts who came).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from pg_tenants.existing_objects import ENV_PREVIEW_WITHOUT_DATABASE, PREVIEW_NOT_CHECKED
from tests.support.program_run import ROLE, fingerprint


class Listener:
    """A loopback port that accepts connections, counts them and hangs up at once."""

    def __init__(self) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen()
        self.port = self.socket.getsockname()[1]
        self.connections = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.socket.accept()
            except OSError:
                return  # closed
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self.socket.close()


@pytest.fixture
def reachable() -> Iterator[Listener]:
    listener = Listener()
    yield listener
    listener.close()


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def checked_stack(stack, three_tenants):
    """The three tenants on a loopback server, with the catalog check on (as by default)."""
    stack.servers["main"] |= {"host": "127.0.0.1", "sslmode": "disable", "connectTimeout": 5}
    stack.settings["checkExistingSchemas"] = True
    return stack


def at(stack, port: int):
    stack.servers["main"]["port"] = port
    return stack


def test_a_preview_reads_the_tenant_databases_when_the_check_is_on(run, checked_stack, reachable, monkeypatch):
    monkeypatch.delenv(ENV_PREVIEW_WITHOUT_DATABASE, raising=False)
    at(checked_stack, reachable.port)
    result = run(preview=True)
    assert reachable.connections >= 1
    assert "cannot read database 'app' to check for existing schemas" in str(result.error)


def test_an_unreachable_database_fails_the_preview_fast_and_names_both_fixes(run, checked_stack, monkeypatch):
    monkeypatch.delenv(ENV_PREVIEW_WITHOUT_DATABASE, raising=False)
    at(checked_stack, closed_port())
    started = time.monotonic()
    result = run(preview=True)
    assert time.monotonic() - started < 10
    message = str(result.error)
    assert "cannot read database 'app' to check for existing schemas" in message
    assert "`pulumi preview` reads the catalogs as `pulumi up` does, so run it where the server is reachable" in message
    assert f"for a preview only, set {ENV_PREVIEW_WITHOUT_DATABASE}=true" in message
    assert not result.of_type(ROLE)


@pytest.mark.parametrize("database", ["reachable", "unreachable"])
def test_a_preview_without_database_reads_none_and_names_what_it_did_not_check(
    run, checked_stack, reachable, monkeypatch, caplog, database
):
    monkeypatch.setenv(ENV_PREVIEW_WITHOUT_DATABASE, "true")
    at(checked_stack, reachable.port if database == "reachable" else closed_port())
    with caplog.at_level(logging.WARNING):
        result = run(preview=True)
    assert result.error is None
    assert reachable.connections == 0
    assert {r.name for r in result.of_type(ROLE)} == {"acme-role", "globex-role", "initech-role"}
    assert PREVIEW_NOT_CHECKED in caplog.messages


def test_a_preview_without_database_declares_what_the_program_declares_with_the_check_off(run, checked_stack, monkeypatch):
    monkeypatch.setenv(ENV_PREVIEW_WITHOUT_DATABASE, "true")
    at(checked_stack, closed_port())
    reduced = run(preview=True)
    monkeypatch.delenv(ENV_PREVIEW_WITHOUT_DATABASE)
    checked_stack.settings["checkExistingSchemas"] = False
    unchecked = run(preview=True)
    assert fingerprint(reduced) == fingerprint(unchecked)


def test_pulumi_up_reads_the_catalogs_whatever_preview_without_database_says(run, checked_stack, reachable, monkeypatch):
    monkeypatch.setenv(ENV_PREVIEW_WITHOUT_DATABASE, "true")
    at(checked_stack, reachable.port)
    result = run(preview=False)
    assert reachable.connections >= 1
    assert "cannot read database 'app' to check for existing schemas" in str(result.error)
    assert not result.of_type(ROLE)


def test_a_value_that_is_neither_true_nor_false_is_refused(run, checked_stack, monkeypatch):
    monkeypatch.setenv(ENV_PREVIEW_WITHOUT_DATABASE, "yes please")
    at(checked_stack, closed_port())
    result = run(preview=True)
    assert (
        f"environment: {ENV_PREVIEW_WITHOUT_DATABASE}: 'yes please' is neither true nor false "
        f"(fix: set {ENV_PREVIEW_WITHOUT_DATABASE}=true for a preview without database access, or unset it)"
    ) in str(result.error)
