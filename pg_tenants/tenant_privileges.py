"""The privileges a tenant holds; shared by the component that grants them and `verify`."""

from __future__ import annotations

# On its own schema.
SCHEMA_PRIVILEGES = ["CREATE", "USAGE"]
# On its database.
DATABASE_PRIVILEGES = ["CONNECT"]
# Default privileges FOR ROLE <admin> IN SCHEMA <schema>: objects the admin creates there
# later (migrations) are usable by the tenant.
DEFAULT_PRIVILEGES: dict[str, list[str]] = {
    "table": ["DELETE", "INSERT", "REFERENCES", "SELECT", "TRIGGER", "TRUNCATE", "UPDATE"],
    "sequence": ["SELECT", "UPDATE", "USAGE"],
    "function": ["EXECUTE"],
}
