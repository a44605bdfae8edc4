"""Run a hands-on probe's steps in a tenant's session, one round trip per step.

A step is a few statements that the tenant may or may not be allowed to run. All of them run in one
transaction that is rolled back, each step from the same savepoint, so a step that succeeds changes
nothing the next one sees, and a refused step never aborts the ones after it. What each step
experienced: succeeded, denied (SQLSTATE 42501 or 3F000: the tenant lacks the privilege) or failed
for another reason, in which case the session is asked whether it holds the privilege all the same.

verify is CPU-bound (benchmarks/verify_benchmark.py) and every round trip costs client and server
time, so each step's message also rolls back to the savepoint left by the one before: a statement
that fails ends its message, and whatever follows it would be skipped. (One PL/pgSQL block for the
whole probe was measured too: it saved 2 ms of client time per tenant and cost 3 ms more on the
server, which must load PL/pgSQL and plan the block in every new session.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import psycopg
from psycopg import errors, sql

from .search_path import parse_search_path

# Errors that mean "refused", which is what every forbidden step should get.
DENIED = (errors.InsufficientPrivilege, errors.InvalidSchemaName)

_SAVEPOINT = sql.Identifier("pg_tenants_verify_probe")
_BACK_TO_SAVEPOINT = sql.SQL("ROLLBACK TO SAVEPOINT {}").format(_SAVEPOINT)


@dataclass(frozen=True)
class Step:
    statements: tuple[sql.Composable, ...]
    value: sql.Composable | None = None  # a query run after the statements; its first column is kept
    holds: sql.Composable | None = None  # asked when the statements fail other than by a refusal


@dataclass(frozen=True)
class StepResult:
    outcome: str  # "succeeded", "denied" or "failed"
    error: str = ""  # the server's message when not succeeded
    value: str | None = None
    holds: bool | None = None  # failed: whether the session holds the privilege (None: unknown)


@dataclass(frozen=True)
class SessionView:
    """What the session starts with, read in the probe's first round trip."""

    search_path: str
    current_schema: str | None
    read_only_default: str  # default_transaction_read_only, as the session starts

    def only_in(self, schema: str) -> bool:
        """The search_path names `schema` alone, and new objects go there."""
        return parse_search_path(self.search_path) == [schema] and self.current_schema == schema


def run_steps(conn: psycopg.Connection, timeout: str, steps: Sequence[Step], *,
              read_write: bool = False) -> tuple[SessionView, list[StepResult]]:
    """The session's view and every step's result. `conn` is in autocommit; the transaction the
    steps ran in is rolled back, and so it is when this raises. The transaction is read-write
    when `read_write` is set, as any client of the login may ask; otherwise it is what the
    session's defaults make it."""
    try:
        with conn.cursor() as cur:
            cur.execute(sql.SQL(
                "SET statement_timeout = {}; {}; SAVEPOINT {}; "
                "SELECT pg_catalog.current_setting('search_path'), pg_catalog.current_schema(), "
                "pg_catalog.current_setting('default_transaction_read_only')",
            ).format(sql.Literal(timeout), sql.SQL("BEGIN READ WRITE" if read_write else "BEGIN"), _SAVEPOINT))
            view = SessionView(*_rows(cur)[-1])
            return view, [_run_step(cur, step) for step in steps]
    finally:
        conn.rollback()


def _run_step(cur: psycopg.Cursor, step: Step) -> StepResult:
    outcome, message, value = "succeeded", "", None
    statements = [*step.statements, *([step.value] if step.value is not None else [])]
    try:
        cur.execute(sql.SQL("; ").join([_BACK_TO_SAVEPOINT, *statements]))
        if step.value is not None:
            row = _rows(cur)[-1]
            value = None if row is None or row[0] is None else str(row[0])
    except DENIED as error:
        outcome, message = "denied", primary_message(error)
    except psycopg.Error as error:
        outcome, message = "failed", primary_message(error)
    if outcome != "failed" or step.holds is None:
        return StepResult(outcome, message, value)
    try:
        cur.execute(sql.SQL("{}; {}").format(_BACK_TO_SAVEPOINT, step.holds))
        row = _rows(cur)[-1]
        held: bool | None = bool(row and row[0])
    except psycopg.Error:
        held = None
    return StepResult(outcome, message, value, held)


def holds(conn: psycopg.Connection, query: sql.Composable) -> bool | None:
    """Whether the session holds a privilege, asked outside any transaction (None: could not ask)."""
    try:
        row = conn.execute(query).fetchone()
    except psycopg.Error:
        return None
    return bool(row and row[0])


def _rows(cur: psycopg.Cursor) -> list[tuple | None]:
    """The first row of every result of a multi-statement execute that returned rows."""
    rows = []
    while True:
        if cur.description is not None:
            rows.append(cur.fetchone())
        if not cur.nextset():
            return rows


def primary_message(error: psycopg.Error) -> str:
    """The server's primary message, without the statement excerpt psycopg appends."""
    diag = getattr(error, "diag", None)
    primary = diag.message_primary if diag is not None else None
    return primary or str(error).strip()
