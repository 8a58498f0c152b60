#!/usr/bin/env bash
# The main job: encode/decode a file with teledsp's G.711 and print throughput.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --release -q -p teledsp --example g711_file -- "$@"
