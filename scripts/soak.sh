#!/usr/bin/env bash
# The relay soak (outside CI): fake OpenAI (echo-frames), the relay with its
# default bounds, and `teledsp-sim soak` against them on loopback.
# Arguments go to `soak` (defaults: 200 callers, 600 s, 5% misbehaving).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p teledsp-relay -p teledsp-sim
bin=target/release/teledsp-relay
sim=target/release/teledsp-sim
ulimit -n 65536 2>/dev/null || true
"$sim" fake-openai --listen 127.0.0.1:5090 --mode echo-frames --echo-delta-ms 100 &
fake=$!
OPENAI_API_KEY=sk-soak RUST_LOG=warn "$bin" serve --listen 127.0.0.1:5091 --model-url ws://127.0.0.1:5090/v1/realtime \
  --insecure-no-signature 2>target/soak-relay.log &
relay=$!
trap 'kill $relay $fake 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -fs http://127.0.0.1:5091/healthz >/dev/null && break; sleep 0.1; done
"$sim" soak --target ws://127.0.0.1:5091/media --relay-pid "$relay" "$@"
