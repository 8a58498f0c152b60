#!/usr/bin/env bash
# Installs dist/'s artefacts as a user would, in fresh environments with no
# Rust toolchain on PATH, and uses them:
#   - the wheel into a new venv for every CPython 3.11+ on this machine (PATH
#     and pyenv; SKIPPED for a minor version that is missing), then the
#     Python test suite on each;
#   - the npm main package plus this platform's binary package into a new
#     npm project, loaded through require and import; and the main package
#     alone, which must fail with an error naming the missing package.
# Run by scripts/test.sh after scripts/dist.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

# PATH without cargo, rustc or rustup: the artefacts must not need them.
norust=$(tr ':' '\n' <<<"$PATH" | grep -v -e '/\.cargo/bin' -e '/\.rustup' | paste -sd: -)
if PATH=$norust command -v cargo >/dev/null || PATH=$norust command -v rustc >/dev/null; then
  echo "a Rust toolchain is still on the filtered PATH" >&2
  exit 1
fi

echo "== the wheel in fresh venvs, one per CPython 3.11+ (no Rust on PATH)"
wheel=$(ls dist/teledsp-*.whl)
declare -A found=()
candidates=(python3 python3.11 python3.12 python3.13 python3.14)
if command -v pyenv >/dev/null 2>&1; then
  candidates+=("$(pyenv root)"/versions/3.*/bin/python3)
fi
for c in "${candidates[@]}"; do
  # A pyenv shim may exist and refuse to run: ask each candidate itself.
  v=$("$c" -c 'import sys; print("%d.%d" % sys.version_info[:2]) if sys.version_info >= (3, 11) else None' 2>/dev/null || true)
  if [ -n "$v" ] && [ "$v" != None ] && [ -z "${found[$v]:-}" ]; then
    found[$v]=$(command -v "$c" || echo "$c")
  fi
done
for v in 3.11 3.12 3.13; do
  [ -n "${found[$v]:-}" ] || echo "SKIPPED: no CPython $v on this machine"
done
for v in $(printf '%s\n' "${!found[@]}" | sort -V); do
  venv=target/wheel-venv-$v
  rm -rf "$venv"
  "${found[$v]}" -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "$wheel" -r bindings/python/tests/requirements.txt
  echo "CPython $v (${found[$v]}): $(PATH=$norust "$venv/bin/python" -c 'import teledsp, teledsp.audioop; print("teledsp", teledsp.__version__, "from", teledsp.__file__.split("site-packages")[0] + "site-packages")')"
  (cd bindings/python && PATH=$norust "$root/$venv/bin/python" -m pytest -q -p no:cacheprovider tests 2>&1 | tail -n 3)
done

echo "== the npm packages in a fresh project (no Rust on PATH)"
main_tgz=$(ls dist/teledsp-[0-9]*.tgz)
platform_tgz=$(ls dist/teledsp-*-*-[0-9]*.tgz)
app=target/npm-install-check
rm -rf "$app" && mkdir -p "$app/full" "$app/bare"
(
  cd "$app/full"
  npm init -y >/dev/null
  PATH=$norust npm install --no-audit --no-fund --loglevel=error "$root/$platform_tgz" "$root/$main_tgz"
  PATH=$norust node -e '
    const assert = require("assert");
    const { mulaw, alaw, Resampler } = require("teledsp");
    const pcm = Int16Array.from([0, 1000, -1000, 32767]);
    assert.deepStrictEqual([...mulaw.encode(pcm)], [255, 206, 78, 128]);
    assert.strictEqual(new Resampler(8000, 24000).process(new Int16Array(160)).length, 480);
    console.log("require(\"teledsp\"): ok,", alaw.encodeSample(1000), "from", require.resolve("teledsp-linux-x64-gnu/package.json").replace(process.cwd(), "."));
  '
  PATH=$norust node --input-type=module -e '
    import { mulaw } from "teledsp";
    if (mulaw.decodeSample(0xff) !== 0) throw new Error("ESM import gave a wrong value");
    console.log("import { mulaw } from \"teledsp\": ok");
  '
)
(
  cd "$app/bare"
  npm init -y >/dev/null
  # The main package alone (optional dependencies omitted, as a lockfile
  # from another platform does): loading must name the missing package.
  PATH=$norust npm install --no-audit --no-fund --loglevel=error --omit=optional "$root/$main_tgz"
  PATH=$norust node -e '
    try { require("teledsp"); throw new Error("loaded without its platform package?"); }
    catch (e) {
      if (!/teledsp-linux-x64-(gnu|musl)/.test(e.message)) throw e;
      console.log("without the platform package, require says:", e.message);
    }
  '
)
echo "install checks: done"
