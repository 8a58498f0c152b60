#!/usr/bin/env bash
# Builds this platform's release artefacts into dist/ (README, "Releasing"):
#
#   teledsp-<v>-cp311-abi3-manylinux_2_28_<arch>.whl  Python wheel: abi3 (CPython >= 3.11),
#                                                     linked against glibc 2.28 through zig, stripped
#   teledsp-<v>.tar.gz                                Python sdist (builds with Rust)
#   teledsp-<v>.tgz                                   npm package: JS entry points, types, and
#                                                     optionalDependencies on every platform package
#   teledsp-<platform>-<v>.tgz                        npm package with this platform's binary,
#                                                     laid out as napi-rs publishes them (npm/<platform>/)
#   teledsp-<v>.crate                                 the `teledsp` crate, as `cargo publish` uploads it
#
# Other platforms are built by .github/workflows/release.yml. Tools come from
# PyPI and npm into target/ (no other downloads): maturin, ziglang (the
# linker for an older glibc), auditwheel (checks the wheel's tag).
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf dist
mkdir -p dist

tools=target/dist-venv
[ -x "$tools/bin/python" ] || python3 -m venv "$tools"
"$tools/bin/pip" install -q --disable-pip-version-check maturin==1.16.0 ziglang==0.17.1 auditwheel==6.8.2

echo "== Python wheel: abi3, manylinux_2_28 (zig links against glibc 2.28), stripped"
PATH="$PWD/$tools/bin:$PATH" maturin build --quiet --release --strip --zig --compatibility manylinux_2_28 \
  -m bindings/python/Cargo.toml -o dist
wheel=$(ls dist/teledsp-*.whl)
# auditwheel names the oldest policy the wheel's symbols allow: it must be 2.28 or older.
policy=$("$tools/bin/auditwheel" show "$wheel" | tr -d '\n' | grep -Eo 'manylinux_2_[0-9]+' | head -1)
minor=${policy#manylinux_2_}
echo "$(basename "$wheel"): $(du -k "$wheel" | cut -f1) KiB; auditwheel: $policy"
if [ -z "$policy" ] || [ "$minor" -gt 28 ]; then
  echo "the wheel needs glibc newer than 2.28 ($policy)" >&2
  exit 1
fi
if [ "$(du -k "$wheel" | cut -f1)" -gt 8192 ]; then
  echo "the wheel is over 8 MiB: not stripped?" >&2
  exit 1
fi

echo "== Python sdist"
PATH="$PWD/$tools/bin:$PATH" maturin sdist -m bindings/python/Cargo.toml -o dist

echo "== npm: the main package and this platform's binary package (napi-rs layout)"
stage=target/npm-stage
rm -rf "$stage"
mkdir -p "$stage"
(cd bindings/node && npm install --no-audit --no-fund --loglevel=error && npm run -s build)
node=$(cd bindings/node && ls teledsp.*.node)
platform=${node#teledsp.}
platform=${platform%.node}
cp -L bindings/node/{package.json,README.md,index.js,index.mjs,native.js,index.d.ts,LICENSE-MIT,LICENSE-APACHE} "$stage/"
# npm/<platform>/ for every target (package.json with os/cpu/libc), then this
# platform's binary into its own, stripped of debug info (the release profile
# keeps it for profiling). `napi artifacts` wants every target's binary.
bindings/node/node_modules/.bin/napi create-npm-dirs --cwd "$stage" --npm-dir npm >/dev/null
strip --strip-debug -o "$stage/npm/$platform/$node" "bindings/node/$node"
# The published package.json: optionalDependencies on every platform
# package (what `napi pre-publish` adds), no dev tooling.
node -e '
  const fs = require("fs"), path = require("path");
  const dir = process.argv[1];
  const pkg = JSON.parse(fs.readFileSync(path.join(dir, "package.json")));
  pkg.optionalDependencies = {};
  for (const p of fs.readdirSync(path.join(dir, "npm")).sort()) {
    const sub = JSON.parse(fs.readFileSync(path.join(dir, "npm", p, "package.json")));
    pkg.optionalDependencies[sub.name] = pkg.version;
  }
  pkg.files.push("LICENSE-MIT", "LICENSE-APACHE");
  delete pkg.devDependencies;
  delete pkg.scripts;
  pkg.files = pkg.files.filter((f) => f !== "*.node");
  fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify(pkg, null, 2) + "\n");
' "$stage"
(cd "$stage" && npm pack --silent --pack-destination "$PWD/../../dist" >/dev/null)
cp -L bindings/node/LICENSE-* "$stage/npm/$platform/"
node -e '
  const fs = require("fs"), f = process.argv[1], pkg = JSON.parse(fs.readFileSync(f));
  pkg.files.push("LICENSE-MIT", "LICENSE-APACHE");
  fs.writeFileSync(f, JSON.stringify(pkg, null, 2) + "\n");
' "$stage/npm/$platform/package.json"
(cd "$stage/npm/$platform" && npm pack --silent --pack-destination "$PWD/../../../../dist" >/dev/null)

echo "== crate: cargo package -p teledsp (README and license files included)"
cargo package --quiet -p teledsp --no-verify --allow-dirty
cp target/package/teledsp-*.crate dist/
listing=$(tar tzf dist/teledsp-*.crate)
for f in LICENSE-MIT LICENSE-APACHE README.md; do
  grep -q "/$f\$" <<<"$listing" || { echo "the crate lacks $f" >&2; exit 1; }
done

ls -l dist
