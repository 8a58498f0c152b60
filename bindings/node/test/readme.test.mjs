// The 60-line relay in bindings/node/README.md is real code: it compiles, and
// it uses only names the package exports.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as teledsp from 'teledsp';

test('the README relay compiles and uses real exports', () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const [code] = [...readme.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]).filter((c) => c.includes('new Call('));
  const lines = code.split('\n').length;
  assert.ok(lines >= 45 && lines <= 75, `${lines} lines`);
  assert.doesNotThrow(() => new Function('require', 'process', 'console', code)); // compiles, not run
  const names = [...code.matchAll(/call\.(\w+)\(/g)].map((m) => m[1]);
  for (const n of new Set(names)) assert.equal(typeof teledsp.Call.prototype[n], 'function', n);
  assert.equal(typeof teledsp.RequestValidator.prototype.validate, 'function');
});
