"""The server's log is read on every server the launcher starts, and an unreadable one fails.

A Docker-started server has no `log_path`: its log is the logging collector's file, read by the
admin (`pg_tenants.local.throwaway.CONTAINER_LOG_SETTINGS`, tests/support/server_log.py). A local server
started with exactly those settings and its `log_path` left out stands in for the container
here (no Docker engine on these machines).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import replace

import pytest

from pg_tenants.local.server import RunningPostgres
from pg_tenants.local.throwaway import CONTAINER_LOG_SETTINGS, pg_versions_under_test, running_postgres
from tests.support.deployment import SERVER_SETTINGS, as_role, login_refusal
from tests.support.server_log import ServerLog, ServerLogUnreadable

INVALID_PASSWORD = "28P01"


@pytest.fixture(scope="module", params=pg_versions_under_test(), ids=lambda major: f"pg{major}")
def container_like(request: pytest.FixtureRequest) -> Iterator[RunningPostgres]:
    settings = {**SERVER_SETTINGS, **CONTAINER_LOG_SETTINGS}
    with running_postgres(request.param, server_settings=settings, sources=("local",)) as pg:
        yield replace(pg, log_path=None)  # as a container's: no file this process can open


def test_a_refused_logins_sqlstate_is_read_from_the_collectors_log(container_like):
    admin = {"uri": container_like.admin_uri()}
    assert login_refusal(container_like, admin, password="not-the-password") == INVALID_PASSWORD
    assert login_refusal(container_like, admin) is None


def test_what_was_logged_after_an_offset_is_read_and_nothing_before(container_like):
    log = ServerLog.of(container_like)
    before, after = f"before-{secrets.token_hex(4)}", f"after-{secrets.token_hex(4)}"
    with container_like.admin_connect() as admin:
        admin.execute(f"SELECT '{before}'")
        offset = log.size()
        admin.execute(f"SELECT '{after}'")
    text = log.since(offset)
    assert f"statement: SELECT '{after}'" in text
    assert before not in text


def test_a_login_refusal_on_a_server_without_a_readable_log_fails_instead_of_skipping(container_like):
    # The collector is off: no log file, no pg_current_logfile(). Not pytest's Skipped: an error.
    with running_postgres(container_like.major, server_settings=SERVER_SETTINGS, sources=("local",)) as pg:
        no_log = replace(pg, log_path=None)
        with pytest.raises(ServerLogUnreadable, match="logging collector is off"):
            login_refusal(no_log, {"uri": no_log.admin_uri()}, password="not-the-password")


def test_an_admin_that_may_not_read_server_files_fails_instead_of_skipping(container_like):
    password = secrets.token_urlsafe(16)
    with container_like.admin_connect() as admin:
        admin.execute(f"CREATE ROLE log_reader_probe LOGIN PASSWORD '{password}'")
    try:
        with pytest.raises(ServerLogUnreadable, match="cannot read the log file"):
            ServerLog.of(as_role(container_like, "log_reader_probe", password))
    finally:
        with container_like.admin_connect() as admin:
            admin.execute("DROP ROLE log_reader_probe")
