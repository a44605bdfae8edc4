"""`pg-tenants:shard`: which tenants of the shared tenant list this stack owns.

The rule (one for the program, `validate` and `move-plan`): a tenant whose entry says
`shard: <name>` belongs to the stack whose `pg-tenants:shard.name` is that name, whatever its
server. A tenant without `shard:` belongs to the stack that lists its server in `servers`, or
its `server/database` in `databases`. Nothing is hashed or counted, so adding a shard never
moves an existing tenant: a new stack owns only what it names, and naming something another
stack already owns is refused by `pg-tenants validate --stacks`. A stack without the key owns
every tenant (one unsharded stack).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

SHARD_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
SHARD_NAME_FIX = "use lowercase letters, digits, '-' and '_' (at most 63), starting with a letter or digit"
ShardName = Annotated[str, StringConstraints(pattern=SHARD_NAME_PATTERN)]
# `server/database`, both keys of this stack's servers (checked in stack_config).
DATABASE_REF_PATTERN = r"^[^/]+/[^/]+$"
DatabaseRef = Annotated[str, StringConstraints(pattern=DATABASE_REF_PATTERN)]


class ShardSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    name: ShardName
    servers: list[str] = Field(default_factory=list)
    databases: list[DatabaseRef] = Field(default_factory=list)
