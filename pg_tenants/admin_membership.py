"""Let an admin that is not a superuser act with a tenant role's privileges for one transaction.

`DROP OWNED BY` and `REASSIGN OWNED BY` need the privileges of every role named (PostgreSQL:
"permission denied to drop objects" / "to reassign objects"), and on PostgreSQL 16+ REASSIGN
needs the right to SET ROLE to the new owner ("must be able to SET ROLE"). A superuser has them. A managed
service's admin (RDS, Cloud SQL, Azure: CREATEROLE, not SUPERUSER) has them only through a
membership that inherits: on PostgreSQL 15 and older it holds none of the roles it created, on
16 and later only the ADMIN option unless `createrole_self_grant` includes `inherit`. So, as
pulumi-postgresql's withRolesGranted does for its own statements (TF helpers.go), the admin
grants itself each role it lacks, inside the caller's transaction, and takes the grant back
before commit. Granting needs CREATEROLE (and, on 16+, the ADMIN option, which the admin holds
on every role it created); pg_tenants.server_checks refuses a run where it would not.

Nothing here makes tenant code run as the admin: the membership gives the admin the tenant's
privileges, never the reverse, and the statements run under it execute no user code.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import psycopg
from psycopg import sql

# The admin's membership row it made itself (grantor = the admin), PostgreSQL 16+.
_OWN_GRANT = """
SELECT m.inherit_option, m.set_option FROM pg_auth_members m
 WHERE m.roleid = (SELECT oid FROM pg_roles WHERE rolname = %s)
   AND m.member = (SELECT oid FROM pg_roles WHERE rolname = current_user)
   AND m.grantor = (SELECT oid FROM pg_roles WHERE rolname = current_user)
"""


@contextmanager
def privileges_of(conn: psycopg.Connection, roles: Sequence[str], *, set_roles: Sequence[str] = ()) -> Iterator[None]:
    """Within the open transaction of `conn`: the current user has the privileges of `roles`
    (DROP OWNED BY, REASSIGN OWNED BY need them) and may SET ROLE to `set_roles` (what REASSIGN
    OWNED … TO and ALTER … OWNER TO need of the new owner on PostgreSQL 16+).

    What the current user already has (a superuser: everything) is left alone; for the rest it
    grants itself the role (PostgreSQL 16+: with just the INHERIT and SET options needed, or
    adds them to a grant of its own, e.g. createrole_self_grant's) and undoes exactly that on
    the way out. On an error the caller's transaction rolls the grants back with everything else.
    """
    undo: list[sql.Composable] = []
    v16 = conn.info.server_version >= 160000
    for role in dict.fromkeys([*roles, *set_roles]):
        need_inherit, need_set = role in roles, role in set_roles
        row = conn.execute("SELECT pg_has_role(current_user, %s, 'USAGE'), pg_has_role(current_user, %s, %s)",
                           (role, role, "SET" if v16 else "MEMBER")).fetchone()
        assert row is not None
        need_inherit, need_set = need_inherit and not row[0], need_set and not row[1]
        if not (need_inherit or need_set):
            continue
        name = sql.Identifier(role)
        if not v16:  # one membership gives both (the admin's INHERIT attribute decides inheritance)
            conn.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(name))
            undo.append(sql.SQL("REVOKE {} FROM CURRENT_USER").format(name))
            continue
        own = conn.execute(_OWN_GRANT, (role,)).fetchone()
        if own is None:
            conn.execute(sql.SQL("GRANT {} TO CURRENT_USER WITH INHERIT {}, SET {}").format(
                name, sql.SQL("TRUE" if need_inherit else "FALSE"), sql.SQL("TRUE" if need_set else "FALSE")))
            undo.append(sql.SQL("REVOKE {} FROM CURRENT_USER").format(name))
            continue
        # A grant of its own lacks an option (e.g. createrole_self_grant = 'set'): add it, then take it back.
        for needed, option in ((need_inherit and not own[0], "INHERIT"), (need_set and not own[1], "SET")):
            if needed:
                conn.execute(sql.SQL("GRANT {} TO CURRENT_USER WITH {} TRUE").format(name, sql.SQL(option)))
                undo.append(sql.SQL("REVOKE {} OPTION FOR {} FROM CURRENT_USER").format(sql.SQL(option), name))
    yield
    for statement in undo:
        conn.execute(statement)
