// Shared by the test files: the ITU vectors, realistic Twilio/OpenAI
// messages (shapes from the public docs and the seeds), small utilities.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join, dirname } from 'node:path';

const HERE = dirname(fileURLToPath(import.meta.url));
export const REPO = join(HERE, '..', '..', '..');
const ITU = join(REPO, 'dsp', 'tests', 'data', 'itu-g711');

/** One ITU-T G.191 file's bytes. */
export function itu(name) {
  return readFileSync(join(ITU, name));
}

/** STL code files hold one code per 16-bit word, in the low byte. */
export function lowBytes(words) {
  const out = new Uint8Array(words.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = words[2 * i];
  return out;
}

/** A copy of `bytes` as an Int16Array (PCM16LE). */
export function pcm(bytes) {
  const copy = Uint8Array.from(bytes);
  return new Int16Array(copy.buffer, 0, copy.length / 2);
}

/** CRC-32 (IEEE), for checking the vectors are the published ones. */
export function crc32(bytes) {
  let c = ~0;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

/** Deterministic PRNG (mulberry32): the same "noise" on every run. */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `n` samples of a `freq` Hz sine at `rate` Hz, amplitude `amp`. */
export function tone(n, freq, rate, amp = 8000) {
  return Int16Array.from({ length: n }, (_, i) => Math.round(amp * Math.sin((2 * Math.PI * freq * i) / rate)));
}

/** Amplitude of `freq` in `x` (one DFT bin, Hann window). */
export function level(x, freq, rate) {
  let re = 0;
  let im = 0;
  let w = 0;
  for (let i = 0; i < x.length; i++) {
    const h = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / (x.length - 1));
    re += h * x[i] * Math.cos((2 * Math.PI * freq * i) / rate);
    im += h * x[i] * Math.sin((2 * Math.PI * freq * i) / rate);
    w += h;
  }
  return (2 * Math.hypot(re, im)) / w;
}

export function concat(parts, Type) {
  const n = parts.reduce((s, p) => s + p.length, 0);
  const out = new Type(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Splits `x` at the sorted cut points. */
export function chunks(x, cuts) {
  const out = [];
  let prev = 0;
  for (const c of [...cuts, x.length]) {
    out.push(x.subarray(prev, c));
    prev = c;
  }
  return out;
}

export const SID = 'MZ18ad3ab5a668481ce02b83e7395059f0';
export const CALL = 'CA4a1f3c1c7a8b9d0e1f2a3b4c5d6e7f80';

export const twilio = {
  connected: () => JSON.stringify({ event: 'connected', protocol: 'Call', version: '1.0.0' }),
  start: (params = {}) =>
    JSON.stringify({
      event: 'start',
      sequenceNumber: '1',
      start: {
        accountSid: 'AC0123456789abcdef0123456789abcdef',
        streamSid: SID,
        callSid: CALL,
        tracks: ['inbound'],
        mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
        customParameters: params,
      },
      streamSid: SID,
    }),
  media: (payload, seq) =>
    JSON.stringify({
      event: 'media',
      sequenceNumber: String(seq + 2),
      media: { track: 'inbound', chunk: String(seq + 1), timestamp: String(20 * seq), payload: Buffer.from(payload).toString('base64') },
      streamSid: SID,
    }),
  mark: (name, seq = 99) => JSON.stringify({ event: 'mark', sequenceNumber: String(seq), streamSid: SID, mark: { name } }),
  dtmf: (digit = '1') =>
    JSON.stringify({ event: 'dtmf', streamSid: SID, sequenceNumber: '7', dtmf: { track: 'inbound_track', digit } }),
  stop: () =>
    JSON.stringify({
      event: 'stop',
      sequenceNumber: '100',
      stop: { accountSid: 'AC0123456789abcdef0123456789abcdef', callSid: CALL },
      streamSid: SID,
    }),
};

export const openai = {
  audioDelta: (bytes, ga = true, n = 0) =>
    JSON.stringify({
      type: ga ? 'response.output_audio.delta' : 'response.audio.delta',
      event_id: `event_${n}`,
      response_id: 'resp_001',
      item_id: 'item_001',
      output_index: 0,
      content_index: 0,
      delta: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64'),
    }),
  speechStarted: (ms = 1200) =>
    JSON.stringify({ type: 'input_audio_buffer.speech_started', event_id: 'event_9', audio_start_ms: ms, item_id: 'item_002' }),
  sessionCreated: () => JSON.stringify({ type: 'session.created', event_id: 'event_0', session: { type: 'realtime', id: 'sess_1' } }),
  responseDone: () =>
    JSON.stringify({ type: 'response.done', event_id: 'event_8', response: { id: 'resp_001', status: 'completed' } }),
};
