// The VAD through the binding: probabilities, events on real speech, errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Vad, mulaw } from 'teledsp';
import { rng } from './helpers.mjs';

/** Debian's recorded prompts (scripts/test.sh installs them and sets the variable). */
function prompts(t) {
  const dir = process.env.TELEDSP_SPEECH_DIR;
  if (!dir) {
    t.skip('LOUD SKIP: TELEDSP_SPEECH_DIR unset (scripts/test.sh sets it from Debian\'s recorded prompts)');
    return null;
  }
  const found = [];
  const walk = (d) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.wav')) found.push(p);
    }
  };
  walk(dir);
  assert.ok(found.length > 0, `no .wav under ${dir}`);
  return found.slice(0, 40);
}

/** The PCM16 samples of an 8 kHz mono 16-bit WAV file. */
function readWav(path) {
  const b = readFileSync(path);
  assert.equal(b.toString('latin1', 0, 4), 'RIFF');
  let o = 12;
  let fmt = null;
  while (o + 8 <= b.length) {
    const id = b.toString('latin1', o, o + 4);
    const len = b.readUInt32LE(o + 4);
    if (id === 'fmt ') fmt = { channels: b.readUInt16LE(o + 10), rate: b.readUInt32LE(o + 12), bits: b.readUInt16LE(o + 22) };
    if (id === 'data') {
      assert.deepEqual(fmt, { channels: 1, rate: 8000, bits: 16 }, path);
      return new Int16Array(Uint8Array.from(b.subarray(o + 8, o + 8 + len - (len % 2))).buffer);
    }
    o += 8 + len + (len % 2);
  }
  throw new Error(`no data chunk in ${path}`);
}

test('silence is not speech', () => {
  const vad = new Vad();
  let p = 0;
  for (let i = 0; i < 50; i++) {
    p = vad.process(new Int16Array(160));
    assert.ok(p >= 0 && p < 0.5, `${p}`);
    assert.equal(vad.event, null);
  }
  assert.equal(vad.isSpeaking, false);
  assert.equal(vad.probability, p);
});

test('real speech gives alternating start/end events at increasing times', (t) => {
  const files = prompts(t);
  if (!files) return;
  const vad = new Vad({ sampleRate: 8000, frameMs: 20 });
  const gap = new Int16Array(160 * 40); // 800 ms of silence between prompts
  const events = [];
  for (const path of files) {
    for (const audio of [gap, readWav(path), gap]) {
      for (let i = 0; i + 160 <= audio.length; i += 160) {
        vad.process(audio.subarray(i, i + 160));
        if (vad.event) events.push(vad.event);
      }
    }
  }
  const kinds = events.map((e) => e.kind);
  assert.ok(kinds.filter((k) => k === 'speech_start').length >= files.length * 0.8, `${kinds.length} events for ${files.length} prompts`);
  kinds.forEach((k, i) => assert.equal(k, i % 2 === 0 ? 'speech_start' : 'speech_end'));
  for (let i = 1; i < events.length; i++) assert.ok(events[i - 1].atMs <= events[i].atMs);
});

test('mu-law frames score as their decoded PCM', () => {
  const r = rng(3);
  const a = new Vad();
  const b = new Vad();
  for (let f = 0; f < 30; f++) {
    const x = Int16Array.from({ length: 160 }, () => Math.round((r() - 0.5) * 9000));
    const codes = mulaw.encode(x);
    assert.equal(a.processMulaw(codes), b.process(mulaw.decode(codes)));
  }
});

test('options and properties', () => {
  const v = new Vad({ sampleRate: 16000, frameMs: 10 });
  assert.equal(v.sampleRate, 16000);
  assert.equal(v.frameMs, 10);
  assert.equal(v.frameLen, 160);
  assert.equal(v.frameBytes, 320);
  // A Buffer of PCM16LE is a frame too.
  assert.ok(v.process(Buffer.alloc(320)) < 0.5);
  v.reset();
  assert.equal(v.isSpeaking, false);
});

test('errors say what was wrong', () => {
  const cases = [
    [() => new Vad({ sampleRate: 44100 }), 'ERR_TELEDSP_UNSUPPORTED_RATE', /44100/],
    [() => new Vad({ frameMs: 25 }), 'ERR_TELEDSP_CONFIG', /25/],
    [() => new Vad().process(new Int16Array(100)), 'ERR_TELEDSP_INVALID_LENGTH', /100/],
    [() => new Vad().process(Buffer.alloc(321)), 'ERR_TELEDSP_INVALID_LENGTH', /321 bytes/],
    [() => new Vad().processMulaw(new Int16Array(160)), 'ERR_INVALID_ARG_TYPE', /G.711/],
  ];
  for (const [f, code, message] of cases) {
    assert.throws(f, (e) => e instanceof Error && e.code === code && message.test(e.message), String(f));
  }
});
