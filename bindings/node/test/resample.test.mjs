// The resampler through the binding: chunking invariance (property-based),
// fused paths, float32, quality, errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Resampler, mulaw } from 'teledsp';
import { concat, chunks, rng, tone, level } from './helpers.mjs';

const PAIRS = [
  [8000, 24000],
  [24000, 8000],
  [8000, 16000],
  [16000, 8000],
  [16000, 24000],
  [24000, 16000],
  [8000, 48000],
  [48000, 8000],
];
const QUALITIES = ['telephony', 'transparent', 'low_latency'];

function noise(n, seed) {
  const r = rng(seed);
  return Int16Array.from({ length: n }, () => Math.round((r() - 0.5) * 20000));
}

test('chunked processing equals one call on the whole signal, with exact sizes (property)', () => {
  fc.assert(
    fc.property(
      fc.constantFrom(...PAIRS),
      fc.constantFrom(...QUALITIES),
      fc.integer({ min: 0, max: 2000 }),
      fc.array(fc.nat(), { maxLength: 12 }),
      fc.integer(),
      ([inRate, outRate], quality, n, rawCuts, seed) => {
        const x = noise(n, seed);
        const cuts = [...new Set(rawCuts.map((c) => c % (n + 1)))].sort((a, b) => a - b);
        const whole = new Resampler(inRate, outRate, { quality });
        const expected = concat([whole.process(x), whole.flush()], Int16Array);
        const r = new Resampler(inRate, outRate, { quality });
        const parts = [];
        for (const c of chunks(x, cuts)) {
          const want = r.outputLen(c.length);
          const out = r.process(c);
          assert.equal(out.length, want);
          parts.push(out);
        }
        parts.push(r.flush());
        assert.deepEqual(concat(parts, Int16Array), expected);
      },
    ),
    { numRuns: 150 },
  );
});

test('processInto writes the same samples into a reused buffer', () => {
  const x = noise(1600, 1);
  const a = new Resampler(8000, 24000);
  const b = new Resampler(8000, 24000);
  const dst = new Int16Array(480);
  for (let i = 0; i < 10; i++) {
    const frame = x.subarray(160 * i, 160 * (i + 1));
    assert.equal(b.processInto(frame, dst), 480);
    assert.deepEqual(dst, a.process(frame));
  }
  // A Buffer destination at an odd address, receiving PCM16LE.
  const pool = Buffer.alloc(961);
  const c = new Resampler(8000, 24000);
  const d = new Resampler(8000, 24000);
  assert.equal(c.processInto(x.subarray(0, 160), pool.subarray(1)), 480);
  const got = new Int16Array(Uint8Array.from(pool.subarray(1)).buffer);
  assert.deepEqual(got, d.process(x.subarray(0, 160)));
});

test('fused mu-law paths equal decode + resample and resample + encode', () => {
  const x = noise(800, 2);
  const codes = mulaw.encode(x);
  const a = new Resampler(8000, 24000);
  const b = new Resampler(8000, 24000);
  assert.deepEqual(a.processFromUlaw(codes), b.process(mulaw.decode(codes)));
  const y = noise(2400, 3);
  const c = new Resampler(24000, 8000);
  const d = new Resampler(24000, 8000);
  assert.deepEqual(c.processToUlaw(y), mulaw.encode(d.process(y)));
});

test('Float32Array in gives Float32Array out, close to the int16 path', () => {
  const x = noise(480, 4);
  const f = Float32Array.from(x, (v) => v / 32768);
  const a = new Resampler(8000, 24000);
  const b = new Resampler(8000, 24000);
  const yf = a.process(f);
  const yi = b.process(x);
  assert.ok(yf instanceof Float32Array);
  assert.equal(yf.length, yi.length);
  for (let i = 0; i < yi.length; i++) assert.ok(Math.abs(yf[i] * 32768 - yi[i]) <= 1.5, `sample ${i}`);
  assert.ok(a.flushF32() instanceof Float32Array);
});

test('quality: a 1 kHz tone passes at level and its 8->24 kHz images are below -80 dB', () => {
  const r = new Resampler(8000, 24000);
  const x = tone(8000, 1000, 8000);
  const parts = [];
  for (let i = 0; i < 50; i++) parts.push(r.process(x.subarray(160 * i, 160 * (i + 1))));
  const y = concat(parts, Int16Array).subarray(2400);
  const main = level(y, 1000, 24000);
  assert.ok(Math.abs(main - 8000) < 80, `1 kHz at ${main}`);
  for (const image of [7000, 9000, 15000]) {
    const db = 20 * Math.log10(level(y, image, 24000) / main);
    assert.ok(db < -80, `image at ${image} Hz: ${db.toFixed(1)} dB`);
  }
});

test('properties and reset', () => {
  const r = new Resampler(8000, 24000, { quality: 'telephony' });
  assert.equal(r.inRate, 8000);
  assert.equal(r.outRate, 24000);
  assert.equal(r.quality, 'telephony');
  assert.ok(r.latencyMs > 0 && r.latencyMs < 5, `${r.latencyMs}`);
  const x = noise(160, 5);
  const first = r.process(x);
  r.process(noise(160, 6));
  r.reset();
  assert.deepEqual(r.process(x), first);
});

test('errors say what was wrong', () => {
  const cases = [
    [() => new Resampler(8000, 11025), 'ERR_TELEDSP_UNSUPPORTED_RATE', /8000 -> 11025 Hz; supported: 8000, 16000, 24000 and 48000/],
    [() => new Resampler(-8000, 8000), 'ERR_TELEDSP_UNSUPPORTED_RATE', /inRate must be a whole number/],
    [() => new Resampler(8000, 24000, { quality: 'best' }), 'ERR_TELEDSP_CONFIG', /best/],
    [() => new Resampler(8000, 24000).process(Buffer.alloc(5)), 'ERR_TELEDSP_INVALID_LENGTH', /5 bytes/],
    [() => new Resampler(8000, 24000).processInto(new Int16Array(160), new Int16Array(100)), 'ERR_TELEDSP_INVALID_LENGTH', /holds 100 samples, this call writes 480/],
    [() => new Resampler(8000, 24000).processInto(new Int16Array(160), new Float32Array(480)), 'ERR_INVALID_ARG_TYPE', /both must be/],
    [() => new Resampler(8000, 24000).processFromUlaw(new Int16Array(4)), 'ERR_INVALID_ARG_TYPE', /G.711/],
  ];
  for (const [f, code, message] of cases) {
    assert.throws(f, (e) => e instanceof Error && e.code === code && message.test(e.message), String(f));
  }
});
