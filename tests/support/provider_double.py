"""A test double of the pulumi-postgresql provider: the SQL it runs, on a real PostgreSQL.

pulumi-postgresql 3.18.x bridges cyrilgdn/terraform-provider-postgresql at commit ff936b9
(the `upstream` submodule of pulumi/pulumi-postgresql v3.18.0; tagged v1.27.0 upstream).
Every mapping below names the Go file and function it follows, abbreviated `TF <file>:<func>`.
The code is written from reading that source, not copied; see docs/provider-double.md for what
is reproduced and what is not.

Every Create and Update ends, as in the provider, with the resource's Read (the read after
write): the outputs it returns (`ReadBack.outputs`) are what the engine stores and what the
bridge diffs the next inputs against (pulumi-terraform-bridge pkg/tfbridge/provider.go:Diff
builds the prior TF state from `req.GetOlds()`, the old outputs). `read()` is that Read on its
own (`pulumi refresh`), `import_()` the Read of an import.

Identifiers and literals are always composed with `psycopg.sql`. Privilege and object-type
keywords cannot be identifiers, so they are checked against the provider's own allow-list
(TF helpers.go:allowedPrivileges) before being spliced in as SQL keywords.
"""

from __future__ import annotations

import base64
import hashlib
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
    DATABASE,
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
SQL_TYPES = frozenset({ROLE, SCHEMA, GRANT, GRANT_ROLE, DEFAULT_PRIVILEGES, DEFAULT_PRIVILEGES_LEGACY, DATABASE})

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
    # TF resource_postgresql_database.go:resourcePostgreSQLDatabase (lines 87-111)
    DATABASE: {"connectionLimit": -1, "allowConnections": True, "alterObjectOwnership": False},
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
_COMPUTED_OPTIONAL: dict[str, frozenset[str]] = {
    SCHEMA: frozenset({"database", "owner", "policies"}),
    # TF resource_postgresql_database.go:47-85, 100-105
    DATABASE: frozenset({"owner", "template", "encoding", "lcCollate", "lcCtype", "tablespaceName", "isTemplate"}),
}

# ForceNew arguments, from the same schema functions. Role has none; GrantRole has no Update
# function, so every argument is ForceNew.
_FORCE_NEW: dict[str, frozenset[str]] = {
    ROLE: frozenset(),
    SCHEMA: frozenset({"database"}),
    GRANT: frozenset({"role", "database", "schema", "objectType", "objects", "columns", "withGrantOption"}),
    DEFAULT_PRIVILEGES: frozenset({"role", "database", "owner", "schema", "objectType", "withGrantOption"}),
    GRANT_ROLE: frozenset({"role", "grantRole", "withAdminOption"}),
    # TF resource_postgresql_database.go:53-80 (the name is not: Update renames)
    DATABASE: frozenset({"template", "encoding", "lcCollate", "lcCtype"}),
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


class ProviderInitError(ProviderError):
    """The write was committed but the read after it failed.

    TF SDKv2 keeps the state of a resource whose Create/Update returned an error after
    `d.SetId` (the values its Read had `d.Set` before failing); the bridge returns that state
    with the error as an initialization error (pulumi-terraform-bridge v3.136
    pkg/tfbridge/provider.go:Create and :Update, `initializationError(newstate.ID(), mprops,
    reasons)`), and the engine records the resource with `InitErrors` while the step fails
    (pulumi pkg/resource/deploy/step.go:CreateStep.Apply / UpdateStep.Apply,
    `resource.StatusPartialFailure`). `id` and `outputs` are that recorded state.
    """

    def __init__(self, message: str, *, id: str, outputs: dict[str, Any],  # noqa: A002 - the resource id
                 sqlstate: str | None = None) -> None:
        super().__init__(message, sqlstate=sqlstate)
        self.id, self.outputs = id, outputs


@dataclass(frozen=True)
class ReadBack:
    """What the provider hands the engine after an operation.

    `outputs` are the values its Read returned (after a create or update: the read after the
    write), which the engine stores as the resource's outputs. `inputs` is set by a refresh or
    an import only: the inputs the bridge extracts from those outputs (pkg/tfbridge/schema.go:
    ExtractInputsFromOutputs); None keeps the stored inputs.
    """

    id: str
    outputs: dict[str, Any]
    inputs: dict[str, Any] | None = None


class _ReadFailed(Exception):
    """A Read that failed after some `d.Set` calls: `partial` is the state TF keeps."""

    def __init__(self, message: str, partial: dict[str, Any], sqlstate: str | None = None) -> None:
        super().__init__(message)
        self.partial, self.sqlstate = partial, sqlstate


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


def attributes(reg: Registration) -> dict[str, Any]:
    """A resource's current attribute values: its outputs when it has any (a resource from an
    applied state), else its inputs (a registration straight from a program run or built by
    hand, whose mock "outputs" are its inputs)."""
    return dict(reg.state) if reg.state else dict(reg.inputs)


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
    # TF provider.go `sslrootcert` and `clientcert {cert, key, sslinline}`, handed to lib/pq as
    # sslrootcert, sslcert and sslkey (config.go connParams); file paths, as libpq reads them.
    tls_files: tuple[tuple[str, str], ...] = ()

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
            tls_files=_tls_files(inputs.get("sslrootcert"), _plain(inputs.get("clientcert"))),
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
            # lib/pq always sends DateStyle "ISO, MDY" (lib/pq v1.12.3 connector.go:612, sent in
            # the startup packet, conn.go:1239); it sends no TimeZone (its `tz`/PGTZ setting is
            # never used), so timestamps read as text follow the server's, database's or role's
            # TimeZone, as here.
            "options": "-c DateStyle=ISO,MDY",
        }
        if self.password is not None:
            kwargs["password"] = self.password
        return kwargs | dict(self.tls_files)


def _tls_files(rootcert: Any, clientcert: Any) -> tuple[tuple[str, str], ...]:
    """libpq's sslrootcert/sslcert/sslkey from the provider's arguments. `sslinline` (PEM text
    instead of paths) is not reproduced: libpq reads files only, and the program never sets it."""
    files = [("sslrootcert", rootcert)] if rootcert else []
    if isinstance(clientcert, Mapping):
        if clientcert.get("sslinline"):
            raise NotImplementedError("clientcert.sslinline is not reproduced by the provider double")
        files += [("sslcert", clientcert["cert"]), ("sslkey", clientcert["key"])]
    return tuple((key, str(value)) for key, value in files)


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


def _refreshed_inputs(old_inputs: Mapping[str, Any], outputs: Mapping[str, Any], type_token: str) -> dict[str, Any]:
    # pkg/tfbridge/schema.go:extractInputsObject / extractInputs (isRefresh): every stored input
    # takes the value read back; one the state lacks is dropped; arrays keep only their old
    # elements (sets matched by content, lists by position).
    sets = _SET_KEYS.get(type_token, frozenset())
    refreshed: dict[str, Any] = {}
    for key, old in old_inputs.items():
        if key not in outputs:
            continue
        new = outputs[key]
        if isinstance(old, list) and isinstance(new, list):
            refreshed[key] = [e for e in old if e in new] if key in sets else list(new[:len(old)])
        else:
            refreshed[key] = new
    return refreshed


def _after_write(reg: Registration, resource_id: str, planned: Mapping[str, Any],
                 read: Callable[[], ReadBack | None]) -> ReadBack:
    """The read that ends a provider's Create/Update, with TF SDKv2's and the bridge's handling
    of its failure: the write is committed, so the state keeps the resource (ProviderInitError)."""
    try:
        found = read()
    except _ReadFailed as failed:
        raise ProviderInitError(str(failed), id=resource_id, outputs=failed.partial,
                                sqlstate=failed.sqlstate) from None
    except ProviderError as error:  # failed before any d.Set: the state is the planned values
        raise ProviderInitError(str(error), id=resource_id, outputs=dict(planned), sqlstate=error.sqlstate) from None
    if found is None:
        # The Read did d.SetId(""): TF returns no state and the bridge fails the step
        # (provider.go:Create "expected non-nil error with nil state"); nothing is recorded.
        raise ProviderError(f"{reg.urn}: the object was not found when read back after the write")
    return found


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
    def _transaction(self, reg: Registration, op: str, database: str = "", *, autocommit: bool = False) -> Iterator[_Session]:
        # TF helpers.go:startTransaction - a database other than the provider's gets its own
        # pool; one transaction per create/update/delete, rolled back on any error.
        # `autocommit`: statements the provider runs on its pool outside any transaction
        # (`db.Exec`/`db.QueryRow` on the *sql.DB), as Database does: CREATE and DROP DATABASE
        # cannot run in a transaction block.
        config = self.config_for(reg)
        database = database or config.database
        slot = self._slot(config, database)
        if slot is not None:
            slot.acquire()
        try:
            try:
                conn = psycopg.connect(**config.connect_kwargs(database), autocommit=autocommit)
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
    # `old` arguments are the prior state: attributes() takes a resource's outputs (what the
    # provider's Read last returned), as the bridge does for Update and Delete.

    def create(self, reg: Registration) -> ReadBack:
        """Create the object, then read it back; return the id and outputs the engine stores.

        Raises ProviderInitError when the read after the write fails (the object exists)."""
        return self._handler(reg.type).create(self, reg, normalized_inputs(reg.type, reg.inputs))

    def update(self, old: Registration, new: Registration) -> ReadBack:
        """Update in place from the prior state of `old` to the inputs of `new` (the caller
        checked that no ForceNew argument changed), then read back as create() does."""
        # A dynamic provider gets the old outputs as they are (`__provider` included).
        olds = attributes(old) if new.type == DYNAMIC else normalized_inputs(old.type, attributes(old))
        return self._handler(new.type).update(self, new, olds, normalized_inputs(new.type, new.inputs))

    def delete(self, reg: Registration) -> None:
        self._handler(reg.type).delete(self, reg, normalized_inputs(reg.type, attributes(reg)))

    def read(self, reg: Registration) -> ReadBack | None:
        """The provider's Read of a resource in state (`pulumi refresh`); None if it is gone.

        The inputs returned are the stored inputs with each value the Read changed replaced,
        as the bridge's refresh does (pkg/tfbridge/schema.go:ExtractInputsFromOutputs with
        isRefresh: extractInputsObject keeps only inputs already present)."""
        handler = self._handler(reg.type)
        if reg.type == DYNAMIC:
            return handler.refresh(self, reg)
        state = normalized_inputs(reg.type, attributes(reg))
        try:
            found = handler.read(self, reg, reg.id, state, refresh=True)
        except _ReadFailed as failed:  # a refresh whose Read fails is an error, not a partial state
            raise ProviderError(str(failed), sqlstate=failed.sqlstate) from None
        if found is None:
            return None
        return ReadBack(found.id, found.outputs, _refreshed_inputs(reg.inputs, found.outputs, reg.type))

    def import_(self, reg: Registration) -> ReadBack:
        """Read the object named by `reg.import_id` as `pulumi import` does: outputs, and as
        inputs every input argument found in them (pkg/tfbridge/schema.go:
        extractSchemaInputsObject); raise ImportNotFound if it does not exist."""
        handler = self._handler(reg.type)
        import_id = reg.import_id or reg.id
        if not getattr(handler, "importable", True):
            raise ProviderError(f"{reg.type} does not support import ({handler.tf_name} has no Importer)")
        try:
            found = handler.read(self, reg, import_id, {}, refresh=False)
        except _ReadFailed as failed:
            raise ProviderError(str(failed), sqlstate=failed.sqlstate) from None
        if found is None:
            raise ImportNotFound(f"resource '{import_id}' does not exist; cannot import {reg.urn}")
        return ReadBack(found.id, found.outputs, {k: v for k, v in found.outputs.items() if v is not None})

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
        # d.SetId(roleName); return resourcePostgreSQLRoleReadImpl(db, d) (role.go:377-379).
        return _after_write(reg, inp["name"], inp, lambda: _Role.read(d, reg, inp["name"], inp, refresh=False))

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
        # return resourcePostgreSQLRoleReadImpl(db, d) (role.go:756), by the new name.
        return _after_write(reg, name, new, lambda: _Role.read(d, reg, name, new, refresh=False))

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
    def read(d: ProviderDouble, reg: Registration, role_id: str, state: Mapping[str, Any], *,
             refresh: bool) -> ReadBack | None:
        # resourcePostgreSQLRoleReadImpl (role.go:442-544): one query on the provider's own
        # database (db.QueryRow, outside the write's transaction). `state` is what TF's
        # ResourceData holds: the planned values after a write, the stored outputs on refresh,
        # nothing on import. A refresh first runs resourcePostgreSQLRoleExists (role.go:425).
        with d._transaction(reg, "read") as s:
            if refresh and not s.exec(sql.SQL("SELECT rolname FROM pg_catalog.pg_roles WHERE rolname = %s"),
                                      (role_id,), what="error checking role"):
                return None
            rows = s.exec(sql.SQL(
                "SELECT ARRAY(SELECT pg_get_userbyid(roleid) FROM pg_catalog.pg_auth_members members"
                " WHERE member = pg_roles.oid), rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb,"
                " rolcanlogin, rolconnlimit, COALESCE(rolvaliduntil::TEXT, 'infinity'), rolconfig,"
                " rolreplication, rolbypassrls FROM pg_catalog.pg_roles WHERE rolname = %s"), (role_id,),
                what="error reading ROLE")
            if not rows:  # "PostgreSQL ROLE (%s) not found": d.SetId("")
                return None
            roles, name, su, inherit, createrole, createdb, login, limit, valid, config, repl, bypass = rows[0]
            config = list(config or [])
            outputs: dict[str, Any] = {
                "name": name, "connectionLimit": limit, "createDatabase": createdb, "createRole": createrole,
                "encryptedPassword": True,  # always d.Set(true), whatever was declared
                "inherit": inherit, "login": login,
                "skipDropRole": bool(state.get("skipDropRole", False)),  # d.Get: kept from state
                "skipReassignOwned": bool(state.get("skipReassignOwned", False)),
                "superuser": su, "validUntil": valid, "replication": repl, "bypassRowLevelSecurity": bypass,
                "roles": sorted(set(roles)), "searchPaths": _read_search_path(config),
                "assumeRole": _read_assume_role(config),
                "statementTimeout": _read_timeout(config, "statement_timeout"),
                "idleInTransactionSessionTimeout": _read_timeout(config, "idle_in_transaction_session_timeout"),
            }
            if state.get("passwordWoVersion"):  # not read: stays as in state
                outputs["passwordWoVersion"] = state["passwordWoVersion"]
            # `if _, ok := d.GetOk(password)`: only a password already in state is read back.
            if state.get("password"):
                outputs["password"] = _read_role_password(s, role_id, state["password"], login, outputs)
        return ReadBack(name, outputs)


def _read_search_path(config: list[str]) -> list[str]:
    # readSearchPath (role.go:548): the first entry starting with "search_path", split on ", ",
    # double quotes trimmed.
    for entry in config:
        if entry.startswith("search_path"):
            return [p.strip('"') for p in entry.removeprefix("search_path=").split(", ")]
    return []


def _read_assume_role(config: list[str]) -> str:
    # readAssumeRole (role.go:598): the LAST entry starting with "role".
    found = ""
    for entry in config:
        if entry.startswith("role"):
            found = entry.removeprefix("role=")
    return found


def _read_timeout(config: list[str], guc: str) -> int:
    # readStatementTimeout / readIdleInTransactionSessionTimeout (role.go:564-594): strconv.Atoi.
    for entry in config:
        if entry.startswith(guc):
            text = entry.removeprefix(guc + "=").split(", ")[0]
            try:
                return int(text)
            except ValueError:
                raise ProviderError(f"error reading statement_timeout: strconv.Atoi: parsing {text!r}: invalid syntax") from None
    return 0


def _read_role_password(s: _Session, role_id: str, state_password: str, can_login: bool,
                        read_so_far: dict[str, Any]) -> str:
    # readRolePassword (role.go:612-669).
    if not can_login or not s.config.superuser:
        return state_password
    if not s.value("SELECT rolsuper FROM pg_roles WHERE rolname = CURRENT_USER",
                   what="could not check if current user is superuser"):
        # Every other attribute was already d.Set: TF keeps them, with the password as planned.
        raise _ReadFailed(
            f"could not read role password from Postgres as connected user {s.config.admin} is not a SUPERUSER. "
            "You can set `superuser = false` in the provider configuration so it will not try to read the "
            "password from Postgres", {**read_so_far, "password": state_password})
    stored = s.value("SELECT COALESCE(passwd, '') FROM pg_catalog.pg_shadow AS s WHERE s.usename = %s", (role_id,),
                     what="error reading role")
    if stored is None:
        return ""
    if not state_password.startswith(("md5", "SCRAM-SHA-256")):
        if stored.startswith("md5") and stored == "md5" + hashlib.md5((state_password + role_id).encode()).hexdigest():
            return state_password
        if stored.startswith("SCRAM-SHA-256"):
            return state_password  # "TODO : implement scram-sha-256 challenge request"
    return stored


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
        # d.SetId(generateSchemaID); return resourcePostgreSQLSchemaReadImpl (schema.go:155-157).
        schema_id = f"{database}.{name}"
        return _after_write(reg, schema_id, inp, lambda: _Schema.read(d, reg, schema_id, inp, refresh=False))

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
        # return resourcePostgreSQLSchemaReadImpl (schema.go:391): by the new name, from state.
        planned = {**old, **new, "database": database}
        schema_id = f"{database}.{new['name']}"
        return _after_write(reg, schema_id, planned, lambda: _Schema.read(d, reg, schema_id, planned, refresh=False))

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
    def read(d: ProviderDouble, reg: Registration, schema_id: str, state: Mapping[str, Any], *,
             refresh: bool) -> ReadBack | None:
        # getDBSchemaName (schema.go:604): name and database from state; on import (no name in
        # state) parsed from the id "database.schema".
        database, name = state.get("database") or d.config_for(reg).database, state.get("name", "")
        if not name:
            parts = schema_id.split(".")
            if len(parts) != 2:
                raise ProviderError(f"schema ID {schema_id} has not the expected format 'database.schema': {parts}")
            database, name = parts
        if refresh:
            # resourcePostgreSQLSchemaExists (schema.go:278): the database, then the schema.
            with d._transaction(reg, "read") as s:
                if not s.exec(sql.SQL("SELECT datname FROM pg_database WHERE datname = %s"), (database,),
                              what="could not check if database exists"):
                    return None
        # resourcePostgreSQLSchemaReadImpl (schema.go:311-364), in a transaction on `database`.
        with d._transaction(reg, "read", database) as s:
            if refresh and not s.exec(sql.SQL("SELECT n.nspname FROM pg_catalog.pg_namespace n WHERE n.nspname = %s"),
                                      (name,), what="error reading schema"):
                return None
            rows = s.exec(sql.SQL("SELECT pg_catalog.pg_get_userbyid(n.nspowner), COALESCE(n.nspacl, '{}'::aclitem[])::TEXT[] "
                                  "FROM pg_catalog.pg_namespace n WHERE n.nspname = %s"), (name,), what="error reading schema")
        if not rows:  # "PostgreSQL schema (%s) not found": d.SetId("")
            return None
        outputs = {"name": name, "owner": rows[0][0], "database": database}
        # Not read (policies are parsed but never d.Set): kept from state, absent on import.
        outputs.update({k: state[k] for k in ("ifNotExists", "dropCascade", "policies") if k in state})
        return ReadBack(f"{database}.{name}", outputs)


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


# grant.go:objectTypes - the relkind (or prokind-less) code per object type.
_RELKINDS = {"table": "r", "sequence": "S", "function": "f", "routine": "f", "type": "T", "schema": "n"}


def _role_oid(s: _Session, role: str) -> int:
    # helpers.go:getRoleOID - PUBLIC is grantee 0.
    if role == "public":
        return 0
    oid = s.value("SELECT oid FROM pg_roles WHERE rolname = %s", (role,), what=f"could not find oid for role {role}")
    if oid is None:
        raise ProviderError(f"could not find oid for role {role}: sql: no rows in result set")
    return int(oid)


def _privileges_equal(granted: list[str], wanted: list[str], kind: str, server_version: int) -> bool:
    # helpers.go:resourcePrivilegesEqual - equal sets, or ALL wanted and every allowed privilege
    # of the type (allowedPrivilegesForObjectType, MAINTAIN on tables from PG 17) granted.
    if set(granted) == set(wanted):
        return True
    if "ALL" not in wanted:
        return False
    implicit = set(_ALLOWED_PRIVILEGES.get(kind, frozenset())) - {"ALL"}
    if kind == "table" and server_version >= 170000:
        implicit.add("MAINTAIN")
    return set(granted) == implicit


def _role_database_schema_exist(d: ProviderDouble, reg: Registration, state: Mapping[str, Any]) -> bool:
    # grant.go:checkRoleDBSchemaExists (also used by DefaultPrivileges' Read): the database (on
    # the provider's connection), then in it the role (unless PUBLIC) and the schema.
    with d._transaction(reg, "read") as s:
        if not s.exec(sql.SQL("SELECT datname FROM pg_database WHERE datname = %s"), (state["database"],),
                      what="could not check if database exists"):
            return False
    with d._transaction(reg, "read", state["database"]) as s:
        if state["role"] != "public" and not s.exec(sql.SQL("SELECT 1 FROM pg_roles WHERE rolname = %s"),
                                                    (state["role"],), what="could not check if role exists"):
            return False
        schema = state.get("schema", "")
        if state["objectType"] not in _NO_SCHEMA_OBJECT_TYPES and schema and not s.exec(
                sql.SQL("SELECT 1 FROM pg_namespace WHERE nspname = %s"), (schema,), what="could not check if schema exists"):
            return False
    return True


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

    importable, tf_name = False, "postgresql_grant"  # resourcePostgreSQLGrant has no Importer

    @staticmethod
    def create(d: ProviderDouble, reg: Registration, inp: dict[str, Any]) -> ReadBack:
        _Grant._apply(d, reg, "create", inp, inp)  # resourcePostgreSQLGrantCreate
        return _Grant._read_after_write(d, reg, inp)

    @staticmethod
    def update(d: ProviderDouble, reg: Registration, old: dict[str, Any], new: dict[str, Any]) -> ReadBack:
        # resourcePostgreSQLGrantUpdate: usePrevious - the REVOKE is built from the old values
        # of changed arguments (only `privileges` can change without replacement).
        _Grant._apply(d, reg, "update", {**new, "privileges": old["privileges"]}, new)
        return _Grant._read_after_write(d, reg, new)

    @staticmethod
    def _read_after_write(d: ProviderDouble, reg: Registration, inp: dict[str, Any]) -> ReadBack:
        # resourcePostgreSQLGrantCreateOrUpdate ends (grant.go:212-221): d.SetId(generateGrantID),
        # a new transaction, readRolePrivileges - no existence check, unlike the Read.
        grant_id = _grant_id(inp)
        return _after_write(reg, grant_id, inp, lambda: ReadBack(grant_id, _Grant._privileges_read(d, reg, inp)))

    @staticmethod
    def delete(d: ProviderDouble, reg: Registration, inp: dict[str, Any]) -> None:
        _Grant._apply(d, reg, "delete", inp, None)  # resourcePostgreSQLGrantDelete

    @staticmethod
    def read(d: ProviderDouble, reg: Registration, _id: str, state: Mapping[str, Any], *,
             refresh: bool) -> ReadBack | None:
        # resourcePostgreSQLGrantRead (grant.go:107-129): checkRoleDBSchemaExists, else gone;
        # then readRolePrivileges.
        if not _role_database_schema_exist(d, reg, state):
            return None
        return ReadBack(_grant_id(state), _Grant._privileges_read(d, reg, state))

    @staticmethod
    def _privileges_read(d: ProviderDouble, reg: Registration, state: Mapping[str, Any]) -> dict[str, Any]:
        # readRolePrivileges (grant.go:433-537): the state, with `privileges` replaced by what
        # the catalog holds when that differs (resourcePrivilegesEqual: ALL counts as every
        # privilege of the type). For tables/functions, the first object that differs wins.
        kind, wanted = state["objectType"], sorted(set(state["privileges"]))
        outputs = dict(state)
        with d._transaction(reg, "read", state["database"]) as s:
            grantee = _role_oid(s, state["role"])
            if kind in ("database", "schema", "foreign_data_wrapper", "foreign_server"):
                catalog, acl, key, target = {
                    "database": ("pg_database", "datacl", "datname", state["database"]),
                    "schema": ("pg_namespace", "nspacl", "nspname", state["schema"]),
                    "foreign_data_wrapper": ("pg_catalog.pg_foreign_data_wrapper", "fdwacl", "fdwname",
                                             (state["objects"] or [""])[0]),
                    "foreign_server": ("pg_catalog.pg_foreign_server", "srvacl", "srvname", (state["objects"] or [""])[0]),
                }[kind]
                granted = s.value(f"SELECT array_agg(privilege_type) FROM (SELECT (aclexplode({acl})).* FROM {catalog} "
                                  f"WHERE {key} = %s) AS privileges WHERE grantee = %s", (target, grantee),
                                  what=f"could not read privileges for {kind} {target}")
                rows = [(target, granted)]
            elif kind == "column":
                return _Grant._column_privileges_read(s, state, outputs)
            elif kind in ("function", "procedure", "routine"):
                rows = s.exec(sql.SQL(
                    "SELECT pg_proc.proname, array_remove(array_agg(privilege_type), NULL) FROM pg_proc "
                    "JOIN pg_namespace ON pg_namespace.oid = pg_proc.pronamespace LEFT JOIN (SELECT acls.* FROM "
                    "(SELECT proname, pronamespace, (aclexplode(proacl)).* FROM pg_proc) acls WHERE grantee = %s) privs "
                    "USING (proname, pronamespace) WHERE nspname = %s GROUP BY pg_proc.proname"),
                    (grantee, state["schema"]), what="could not read function privileges")
            else:
                rows = s.exec(sql.SQL(
                    "SELECT pg_class.relname, array_remove(array_agg(privilege_type), NULL) FROM pg_class "
                    "JOIN pg_namespace ON pg_namespace.oid = pg_class.relnamespace LEFT JOIN (SELECT acls.* FROM "
                    "(SELECT relname, relnamespace, relkind, (aclexplode(relacl)).* FROM pg_class c) AS acls "
                    "WHERE grantee = %s) privs USING (relname, relnamespace, relkind) "
                    "WHERE nspname = %s AND relkind = %s GROUP BY pg_class.relname"),
                    (grantee, state["schema"], _RELKINDS.get(kind, "")), what="could not read privileges")
            for object_name, granted in rows:
                if kind not in _NO_SCHEMA_OBJECT_TYPES and state["objects"] and object_name not in state["objects"]:
                    continue
                found = sorted(set(granted or []))
                if not _privileges_equal(found, wanted, kind, s.server_version):
                    outputs["privileges"] = found
                    break
        return outputs

    @staticmethod
    def _column_privileges_read(s: _Session, state: Mapping[str, Any], outputs: dict[str, Any]) -> dict[str, Any]:
        # readColumnRolePrivileges (grant.go:355-431): explicit column grants of the one table
        # and privilege; columns found are taken off `missing`; if any is missing, `columns`
        # becomes the declared columns minus the missing ones.
        rows = s.exec(sql.SQL(
            "SELECT relname AS table_name, attname AS column_name, array_agg(privilege_type) AS column_privileges "
            "FROM (SELECT relname, attname, (aclexplode(attacl)).* FROM pg_class JOIN pg_namespace ON "
            "pg_class.relnamespace = pg_namespace.oid JOIN pg_attribute ON pg_class.oid = attrelid "
            "WHERE nspname = %s AND relname = %s AND relkind = %s) AS col_privs JOIN pg_roles ON "
            "pg_roles.oid = col_privs.grantee WHERE rolname = %s AND privilege_type = %s "
            "GROUP BY col_privs.relname, col_privs.attname, col_privs.privilege_type ORDER BY col_privs.attname"),
            (state["schema"], state["objects"][0], "r", state["role"], state["privileges"][0]),
            what="could not read column privileges")
        missing = set(state["columns"])
        for table, column, granted in rows:
            if state["objects"] and table not in state["objects"]:
                continue
            missing.discard(column)
            if set(granted) != set(state["privileges"]):
                outputs["privileges"] = sorted(set(granted))
                break
        if missing:
            outputs["columns"] = sorted(set(state["columns"]) - missing)
        return outputs


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
        return _DefaultPrivileges._id(inp)

    @staticmethod
    def _id(inp: Mapping[str, Any]) -> str:
        # generateDefaultPrivilegesID
        return "_".join([inp["role"], inp["database"], inp["schema"] or "noschema", inp["owner"], inp["objectType"]])

    importable, tf_name = False, "postgresql_default_privileges"  # no Importer

    @staticmethod
    def create(d: ProviderDouble, reg: Registration, inp: dict[str, Any]) -> ReadBack:
        # resourcePostgreSQLDefaultPrivilegesCreate (also its Update) ends with
        # readRoleDefaultPrivileges in a new transaction (default_privileges.go:177-188).
        rid = _DefaultPrivileges._apply(d, reg, "create", inp, grant=True)
        return _after_write(reg, rid, inp, lambda: _DefaultPrivileges._read(d, reg, inp))

    @staticmethod
    def update(d: ProviderDouble, reg: Registration, old: dict[str, Any], new: dict[str, Any]) -> ReadBack:
        rid = _DefaultPrivileges._apply(d, reg, "update", new, grant=True)
        return _after_write(reg, rid, new, lambda: _DefaultPrivileges._read(d, reg, new))

    @staticmethod
    def delete(d: ProviderDouble, reg: Registration, inp: dict[str, Any]) -> None:
        _DefaultPrivileges._apply(d, reg, "delete", inp, grant=False)

    @staticmethod
    def read(d: ProviderDouble, reg: Registration, _id: str, state: Mapping[str, Any], *,
             refresh: bool) -> ReadBack | None:
        # resourcePostgreSQLDefaultPrivilegesRead (default_privileges.go:80-114).
        if not _role_database_schema_exist(d, reg, state):
            return None
        return _DefaultPrivileges._read(d, reg, state)

    @staticmethod
    def _read(d: ProviderDouble, reg: Registration, state: Mapping[str, Any]) -> ReadBack | None:
        # readRoleDefaultPrivileges (default_privileges.go:227-294): locks the owner, reads the
        # default ACL the owner granted the role; none while some were declared = gone.
        kind, schema, owner = state["objectType"], state["schema"], state["owner"]
        with d._transaction(reg, "read", state["database"]) as s:
            _lock_role(s, owner)
            grantee = _role_oid(s, state["role"])
            head = ("SELECT array_agg(prtype) FROM (SELECT defaclnamespace, (aclexplode(defaclacl)).* FROM pg_default_acl "
                    "WHERE defaclobjtype = %s) AS t (namespace, grantor_oid, grantee_oid, prtype, grantable) ")
            if schema:
                granted = s.value(head + "JOIN pg_namespace ON pg_namespace.oid = namespace WHERE grantee_oid = %s "
                                  "AND nspname = %s AND pg_get_userbyid(grantor_oid) = %s",
                                  (_RELKINDS.get(kind, ""), grantee, schema, owner), what="could not read default privileges")
            else:
                granted = s.value(head + "WHERE grantee_oid = %s AND namespace = 0 AND pg_get_userbyid(grantor_oid) = %s",
                                  (_RELKINDS.get(kind, ""), grantee, owner), what="could not read default privileges")
            found = sorted(set(granted or []))
            if not found and state["privileges"]:
                return None
            outputs = dict(state)
            if not _privileges_equal(found, sorted(set(state["privileges"])), kind, s.server_version):
                outputs["privileges"] = found
        return ReadBack(_DefaultPrivileges._id(state), outputs)


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
        rid = _GrantRole._id(inp)
        # d.SetId(generateGrantRoleID); return readGrantRole(db, d) (grant_role.go).
        return _after_write(reg, rid, inp, lambda: _GrantRole.read(d, reg, rid, inp, refresh=False))

    @staticmethod
    def _id(inp: Mapping[str, Any]) -> str:
        return f"{inp['role']}_{inp['grantRole']}_{str(bool(inp['withAdminOption'])).lower()}"  # generateGrantRoleID

    @staticmethod
    def update(d: ProviderDouble, reg: Registration, old: dict[str, Any], new: dict[str, Any]) -> ReadBack:
        raise ProviderError("postgresql_grant_role has no Update: every argument forces replacement")

    @staticmethod
    def delete(d: ProviderDouble, reg: Registration, inp: dict[str, Any]) -> None:
        with d._transaction(reg, "delete") as s:  # resourcePostgreSQLGrantRoleDelete
            s.exec(sql.SQL("REVOKE {} FROM {}").format(_ident(inp["grantRole"]), _ident(inp["role"])),
                   what="could not execute revoke query")

    importable, tf_name = False, "postgresql_grant_role"  # no Importer

    @staticmethod
    def read(d: ProviderDouble, reg: Registration, _id: str, state: Mapping[str, Any], *,
             refresh: bool) -> ReadBack | None:
        # readGrantRole (grant_role.go): the membership of role in grant_role, on the provider's
        # database; none = gone.
        with d._transaction(reg, "read") as s:
            rows = s.exec(sql.SQL("SELECT pg_get_userbyid(member) as role, pg_get_userbyid(roleid) as grant_role, "
                                  "admin_option FROM pg_auth_members WHERE pg_get_userbyid(member) = %s AND "
                                  "pg_get_userbyid(roleid) = %s"), (state["role"], state["grantRole"]),
                          what="error reading grant role")
        if not rows:
            return None
        outputs = {"role": rows[0][0], "grantRole": rows[0][1], "withAdminOption": rows[0][2]}
        return ReadBack(_GrantRole._id(outputs), outputs)


# --- Database: TF resource_postgresql_database.go ------------------------------------------
# Not one transaction: the provider runs these statements on its pool (db.Exec), each on its
# own, while a separate transaction on the provider's database holds the lock on the admin
# role (createDatabase, :126-154). Server features are 9.5+ (ALLOW_CONNECTIONS, IS_TEMPLATE,
# TF config.go:62-65) and 13+ (DROP … WITH (FORCE), config.go:97): only 13+ is tested here.

def _database_option(keyword: str, value: str, literal: bool) -> sql.Composable:
    # `DEFAULT` in any case is passed as the keyword (createDatabase, :171-212).
    if value.upper() == "DEFAULT":
        return sql.SQL(" {} DEFAULT").format(sql.SQL(keyword))
    return sql.SQL(" {} {}").format(sql.SQL(keyword), sql.Literal(value) if literal else _ident(value))


def _create_database_query(inp: Mapping[str, Any], admin: str) -> sql.Composable:
    # createDatabase (:156-229): OWNER (the connecting user when none is declared); TEMPLATE
    # template0 and ENCODING 'UTF8' when not declared; LC_COLLATE, LC_CTYPE, TABLESPACE only
    # when declared; then ALLOW_CONNECTIONS, CONNECTION LIMIT, IS_TEMPLATE always.
    query = sql.SQL("CREATE DATABASE {} OWNER {}").format(_ident(inp["name"]), _ident(inp.get("owner") or admin))
    query += _database_option("TEMPLATE", inp["template"], False) if inp.get("template") else sql.SQL(" TEMPLATE template0")
    query += _database_option("ENCODING", inp["encoding"], True) if inp.get("encoding") else sql.SQL(" ENCODING 'UTF8'")
    for key, keyword, literal in (("lcCollate", "LC_COLLATE", True), ("lcCtype", "LC_CTYPE", True),
                                  ("tablespaceName", "TABLESPACE", False)):
        if inp.get(key):
            query += _database_option(keyword, inp[key], literal)
    return query + sql.SQL(" ALLOW_CONNECTIONS {} CONNECTION LIMIT {} IS_TEMPLATE {}").format(
        sql.SQL("true" if inp["allowConnections"] else "false"), _int(inp["connectionLimit"]),
        sql.SQL("true" if inp.get("isTemplate") else "false"))


@contextmanager
def _owner_granted(d: ProviderDouble, reg: Registration, op: str, owner: str) -> Iterator[_Session]:
    """The pool session, with the declared owner's role granted to the admin for the duration
    (createDatabase :126-154, Delete :240-263, setDBOwner :462-479): a transaction on the
    provider's database locks the admin role (pgLockRole) and is rolled back at the end; the
    membership (TF helpers.go:grantRoleMembership, not for the admin itself) is revoked by a
    deferred call, whatever happened."""
    with d._transaction(reg, op) as lock, d._transaction(reg, op, autocommit=True) as s:
        granted = False
        if owner:
            _lock_role(lock, s.config.admin)
            granted = _grant_membership(s, owner, s.config.admin)
        try:
            yield s
        finally:
            if granted:
                _revoke_membership(s, owner, s.config.admin)


class _Database:
    @staticmethod
    def create(d: ProviderDouble, reg: Registration, inp: dict[str, Any]) -> ReadBack:
        # resourcePostgreSQLDatabaseCreate (:116-124): createDatabase, d.SetId(name), then the Read.
        with _owner_granted(d, reg, "create", inp.get("owner", "")) as s:
            s.exec(_create_database_query(inp, s.config.admin), what=f'error creating database "{inp["name"]}"')
        return _after_write(reg, inp["name"], inp, lambda: _Database.read(d, reg, inp["name"], inp, refresh=False))

    @staticmethod
    def update(d: ProviderDouble, reg: Registration, old: dict[str, Any], new: dict[str, Any]) -> ReadBack:
        # resourcePostgreSQLDatabaseUpdate (:398-430): each set* in order, only for changed
        # arguments (d.HasChange: an Optional+Computed one left out is no change), then the Read.
        def changed(key: str) -> bool:
            return key in new and old.get(key) != new[key]

        name = new["name"]
        if new.get("alterObjectOwnership") and (changed("owner") or changed("alterObjectOwnership")):
            raise NotImplementedError("alter_object_ownership (REASSIGN OWNED in the database) is not modelled")
        with d._transaction(reg, "update", autocommit=True) as s:
            if changed("name"):  # setDBName (:432-451)
                s.exec(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(_ident(old["name"]), _ident(name)),
                       what="error updating database name")
        if changed("owner") and new["owner"]:  # setDBOwner (:453-489)
            with _owner_granted(d, reg, "update", new["owner"]) as s:
                s.exec(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(_ident(name), _ident(new["owner"])),
                       what="error updating database OWNER")
        with d._transaction(reg, "update", autocommit=True) as s:
            if changed("tablespaceName"):  # setDBTablespace (:545-564)
                space = new["tablespaceName"]
                query = (sql.SQL("ALTER DATABASE {} RESET TABLESPACE").format(_ident(name)) if space in ("", "DEFAULT")
                         else sql.SQL("ALTER DATABASE {} SET TABLESPACE {}").format(_ident(name), _ident(space)))
                s.exec(query, what="error updating database TABLESPACE")
            for key, template in (("connectionLimit", "ALTER DATABASE {} CONNECTION LIMIT = {}"),  # :566-579
                                  ("allowConnections", "ALTER DATABASE {} ALLOW_CONNECTIONS {}"),  # :581-598
                                  ("isTemplate", "ALTER DATABASE {} IS_TEMPLATE {}")):  # :600-623
                if changed(key):
                    value = _int(new[key]) if key == "connectionLimit" else sql.SQL("true" if new[key] else "false")
                    s.exec(sql.SQL(template).format(_ident(name), value), what=f"error updating database {key}")
        planned = {**old, **new}
        return _after_write(reg, name, planned, lambda: _Database.read(d, reg, name, planned, refresh=False))

    @staticmethod
    def delete(d: ProviderDouble, reg: Registration, inp: dict[str, Any]) -> None:
        # resourcePostgreSQLDatabaseDelete (:239-299): no existence check (a database dropped by
        # hand fails the delete); IS_TEMPLATE cleared first when set; terminateBConnections
        # (:625-645) refuses new connections and terminates the others' sessions, which a
        # non-superuser may only do to roles whose privileges it has (else the delete fails
        # there); then DROP … WITH ( FORCE ), which terminates what connected meanwhile.
        name = inp["name"]
        with _owner_granted(d, reg, "delete", inp.get("owner", "")) as s:
            if inp.get("isTemplate"):
                s.exec(sql.SQL("ALTER DATABASE {} IS_TEMPLATE false").format(_ident(name)),
                       what="error updating database IS_TEMPLATE during DROP DATABASE")
            s.exec(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(_ident(name)),
                   what="error blocking connections to database")
            # The provider splices the name into a quoted literal by hand; here it is a Literal.
            s.exec(sql.SQL("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = {} "
                           "AND pid <> pg_backend_pid()").format(sql.Literal(name)),
                   what="error terminating database connections")
            s.exec(sql.SQL("DROP DATABASE {} WITH ( FORCE )").format(_ident(name)), what="error dropping database")

    @staticmethod
    def read(d: ProviderDouble, reg: Registration, database_id: str, state: Mapping[str, Any], *,
             refresh: bool) -> ReadBack | None:
        # resourcePostgreSQLDatabaseReadImpl (:315-396), on the pool: gone = d.SetId(""). The
        # template is never read: it stays as in state, "template0" when empty (an import).
        with d._transaction(reg, "read", autocommit=True) as s:
            found = s.exec(sql.SQL("SELECT d.datname, pg_catalog.pg_get_userbyid(d.datdba) from pg_database d "
                                   "WHERE datname=%s"), (database_id,), what="error reading database")
            if not found:
                return None
            rows = s.exec(sql.SQL("SELECT pg_catalog.pg_encoding_to_char(d.encoding), d.datcollate, d.datctype, ts.spcname, "
                                  "d.datconnlimit, d.datallowconn, d.datistemplate FROM pg_catalog.pg_database AS d, "
                                  "pg_catalog.pg_tablespace AS ts WHERE d.datname = %s AND d.dattablespace = ts.oid"),
                          (database_id,), what="error reading database")
        if not rows:
            return None
        encoding, collate, ctype, space, limit, allow, is_template = rows[0]
        outputs = {"name": found[0][0], "owner": found[0][1], "encoding": encoding, "lcCollate": collate, "lcCtype": ctype,
                   "tablespaceName": space, "connectionLimit": limit, "template": state.get("template") or "template0",
                   "allowConnections": allow, "isTemplate": is_template}
        if "alterObjectOwnership" in state:  # never read: kept from state
            outputs["alterObjectOwnership"] = state["alterObjectOwnership"]
        return ReadBack(found[0][0], outputs)


# --- Dynamic resources: pulumi/dynamic/__main__.py (the Python SDK's dynamic provider host) ---

class _Dynamic:
    """Runs the program's own dynamic provider, as the SDK's host does: unpickle `__provider`
    (get_provider: base64 + dill.loads) and call create/update/delete/read with the properties,
    `__provider` included. The outputs the host returns are the provider's `outs` plus
    `__provider` (Create/Update: `outs[PROVIDER_KEY] = ...`). Nothing is modelled: the code
    under test is the code that runs."""

    importable, tf_name = False, "the program's dynamic resources"  # never imported

    @staticmethod
    def _provider(props: Mapping[str, Any]) -> Any:
        return dill.loads(base64.b64decode(props["__provider"]))

    @staticmethod
    def create(d: ProviderDouble, reg: Registration, _inp: dict[str, Any]) -> ReadBack:
        props = dict(reg.inputs)
        result = _Dynamic._provider(props).create(props)
        return ReadBack(result.id, {**(result.outs or {}), "__provider": props["__provider"]})

    @staticmethod
    def update(d: ProviderDouble, reg: Registration, old: dict[str, Any], _new: dict[str, Any]) -> ReadBack:
        # Update: olds are the old outputs, news the new inputs; get_provider(news);
        # provider.update(id, olds, news). The id never changes.
        news = dict(reg.inputs)
        result = _Dynamic._provider(news).update(reg.id, dict(old), news)
        return ReadBack(reg.id, {**(result.outs or {}), "__provider": news["__provider"]})

    @staticmethod
    def delete(d: ProviderDouble, reg: Registration, _inp: dict[str, Any]) -> None:
        props = attributes(reg)  # Delete gets the outputs
        _Dynamic._provider(props).delete(reg.id, props)

    @staticmethod
    def refresh(d: ProviderDouble, reg: Registration) -> ReadBack | None:
        # Read: get_provider(props); provider.read(id, props) with props = the outputs; the
        # base ResourceProvider.read returns them unchanged (dynamic.py:read). Explicit
        # inputs from the provider replace the stored ones.
        props = attributes(reg)
        result = _Dynamic._provider(props).read(reg.id, props)
        if not result.id:
            return None
        inputs = None if result.inputs is None else {**result.inputs, "__provider": props["__provider"]}
        return ReadBack(result.id, {**(result.outs or {}), "__provider": props["__provider"]}, inputs)


_HANDLERS: dict[str, Any] = {
    ROLE: _Role, SCHEMA: _Schema, GRANT: _Grant, GRANT_ROLE: _GrantRole, DATABASE: _Database,
    DEFAULT_PRIVILEGES: _DefaultPrivileges, DEFAULT_PRIVILEGES_LEGACY: _DefaultPrivileges,
    DYNAMIC: _Dynamic,
}
