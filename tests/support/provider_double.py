"""A test double of the pulumi-postgresql provider: the SQL it runs, on a real PostgreSQL.

pulumi-postgresql 3.18.x bridges cyrilgdn/terraform-provider-postgresql at commit ff936b9
(the `upstream` submodule of pulumi/pulumi-postgresql v3.18.0; tagged v1.27.0 upstream).
Every mapping below names the Go file and function it follows, abbreviated `TF <file>:<func>`.
The code is written from reading that source, not copied; see docs/provider-double.md for what
is reproduced and what is not.

Identifiers and literals are always composed with `psycopg.sql`. Privilege and object-type
keywords cannot be identifiers, so they are checked against the provider's own allow-list
(TF helpers.go:allowedPrivileges) before being spliced in as SQL keywords.
"""

from __future__ import annotations

import base64
import json
import os
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import dill
import psycopg
from psycopg import sql

from tests.support.program_run import (
    DEFAULT_PRIVILEGES,
    DYNAMIC,
    GRANT,
    GRANT_ROLE,
    POSTGRES_PROVIDER,
    ROLE,
    SCHEMA,
    Registration,
)

# pulumi-postgresql keeps the pre-rename token as an alias (provider/resources.go:
# RenameResourceWithAlias("postgresql_default_privileges", ...DefaultPrivileg...)).
DEFAULT_PRIVILEGES_LEGACY = "postgresql:index/defaultPrivileg:DefaultPrivileg"
SQL_TYPES = frozenset({ROLE, SCHEMA, GRANT, GRANT_ROLE, DEFAULT_PRIVILEGES, DEFAULT_PRIVILEGES_LEGACY})

# Input defaults from each resource's TF schema (`Default:`); the bridge diffs config with
# defaults applied, so omitting an argument equals passing its default.
_DEFAULTS: dict[str, dict[str, Any]] = {
    # TF resource_postgresql_role.go:resourcePostgreSQLRole
    ROLE: {
        "password": "", "login": False, "encryptedPassword": True, "connectionLimit": -1,
        "validUntil": "infinity", "inherit": True, "superuser": False, "createDatabase": False,
        "createRole": False, "replication": False, "bypassRowLevelSecurity": False,
        "skipDropRole": False, "skipReassignOwned": False, "roles": [], "searchPaths": [],
        "statementTimeout": 0, "idleInTransactionSessionTimeout": 0, "assumeRole": "",
        "passwordWo": "", "passwordWoVersion": "",
    },
    # TF resource_postgresql_schema.go:resourcePostgreSQLSchema
    SCHEMA: {"ifNotExists": True, "dropCascade": False},
    # TF resource_postgresql_grant.go:resourcePostgreSQLGrant
    GRANT: {"schema": "", "objects": [], "columns": [], "withGrantOption": False},
    # TF resource_postgresql_default_privileges.go:resourcePostgreSQLDefaultPrivileges
    DEFAULT_PRIVILEGES: {"schema": "", "withGrantOption": False},
    # TF resource_postgresql_grant_role.go:resourcePostgreSQLGrantRole
    GRANT_ROLE: {"withAdminOption": False},
}
_DEFAULTS[DEFAULT_PRIVILEGES_LEGACY] = _DEFAULTS[DEFAULT_PRIVILEGES]

# TypeSet arguments compare without order (schema.TypeSet in the same schema functions).
_SET_KEYS: dict[str, frozenset[str]] = {
    ROLE: frozenset({"roles"}),
    GRANT: frozenset({"privileges", "objects", "columns"}),
    DEFAULT_PRIVILEGES: frozenset({"privileges"}),
    DEFAULT_PRIVILEGES_LEGACY: frozenset({"privileges"}),
}

# Optional+Computed arguments: leaving them out keeps the value in state, so no diff
# (TF resource_postgresql_schema.go: database, owner, policy are Optional+Computed).
_COMPUTED_OPTIONAL: dict[str, frozenset[str]] = {SCHEMA: frozenset({"database", "owner", "policies"})}

# ForceNew arguments, from the same schema functions. Role has none; GrantRole has no Update
# function, so every argument is ForceNew.
_FORCE_NEW: dict[str, frozenset[str]] = {
    ROLE: frozenset(),
    SCHEMA: frozenset({"database"}),
    GRANT: frozenset({"role", "database", "schema", "objectType", "objects", "columns", "withGrantOption"}),
    DEFAULT_PRIVILEGES: frozenset({"role", "database", "owner", "schema", "objectType", "withGrantOption"}),
    GRANT_ROLE: frozenset({"role", "grantRole", "withAdminOption"}),
}
_FORCE_NEW[DEFAULT_PRIVILEGES_LEGACY] = _FORCE_NEW[DEFAULT_PRIVILEGES]

# pulumi/pulumi-postgresql provider/resources.go: "postgresql_grant" has DeleteBeforeReplace.
DELETE_BEFORE_REPLACE_TYPES = frozenset({GRANT})

# TF helpers.go:allowedPrivileges (MAINTAIN added for tables on PG >= 17 by
# allowedPrivilegesForObjectType).
_ALLOWED_PRIVILEGES: dict[str, frozenset[str]] = {
    "database": frozenset({"ALL", "CREATE", "CONNECT", "TEMPORARY"}),
    "table": frozenset({"ALL", "SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"}),
    "sequence": frozenset({"ALL", "USAGE", "SELECT", "UPDATE"}),
    "schema": frozenset({"ALL", "CREATE", "USAGE"}),
    "function": frozenset({"ALL", "EXECUTE"}),
    "procedure": frozenset({"ALL", "EXECUTE"}),
    "routine": frozenset({"ALL", "EXECUTE"}),
    "type": frozenset({"ALL", "USAGE"}),
    "foreign_data_wrapper": frozenset({"ALL", "USAGE"}),
    "foreign_server": frozenset({"ALL", "USAGE"}),
    "column": frozenset({"ALL", "SELECT", "INSERT", "UPDATE", "REFERENCES"}),
}
_NO_SCHEMA_OBJECT_TYPES = frozenset({"database", "foreign_data_wrapper", "foreign_server"})
# Function signatures are passed through after the name (TF helpers.go:quoteIdentifyIdent);
# only type-name characters are accepted here so the raw part cannot carry other SQL.
_FUNCTION_ARGS = re.compile(r'\([\w\s,."\[\]]*\)')


class ProviderError(Exception):
    """An operation failed the way the provider would report it; `sqlstate` when from the server."""

    def __init__(self, message: str, *, sqlstate: str | None = None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


class ImportNotFound(ProviderError):
    """`pulumi import` of an object that is not there."""


@dataclass(frozen=True)
class LoggedStatement:
    urn: str
    operation: str
    sql: str  # as sent, with secret literals replaced by '[secret]'


def provider_urn(reg: Registration) -> str:
    """The URN in a provider reference "<urn>::<id>".

    URNs contain "::" themselves, so the id is what follows the LAST "::".
    (Registration.provider_urn splits at the first one and returns "urn:pulumi:<stack>".)
    """
    return reg.provider.rsplit("::", 1)[0] if "::" in reg.provider else reg.provider


def _plain(value: Any) -> Any:
    # The generated Python SDK JSON-encodes non-string provider config
    # (pulumi_postgresql/provider.py: `.apply(pulumi.runtime.to_json)` for port, superuser...).
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


@dataclass(frozen=True)
class ProviderConfig:
    """A `pulumi:providers:postgresql` configuration with the provider's defaults applied.

    Defaults and environment fallbacks: TF provider.go:Provider (host PGHOST, port PGPORT/5432,
    database PGDATABASE/postgres, username PGUSER/postgres, password PGPASSWORD, sslmode
    PGSSLMODE, superuser PGSUPERUSER/true, connect_timeout PGCONNECT_TIMEOUT/180,
    max_connections 20).
    """

    host: str
    port: int
    database: str
    username: str
    password: str | None
    sslmode: str
    superuser: bool
    connect_timeout: int
    max_connections: int
    database_username: str

    @classmethod
    def from_inputs(cls, inputs: Mapping[str, Any], env: Mapping[str, str] | None = None) -> ProviderConfig:
        env = os.environ if env is None else env

        def pick(key: str, env_key: str | None, default: Any, *, decode: bool = False) -> Any:
            # Only non-string settings are JSON-encoded; a password like "1234" stays a string.
            value = inputs.get(key)
            if value in (None, "") and env_key:
                value = env.get(env_key) or None
            if value in (None, ""):
                return default
            return _plain(value) if decode else value

        return cls(
            host=str(pick("host", "PGHOST", "")),
            port=int(pick("port", "PGPORT", 5432, decode=True)),
            database=str(pick("database", "PGDATABASE", "postgres")),
            username=str(pick("username", "PGUSER", "postgres")),
            password=pick("password", "PGPASSWORD", None),
            sslmode=str(pick("sslmode", "PGSSLMODE", None) or inputs.get("sslMode") or ""),
            superuser=bool(pick("superuser", "PGSUPERUSER", True, decode=True)),
            connect_timeout=int(pick("connectTimeout", "PGCONNECT_TIMEOUT", 180, decode=True)),
            max_connections=int(pick("maxConnections", None, 20, decode=True)),
            database_username=str(pick("databaseUsername", None, "")),
        )

    @property
    def admin(self) -> str:
        # TF config.go:getDatabaseUsername - the role owned objects are reassigned to.
        return self.database_username or self.username

    def connect_kwargs(self, database: str) -> dict[str, Any]:
        # TF config.go:connStr/connParams. lib/pq treats an empty sslmode as "require"
        # (lib/pq ssl.go: `case "", "require"`), unlike libpq's "prefer"; mirror lib/pq.
        kwargs: dict[str, Any] = {
            "host": self.host or "localhost",
            "port": self.port,
            "dbname": database,
            "user": self.username,
            "sslmode": self.sslmode or "require",
            "connect_timeout": self.connect_timeout,
            "fallback_application_name": "Terraform provider",
        }
        if self.password is not None:
            kwargs["password"] = self.password
        return kwargs


def normalized_inputs(type_token: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """Inputs with the TF schema defaults applied and sets sorted, for diffing and SQL."""
    out = {k: v for k, v in inputs.items() if not k.startswith("__") and v is not None}
    for key, default in _DEFAULTS.get(type_token, {}).items():
        out.setdefault(key, default)
    for key in _SET_KEYS.get(type_token, frozenset()):
        if key in out:
            out[key] = sorted(set(out[key]))
    return out


def changed_keys(
    type_token: str, old: Mapping[str, Any], new: Mapping[str, Any], ignore_changes: Iterable[str] = ()
) -> tuple[str, ...]:
    """Top-level input keys whose values differ, as the bridge's Diff would report them."""
    a, b = normalized_inputs(type_token, old), normalized_inputs(type_token, new)
    computed = _COMPUTED_OPTIONAL.get(type_token, frozenset())
    ignored = {path.split(".")[0].split("[")[0] for path in ignore_changes}
    changed = []
    for key in sorted(set(a) | set(b)):
        if key in ignored or (key in computed and key not in b):
            continue
        if a.get(key) != b.get(key):
            changed.append(key)
    return tuple(changed)


def forces_replacement(type_token: str, changed: Iterable[str]) -> bool:
    """True if changing these inputs makes the provider ask for replacement (ForceNew)."""
    if type_token.startswith("random:"):
        # terraform-provider-random: every RandomPassword/RandomBytes argument RequiresReplace.
        return any(True for _ in changed)
    return bool(_FORCE_NEW.get(type_token, frozenset()) & set(changed))


class _Session:
    """One provider transaction on one fresh connection, logging every statement."""

    def __init__(self, double: ProviderDouble, conn: psycopg.Connection, config: ProviderConfig, urn: str, op: str):
        self.double, self.conn, self.config, self.urn, self.op = double, conn, config, urn, op

    def exec(self, query: sql.Composable, params: tuple[Any, ...] | None = None, *,
             what: str, shown: sql.Composable | None = None) -> list[tuple[Any, ...]]:
        self.double._log(LoggedStatement(self.urn, self.op, (shown or query).as_string(self.conn)))
        try:
            cur = self.conn.execute(query, params)
            return cur.fetchall() if cur.description else []
        except psycopg.Error as error:
            raise ProviderError(f"{what}: {error}", sqlstate=error.sqlstate) from error

    def value(self, query: str, params: tuple[Any, ...] | None = None, *, what: str) -> Any:
        rows = self.exec(sql.SQL(query), params, what=what)  # type: ignore[arg-type]
        return rows[0][0] if rows else None

    @property
    def server_version(self) -> int:
        return self.conn.info.server_version


def _ident(name: str) -> sql.Identifier:
    return sql.Identifier(name)


def _int(value: Any) -> sql.SQL:
    # An int() is safe to splice; sql.Literal(-1) would render as " -1".
    return sql.SQL(str(int(value)))


# --- helpers.go ---------------------------------------------------------------------------

def _lock_role(s: _Session, role: str) -> None:
    # TF helpers.go:pgLockRole - statement_timeout off, then transaction-scoped advisory locks
    # on the role's oid and on the oids of its members.
    s.exec(sql.SQL("SET statement_timeout = 0"), what="could not disable statement_timeout")
    s.exec(sql.SQL("SELECT pg_advisory_xact_lock(oid::bigint) FROM pg_roles WHERE rolname = %s"), (role,),
           what=f"could not get advisory lock for role {role}")
    s.exec(sql.SQL("SELECT pg_advisory_xact_lock(member::bigint) FROM pg_auth_members "
                   "JOIN pg_roles ON roleid = pg_roles.oid WHERE rolname = %s"), (role,),
           what=f"could not get advisory lock for members of role {role}")


def _lock_database(s: _Session, database: str) -> None:
    # TF helpers.go:pgLockDatabase - only grants with object_type=database take it.
    s.exec(sql.SQL("SET statement_timeout = 0"), what="could not disable statement_timeout")
    s.exec(sql.SQL("SELECT pg_advisory_xact_lock(oid::bigint) FROM pg_database WHERE datname = %s"), (database,),
           what=f"could not get advisory lock for database {database}")


def _is_member(s: _Session, role: str, member: str) -> bool:
    # TF helpers.go:isMemberOfRole - on PG 16+ only memberships with SET count.
    has_set = s.value("SELECT 1 FROM information_schema.columns WHERE table_name='pg_auth_members' "
                      "AND column_name = 'set_option'", what="could not read setOption column")
    query = "SELECT 1 FROM pg_auth_members WHERE pg_get_userbyid(roleid) = %s AND pg_get_userbyid(member) = %s"
    if has_set:
        query += " AND set_option"
    return s.value(query, (role, member), what="could not read role membership") is not None


def _grant_membership(s: _Session, role: str, member: str) -> bool:
    # TF helpers.go:grantRoleMembership
    if role == member or _is_member(s, role, member):
        return False
    s.exec(sql.SQL("GRANT {} TO {}").format(_ident(role), _ident(member)),
           what=f"error granting role {role} to {member}")
    return True


def _revoke_membership(s: _Session, role: str, member: str) -> bool:
    # TF helpers.go:revokeRoleMembership
    if role == member or not _is_member(s, role, member):
        return False
    s.exec(sql.SQL("REVOKE {} FROM {}").format(_ident(role), _ident(member)),
           what=f"error revoking role {role} from {member}")
    return True


def _is_superuser(s: _Session, role: str) -> bool:
    # TF helpers.go:isSuperuser
    value = s.value("SELECT rolsuper FROM pg_roles WHERE rolname = %s", (role,),
                    what=f"could not check if role {role} is superuser")
    if value is None:
        raise ProviderError(f"could not check if role {role} is superuser: no such role")
    return bool(value)


def _with_roles_granted(s: _Session, roles: list[str], fn: Callable[[], None]) -> None:
    # TF helpers.go:withRolesGranted - a non-superuser login temporarily joins the owners'
    # roles (undoing a reverse membership first) and leaves them afterwards, same transaction.
    # It asks the server whether the login is superuser; the provider's `superuser` flag is
    # not consulted here.
    if not roles:
        return fn()
    current = s.value("SELECT CURRENT_USER", what="error while looking for the current user")
    if _is_superuser(s, current):
        return fn()
    granted, revoked = [], []
    for role in roles:
        if _is_superuser(s, role):
            continue
        if _revoke_membership(s, current, role):
            revoked.append(role)
        if _grant_membership(s, role, current):
            granted.append(role)
    fn()
    for role in granted:
        _revoke_membership(s, role, current)
    for role in revoked:
        if s.value("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,), what="could not check if role exists"):
            _grant_membership(s, current, role)
    return None


def _database_owner(s: _Session, database: str) -> str:
    # TF helpers.go:getDatabaseOwner
    owner = s.value("SELECT rolname FROM pg_database JOIN pg_roles ON datdba = pg_roles.oid WHERE datname = %s",
                    (database,), what=f"error while looking for the owner of database '{database}'")
    if owner is None:
        raise ProviderError(f"could not find database '{database}' while looking for owner")
    return owner


def _schema_owner(s: _Session, schema: str) -> str:
    # TF helpers.go:getSchemaOwner - a grant on a missing schema fails here, before any GRANT.
    owner = s.value("SELECT rolname FROM pg_namespace JOIN pg_roles ON nspowner = pg_roles.oid WHERE nspname = %s",
                    (schema,), what=f"error while looking for the owner of schema '{schema}'")
    if owner is None:
        raise ProviderError(f"could not find schema '{schema}' while looking for owner")
    return owner


# --- the double ---------------------------------------------------------------------------

class ProviderDouble:
    """Applies postgresql resource registrations to a real server as pulumi-postgresql would.

    Provider registrations map to connection settings; each operation opens its own
    connection (TF config.go:Connect sets MaxIdleConns(0), so nothing is reused) and at most
    `max_connections` run at once per provider and database (SetMaxOpenConns).
    `default_provider` is the `postgresql:*` stack config, for resources without an explicit
    provider (the mock engine registers no default provider).
    """

    def __init__(self, registrations: Iterable[Registration] = (), *,
                 default_provider: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None) -> None:
        self._env = env
        self._configs: dict[str, ProviderConfig] = {}
        self._default = ProviderConfig.from_inputs(default_provider, env) if default_provider is not None else None
        self._pools: dict[tuple[ProviderConfig, str], threading.BoundedSemaphore | None] = {}
        self._lock = threading.Lock()
        self.statements: list[LoggedStatement] = []
        for reg in registrations:
            if reg.type == POSTGRES_PROVIDER:
                self.register_provider(reg)

    # -- configuration and connections --

    def register_provider(self, reg: Registration) -> ProviderConfig:
        config = ProviderConfig.from_inputs(reg.inputs, self._env)
        with self._lock:
            self._configs[reg.urn] = config
        return config

    def config_for(self, reg: Registration) -> ProviderConfig:
        urn = provider_urn(reg)
        if not urn:
            if self._default is None:
                raise ProviderError(f"{reg.urn} uses the default provider; pass default_provider= to ProviderDouble")
            return self._default
        try:
            return self._configs[urn]
        except KeyError:
            raise ProviderError(f"{reg.urn}: provider {urn} was never registered with the double") from None

    def _log(self, entry: LoggedStatement) -> None:
        with self._lock:
            self.statements.append(entry)

    def statements_for(self, urn: str, operation: str | None = None) -> list[str]:
        with self._lock:
            return [e.sql for e in self.statements if e.urn == urn and operation in (None, e.operation)]

    def _slot(self, config: ProviderConfig, database: str) -> threading.BoundedSemaphore | None:
        with self._lock:
            key = (config, database)
            if key not in self._pools:
                limit = config.max_connections
                self._pools[key] = threading.BoundedSemaphore(limit) if limit > 0 else None
            return self._pools[key]

    @contextmanager
    def _transaction(self, reg: Registration, op: str, database: str = "") -> Iterator[_Session]:
        # TF helpers.go:startTransaction - a database other than the provider's gets its own
        # pool; one transaction per create/update/delete, rolled back on any error.
        config = self.config_for(reg)
        database = database or config.database
        slot = self._slot(config, database)
        if slot is not None:
            slot.acquire()
        try:
            try:
                conn = psycopg.connect(**config.connect_kwargs(database))
            except psycopg.Error as error:
                # TF config.go:Connect hides the password in connection errors.
                text = str(error).replace(config.password, "XXXX") if config.password else str(error)
                raise ProviderError(f"error connecting to PostgreSQL server {config.host}: {text}",
                                    sqlstate=error.sqlstate) from None
            try:
                session = _Session(self, conn, config, reg.urn, op)
                yield session
                conn.commit()
            except BaseException:
                conn.rollback()
                raise
            finally:
                conn.close()
        finally:
            if slot is not None:
                slot.release()

    # -- public operations --

    def create(self, reg: Registration) -> str:
        """Create the object; return the id the provider would store."""
        return self._handler(reg.type).create(self, reg, normalized_inputs(reg.type, reg.inputs))

    def update(self, old: Registration, new: Registration) -> str:
        """Update in place from `old` inputs to `new` inputs (caller checked no ForceNew change)."""
        return self._handler(new.type).update(
            self, new, normalized_inputs(old.type, old.inputs), normalized_inputs(new.type, new.inputs))

    def delete(self, reg: Registration) -> None:
        self._handler(reg.type).delete(self, reg, normalized_inputs(reg.type, reg.inputs))

    def import_(self, reg: Registration) -> dict[str, Any]:
        """Read the object named by `reg.import_id` and return the inputs the provider's Read
        would put in state; raise ImportNotFound if it does not exist."""
        return self._handler(reg.type).read(self, reg, reg.import_id or reg.id)

    @staticmethod
    def _handler(type_token: str) -> Any:
        handler = _HANDLERS.get(type_token)
        if handler is None:
            raise NotImplementedError(f"the provider double does not implement {type_token}")
        return handler


# --- Role: TF resource_postgresql_role.go ---------------------------------------------------

def _password_clause(inputs: Mapping[str, Any]) -> tuple[sql.Composable, sql.Composable] | None:
    # resourcePostgreSQLRoleCreate: `password`, else write-only `password_wo`; "NULL" means
    # PASSWORD NULL; ENCRYPTED unless encrypted_password=false (UNENCRYPTED fails on PG 10+).
    password = inputs["password"] or inputs["passwordWo"]
    if not password:
        return None
    if password.upper() == "NULL":
        return sql.SQL("PASSWORD NULL"), sql.SQL("PASSWORD NULL")
    prefix = sql.SQL("ENCRYPTED" if inputs["encryptedPassword"] else "UNENCRYPTED")
    return (sql.SQL("{} PASSWORD {}").format(prefix, sql.Literal(password)),
            sql.SQL("{} PASSWORD '[secret]'").format(prefix))


_ROLE_FLAGS = (  # (input, enabled keyword, disabled keyword), in the provider's order
    ("superuser", "SUPERUSER", "NOSUPERUSER"), ("createDatabase", "CREATEDB", "NOCREATEDB"),
    ("createRole", "CREATEROLE", "NOCREATEROLE"), ("inherit", "INHERIT", "NOINHERIT"),
    ("login", "LOGIN", "NOLOGIN"), ("bypassRowLevelSecurity", "BYPASSRLS", "NOBYPASSRLS"),
    ("replication", "REPLICATION", "NOREPLICATION"),
)


def _valid_until(value: str) -> sql.Composable:
    return sql.Literal("infinity" if value.lower() == "infinity" else value)


def _role_settings(s: _Session, name: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    role = _ident(name)
    # alterSearchPath: always run, on create and on every update; empty list = TO DEFAULT.
    paths = new["searchPaths"]
    if any(", " in p for p in paths):
        raise ProviderError(f"search_path cannot contain `, `: {paths}")
    target = sql.SQL(", ").join(_ident(p) for p in paths) if paths else sql.SQL("DEFAULT")
    s.exec(sql.SQL("ALTER ROLE {} SET search_path TO {}").format(role, target),
           what=f"could not set search_path for {name}")
    # setStatementTimeout / setIdleInTransactionSessionTimeout: only when changed; 0 = RESET.
    for key, guc in (("statementTimeout", "statement_timeout"),
                     ("idleInTransactionSessionTimeout", "idle_in_transaction_session_timeout")):
        if old[key] == new[key]:
            continue
        if new[key]:
            s.exec(sql.SQL("ALTER ROLE {} SET {} TO {}").format(role, sql.SQL(guc), _int(new[key])),
                   what=f"could not set {guc} for {name}")
        else:
            s.exec(sql.SQL("ALTER ROLE {} RESET {}").format(role, sql.SQL(guc)), what=f"could not reset {guc} for {name}")
    # setAssumeRole: only when changed.
    if old["assumeRole"] != new["assumeRole"]:
        if new["assumeRole"]:
            s.exec(sql.SQL("ALTER ROLE {} SET ROLE TO {}").format(role, _ident(new["assumeRole"])),
                   what=f"could not set role for {name}")
        else:
            s.exec(sql.SQL("ALTER ROLE {} RESET ROLE").format(role), what=f"could not reset role for {name}")


def _grant_roles(s: _Session, name: str, roles: list[str]) -> None:
    # grantRoles: GRANT each entry of `roles` to the role.
    for granted in roles:
        s.exec(sql.SQL("GRANT {} TO {}").format(_ident(granted), _ident(name)),
               what=f"could not grant role {granted} to {name}")


class _Role:
    @staticmethod
    def create(d: ProviderDouble, reg: Registration, inp: dict[str, Any]) -> str:
        # resourcePostgreSQLRoleCreate - no advisory lock on create.
        with d._transaction(reg, "create") as s:
            parts, shown = [], []
            password = _password_clause(inp)
            if password:
                parts.append(password[0])
                shown.append(password[1])
            if inp["validUntil"]:
                clause = sql.SQL("VALID UNTIL {}").format(_valid_until(inp["validUntil"]))
                parts.append(clause)
                shown.append(clause)
            limit = sql.SQL("CONNECTION LIMIT {}").format(_int(inp["connectionLimit"]))
            flags = [sql.SQL(on if inp[key] else off) for key, on, off in _ROLE_FLAGS]
            parts += [limit, *flags]
            shown += [limit, *flags]
            head = sql.SQL("CREATE ROLE {} WITH ").format(_ident(inp["name"]))
            s.exec(head + sql.SQL(" ").join(parts), what=f"error creating role {inp['name']}",
                   shown=head + sql.SQL(" ").join(shown))
            _grant_roles(s, inp["name"], inp["roles"])
            _role_settings(s, inp["name"], _DEFAULTS[ROLE], inp)
        return inp["name"]

    @staticmethod
    def update(d: ProviderDouble, reg: Registration, old: dict[str, Any], new: dict[str, Any]) -> str:
        # resourcePostgreSQLRoleUpdate: lock the old name, then each set* helper in order.
        name, role = new["name"], _ident(new["name"])
        with d._transaction(reg, "update") as s:
            _lock_role(s, old["name"])
            if old["name"] != new["name"]:  # setRoleName
                if not new["name"]:
                    raise ProviderError("error setting role name to an empty string")
                s.exec(sql.SQL("ALTER ROLE {} RENAME TO {}").format(_ident(old["name"]), role),
                       what="error updating role NAME")
            # setRolePassword: re-sent when the password OR the name changed (an md5 hash is
            # salted with the name and PostgreSQL clears it on rename). With password_wo, only
            # when password_wo_version changed.
            if new["passwordWo"]:
                send = old["passwordWoVersion"] != new["passwordWoVersion"]
                password = new["passwordWo"]
            else:
                send = old["password"] != new["password"] or old["name"] != new["name"]
                password = new["password"]
            if send and password:
                s.exec(sql.SQL("ALTER ROLE {} PASSWORD {}").format(role, sql.Literal(password)),
                       what="error updating role password",
                       shown=sql.SQL("ALTER ROLE {} PASSWORD '[secret]'").format(role))
            # setRoleBypassRLS, setRoleConnLimit, setRoleCreateDB, setRoleCreateRole,
            # setRoleInherit, setRoleLogin, setRoleReplication, setRoleSuperuser,
            # setRoleValidUntil - each only when its argument changed.
            flags = {key: (on, off) for key, on, off in _ROLE_FLAGS}
            for key in ("bypassRowLevelSecurity", "connectionLimit", "createDatabase", "createRole", "inherit",
                        "login", "replication", "superuser", "validUntil"):
                if old[key] == new[key]:
                    continue
                if key == "connectionLimit":
                    s.exec(sql.SQL("ALTER ROLE {} CONNECTION LIMIT {}").format(role, _int(new[key])),
                           what="error updating role CONNECTION LIMIT")
                elif key == "validUntil":
                    if new[key]:
                        s.exec(sql.SQL("ALTER ROLE {} VALID UNTIL {}").format(role, _valid_until(new[key])),
                               what="error updating role VALID UNTIL")
                else:
                    on, off = flags[key]
                    s.exec(sql.SQL("ALTER ROLE {} WITH {}").format(role, sql.SQL(on if new[key] else off)),
                           what=f"error updating role {on}")
            # revokeRoles then grantRoles: every membership of the role is revoked, including
            # ones made by postgresql.GrantRole resources, then `roles` is granted again.
            memberships = s.exec(sql.SQL(
                "SELECT pg_get_userbyid(roleid) FROM pg_catalog.pg_auth_members members "
                "JOIN pg_catalog.pg_roles ON members.member = pg_roles.oid WHERE rolname = %s"), (name,),
                what=f"could not get roles list for role {name}")
            for (granted,) in memberships:
                s.exec(sql.SQL("REVOKE {} FROM {}").format(_ident(granted), role),
                       what=f"could not revoke role {granted} from {name}")
            _grant_roles(s, name, new["roles"])
            _role_settings(s, name, old, new)
        return name

    @staticmethod
    def delete(d: ProviderDouble, reg: Registration, inp: dict[str, Any]) -> None:
        # resourcePostgreSQLRoleDelete - in the provider's own database only.
        name = inp["name"]
        with d._transaction(reg, "delete") as s:
            _lock_role(s, name)
            if not inp["skipReassignOwned"]:
                def reassign_and_drop() -> None:
                    s.exec(sql.SQL("REASSIGN OWNED BY {} TO {}").format(_ident(name), _ident(s.config.admin)),
                           what=f"could not reassign owned by role {name} to {s.config.admin}")
                    s.exec(sql.SQL("DROP OWNED BY {}").format(_ident(name)), what=f"could not drop owned by role {name}")
                _with_roles_granted(s, [name], reassign_and_drop)
            if not inp["skipDropRole"]:
                s.exec(sql.SQL("DROP ROLE {}").format(_ident(name)), what=f"could not delete role {name}")

    @staticmethod
    def read(d: ProviderDouble, reg: Registration, role_id: str) -> dict[str, Any]:
        # resourcePostgreSQLRoleReadImpl. The password is read back only when state already
        # holds one (d.GetOk), which an import never does: imported roles have no password input.
        with d._transaction(reg, "read") as s:
            rows = s.exec(sql.SQL(
                "SELECT ARRAY(SELECT pg_get_userbyid(roleid) FROM pg_catalog.pg_auth_members WHERE member = r.oid),"
                " rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, rolconnlimit,"
                " COALESCE(rolvaliduntil::TEXT, 'infinity'), COALESCE(rolconfig, '{}'), rolreplication, rolbypassrls"
                " FROM pg_catalog.pg_roles r WHERE rolname = %s"), (role_id,), what="error reading ROLE")
        if not rows:
            raise ImportNotFound(f"role {role_id!r} does not exist; cannot import {reg.urn}")
        roles, name, su, inherit, createrole, createdb, login, limit, valid, config, repl, bypass = rows[0]
        settings = dict(item.split("=", 1) for item in config)
        search_path = settings.get("search_path")
        return {
            "name": name, "superuser": su, "inherit": inherit, "createRole": createrole, "createDatabase": createdb,
            "login": login, "connectionLimit": limit, "validUntil": valid, "replication": repl,
            "bypassRowLevelSecurity": bypass, "roles": sorted(roles), "encryptedPassword": True,
            # readSearchPath splits on ", " and trims double quotes.
            "searchPaths": [p.strip('"') for p in search_path.split(", ")] if search_path else [],
            "statementTimeout": int(settings.get("statement_timeout", 0)),
            "idleInTransactionSessionTimeout": int(settings.get("idle_in_transaction_session_timeout", 0)),
            "assumeRole": settings.get("role", ""),
        }


# --- Schema: TF resource_postgresql_schema.go -----------------------------------------------

class _Schema:
    @staticmethod
    def _database(d: ProviderDouble, reg: Registration, inp: Mapping[str, Any]) -> str:
        return inp.get("database") or d.config_for(reg).database  # getDatabase

    @staticmethod
    def create(d: ProviderDouble, reg: Registration, inp: dict[str, Any]) -> str:
        # resourcePostgreSQLSchemaCreate + createSchema.
        if inp.get("policies"):
            raise NotImplementedError("the deprecated schema `policies` argument is not modelled")
        database, name, owner = _Schema._database(d, reg, inp), inp["name"], inp.get("owner", "")
        with d._transaction(reg, "create", database) as s:
            db_owner = _database_owner(s, database)
            roles = [db_owner] + ([owner] if owner and owner != db_owner else [])

            def create_schema() -> None:
                # The provider looks the schema up first: if it exists it only sets the owner
                # (when one is declared), whatever if_not_exists says. IF NOT EXISTS only
                # matters in the race where someone creates it between the look-up and CREATE.
                exists = s.value("SELECT TRUE FROM pg_catalog.pg_namespace WHERE nspname = %s", (name,),
                                 what="error looking for schema")
                if exists:
                    if owner:
                        s.exec(sql.SQL("ALTER SCHEMA {} OWNER TO {}").format(_ident(name), _ident(owner)),
                               what="error updating schema OWNER")
                    return
                query = sql.SQL("CREATE SCHEMA {}{}").format(
                    sql.SQL("IF NOT EXISTS ") if inp["ifNotExists"] else sql.SQL(""), _ident(name))
                if owner:
                    query += sql.SQL(" AUTHORIZATION {}").format(_ident(owner))
                s.exec(query, what=f"error creating schema {name}")

            _with_roles_granted(s, roles, create_schema)
        return f"{database}.{name}"  # generateSchemaID

    @staticmethod
    def update(d: ProviderDouble, reg: Registration, old: dict[str, Any], new: dict[str, Any]) -> str:
        # resourcePostgreSQLSchemaUpdate: setSchemaName, setSchemaOwner; no lock, no role grants.
        database = _Schema._database(d, reg, new)
        with d._transaction(reg, "update", database) as s:
            if old["name"] != new["name"]:
                if not new["name"]:
                    raise ProviderError("error setting schema name to an empty string")
                s.exec(sql.SQL("ALTER SCHEMA {} RENAME TO {}").format(_ident(old["name"]), _ident(new["name"])),
                       what="error updating schema NAME")
            if "owner" in new and old.get("owner") != new["owner"]:
                if not new["owner"]:
                    raise ProviderError("error setting schema owner to an empty string")
                s.exec(sql.SQL("ALTER SCHEMA {} OWNER TO {}").format(_ident(new["name"]), _ident(new["owner"])),
                       what="error updating schema OWNER")
        return f"{database}.{new['name']}"

    @staticmethod
    def delete(d: ProviderDouble, reg: Registration, inp: dict[str, Any]) -> None:
        # resourcePostgreSQLSchemaDelete: gone already = success; RESTRICT unless drop_cascade.
        database, name = _Schema._database(d, reg, inp), inp["name"]
        with d._transaction(reg, "delete", database) as s:
            if not s.value("SELECT 1 FROM pg_namespace WHERE nspname = %s", (name,),
                           what="could not check if schema exists"):
                return
            # State holds the owner Read found; without a declared owner, read it now.
            owner = inp.get("owner") or _schema_owner(s, name)
            mode = sql.SQL("CASCADE" if inp["dropCascade"] else "RESTRICT")

            def drop() -> None:
                s.exec(sql.SQL("DROP SCHEMA {} {}").format(_ident(name), mode), what="error deleting schema")

            _with_roles_granted(s, [owner], drop)

    @staticmethod
    def read(d: ProviderDouble, reg: Registration, schema_id: str) -> dict[str, Any]:
        # getDBSchemaName parses an import id "database.schema"; resourcePostgreSQLSchemaReadImpl.
        parts = schema_id.split(".")
        if len(parts) != 2:
            raise ProviderError(f"schema ID {schema_id} has not the expected format 'database.schema': {parts}")
        database, name = parts
        with d._transaction(reg, "read", database) as s:
            owner = s.value("SELECT pg_catalog.pg_get_userbyid(n.nspowner) FROM pg_catalog.pg_namespace n "
                            "WHERE n.nspname = %s", (name,), what="error reading schema")
        if owner is None:
            raise ImportNotFound(f"schema {name!r} does not exist in database {database!r}; cannot import {reg.urn}")
        return {"name": name, "database": database, "owner": owner}


# --- Grant: TF resource_postgresql_grant.go -------------------------------------------------

def _privileges(object_type: str, privileges: list[str], server_version: int) -> list[sql.Composable]:
    # validatePrivileges against allowedPrivilegesForObjectType.
    allowed = _ALLOWED_PRIVILEGES.get(object_type)
    if allowed is None:
        raise ProviderError(f"unknown object type {object_type}")
    if object_type == "table" and server_version >= 170000:
        allowed = allowed | {"MAINTAIN"}
    for privilege in privileges:
        if privilege not in allowed:
            raise ProviderError(f"{privilege} is not an allowed privilege for object type {object_type}")
    return [sql.SQL(p) for p in privileges]


def _function_ident(name: str) -> sql.Composable:
    # quoteIdentifyIdent: "f(int, text)" -> "f"(int, text)
    base, paren, rest = name.partition("(")
    if not paren:
        return _ident(name)
    args = "(" + rest
    if not _FUNCTION_ARGS.fullmatch(args):
        raise ProviderError(f"unsupported function signature {name!r}")
    return _ident(base) + sql.SQL(args)


def _object_list(schema: str, objects: list[str]) -> sql.Composable:
    # setToPgIdentList: "schema"."object", ...
    return sql.SQL(",").join(sql.SQL("{}.{}").format(_ident(schema), _function_ident(o)) for o in objects)


def _grant_target(inp: Mapping[str, Any]) -> sql.Composable:
    kind = inp["objectType"]
    if kind == "database":
        return sql.SQL("DATABASE {}").format(_ident(inp["database"]))
    if kind == "schema":
        return sql.SQL("SCHEMA {}").format(_ident(inp["schema"]))
    if kind in ("foreign_data_wrapper", "foreign_server"):
        keyword = "FOREIGN DATA WRAPPER" if kind == "foreign_data_wrapper" else "FOREIGN SERVER"
        return sql.SQL("{} {}").format(sql.SQL(keyword), _ident(inp["objects"][0]))
    keyword = sql.SQL(kind.upper())
    if inp["objects"]:
        return sql.SQL("{} {}").format(keyword, _object_list(inp["schema"], inp["objects"]))
    return sql.SQL("ALL {}S IN SCHEMA {}").format(keyword, _ident(inp["schema"]))


def _revoke_query(inp: Mapping[str, Any], version: int) -> sql.Composable | None:
    # createRevokeQuery: ALL PRIVILEGES, except for listed objects with listed privileges
    # (so column grants survive) and columns.
    kind, role = inp["objectType"], _ident(inp["role"])
    if kind == "column":
        if not inp["privileges"] or not inp["columns"]:
            return None
        return sql.SQL("REVOKE {} ({}) ON TABLE {} FROM {}").format(
            sql.SQL(",").join(_privileges(kind, inp["privileges"], version)),
            sql.SQL(",").join(_ident(c) for c in inp["columns"]), _object_list(inp["schema"], inp["objects"]), role)
    if kind in ("table", "sequence", "function", "procedure", "routine") and inp["objects"] and inp["privileges"]:
        return sql.SQL("REVOKE {} ON {} FROM {}").format(
            sql.SQL(",").join(_privileges(kind, inp["privileges"], version)), _grant_target(inp), role)
    return sql.SQL("REVOKE ALL PRIVILEGES ON {} FROM {}").format(_grant_target(inp), role)


def _grant_query(inp: Mapping[str, Any], version: int) -> sql.Composable | None:
    # grantRolePrivileges + createGrantQuery; no privileges = nothing granted.
    if not inp["privileges"]:
        return None
    privileges = sql.SQL(",").join(_privileges(inp["objectType"], inp["privileges"], version))
    role = _ident(inp["role"])
    if inp["objectType"] == "column":
        query = sql.SQL("GRANT {} ({}) ON TABLE {} TO {}").format(
            privileges, sql.SQL(",").join(_ident(c) for c in inp["columns"]),
            _object_list(inp["schema"], inp["objects"]), role)
    else:
        query = sql.SQL("GRANT {} ON {} TO {}").format(privileges, _grant_target(inp), role)
    if inp["withGrantOption"]:
        query += sql.SQL(" WITH GRANT OPTION")
    return query


def _validate_grant(inp: Mapping[str, Any]) -> None:
    # resourcePostgreSQLGrantCreateOrUpdate parameter checks.
    kind, objects, columns = inp["objectType"], inp["objects"], inp["columns"]
    if kind not in _ALLOWED_PRIVILEGES or kind == "type":
        raise ProviderError(f"unknown object type {kind}")
    if not inp["schema"] and kind not in _NO_SCHEMA_OBJECT_TYPES:
        raise ProviderError("parameter 'schema' is mandatory for postgresql_grant resource")
    if objects and kind in ("database", "schema"):
        raise ProviderError("cannot specify `objects` when `object_type` is `database` or `schema`")
    if columns and kind != "column":
        raise ProviderError("cannot specify `columns` when `object_type` is not `column`")
    if kind == "column" and (not columns or len(inp["privileges"]) != 1 or len(objects) != 1):
        raise ProviderError("column grants need `columns`, exactly 1 privilege and exactly 1 table in `objects`")
    if kind in ("foreign_data_wrapper", "foreign_server") and len(objects) != 1:
        raise ProviderError("one element must be specified in `objects` for foreign data wrappers and servers")


def _grant_owners(s: _Session, inp: Mapping[str, Any]) -> list[str]:
    # getRolesToGrant: owners of the schema and of its tables (pg_tables, whatever the type).
    kind = inp["objectType"]
    if kind in _NO_SCHEMA_OBJECT_TYPES:
        return []
    owners: list[str] = []
    if kind != "schema":
        owners = [r[0] for r in s.exec(sql.SQL("SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = %s"),
                                       (inp["schema"],), what="error while looking for owners of tables")]
    schema_owner = _schema_owner(s, inp["schema"])
    if schema_owner not in owners:
        owners.append(schema_owner)
    # resolveOwners: pg_database_owner stands for the current database's owner.
    return [_database_owner(s, s.conn.info.dbname) if o == "pg_database_owner" else o for o in owners]


def _grant_id(inp: Mapping[str, Any]) -> str:
    # generateGrantID
    parts = [inp["role"], inp["database"]]
    if inp["objectType"] not in _NO_SCHEMA_OBJECT_TYPES:
        parts.append(inp["schema"])
    return "_".join([*parts, inp["objectType"], *inp["objects"], *inp["columns"]])


class _Grant:
    @staticmethod
    def _apply(d: ProviderDouble, reg: Registration, op: str, revoke_with: dict[str, Any],
               grant_with: dict[str, Any] | None) -> None:
        # Create/Update/Delete share this shape: lock role (and database for database grants),
        # temporarily join the owners' roles, REVOKE, then GRANT - in one transaction so the
        # grantee never sees the gap.
        inp = grant_with or revoke_with
        _validate_grant(inp)
        with d._transaction(reg, op, inp["database"]) as s:
            _lock_role(s, inp["role"])
            if inp["objectType"] == "database":
                _lock_database(s, inp["database"])
            owners = _grant_owners(s, inp)

            def revoke_then_grant() -> None:
                revoke = _revoke_query(revoke_with, s.server_version)
                if revoke is not None:
                    s.exec(revoke, what="could not execute revoke query")
                grant = _grant_query(grant_with, s.server_version) if grant_with else None
                if grant is not None:
                    s.exec(grant, what="could not execute grant query")

            _with_roles_granted(s, owners, revoke_then_grant)

    @staticmethod
    def create(d: ProviderDouble, reg: Registration, inp: dict[str, Any]) -> str:
        _Grant._apply(d, reg, "create", inp, inp)  # resourcePostgreSQLGrantCreate
        return _grant_id(inp)

    @staticmethod
    def update(d: ProviderDouble, reg: Registration, old: dict[str, Any], new: dict[str, Any]) -> str:
        # resourcePostgreSQLGrantUpdate: usePrevious - the REVOKE is built from the old values
        # of changed arguments (only `privileges` can change without replacement).
        _Grant._apply(d, reg, "update", {**new, "privileges": old["privileges"]}, new)
        return _grant_id(new)

    @staticmethod
    def delete(d: ProviderDouble, reg: Registration, inp: dict[str, Any]) -> None:
        _Grant._apply(d, reg, "delete", inp, None)  # resourcePostgreSQLGrantDelete

    @staticmethod
    def read(d: ProviderDouble, reg: Registration, _id: str) -> dict[str, Any]:
        raise ProviderError(f"{reg.type} does not support import (postgresql_grant has no Importer)")


# --- DefaultPrivileges: TF resource_postgresql_default_privileges.go ------------------------

class _DefaultPrivileges:
    _TYPES = frozenset({"table", "sequence", "function", "routine", "type", "schema"})

    @staticmethod
    def _statement(inp: Mapping[str, Any], action: str, privileges: list[sql.Composable]) -> sql.Composable:
        # grantRoleDefaultPrivileges / revokeRoleDefaultPrivileges
        in_schema = sql.SQL("IN SCHEMA {} ").format(_ident(inp["schema"])) if inp["schema"] else sql.SQL("")
        kind = sql.SQL(inp["objectType"].upper() + "S")
        head = sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {} {}").format(_ident(inp["owner"]), in_schema)
        if action == "REVOKE":
            return head + sql.SQL("REVOKE ALL ON {} FROM {}").format(kind, _ident(inp["role"]))
        query = head + sql.SQL("GRANT {} ON {} TO {}").format(sql.SQL(",").join(privileges), kind, _ident(inp["role"]))
        return query + sql.SQL(" WITH GRANT OPTION") if inp["withGrantOption"] else query

    @staticmethod
    def _apply(d: ProviderDouble, reg: Registration, op: str, inp: dict[str, Any], grant: bool) -> str:
        # resourcePostgreSQLDefaultPrivilegesCreate (also its Update) and ...Delete: lock the
        # OWNER (not the grantee), join the owner's role if needed, REVOKE ALL, then GRANT.
        kind = inp["objectType"]
        if kind not in _DefaultPrivileges._TYPES:
            raise ProviderError(f"unknown object type {kind}")
        if grant:
            if inp["schema"] and kind == "schema":
                raise ProviderError("cannot specify `schema` when `object_type` is `schema`")
            if inp["withGrantOption"] and inp["role"].lower() == "public":
                raise ProviderError("with_grant_option cannot be true for role 'public'")
        with d._transaction(reg, op, inp["database"]) as s:
            privileges = _privileges(kind, inp["privileges"], s.server_version) if grant else []
            _lock_role(s, inp["owner"])

            def revoke_then_grant() -> None:
                s.exec(_DefaultPrivileges._statement(inp, "REVOKE", []), what="could not revoke default privileges")
                if grant and privileges:
                    s.exec(_DefaultPrivileges._statement(inp, "GRANT", privileges),
                           what="could not alter default privileges")

            _with_roles_granted(s, [inp["owner"]], revoke_then_grant)
        # generateDefaultPrivilegesID
        return "_".join([inp["role"], inp["database"], inp["schema"] or "noschema", inp["owner"], kind])

    @staticmethod
    def create(d: ProviderDouble, reg: Registration, inp: dict[str, Any]) -> str:
        return _DefaultPrivileges._apply(d, reg, "create", inp, grant=True)

    @staticmethod
    def update(d: ProviderDouble, reg: Registration, old: dict[str, Any], new: dict[str, Any]) -> str:
        return _DefaultPrivileges._apply(d, reg, "update", new, grant=True)

    @staticmethod
    def delete(d: ProviderDouble, reg: Registration, inp: dict[str, Any]) -> None:
        _DefaultPrivileges._apply(d, reg, "delete", inp, grant=False)

    @staticmethod
    def read(d: ProviderDouble, reg: Registration, _id: str) -> dict[str, Any]:
        raise ProviderError(f"{reg.type} does not support import (postgresql_default_privileges has no Importer)")


# --- GrantRole: TF resource_postgresql_grant_role.go ----------------------------------------

class _GrantRole:
    @staticmethod
    def create(d: ProviderDouble, reg: Registration, inp: dict[str, Any]) -> str:
        # resourcePostgreSQLGrantRoleCreate: REVOKE then GRANT, provider database, NO lock.
        with d._transaction(reg, "create") as s:
            s.exec(sql.SQL("REVOKE {} FROM {}").format(_ident(inp["grantRole"]), _ident(inp["role"])),
                   what="could not execute revoke query")
            query = sql.SQL("GRANT {} TO {}").format(_ident(inp["grantRole"]), _ident(inp["role"]))
            if inp["withAdminOption"]:
                query += sql.SQL(" WITH ADMIN OPTION")
            s.exec(query, what="could not execute grant query")
        return f"{inp['role']}_{inp['grantRole']}_{str(bool(inp['withAdminOption'])).lower()}"

    @staticmethod
    def update(d: ProviderDouble, reg: Registration, old: dict[str, Any], new: dict[str, Any]) -> str:
        raise ProviderError("postgresql_grant_role has no Update: every argument forces replacement")

    @staticmethod
    def delete(d: ProviderDouble, reg: Registration, inp: dict[str, Any]) -> None:
        with d._transaction(reg, "delete") as s:  # resourcePostgreSQLGrantRoleDelete
            s.exec(sql.SQL("REVOKE {} FROM {}").format(_ident(inp["grantRole"]), _ident(inp["role"])),
                   what="could not execute revoke query")

    @staticmethod
    def read(d: ProviderDouble, reg: Registration, _id: str) -> dict[str, Any]:
        raise ProviderError(f"{reg.type} does not support import (postgresql_grant_role has no Importer)")


# --- Dynamic resources: pulumi/dynamic/__main__.py (the Python SDK's dynamic provider host) ---

class _Dynamic:
    """Runs the program's own dynamic provider, as the SDK's host does: unpickle `__provider`
    (get_provider: base64 + dill.loads) and call create/update/delete with the properties,
    `__provider` included. Nothing is modelled: the code under test is the code that runs."""

    @staticmethod
    def _provider(reg: Registration) -> Any:
        return dill.loads(base64.b64decode(reg.inputs["__provider"]))

    @staticmethod
    def create(d: ProviderDouble, reg: Registration, _inp: dict[str, Any]) -> str:
        return _Dynamic._provider(reg).create(dict(reg.inputs)).id

    @staticmethod
    def update(d: ProviderDouble, reg: Registration, old: dict[str, Any], _new: dict[str, Any]) -> str:
        # Update: get_provider(news); provider.update(id, olds, news). The id never changes.
        _Dynamic._provider(reg).update(reg.id, old, dict(reg.inputs))
        return reg.id

    @staticmethod
    def delete(d: ProviderDouble, reg: Registration, _inp: dict[str, Any]) -> None:
        _Dynamic._provider(reg).delete(reg.id, dict(reg.inputs))

    @staticmethod
    def read(d: ProviderDouble, reg: Registration, _id: str) -> dict[str, Any]:
        raise ProviderError("the program's dynamic resources are never imported")


_HANDLERS: dict[str, Any] = {
    ROLE: _Role, SCHEMA: _Schema, GRANT: _Grant, GRANT_ROLE: _GrantRole,
    DEFAULT_PRIVILEGES: _DefaultPrivileges, DEFAULT_PRIVILEGES_LEGACY: _DefaultPrivileges,
    DYNAMIC: _Dynamic,
}
