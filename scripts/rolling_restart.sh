#!/usr/bin/env bash
# The rolling restart of issue 27 in its long form: for each relay (Rust,
# FastAPI, Flask, Nest), HAProxy 2.6 in front of three instances, 150
# real-time calls arriving continuously (6 s each, every 5th 14 s), each
# instance in turn SIGTERM'd with --pre-stop 5 --drain-timeout 10 and
# restarted. The short form runs in scripts/test.sh. Needs the bindings
# built (scripts/test.sh, or maturin develop and npm run build:example) and
# haproxy (installed here from Debian if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v haproxy >/dev/null 2>&1 || apt-get install -y -qq haproxy >/dev/null
venv="${VENV:-target/py-venv}"
TELEDSP_ROLLING=long TELEDSP_HAPROXY=$(command -v haproxy) \
  TELEDSP_E2E_RELAYS="${TELEDSP_E2E_RELAYS:-rust,python,flask,node}" TELEDSP_PYTHON="$PWD/$venv/bin/python" \
  cargo test --release -p teledsp-relay --test rolling -- --nocapture
