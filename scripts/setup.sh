#!/usr/bin/env bash
# Prepares a checkout for the quick start: the `venv` virtualenv Pulumi.yaml names, the program's
# packages (requirements.txt), the `pg-tenants` command, and PostgreSQL server binaries.
# `--dev` (scripts/test.sh) adds the test tooling (requirements-dev.txt) and npm, which fetches
# the other majors the tests run on.
#
# pip runs only when a requirements file changed since the last run: each install stamps the
# files' hash into venv/, so a second run takes well under 2 s.
set -euo pipefail
cd "$(dirname "$0")/.."

case "${1:-}" in
  "") dev=0 ;;
  --dev) dev=1 ;;
  -h|--help) sed -n '2,8s/^# \{0,1\}//p' "$0"; exit 0 ;;
  *) echo "usage: scripts/setup.sh [--dev]" >&2; exit 2 ;;
esac

if [ ! -x venv/bin/python ]; then
  python3 -m venv venv
fi

# install <stamp name> <requirements file>: pip, unless the stamp holds these files' hash.
install() {
  local stamp="venv/.pg-tenants-$1" hash
  hash=$(cat requirements.txt "$2" pyproject.toml | sha256sum | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$hash" ]; then
    venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$2"
    venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
    echo "$hash" > "$stamp"
  fi
}
install requirements requirements.txt
if [ "$dev" = 1 ]; then
  install requirements-dev requirements-dev.txt
fi

# PostgreSQL binaries: the launcher looks on PATH, in `pg_config --bindir` and the usual install
# places (docs/local-postgres.md). Only when it finds none, and only as root with apt-get, are
# Debian's installed (which also creates the `postgres` OS user the server runs as, as root).
missing=()
finder=$(venv/bin/python -m pg_tenants.local find 2>&1) || missing+=(postgresql)
if [ "$dev" = 1 ]; then
  command -v npm >/dev/null || missing+=(npm)
fi
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing ${missing[*]} (apt-get, as root)"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    [[ " ${missing[*]} " == *" postgresql "* ]] && echo "setup: $finder" >&2
    [[ " ${missing[*]} " == *" npm "* ]] && echo "setup: the tests need npm (it fetches PostgreSQL majors that are not installed): install it, e.g. \`sudo apt-get install npm\` or \`brew install node\`" >&2
    exit 1
  fi
fi
