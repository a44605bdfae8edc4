"""What to do when the admin login for the catalog checks fails.

libpq reports a failed connection as text only (no SQLSTATE reaches the client before the
session exists), so the failure is recognised by the messages libpq and the server print.
Each fix names every place the setting in question can come from.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from .admin import ENV_ADMIN_URL, ServerAccess

_WHERE_SERVER = f"the stack config's server entry, ${ENV_ADMIN_URL}, or PGHOST/PGPORT"
_UNREACHABLE = ("Connection refused", "could not translate host name", "timeout expired", "No route to host",
                "Network is unreachable", "Name or service not known", "No such file or directory",
                "Is the server running")


def admin_login_fix(message: str, params: Mapping[str, str], access: ServerAccess) -> str:
    """One paragraph: why the login failed, as far as the message tells, and what to do."""
    user = params.get("user") or os.environ.get("PGUSER") or "the OS user's name"
    where = f"{params.get('host') or os.environ.get('PGHOST') or 'the default socket'}:" \
            f"{params.get('port') or os.environ.get('PGPORT') or '5432'}"
    if "no password supplied" in message:
        return _no_password(access)
    if "password authentication failed" in message:
        return (f"the server refused the password of {user}, which came from {_password_source(params, access)}. "
                f"Give the current admin password there; after rotating it, also `pulumi config set --secret` it "
                f"in the stack config.")
    if "no encryption" in message or "SSL off" in message:
        return ("pg_hba.conf admits no unencrypted login of this user from here, as on a server that accepts TLS only. "
                "Set sslmode=require (or verify-full with sslrootcert) in the stack config's server entry, in "
                f"${ENV_ADMIN_URL} (?sslmode=require), or in PGSSLMODE; or add a pg_hba.conf line for this address.")
    if "does not support SSL" in message:
        return (f"sslmode={params.get('sslmode') or os.environ.get('PGSSLMODE')} asks for TLS, but the server at "
                f"{where} does not offer it: enable ssl on the server, or lower sslmode (in {_WHERE_SERVER}) "
                f"where the network is private.")
    if "certificate" in message:
        return ("the server's TLS certificate could not be checked: point sslrootcert at the CA that signed it "
                "(PGSSLROOTCERT, or sslrootcert in the admin conninfo), and check that the host name matches it "
                "for verify-full.")
    if "pg_hba.conf" in message:
        return (f"the server's pg_hba.conf admits no login of {user} from this address to this database: add a line "
                f"for it, or run verify from an address it admits.")
    if "database" in message and "does not exist" in message:
        return (f"the tenants' database (from the stack outputs) is not on the server at {where}: check that the "
                f"admin login ({_WHERE_SERVER}) and the outputs are of the same server.")
    if "role" in message and "does not exist" in message:
        return f"there is no role {user} on the server at {where}: set the admin user (adminUsername, ${ENV_ADMIN_URL} or PGUSER)."
    if any(marker in message for marker in _UNREACHABLE):
        return (f"nothing answered at {where}: check the host and port ({_WHERE_SERVER}), that the server is "
                f"running, and that this machine may reach it (firewall, security group, VPN).")
    return f"check the admin login settings ({_WHERE_SERVER}, PGUSER, PGPASSWORD, PGSSLMODE) against the message."


def _no_password(access: ServerAccess) -> str:
    give = f"give the password yourself: PGPASSWORD, a ~/.pgpass entry, or inside ${ENV_ADMIN_URL}"
    if access.password_problem:
        return (f"the admin password comes from the stack config, but {access.password_problem}. Install the "
                f"Pulumi CLI and `pulumi login` to the stack's backend (name the stack with --stack), or {give}.")
    return (f"no admin password was given: {give}; or pass --stack (or --stack-config) so verify reads the stack's "
            f"admin password with `pulumi config get`.")


def _password_source(params: Mapping[str, str], access: ServerAccess) -> str:
    if "password" in params:
        return access.password_source or "the admin conninfo"
    if os.environ.get("PGPASSWORD"):
        return "PGPASSWORD"
    return "~/.pgpass (or PGPASSFILE)"
