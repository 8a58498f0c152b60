// Pipeline across the Node boundary: options, outputs (caller audio as a
// Buffer), errors, time. The engine itself is tested in Rust
// (dsp/tests/pipeline.rs, a phone in virtual time) and by the pipeline relay.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Pipeline } from 'teledsp';

const START = '{"event":"start","streamSid":"MZ1","start":{"streamSid":"MZ1","callSid":"CA1"}}';

test('options are camelCase; unknown ones and bad values are refused', () => {
  new Pipeline({ encoding: 'mulaw', sampleRate: 8000, localVad: false });
  assert.throws(() => new Pipeline({ encoding: 'mulaw', sampleRate: 24000 }), { code: 'ERR_TELEDSP_CONFIG', message: /8000 Hz/ });
  assert.throws(() => new Pipeline({ sampleRate: 44100 }), { code: 'ERR_TELEDSP_UNSUPPORTED_RATE' });
  assert.throws(() => new Pipeline({ encodng: 'mulaw' }), { code: 'ERR_TELEDSP_CONFIG', message: /encodng/ });
});

test('caller audio comes out as a Buffer; TTS audio as frames and a mark; barge-in says what was heard', () => {
  const call = new Pipeline();
  assert.equal(call.receivePhone(START, 0)[0][1].type, 'started');
  const [[target, audio]] = call.receivePhone('{"event":"media","streamSid":"MZ1","media":{"payload":"/////w=="}}', 5);
  assert.equal(target, 'caller_audio');
  assert.deepEqual([...audio], [255, 255, 255, 255]);
  call.beginUtterance('u2', 5);
  assert.deepEqual(call.pushAudio('u1', new Int16Array(2400), 10).map(([t]) => t), ['media', 'media', 'media', 'media', 'media', 'mark']);
  assert.equal(call.speaking(20), true);
  assert.equal(call.heardMs('u1', 50), 40);
  const out = call.bargeIn(50);
  assert.deepEqual(out.map(([t]) => t), ['clear', 'event']);
  const items = out[1][1].items.map((i) => [i.item_id, i.heard_ms, i.action]);
  assert.deepEqual(items, [['u2', 0, 'delete'], ['u1', 40, 'truncate']], 'in the order they began');
  assert.deepEqual(call.pushAudio('u1', new Uint8Array(960), 60), [], 'late audio of an interrupted utterance is dropped');
  assert.equal(call.counters.deltas_dropped, 1);
  assert.equal(call.counters.barge_ins, 1);
});

test('bad input throws with a code and changes nothing', () => {
  const call = new Pipeline();
  call.receivePhone(START, 0);
  assert.throws(() => call.pushAudio('u', new Uint8Array(3), 0), { code: 'ERR_TELEDSP_INVALID_LENGTH' });
  assert.throws(() => call.pushAudio('u', 'text', 0), { code: 'ERR_INVALID_ARG_TYPE' });
  assert.throws(() => call.receivePhone('{', 0), { code: 'ERR_TELEDSP_MALFORMED' });
  assert.throws(() => call.bargeIn(-1), { code: 'ERR_OUT_OF_RANGE' });
  assert.equal(call.speaking(0), false);
  assert.deepEqual(call.endUtterance('u', 1), []);
});
