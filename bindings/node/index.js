// teledsp's CommonJS entry. `native.js` is napi-rs's generated loader: it
// loads ./teledsp.<platform>.node when present (a local build), else the
// per-platform package teledsp-<platform> that npm installs from
// teledsp's optionalDependencies. When neither exists, this says which
// package is missing instead of the loader's generic message.
'use strict';

const PLATFORMS = {
  'linux-x64': ['linux-x64-gnu', 'linux-x64-musl'],
  'linux-arm64': ['linux-arm64-gnu', 'linux-arm64-musl'],
  'darwin-x64': ['darwin-x64'],
  'darwin-arm64': ['darwin-arm64'],
  'win32-x64': ['win32-x64-msvc'],
};

function platformPackage() {
  const key = `${process.platform}-${process.arch}`;
  const names = PLATFORMS[key];
  if (!names) return null;
  if (process.platform !== 'linux') return `teledsp-${names[0]}`;
  const report = process.report && process.report.getReport ? process.report.getReport() : null;
  const glibc = report && report.header && report.header.glibcVersionRuntime;
  return `teledsp-${glibc ? names[0] : names[1]}`;
}

try {
  module.exports = require('./native.js');
} catch (cause) {
  const pkg = platformPackage();
  const supported = Object.values(PLATFORMS).flat().map((p) => `teledsp-${p}`).join(', ');
  const msg = pkg
    ? `teledsp: the native binary for ${process.platform}-${process.arch} is missing: install ${pkg} ` +
      `(npm installs it from teledsp's optionalDependencies unless optional dependencies were omitted, ` +
      `e.g. by --omit=optional or a lockfile made on another platform)`
    : `teledsp: no native binary is published for ${process.platform}-${process.arch}; packages exist for ${supported}`;
  throw new Error(msg, { cause });
}
