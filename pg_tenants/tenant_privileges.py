"""The privileges a tenant holds; shared by the component that grants them and `verify`.

There are no default privileges but one: the admin never creates objects in a tenant's schema
(migrations run with the tenant's credentials), so a tenant owns everything it can use
there and never holds a privilege on an object someone else owns and might use. The one is
the tenant's own: FOR ROLE <owner>, SELECT on its new tables for its read-only login.
"""

from __future__ import annotations

# On its own schema, held by the tenant's owner role.
SCHEMA_PRIVILEGES = ["CREATE", "USAGE"]
# On its database, held by every role of the tenant that logs in.
DATABASE_PRIVILEGES = ["CONNECT"]

# The read-only login (`readonly_login`): USAGE on the tenant's schema, SELECT on its tables and
# views, those created later included (default privileges FOR ROLE <owner>), CONNECT on its database.
READONLY_SCHEMA_PRIVILEGES = ["USAGE"]
READONLY_TABLE_PRIVILEGES = ["SELECT"]
