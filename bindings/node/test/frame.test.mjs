// The framer through the binding: exact frames whatever the chunking.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Framer } from 'teledsp';
import { chunks } from './helpers.mjs';

test('frames are the stream cut at multiples of frameBytes, whatever the chunking (property)', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 400 }),
      fc.uint8Array({ maxLength: 3000 }),
      fc.array(fc.nat(), { maxLength: 20 }),
      fc.option(fc.integer({ min: 0, max: 255 }), { nil: undefined }),
      (frameBytes, data, rawCuts, pad) => {
        const cuts = [...new Set(rawCuts.map((c) => c % (data.length + 1)))].sort((a, b) => a - b);
        const f = new Framer({ frameBytes, pad });
        const frames = [];
        for (const c of chunks(data, cuts)) {
          for (const fr of f.push(c)) {
            assert.ok(Buffer.isBuffer(fr));
            assert.equal(fr.length, frameBytes);
            frames.push(fr);
          }
        }
        const whole = Math.floor(data.length / frameBytes);
        assert.equal(frames.length, whole);
        assert.equal(f.framesEmitted, whole);
        assert.equal(f.pending, data.length - whole * frameBytes);
        assert.deepEqual(Buffer.concat(frames), Buffer.from(data.subarray(0, whole * frameBytes)));
        const tail = f.flush();
        const rest = data.subarray(whole * frameBytes);
        if (rest.length === 0) assert.equal(tail, null);
        else if (pad === undefined) assert.deepEqual(tail, Buffer.from(rest));
        else {
          assert.equal(tail.length, frameBytes);
          assert.deepEqual(tail.subarray(0, rest.length), Buffer.from(rest));
          assert.ok(tail.subarray(rest.length).every((b) => b === pad));
        }
        assert.equal(f.pending, 0);
      },
    ),
    { numRuns: 300 },
  );
});

test('frames are copies: reusing the input buffer does not change them', () => {
  const f = new Framer({ frameBytes: 4 });
  const input = Buffer.from([1, 2, 3, 4, 5, 6]);
  const [frame] = f.push(input);
  input.fill(9);
  assert.deepEqual(frame, Buffer.from([1, 2, 3, 4]));
  assert.deepEqual(f.flush(), Buffer.from([5, 6]));
});

test('reset drops what is pending', () => {
  const f = new Framer({ frameBytes: 160, pad: 0xff });
  f.push(Buffer.alloc(100));
  f.reset();
  assert.equal(f.pending, 0);
  assert.equal(f.flush(), null);
});

test('errors say what was wrong', () => {
  const cases = [
    [() => new Framer({ frameBytes: 0 }), 'ERR_TELEDSP_INVALID_LENGTH', /frame size 0 bytes is not a positive multiple/],
    [() => new Framer({ frameBytes: -5 }), 'ERR_TELEDSP_INVALID_LENGTH', /frameBytes must be a whole number/],
    [() => new Framer({ frameBytes: 160, pad: 256 }), 'ERR_TELEDSP_CONFIG', /pad must be a whole number in 0..=255, got 256/],
    [() => new Framer({ frameBytes: 160 }).push('text'), 'ERR_INVALID_ARG_TYPE', /got string/],
  ];
  for (const [f, code, message] of cases) {
    assert.throws(f, (e) => e instanceof Error && e.code === code && message.test(e.message), String(f));
  }
});
