"""One tenant: generated password(s), SCRAM verifier(s), owner and login role(s), schema and grants.

The ownership model (docs/ownership-model.md): everything the tenant creates belongs to its
owner role, never to the admin; no role of the tenant is ever REASSIGNed to the admin.

Every child is named from the tenant's stable key and parented to the component, so its
URN never depends on where the tenant sits in the YAML, renames can alias it, and the
database's provider is inherited from the component.
"""

from __future__ import annotations

import base64
import string
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_postgresql as postgresql
import pulumi_random as random

from pg_tenants.credentials.formats import Credentials
from pg_tenants.credentials.scram import SALT_BYTES, scram_sha256_verifier
from pg_tenants.stack_config import ServerSettings
from pg_tenants.tenants.model import Tenant
from components.admin_sql import LoginHandover, OwnedObjectsPurge, PasswordRemoval, RoleTempFileLimit
from components.readonly_login import readonly_privileges
from components.own_database import OwnDatabase, own_database
from pg_tenants.tenant_privileges import DATABASE_PRIVILEGES, SCHEMA_PRIVILEGES

PASSWORD_LENGTH = 32
# All 32 printable ASCII punctuation characters: with the 62 alphanumerics, 94 symbols and
# 32 * log2(94) ≈ 209.7 bits per password.
PUNCTUATION = string.punctuation

# An adopted role keeps whatever it had until the import is in the state; the next run
# (with `adopt` removed) then applies the declared password and attributes as an update.
ADOPTED_ROLE_IGNORES = [
    "password", "login", "searchPaths", "connectionLimit", "statementTimeout", "idleInTransactionSessionTimeout",
    "validUntil", "inherit", "superuser", "createDatabase", "createRole", "replication", "bypassRowLevelSecurity",
    "encryptedPassword", "roles", "assumeRole", "skipDropRole", "skipReassignOwned",
]  # fmt: skip
ADOPTED_SCHEMA_IGNORES = ["owner", "ifNotExists", "dropCascade"]


@dataclass(frozen=True)
class TenantArgs:
    tenant: Tenant
    server: ServerSettings
    scram_iterations: int
    protect_schemas: bool
    # A Pulumi secret holding an admin-provided password; None means generate one.
    provided_password: pulumi.Output[str] | None
    # Adoption imports the schema; the role too where it exists (a retained schema has none).
    import_role: bool
    # Resources that change PUBLIC's grants on the tenant's shared database: same pg_database
    # row. A silo tenant's own database brings its own.
    database_hardening: Sequence[pulumi.Resource]
    # The admin's login to the tenant's database, for the dynamic resources (components.admin_sql).
    admin_connection: dict[str, pulumi.Input[object]]


@dataclass(frozen=True)
class _Login:
    role: postgresql.Role
    password: pulumi.Output[str]
    suffix: str  # of its resources' names: "" for a tenant without login slots, "-a"/"-b" for slots, "-ro"


@dataclass(frozen=True)
class _ReadOnly:
    login: _Login
    resources: list[pulumi.Resource]  # its role first


class TenantResources(pulumi.ComponentResource):
    # Secret; None for an offboarded tenant: it has no credentials.
    connections: pulumi.Output[TenantConnections] | None

    def __init__(self, args: TenantArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        tenant = args.tenant
        renames = pulumi.ResourceOptions(aliases=[pulumi.Alias(name=old) for old in tenant.previous_names])
        super().__init__("pg-tenants:index:Tenant", tenant.name, None, pulumi.ResourceOptions.merge(opts, renames))
        self._args = args
        self._own: OwnDatabase | None = None
        if tenant.isolation == "database":
            self._own = own_database(self._child, tenant.database, args.server.admin_username, purge=tenant.on_remove == "purge",
                                     protect=args.protect_schemas, placement=self._placement())

        logins: list[_Login] = []
        if tenant.zero_downtime_rotation:
            owner = self._owner_role(password=None, login=False)
            schema = self._schema(owner)
            schema_grant = self._schema_grant(owner, schema)
            if tenant.login_roles:
                # After the owner's schema grant: see _login_slot.
                logins = [self._login_slot(slot, owner, after=schema_grant) for slot in ("a", "b")]
                if tenant.rotation % 2:
                    logins.reverse()
        else:
            password = self._password("", str(tenant.rotation)) if tenant.login_roles else None
            owner = self._owner_role(password=password, login=tenant.state == "active")
            if password is not None:
                logins = [_Login(owner, password, "")]
            schema = self._schema(owner)
            schema_grant = self._schema_grant(owner, schema)
        children: list[pulumi.Resource] = [owner, schema, schema_grant]
        if tenant.state == "offboarded" and not tenant.zero_downtime_rotation:
            # Old credentials stay dead even if LOGIN came back by hand.
            name, opts = self._child("password-removal", depends_on=[owner])
            children.append(PasswordRemoval(name, args.admin_connection, owner.name, opts=opts))
        for login in logins:
            children += [login.role, self._connect_grant(login)]
        slots = [login.role for login in sorted(logins, key=lambda login: login.suffix) if login.role is not owner]
        if slots:
            # Deleted before the slots and their grants (it depends on them): what the slots own
            # goes to the owner, then their DROP ROLE can succeed.
            name, opts = self._child("login-handover", depends_on=children[3:])
            children.append(LoginHandover(name, args.admin_connection, [slot.name for slot in slots], owner.name, opts=opts))
        readonly = self._readonly_login(owner, schema, after=list(children)) if tenant.readonly_role is not None else None
        if readonly is not None:
            children += readonly.resources
        if logins and tenant.temp_file_limit >= 0:
            name, opts = self._child("temp-file-limit")
            # In slot order, so a rotation (which swaps current and previous) changes nothing here.
            roles = [login.role.name for login in sorted(logins, key=lambda login: login.suffix)]
            roles += [readonly.login.role.name] if readonly is not None else []
            children.append(RoleTempFileLimit(name, args.admin_connection, roles, tenant.temp_file_limit, opts=opts))
        if tenant.on_remove == "purge":
            # Before the own database's DROP too, so the roles' DROP ROLE finds nothing of theirs left.
            children += self._own_resources()
            readonly_roles = [readonly.login.role.name] if readonly is not None else []
            self._purge([owner.name, *(slot.name for slot in slots)], readonly_roles, children)

        self.connections = None
        if logins:
            current, previous = logins[0], (logins[1] if len(logins) > 1 else None)
            # `previous` for zero-downtime tenants, `readonly` for a read-only login, in this order.
            extra = {"previous": previous, "readonly": readonly.login if readonly is not None else None}
            named = {key: login for key, login in extra.items() if login is not None}
            # Ready only once the schema exists; the role ids: credentials never precede their role.
            # Secret through the passwords (_password and _generated_password make them secret), with
            # no Output.secret of its own: that would add two Outputs per tenant (issue 11).
            parts = [schema.id, *self._login_parts(current), *(p for login in named.values() for p in self._login_parts(login))]
            self.connections = pulumi.Output.all(*parts).apply(lambda values: self._connections(values, list(named)))
        # onRemove lets the policy pack allow drop_cascade for a tenant marked for purge, isolation
        # check that only a silo tenant has a database, and how it is owned. The credentials are
        # not registered here: the stack's `connections` output holds them, once.
        self.register_outputs({"onRemove": tenant.on_remove, "isolation": tenant.isolation})

    def _own_resources(self) -> list[pulumi.Resource]:
        return [self._own.database, *self._own.hardening] if self._own else []

    def _database_hardening(self) -> list[pulumi.Resource]:
        return list(self._own.hardening) if self._own else list(self._args.database_hardening)

    def _child(self, suffix: str, **options: object) -> tuple[str, pulumi.ResourceOptions]:
        key = self._args.tenant.name
        aliases = [pulumi.Alias(name=f"{old}-{suffix}") for old in self._args.tenant.previous_names]
        return f"{key}-{suffix}", pulumi.ResourceOptions(parent=self, aliases=aliases, **options)

    def _placement(self) -> dict[str, object]:
        """Where the tenant's objects live: its roles' (and its retained objects') replacement trigger.

        A change of server or database is a provider change, which pulumi-postgresql applies in
        place (its DiffConfig replaces nothing): outputs would name a role that does not exist
        there while the old one kept working. With the placement as `replacement_trigger` the
        engine replaces them instead (step_generator.go:shouldTriggerReplace), and for an owner
        role that is protected - an active or suspended tenant - that is refused during the
        preview. State written before the trigger existed has none, which never triggers: the
        upgrade replaces nothing.
        """
        server, tenant = self._args.server, self._args.tenant
        placement: dict[str, object] = {"host": server.host, "port": server.port, "database": tenant.database}
        # Only silo tenants carry the key, so shared tenants' triggers stay as deployed; moving
        # between tiers changes it either way, which replaces, and so is refused while protected.
        return placement | {"isolation": "database"} if tenant.isolation == "database" else placement

    def _schema(self, owner: postgresql.Role) -> postgresql.Schema:
        tenant = self._args.tenant
        purge = tenant.on_remove == "purge"
        adopt = {"import_": f"{tenant.database}.{tenant.schema}", "ignore_changes": ADOPTED_SCHEMA_IGNORES} if tenant.adopt else {}
        name, opts = self._child(
            "schema",
            # After the role: a role that already exists fails the create before the provider
            # could take over an existing schema; on removal the schema goes first, so a purge
            # drops the tenant's objects before its role.
            depends_on=[owner],
            # Removing the entry keeps the schema and its data unless purge was applied first.
            retain_on_delete=not purge,
            protect=self._args.protect_schemas and not purge,
            # Replaced on a move only while retained: a purge schema's delete is DROP … CASCADE.
            replacement_trigger=None if purge else self._placement(),
            **adopt,
        )
        # Owned by the admin so the tenant cannot drop or rename it. The provider would take
        # over an existing schema whatever if_not_exists says; pg_tenants.existing_objects
        # refuses that before anything is declared, unless the tenant says `adopt`.
        return postgresql.Schema(
            name,
            name=tenant.schema,
            database=tenant.database,
            owner=self._args.server.admin_username,
            if_not_exists=False,
            drop_cascade=purge,
            opts=opts,
        )

    def _owner_role(self, *, password: pulumi.Output[str] | None, login: bool) -> postgresql.Role:
        tenant = self._args.tenant
        purge, offboarded = tenant.on_remove == "purge", tenant.state == "offboarded"
        return self._role(
            "role",
            tenant.username,
            login=login,
            password=password,
            inherit=True,
            # Removing an entry is refused while the tenant could still log in: offboard it
            # first (or mark it purge). An offboarded owner stays, with its data, when the
            # entry goes; the provider's delete would drop it.
            protect=not (purge or offboarded),
            retain_on_delete=offboarded and not purge,
            # A silo tenant's roles come after its database and go before it: everything that
            # connects to that database (schema, grants, the admin's dynamic resources) follows the owner.
            after=[self._own.database] if self._own else (),
        )

    def _role(
        self,
        suffix: str,
        role_name: str,
        *,
        login: bool,
        password: pulumi.Output[str] | None,
        inherit: bool,
        member_of: postgresql.Role | None = None,
        protect: bool = False,
        retain_on_delete: bool = False,
        after: Sequence[pulumi.Resource] = (),
        adopted: bool = True,
    ) -> postgresql.Role:
        tenant = self._args.tenant
        adopt = {"import_": role_name, "ignore_changes": ADOPTED_ROLE_IGNORES} if self._args.import_role and adopted else {}
        name, opts = self._child(suffix, protect=protect, retain_on_delete=retain_on_delete,
                                 replacement_trigger=self._placement(), depends_on=list(after), **adopt)
        verifier = None
        if password is not None:
            # Secret because the password is (_password, _generated_password).
            verifier = pulumi.Output.all(password, self._salt(suffix)).apply(
                lambda values: scram_sha256_verifier(values[0], base64.b64decode(values[1]), self._args.scram_iterations)
            )
        return postgresql.Role(
            name,
            name=role_name,
            login=login,
            password=verifier,
            superuser=False,
            create_database=False,
            create_role=False,
            replication=False,
            bypass_row_level_security=False,
            inherit=inherit,
            roles=[member_of.name] if member_of else None,
            # Sessions act as the owner, so objects never belong to a rotating login role.
            assume_role=member_of.name if member_of else None,
            search_paths=[tenant.schema],
            connection_limit=tenant.connection_limit,
            statement_timeout=tenant.statement_timeout,
            idle_in_transaction_session_timeout=tenant.idle_in_transaction_session_timeout,
            valid_until=tenant.valid_until,
            # Never REASSIGN OWNED to the admin: that would hand the tenant's code to it.
            # A role that still owns something is then refused by DROP ROLE instead.
            skip_reassign_owned=True,
            opts=opts,
        )

    def _login_slot(self, slot: str, owner: postgresql.Role, *, after: pulumi.Resource) -> _Login:
        """A login slot, created after (and deleted before) `after`, the owner's schema grant.

        pulumi-postgresql's advisory locks (TF helpers.go pgLockRole) take a role and then every
        member of it, in catalog order. A grant to the owner locks the owner, its slots and,
        on PostgreSQL 16+ under a CREATEROLE admin that is not a superuser, the admin, which is
        a member of every role it created; a slot's grant or update locks the slot, then the
        admin. Run at once, the two deadlock (observed on 16 and 17 under the managed profile),
        so the engine must never run them together: the slot, and through it its CONNECT
        grant, waits for the owner's schema grant.
        """
        tenant = self._args.tenant
        # Rotation n renews slot a when n is even and slot b when odd; the other keeps its
        # password from rotation n - 1, so the previous credentials stay valid until n + 1.
        parity = 0 if slot == "a" else 1
        generation = tenant.rotation - ((tenant.rotation - parity) % 2)
        password = self._password(f"-{slot}", str(generation))
        role = self._role(
            f"login-{slot}",
            f"{tenant.username}_{slot}",
            login=tenant.state == "active",
            password=password,
            # NOINHERIT: after RESET ROLE a slot holds no privilege of the owner, so it cannot
            # create objects of its own that the other slot cannot reach.
            inherit=False,
            member_of=owner,
            after=[after],
        )
        return _Login(role, password, f"-{slot}")

    def _readonly_login(self, owner: postgresql.Role, schema: postgresql.Schema,
                        after: Sequence[pulumi.Resource]) -> _ReadOnly:
        """`<username>_ro`: its own generated password, NOINHERIT, a member of nothing; what it
        holds is in components.readonly_login. After every other login resource (`after`): see there."""
        tenant, args = self._args.tenant, self._args
        assert tenant.readonly_role is not None
        # Always generated (a provided password_secret is the tenant's own login's), rotated alone.
        password = self._generated_password("-ro", str(tenant.readonly_rotation))
        role = self._role("login-ro", tenant.readonly_role, login=tenant.state == "active", password=password,
                          inherit=False, after=after, adopted=False)
        login = _Login(role, password, "-ro")
        privileges = readonly_privileges(self._child, tenant.database, owner, schema, role, args.admin_connection)
        resources: list[pulumi.Resource] = [role, self._connect_grant(login), *privileges]
        # Deleted first when the login goes (offboarding, readonly_login removed): what it made
        # that needs no privilege (large objects, its own default privileges) goes to the owner,
        # its privileges are revoked, then its DROP ROLE can succeed.
        name, opts = self._child("login-handover-ro", depends_on=list(resources))
        resources.append(LoginHandover(name, args.admin_connection, [role.name], owner.name, opts=opts))
        return _ReadOnly(login, resources)

    def _password(self, slot: str, generation: str) -> pulumi.Output[str]:
        if self._args.provided_password is not None:
            return pulumi.Output.secret(self._args.provided_password)
        return self._generated_password(slot, generation)

    def _generated_password(self, slot: str, generation: str) -> pulumi.Output[str]:
        name, opts = self._child(f"password{slot}")
        generated = random.RandomPassword(
            name,
            length=PASSWORD_LENGTH,
            upper=True,
            lower=True,
            numeric=True,
            special=True,
            override_special=PUNCTUATION,
            keepers={"rotation": generation},
            opts=opts,
        )
        return pulumi.Output.secret(generated.result)

    def _salt(self, role_suffix: str) -> pulumi.Output[str]:
        name, opts = self._child(f"{role_suffix}-scram-salt")
        return random.RandomBytes(name, length=SALT_BYTES, opts=opts).base64

    def _schema_grant(self, owner: postgresql.Role, schema: postgresql.Schema) -> postgresql.Grant:
        tenant = self._args.tenant
        # Two grants on one catalog row in parallel fail with "tuple concurrently updated";
        # schema grants are not locked by the provider, so each schema gets exactly one.
        name, opts = self._child("schema-usage", retain_on_delete=tenant.state == "offboarded" and tenant.on_remove != "purge",
                                 replacement_trigger=self._placement())
        return postgresql.Grant(
            name,
            database=tenant.database,
            role=owner.name,
            schema=schema.name,
            object_type="schema",
            privileges=SCHEMA_PRIVILEGES,
            opts=opts,
        )

    def _connect_grant(self, login: _Login) -> postgresql.Grant:
        tenant = self._args.tenant
        # Database grants (every tenant's CONNECT, PUBLIC's revoke: one pg_database row) are
        # serialized by the provider's advisory lock on the database; the dependency makes
        # the order fixed too, revoke first.
        name, opts = self._child(f"database-connect{login.suffix}", depends_on=self._database_hardening())
        return postgresql.Grant(
            name,
            database=tenant.database,
            role=login.role.name,
            object_type="database",
            privileges=DATABASE_PRIVILEGES,
            opts=opts,
        )

    def _purge(self, roles: list[pulumi.Output[str]], grantees: list[pulumi.Output[str]], children: list[pulumi.Resource]) -> None:
        # Depends on every other child, so removing the entry runs it first: DROP OWNED BY
        # then leaves nothing for the grants' revokes and the roles' DROP ROLE to trip on.
        # The read-only login (a grantee of the owner's default privileges) is dropped first.
        name, opts = self._child("purge", depends_on=children)
        OwnedObjectsPurge(name, self._args.admin_connection, roles, grantees, opts=opts)

    @staticmethod
    def _login_parts(login: _Login) -> list[pulumi.Output[str]]:
        return [login.role.name, login.password, login.role.id]

    def _connections(self, values: list[str], extra: list[str]) -> TenantConnections:
        """From the resolved [schema id, then name, password, id of the current login and of each login in `extra`]."""
        logins = [values[i:i + 3] for i in range(1, len(values), 3)]
        formats = self._formats(*logins[0][:2])
        for key, (user, password, _) in zip(extra, logins[1:], strict=True):
            formats[key] = self._formats(user, password)
        return TenantConnections(formats)

    def _formats(self, user: str, password: str) -> dict[str, object]:
        server, tenant = self._args.server, self._args.tenant
        return Credentials(host=server.host, port=server.port, database=tenant.database, user=user, password=password,
                           sslmode=server.sslmode, sslrootcert=server.tenant_sslrootcert).all_formats()


@dataclass(frozen=True)
class TenantConnections:
    """A tenant's connection formats (README: Outputs): the current login at the top level;
    zero-downtime tenants add `previous`, tenants with a read-only login `readonly`.

    An object, not a dict, so that `Output.all` over the fleet takes it as one value:
    `Output.from_input` lifts every value nested in a dict into an Output of its own, and did
    so four times per tenant before (issue 11).
    """

    formats: dict[str, object]
