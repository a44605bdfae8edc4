"""Sharded fleets: one tenant list, several stacks, each owning a declared subset (README: "Sharding a fleet across stacks")."""
