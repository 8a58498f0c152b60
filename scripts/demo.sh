#!/usr/bin/env bash
# The main job: the reference relay, offline. One process (`teledsp-sim
# demo`) runs the relay, a fake OpenAI Realtime server and a simulated Twilio caller who says a real
# recorded prompt; the fake answers by echoing it. What the caller heard goes
# to out/heard.wav; per-call numbers are printed.
#   scripts/demo.sh                      # a Debian asterisk prompt (installed if missing)
#   scripts/demo.sh --prompt my.wav      # your own 16-bit mono WAV
set -euo pipefail
cd "$(dirname "$0")/.."

if ! dpkg -s asterisk-core-sounds-en-wav >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "installing Debian's asterisk-core-sounds-en-wav (recorded prompts for the caller)" >&2
  (apt-get update -qq && apt-get install -y -qq asterisk-core-sounds-en-wav) >/dev/null 2>&1 \
    || echo "could not install asterisk-core-sounds-en-wav; pass --prompt FILE.wav" >&2
fi
TELEDSP_SPEECH_DIR=$(dpkg -L asterisk-core-sounds-en-wav 2>/dev/null | grep -m1 -E '/en_US_f_Allison$' || true)
export TELEDSP_SPEECH_DIR
RUST_LOG="${RUST_LOG:-warn}" cargo run --release -q -p teledsp-sim -- demo "$@"
