// The cross-language conformance scenarios (tests/scenarios at the
// repository root) against Call, or Pipeline where a scenario's kind is
// "pipeline": the same outputs, step by step, and the
// same digest as the Rust and Python suites. The format is in tests/README.md.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { Call, Pipeline } from 'teledsp';

const DIR = new URL('../../../tests/scenarios/', import.meta.url);
const SCENARIOS = readdirSync(DIR).filter((f) => f.endsWith('.json')).sort();

// The bytes a {gen, ms, seed} object describes.
function generate(v) {
  const seed = v.seed ?? 0;
  if (v.gen === 'pcm24k' || v.gen === 'pcm16') {
    const n = (v.ms * (v.gen === 'pcm24k' ? 24000 : v.rate)) / 1000;
    const raw = Buffer.alloc(2 * n);
    const shift = v.shift ?? 0; // 6 dB quieter per step, for echoes
    for (let i = 0; i < n; i++) raw.writeInt16LE(seed === 0 ? 0 : (((seed * 7919 + i * 37) % 4001) - 2000) >> shift, 2 * i);
    return raw;
  }
  if (v.gen === 'ulaw' || v.gen === 'alaw') {
    const raw = Buffer.alloc(v.ms * 8);
    for (let i = 0; i < raw.length; i++) raw[i] = seed === 0 ? (v.gen === 'ulaw' ? 0xff : 0xd5) : (seed * 31 + i * 7) % 256;
    return raw;
  }
  throw new Error(`unknown gen ${v.gen}`);
}

// Replaces gen objects with the base64 audio they describe.
function expand(v) {
  if (Array.isArray(v)) return v.map(expand);
  if (v === null || typeof v !== 'object') return v;
  if ('gen' in v) return generate(v).toString('base64');
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, expand(x)]));
}

// The compact form of tests/README.md; updates the running CRC-32.
function summarize(outputs, digest) {
  const got = [];
  for (const [target, payload] of outputs) {
    if (target === 'event') {
      got.push({ event: payload });
      continue;
    }
    if (target === 'caller_audio') {
      // The recogniser's audio (Pipeline).
      digest.crc = crc32(Buffer.concat([payload, Buffer.from('\n')]), digest.crc);
      got.push({ caller_audio: payload.length });
      continue;
    }
    const binary = Buffer.isBuffer(payload); // binary audio (Vonage)
    digest.crc = crc32(binary ? Buffer.concat([payload, Buffer.from('\n')]) : payload + '\n', digest.crc);
    const msg = binary ? null : JSON.parse(payload);
    if (target === 'media') {
      const frame = binary ? payload : Buffer.from(msg.media.payload, 'base64');
      // Silence in any phone codec: mu-law, A-law, PCM.
      const silent =
        frame.every((b) => b === 0xff || b === 0x7f) || frame.every((b) => b === 0xd5 || b === 0x55) || frame.every((b) => b === 0);
      const last = got.at(-1);
      if (last && last.phone === 'media' && last.silent === silent) last.frames += 1;
      else got.push({ phone: 'media', frames: 1, silent });
    } else if (target === 'mark') got.push({ phone: 'mark', name: msg.mark?.name ?? msg.name ?? msg.payload?.name });
    else if (target === 'clear') got.push({ phone: 'clear' });
    else if (msg.type === 'input_audio_buffer.append') {
      got.push({ model: 'input_audio_buffer.append', audio_bytes: Buffer.from(msg.audio, 'base64').length });
    } else if (typeof msg.realtimeInput?.audio === 'object') {
      got.push({ model: 'realtimeInput.audio', audio_bytes: Buffer.from(msg.realtimeInput.audio.data, 'base64').length });
    } else if (typeof msg.user_audio_chunk === 'string') {
      got.push({ model: 'user_audio_chunk', audio_bytes: Buffer.from(msg.user_audio_chunk, 'base64').length });
    } else got.push({ model: msg });
  }
  return got;
}

function runStep(call, step) {
  const at = step.at;
  if ('phone' in step) return call.receivePhone(JSON.stringify(expand(step.phone)), at);
  if ('model' in step) return call.receiveModel(JSON.stringify(expand(step.model)), at);
  if ('phone_binary' in step) return call.receivePhoneBinary(generate(step.phone_binary), at);
  if ('phone_text' in step) return call.receivePhone(step.phone_text, at);
  if ('model_text' in step) return call.receiveModel(step.model_text, at);
  if ('push_audio' in step) return call.pushAudio(step.push_audio.id, generate(step.push_audio.audio), at);
  if ('begin_utterance' in step) {
    call.beginUtterance(step.begin_utterance, at);
    return [];
  }
  if ('end_utterance' in step) return call.endUtterance(step.end_utterance, at);
  if ('open_model' in step) return call.openModel(at);
  if ('barge_in' in step) return call.bargeIn(at);
  if ('tool_result' in step) return call.toolResult(step.tool_result.call_id, step.tool_result.output, at);
  throw new Error(`step without input: ${JSON.stringify(step)}`);
}

// Scenario configs use the engine's snake_case names; JS takes camelCase.
const camel = (cfg) => Object.fromEntries(Object.entries(cfg).map(([k, v]) => [k.replace(/_(.)/g, (_, c) => c.toUpperCase()), v]));

test('the scenarios are there', () => assert.ok(SCENARIOS.length >= 11));

for (const file of SCENARIOS) {
  test(`scenario ${file}`, () => {
    const sc = JSON.parse(readFileSync(new URL(file, DIR), 'utf8'));
    const Engine = { call: Call, pipeline: Pipeline }[sc.kind ?? 'call'];
    const call = new Engine(camel(sc.config));
    const digest = { crc: 0 };
    sc.steps.forEach((step, i) => {
      let got;
      try {
        got = summarize(runStep(call, step), digest);
      } catch (e) {
        if (!String(e.code).startsWith('ERR_TELEDSP_')) throw e;
        got = [{ error: e.message }];
      }
      assert.deepStrictEqual(got, step.expect, `step ${i} (at ${step.at})`);
    });
    assert.deepStrictEqual(call.counters, sc.counters);
    assert.equal(digest.crc.toString(16).padStart(8, '0'), sc.digest);
  });
}
