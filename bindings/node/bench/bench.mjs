// teledsp's Node binding against what NestJS gateways use today, side by
// side in one process: per 20 ms frame, in bulk, and per Twilio/OpenAI message.
//
//   node bench/bench.mjs            markdown tables on stdout
//   node bench/bench.mjs --quick    fewer repeats (a CI smoke run, not figures)
//
// Each figure is the best of REPEATS calibrated loops (the least disturbed by
// a shared, noisy machine); ratios compare rows measured in the same run.
import os from 'node:os';
import alawmulaw from 'alawmulaw';
import waveResampler from 'wave-resampler';
import { mulaw, Resampler, TwilioBridge, Call, isa } from 'teledsp';

const QUICK = process.argv.includes('--quick');
const REPEATS = QUICK ? 3 : 7;
const TARGET_NS = QUICK ? 2e6 : 4e7; // per repeat

let sink = 0; // results feed this so no loop is dead code

/** Seconds per call of `f`. */
function time(f) {
  let n = 1;
  for (;;) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) f();
    const dt = Number(process.hrtime.bigint() - t0);
    if (dt > TARGET_NS / 10 || n > 1e8) {
      n = Math.max(1, Math.ceil((n * TARGET_NS) / Math.max(dt, 1)));
      break;
    }
    n *= 4;
  }
  let best = Infinity;
  for (let r = 0; r < REPEATS; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) f();
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / n);
  }
  return best / 1e9;
}

// ---- The hand-written converter of the seeds' kind (seed 001's
// audio-converter.util.ts): per-sample mu-law loops, linear interpolation
// with no anti-alias filter and no state across chunks.
const BIAS = 0x84;
const CLIP = 32635;
const EXP_LUT = new Uint8Array(256).map((_, i) => (i === 0 ? 0 : Math.min(7, Math.floor(Math.log2(i)) + 1)));
function handEncode(pcm) {
  const out = new Uint8Array(pcm.length);
  for (let i = 0; i < pcm.length; i++) {
    let s = pcm[i];
    const sign = (s >> 8) & 0x80;
    if (sign) s = -s;
    if (s > CLIP) s = CLIP;
    s += BIAS;
    const exponent = EXP_LUT[(s >> 7) & 0xff];
    const mantissa = (s >> (exponent + 3)) & 0x0f;
    out[i] = ~(sign | (exponent << 4) | mantissa) & 0xff;
  }
  return out;
}
function handDecode(codes) {
  const out = new Int16Array(codes.length);
  for (let i = 0; i < codes.length; i++) {
    const u = ~codes[i] & 0xff;
    const exponent = (u >> 4) & 7;
    const s = (((u & 0x0f) << 3) + BIAS) << exponent;
    out[i] = u & 0x80 ? BIAS - s : s - BIAS;
  }
  return out;
}
function linearResample(input, inRate, outRate) {
  const ratio = inRate / outRate;
  const out = new Int16Array(Math.floor(input.length / ratio));
  for (let i = 0; i < out.length; i++) {
    const pos = i * ratio;
    const j = Math.floor(pos);
    const frac = pos - j;
    const a = input[j];
    const b = j + 1 < input.length ? input[j + 1] : a;
    out[i] = Math.round(a + (b - a) * frac);
  }
  return out;
}

// ---- Signals
function noise(n, seed) {
  let a = seed >>> 0;
  return Int16Array.from({ length: n }, () => {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    return Math.round(((a / 4294967296) * 2 - 1) * 4000);
  });
}
const pcm8 = noise(160, 1); // 20 ms at 8 kHz
const pcm24 = noise(480, 2); // 20 ms at 24 kHz
const ulaw8 = mulaw.encode(pcm8);
const bulk = noise(8000 * 60, 3); // 60 s at 8 kHz
const bulkU = mulaw.encode(bulk);
const bulk24 = noise(24000 * 60, 4);

// ---- Tables
const rows = [];
const targets = [];
function row(table, what, ours, peers, target) {
  rows.push({ table, what, ours, peers });
  if (target) targets.push({ what: `${what} vs ${peers[0][0]}`, ratio: peers[0][1] / ours, target });
}
const fmt = (s) => (s < 1e-5 ? `${(s * 1e9).toLocaleString('en-US', { maximumFractionDigits: 0 })} ns` : `${(s * 1e6).toLocaleString('en-US', { maximumFractionDigits: 1 })} us`);

// G.711
{
  const dst = new Uint8Array(160);
  const dstPcm = new Int16Array(160);
  const T = 'G.711 (mu-law)';
  const encInto = time(() => (sink += mulaw.encodeInto(pcm8, dst)));
  row(T, 'encode, 20 ms frame, encodeInto', encInto, [
    ['alawmulaw.mulaw.encode', time(() => (sink += alawmulaw.mulaw.encode(pcm8)[7]))],
    ['hand-written loop', time(() => (sink += handEncode(pcm8)[7]))],
    ['teledsp mulaw.encode (new array)', time(() => (sink += mulaw.encode(pcm8)[7]))],
  ], 10);
  row(T, 'decode, 20 ms frame, decodeInto', time(() => (sink += mulaw.decodeInto(ulaw8, dstPcm))), [
    ['alawmulaw.mulaw.decode', time(() => (sink += alawmulaw.mulaw.decode(ulaw8)[7]))],
    ['hand-written loop', time(() => (sink += handDecode(ulaw8)[7]))],
    ['teledsp mulaw.decode (new array)', time(() => (sink += mulaw.decode(ulaw8)[7]))],
  ], 10);
  const bulkDst = new Uint8Array(bulk.length);
  const bulkPcm = new Int16Array(bulkU.length);
  row(T, 'encode, 60 s bulk, encodeInto', time(() => (sink += mulaw.encodeInto(bulk, bulkDst))), [
    ['alawmulaw.mulaw.encode', time(() => (sink += alawmulaw.mulaw.encode(bulk)[7]))],
    ['hand-written loop', time(() => (sink += handEncode(bulk)[7]))],
  ]);
  row(T, 'decode, 60 s bulk, decodeInto', time(() => (sink += mulaw.decodeInto(bulkU, bulkPcm))), [
    ['alawmulaw.mulaw.decode', time(() => (sink += alawmulaw.mulaw.decode(bulkU)[7]))],
    ['hand-written loop', time(() => (sink += handDecode(bulkU)[7]))],
  ]);
}

// Resampling
{
  const T = 'Resampling';
  const up = new Resampler(8000, 24000);
  const down = new Resampler(24000, 8000);
  const out24 = new Int16Array(480);
  const out8 = new Int16Array(160);
  row(T, '8k -> 24k, 20 ms chunk, processInto', time(() => (sink += up.processInto(pcm8, out24))), [
    ['hand-written linear interpolation', time(() => (sink += linearResample(pcm8, 8000, 24000)[7]))],
    ['teledsp process (new array)', time(() => (sink += up.process(pcm8)[7]))],
  ], 1);
  row(T, '24k -> 8k, 20 ms chunk, processInto', time(() => (sink += down.processInto(pcm24, out8))), [
    ['hand-written linear interpolation', time(() => (sink += linearResample(pcm24, 24000, 8000)[7]))],
    ['wave-resampler sinc, per chunk', time(() => (sink += waveResampler.resample(pcm24, 24000, 8000)[7]))],
    ['teledsp process (new array)', time(() => (sink += down.process(pcm24)[7]))],
  ], 1);
  const bulkDown = new Resampler(24000, 8000);
  const bulkOut = new Int16Array(bulkDown.outputLen(bulk24.length));
  const once = (f) => {
    // Whole-buffer peers are slow: time a few calls, not a calibrated loop.
    let best = Infinity;
    for (let r = 0; r < (QUICK ? 1 : 3); r++) {
      const t0 = process.hrtime.bigint();
      f();
      best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9);
    }
    return best;
  };
  const bulkTime = once(() => {
    bulkDown.reset();
    sink += bulkDown.processInto(bulk24, bulkOut);
  });
  const bulk24s = QUICK ? bulk24.subarray(0, 24000) : bulk24; // wave-resampler takes seconds per minute of audio
  const scale = bulk24.length / bulk24s.length;
  row(T, '24k -> 8k, 60 s whole buffer', bulkTime, [
    ['wave-resampler sinc (whole buffer)', scale * once(() => (sink += waveResampler.resample(bulk24s, 24000, 8000)[7]))],
    ['hand-written linear interpolation', once(() => (sink += linearResample(bulk24, 24000, 8000)[7]))],
  ]);
}

// Bridge
{
  const T = 'Bridge, per message';
  const sid = 'MZ18ad3ab5a668481ce02b83e7395059f0';
  const frames = Array.from({ length: 50 }, (_, i) => mulaw.encode(noise(160, 10 + i)));
  const media = frames.map((f, i) =>
    JSON.stringify({ event: 'media', sequenceNumber: String(i + 2), media: { track: 'inbound', chunk: String(i + 1), timestamp: String(20 * i), payload: Buffer.from(f).toString('base64') }, streamSid: sid }),
  );
  const deltaPcm = noise(2400, 99); // 100 ms at 24 kHz
  const delta = JSON.stringify({ type: 'response.output_audio.delta', event_id: 'e1', response_id: 'r1', item_id: 'i1', output_index: 0, content_index: 0, delta: Buffer.from(deltaPcm.buffer).toString('base64') });
  const start = JSON.stringify({ event: 'start', start: { streamSid: sid, callSid: 'CA1', customParameters: {} }, streamSid: sid });

  // Messages as `ws` delivers them to a gateway (a Buffer per text frame),
  // and as strings (socket.io, or after toString()). Both sides get the same input.
  const mediaBuf = media.map((m) => Buffer.from(m));
  const deltaBuf = Buffer.from(delta);
  const jsIn = (m) => {
    const msg = JSON.parse(m);
    const codes = Buffer.from(msg.media.payload, 'base64');
    const pcm = alawmulaw.mulaw.decode(codes);
    const up = linearResample(pcm, 8000, 24000);
    return JSON.stringify({ type: 'input_audio_buffer.append', audio: Buffer.from(up.buffer).toString('base64') });
  };
  let pending = new Uint8Array(0);
  let marks = 0;
  const jsOut = (m) => {
    const msg = JSON.parse(m);
    const bytes = Buffer.from(msg.delta, 'base64');
    const pcm = new Int16Array(bytes.buffer, bytes.byteOffset, bytes.length / 2);
    const codes = alawmulaw.mulaw.encode(linearResample(pcm, 24000, 8000));
    const all = new Uint8Array(pending.length + codes.length);
    all.set(pending);
    all.set(codes, pending.length);
    const out = [];
    let o = 0;
    for (; o + 160 <= all.length; o += 160) {
      out.push(JSON.stringify({ event: 'media', streamSid: sid, media: { payload: Buffer.from(all.subarray(o, o + 160)).toString('base64') } }));
    }
    pending = all.slice(o);
    out.push(JSON.stringify({ event: 'mark', streamSid: sid, mark: { name: `m-${++marks}` } }));
    return out;
  };
  for (const [kind, ins, outMsg, target] of [['Buffer', mediaBuf, deltaBuf, 3], ['string', media, delta, undefined]]) {
    const bridge = new TwilioBridge();
    bridge.twilioToOpenai(start);
    let k = 0;
    let j = 0;
    row(T, `Twilio -> OpenAI (20 ms media), ${kind}`, time(() => (sink += bridge.twilioToOpenai(ins[k++ % 50]).length)), [
      ['JS pipeline', time(() => (sink += jsIn(ins[j++ % 50]).length))],
    ], target);
    const b2 = new TwilioBridge();
    b2.twilioToOpenai(start);
    row(T, `OpenAI -> Twilio (100 ms delta), ${kind}`, time(() => (sink += b2.openaiToTwilio(outMsg).length)), [
      ['JS pipeline', time(() => (sink += jsOut(outMsg).length))],
    ], target);
  }
  // The call engine: the same conversions plus the bookkeeping (playout
  // timeline, marks, items); each call returns [target, text] pairs.
  const call = new Call();
  call.receivePhone(start);
  call.openModel();
  let c = 0;
  row(T, 'Twilio -> OpenAI (20 ms media), Buffer, Call.receivePhone', time(() => (sink += call.receivePhone(mediaBuf[c++ % 50]).length)), [
    ['JS pipeline', time(() => (sink += jsIn(mediaBuf[c++ % 50]).length))],
  ]);
  row(T, 'OpenAI -> Twilio (100 ms delta), Buffer, Call.receiveModel', time(() => (sink += call.receiveModel(deltaBuf).length)), [
    ['JS pipeline', time(() => (sink += jsOut(deltaBuf).length))],
  ]);
}

// Quality beside speed: what each 8k -> 24k path leaves of a 1 kHz tone's
// first image (7 kHz), 20 ms chunks as a gateway feeds them.
function imageDb(process) {
  const x = Int16Array.from({ length: 8000 }, (_, i) => Math.round(8000 * Math.sin((2 * Math.PI * 1000 * i) / 8000)));
  const parts = [];
  for (let i = 0; i < 50; i++) parts.push(process(x.subarray(160 * i, 160 * (i + 1))));
  const y = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((o, p) => (y.set(p, o), o + p.length), 0);
  const bin = (f) => {
    let re = 0;
    let im = 0;
    const z = y.subarray(2400);
    for (let i = 0; i < z.length; i++) {
      const w = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / (z.length - 1));
      re += w * z[i] * Math.cos((2 * Math.PI * f * i) / 24000);
      im += w * z[i] * Math.sin((2 * Math.PI * f * i) / 24000);
    }
    return Math.hypot(re, im);
  };
  return 20 * Math.log10(bin(7000) / bin(1000));
}
const qualityUp = new Resampler(8000, 24000);
const quality = {
  teledsp: imageDb((c) => qualityUp.process(c)),
  linear: imageDb((c) => linearResample(c, 8000, 24000)),
};

// ---- Print
const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
console.log(`Machine: ${cpu}, ${os.cpus().length} CPUs; Node ${process.version}; teledsp (${isa()}); alawmulaw, wave-resampler from package-lock.json`);
let current = null;
for (const r of rows) {
  if (r.table !== current) {
    current = r.table;
    console.log(`\n### ${current}\n\n| operation | teledsp | peer | peer time | teledsp speed-up |\n|---|---|---|---|---|`);
  }
  r.peers.forEach(([name, t], i) => {
    console.log(`| ${i === 0 ? r.what : ''} | ${i === 0 ? fmt(r.ours) : ''} | ${name} | ${fmt(t)} | ${(t / r.ours).toFixed(1)}x |`);
  });
}
console.log(`\n8k -> 24k image of a 1 kHz tone (at 7 kHz), 20 ms chunks: teledsp ${quality.teledsp.toFixed(1)} dB, hand-written linear interpolation ${quality.linear.toFixed(1)} dB.`);
console.log('\n### Targets\n');
for (const t of targets) console.log(`- ${t.what}: ${t.ratio.toFixed(1)}x (target ${t.target}x) ${t.ratio >= t.target ? 'met' : 'MISSED'}`);
if (sink === 0.5) console.log(''); // keeps `sink` observable
