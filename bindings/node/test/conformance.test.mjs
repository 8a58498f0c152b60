// The cross-language conformance scenarios (tests/scenarios at the
// repository root) against Call: the same outputs, step by step, and the
// same digest as the Rust and Python suites. The format is in tests/README.md.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { Call } from 'teledsp';

const DIR = new URL('../../../tests/scenarios/', import.meta.url);
const SCENARIOS = readdirSync(DIR).filter((f) => f.endsWith('.json')).sort();

// Replaces {gen, ms, seed} objects with the base64 audio they describe.
function expand(v) {
  if (Array.isArray(v)) return v.map(expand);
  if (v === null || typeof v !== 'object') return v;
  if ('gen' in v) {
    const seed = v.seed ?? 0;
    let raw;
    if (v.gen === 'pcm24k') {
      raw = Buffer.alloc(v.ms * 48);
      for (let i = 0; i < v.ms * 24; i++) raw.writeInt16LE(seed === 0 ? 0 : ((seed * 7919 + i * 37) % 4001) - 2000, 2 * i);
    } else if (v.gen === 'ulaw') {
      raw = Buffer.alloc(v.ms * 8);
      for (let i = 0; i < raw.length; i++) raw[i] = seed === 0 ? 0xff : (seed * 31 + i * 7) % 256;
    } else throw new Error(`unknown gen ${v.gen}`);
    return raw.toString('base64');
  }
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
    digest.crc = crc32(payload + '\n', digest.crc);
    const msg = JSON.parse(payload);
    if (target === 'media') {
      const frame = Buffer.from(msg.media.payload, 'base64');
      const silent = frame.every((b) => b === 0xff || b === 0x7f);
      const last = got.at(-1);
      if (last && last.phone === 'media' && last.silent === silent) last.frames += 1;
      else got.push({ phone: 'media', frames: 1, silent });
    } else if (target === 'mark') got.push({ phone: 'mark', name: msg.mark.name });
    else if (target === 'clear') got.push({ phone: 'clear' });
    else if (msg.type === 'input_audio_buffer.append') {
      got.push({ model: 'input_audio_buffer.append', audio_bytes: Buffer.from(msg.audio, 'base64').length });
    } else got.push({ model: msg });
  }
  return got;
}

function runStep(call, step) {
  const at = step.at;
  if ('phone' in step) return call.receivePhone(JSON.stringify(expand(step.phone)), at);
  if ('model' in step) return call.receiveModel(JSON.stringify(expand(step.model)), at);
  if ('phone_text' in step) return call.receivePhone(step.phone_text, at);
  if ('model_text' in step) return call.receiveModel(step.model_text, at);
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
    const call = new Call(camel(sc.config));
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
