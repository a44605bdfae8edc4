"""A local PostgreSQL for the tests and the quick start (docs/local-postgres.md).

binaries (find or fetch initdb/pg_ctl/postgres) → cluster (initdb, pg_ctl) → server (a running
server and its admin login) → throwaway (the tests' servers) or persistent (the quick start's),
command_line (`python -m pg_tenants.local start|stop|status|find`), quickstart (`scripts/up.sh`).
"""
