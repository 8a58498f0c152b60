// G.711 through the binding: ITU vectors, alawmulaw parity, buffer types,
// the Into variants, errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import alawmulaw from 'alawmulaw';
import { mulaw, alaw } from 'teledsp';
import { itu, lowBytes, pcm, crc32 } from './helpers.mjs';

const require = createRequire(import.meta.url);
const ALL_PCM = Int16Array.from({ length: 65536 }, (_, i) => i - 32768);
const ALL_CODES = Uint8Array.from({ length: 256 }, (_, i) => i);

test('the vectors are the published ones', () => {
  assert.equal(crc32(itu('sweep.src')), 0xc8ba7682);
  assert.equal(crc32(itu('sweep-r.u')), 0xcd170e15);
  assert.equal(crc32(itu('sweep-r.a')), 0x74719fe4);
});

test('ITU encode of all 65,536 inputs and decode of every code', () => {
  const src = pcm(itu('sweep.src'));
  assert.deepEqual(mulaw.encode(src), lowBytes(itu('sweep-r.u')));
  assert.deepEqual(alaw.encode(src), lowBytes(itu('sweep-r.a')));
  assert.deepEqual(mulaw.decode(lowBytes(itu('sweep-r.u'))), pcm(itu('sweep-r.reu')));
  assert.deepEqual(alaw.decode(lowBytes(itu('sweep-r.a'))), pcm(itu('sweep-r.rea')));
});

test('the ESM entry and the CommonJS loader export the same functions', () => {
  const cjs = require('teledsp');
  assert.equal(cjs.mulaw.encode, mulaw.encode);
  assert.equal(cjs.alaw.decode, alaw.decode);
});

for (const [name, ours, theirs] of [
  ['mulaw', mulaw, alawmulaw.mulaw],
  ['alaw', alaw, alawmulaw.alaw],
]) {
  test(`${name}: decode matches alawmulaw on all 256 codes`, () => {
    assert.deepEqual(ours.decode(ALL_CODES), theirs.decode(ALL_CODES));
    // Object.is, so mu-law's negative zero (0x7f) must be -0 on both sides.
    for (let c = 0; c < 256; c++) assert.ok(Object.is(ours.decodeSample(c), theirs.decodeSample(c)), `code ${c}`);
  });

  test(`${name}: alawmulaw's encoder deviates from G.711 at exactly the 127 negative decision thresholds`, () => {
    // The documented list (README, "alawmulaw compatibility"): for every
    // negative decision threshold of G.711 -- the largest-magnitude input of
    // each negative quantization interval but the last -- alawmulaw returns
    // the code of the next larger interval. Nothing else differs.
    const a = ours.encode(ALL_PCM);
    const b = theirs.encode(ALL_PCM);
    const deviations = [];
    for (let i = 0; i < 65536; i++) if (a[i] !== b[i]) deviations.push(i - 32768);
    const thresholds = [];
    for (let i = 1; i < 32768; i++) if (a[i] !== a[i - 1]) thresholds.push(i - 32768);
    assert.equal(deviations.length, 127);
    assert.deepEqual(deviations, thresholds);
    for (const x of deviations) assert.equal(b[x + 32768], a[x + 32768 - 1], `x=${x}`);
    // encodeSample returns alawmulaw's values (mu-law's signed ones too),
    // on every input but the same 127.
    const sampleDeviations = [];
    for (let x = -32768; x < 32768; x++) {
      if (!Object.is(ours.encodeSample(x), theirs.encodeSample(x))) sampleDeviations.push(x);
    }
    assert.deepEqual(sampleDeviations, deviations);
    const first = name === 'mulaw' ? [-31612, -30588, -29564] : [-31744, -30720, -29696];
    assert.deepEqual(deviations.slice(0, 3), first);
  });

  test(`${name}: encodeSample/decodeSample agree with the array functions`, () => {
    for (const x of [-32768, -1, 0, 1, 1234, 32767]) {
      assert.equal(ours.encodeSample(x) & 0xff, ours.encode(Int16Array.of(x))[0]);
    }
    // `+ 0`: an Int16Array has no -0; decodeSample gives alawmulaw's -0 for 0x7f.
    for (const c of [0, 1, 127, 128, 255]) assert.equal(ours.decodeSample(c) + 0, ours.decode(Uint8Array.of(c))[0]);
  });

  test(`${name}: Into variants write into reused buffers and return the count`, () => {
    const src = ALL_PCM.subarray(1000, 1160);
    const dst = new Uint8Array(200).fill(0xaa);
    assert.equal(ours.encodeInto(src, dst), 160);
    assert.deepEqual(dst.subarray(0, 160), ours.encode(src));
    assert.ok(dst.subarray(160).every((b) => b === 0xaa), 'bytes past the count are untouched');
    const back = new Int16Array(160);
    assert.equal(ours.decodeInto(dst.subarray(0, 160), back), 160);
    assert.deepEqual(back, ours.decode(dst.subarray(0, 160)));
    // A Buffer receiving PCM16LE, at an odd address (a pool slice).
    const pool = Buffer.alloc(400);
    const odd = pool.subarray(1, 321);
    assert.equal(ours.decodeInto(dst.subarray(0, 160), odd), 160);
    assert.deepEqual(pcm(odd), back);
  });

  test(`${name}: Buffers of PCM16LE are accepted, aligned or not`, () => {
    const x = ALL_PCM.subarray(30000, 30320);
    const bytes = Buffer.from(x.buffer, x.byteOffset, x.byteLength);
    const expected = ours.encode(x);
    assert.deepEqual(ours.encode(bytes), expected);
    const pool = Buffer.alloc(bytes.length + 1);
    bytes.copy(pool, 1);
    assert.equal(pool.subarray(1).byteOffset % 2, 1);
    assert.deepEqual(ours.encode(pool.subarray(1)), expected);
    assert.deepEqual(ours.encode(new Uint8Array(bytes)), expected);
    assert.deepEqual(ours.encode(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length)), expected);
    // Decode accepts Buffer and Uint8Array; the result is an Int16Array.
    const d = ours.decode(Buffer.from(expected));
    assert.ok(d instanceof Int16Array);
    assert.deepEqual(d, ours.decode(expected));
  });
}

test('transcoding tables: mu-law <-> A-law', () => {
  const u2a = mulaw.toAlaw(ALL_CODES);
  const a2u = alaw.toMulaw(ALL_CODES);
  assert.equal(u2a[0xff], 0xd5);
  assert.equal(a2u[0xd5], 0xfe);
  const lu = mulaw.decode(ALL_CODES);
  const lu2a = alaw.decode(u2a);
  for (let c = 0; c < 256; c++) assert.ok(Math.abs(lu2a[c] - lu[c]) <= Math.max(16, Math.abs(lu[c]) >> 4), `code ${c}`);
});

test('in-place aliasing is handled: src and dst may share memory', () => {
  const buf = new ArrayBuffer(640);
  const samples = new Int16Array(buf, 0, 160);
  samples.set(ALL_PCM.subarray(5000, 5160));
  const expected = mulaw.encode(samples.slice());
  const codes = new Uint8Array(buf, 0, 160); // overlaps the samples it encodes
  assert.equal(mulaw.encodeInto(samples, codes), 160);
  assert.deepEqual(codes, expected);
});

test('errors are Errors with a code and a message that says what was wrong', () => {
  const cases = [
    [() => mulaw.encode(Buffer.alloc(3)), 'ERR_TELEDSP_INVALID_LENGTH', /has 3 bytes, not a whole number of 16-bit samples/],
    [() => mulaw.encode([1, 2, 3]), 'ERR_INVALID_ARG_TYPE', /got Array \(wrap a plain array: new Int16Array\(array\)\)/],
    [() => mulaw.encode('abc'), 'ERR_INVALID_ARG_TYPE', /expected a typed array or Buffer, got string/],
    [() => alaw.encode(undefined), 'ERR_INVALID_ARG_TYPE', /got undefined/],
    [() => mulaw.encode(new Float64Array(4)), 'ERR_INVALID_ARG_TYPE', /Float64Array is not supported/],
    [() => mulaw.encode(new Float32Array(4)), 'ERR_INVALID_ARG_TYPE', /got Float32Array/],
    [() => mulaw.decode(new Int16Array(4)), 'ERR_INVALID_ARG_TYPE', /got Int16Array; did you mean an encode function/],
    [() => mulaw.encodeInto(new Int16Array(160), new Uint8Array(100)), 'ERR_TELEDSP_INVALID_LENGTH', /holds 100 samples, src has 160/],
    [() => mulaw.decodeInto(new Uint8Array(160), new Int16Array(10)), 'ERR_TELEDSP_INVALID_LENGTH', /holds 10 samples, src has 160/],
    [() => mulaw.encodeInto(new Int16Array(4), new Int16Array(4)), 'ERR_INVALID_ARG_TYPE', /dst must be a Uint8Array or Buffer, got Int16Array/],
    [() => mulaw.encodeSample(40000), 'ERR_OUT_OF_RANGE', /-32768..=32767, got 40000/],
    [() => alaw.encodeSample(1.5), 'ERR_OUT_OF_RANGE', /got 1.5/],
    [() => mulaw.decodeSample(256), 'ERR_OUT_OF_RANGE', /0..=255, got 256/],
  ];
  for (const [f, code, message] of cases) {
    assert.throws(f, (e) => e instanceof Error && e.code === code && message.test(e.message), String(f));
  }
});

test('empty input gives empty output', () => {
  assert.equal(mulaw.encode(new Int16Array(0)).length, 0);
  assert.equal(alaw.decode(new Uint8Array(0)).length, 0);
  assert.equal(mulaw.encodeInto(new Int16Array(0), new Uint8Array(0)), 0);
});
