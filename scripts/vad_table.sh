#!/usr/bin/env bash
# Builds the real-speech VAD corpora from Debian's Asterisk prompt packages and
# prints the README's VAD table: teledsp vs webrtcvad, silero v6 (ONNX) and
# earshot, per condition, on the held-out English prompts (the network is
# trained on the French and Spanish ones). Optionally retrains first.
#   scripts/vad_table.sh [--retrain]
set -euo pipefail
cd "$(dirname "$0")/.."
work="${VAD_WORK:-target/vad}"
mkdir -p "$work"

pkgs="asterisk-core-sounds-fr-wav asterisk-core-sounds-es-wav asterisk-core-sounds-en-wav asterisk-moh-opsound-wav"
missing=""
for p in $pkgs; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  apt-get update -qq && apt-get install -y -qq $missing >/dev/null
fi
sounds=$(dirname "$(dpkg -L asterisk-core-sounds-fr-wav | grep -m1 -E '/fr_CA_f_June$')")
moh=$(dpkg -L asterisk-moh-opsound-wav | grep -m1 '/moh$')

venv="$work/venv"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q numpy webrtcvad-wheels onnxruntime earshot soxr silero-vad
fi
py="$venv/bin/python"

build() { # name voice seed tracks
  [ -f "$work/$1/index.json" ] || "$py" tools/vad/vad_corpus.py "$sounds/$2" "$moh" "$work/$1" --seed "$3" --tracks "$4" 2>/dev/null
}
build vad_fr fr_CA_f_June 1 8
build vad_es es_MX_f_Allison 2 8
build vad_en en_US_f_Allison 3 4

if [ "${1:-}" = "--retrain" ]; then
  "$py" scripts/vad_train.py "$work/vad_fr" "$work/vad_es" --epochs 20 --tone-minutes 16
fi

cargo build --release -q -p teledsp --example vad_scores
silero=$("$py" -c 'import silero_vad, os; print(os.path.join(os.path.dirname(silero_vad.__file__), "data", "silero_vad.onnx"))')
"$py" tools/vad/vad_eval.py "$work/vad_en" --silero "$silero" \
  --cmd "$PWD/target/release/examples/vad_scores {file}" 2>/dev/null \
  | sed "s|$PWD/target/release/examples/vad_scores {file}|teledsp (native, per frame cost in the criterion bench)|"
