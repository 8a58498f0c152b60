// Call and RequestValidator across the Node boundary: options, outputs,
// errors, time. The protocol itself is covered by conformance.test.mjs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Call, RequestValidator } from 'teledsp';

const START = '{"event":"start","streamSid":"MZ1","start":{"streamSid":"MZ1","callSid":"CA1","customParameters":{"k":"v"}}}';

test('options are camelCase; unknown ones and bad values are refused', () => {
  new Call({ api: 'beta', audio: 'pcmu', localVad: true, holdMs: 0, tools: [{ type: 'function', name: 'f' }] });
  assert.throws(() => new Call({ localVda: true }), { code: 'ERR_TELEDSP_CONFIG', message: /local_vda/ });
  assert.throws(() => new Call({ audio: 'opus' }), { code: 'ERR_TELEDSP_CONFIG' });
  assert.throws(() => new Call(42), { code: 'ERR_INVALID_ARG_TYPE' });
});

test('session.update carries the options; turnDetection null means manual turns', () => {
  const call = new Call({ instructions: 'Be brief.', voice: 'alloy', turnDetection: null });
  const [[target, text]] = call.openModel(0);
  assert.equal(target, 'model');
  const s = JSON.parse(text).session;
  assert.equal(s.instructions, 'Be brief.');
  assert.equal(s.audio.output.voice, 'alloy');
  assert.equal(s.audio.input.turn_detection, null);
  assert.deepEqual(call.openModel(1), []);
});

test('start event, state, Buffer input', () => {
  const call = new Call();
  const [[target, ev]] = call.receivePhone(Buffer.from(START), 0);
  assert.equal(target, 'event');
  assert.deepEqual(ev, { type: 'started', stream_sid: 'MZ1', call_sid: 'CA1', custom_parameters: { k: 'v' } });
  assert.deepEqual([call.streamSid, call.callSid, call.customParameters], ['MZ1', 'CA1', { k: 'v' }]);
  assert.equal(call.stopped, false);
  assert.equal(call.modelOpen, false);
});

test('malformed input throws with a code, is counted, changes nothing', () => {
  const call = new Call();
  assert.throws(() => call.receivePhone('{', 0), { code: 'ERR_TELEDSP_MALFORMED', message: /Twilio message/ });
  assert.throws(() => call.receiveModel('{"type":"response.output_audio.delta","item_id":"A","delta":"%%"}', 0), {
    code: 'ERR_TELEDSP_MALFORMED',
  });
  assert.throws(() => call.receivePhone(12, 0), { code: 'ERR_INVALID_ARG_TYPE' });
  assert.throws(() => call.receivePhone(START, -1), { code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => call.receivePhone(START, NaN), { code: 'ERR_OUT_OF_RANGE' });
  assert.equal(call.counters.malformed_phone, 1);
  assert.equal(call.counters.malformed_model, 1);
  assert.throws(() => call.toolResult('call_9', '{}', 0), { code: 'ERR_TELEDSP_UNKNOWN_TOOL_CALL' });
});

test('time defaults to a monotonic clock', () => {
  const call = new Call();
  call.receivePhone(START);
  const delta = JSON.stringify({ type: 'response.output_audio.delta', item_id: 'A', response_id: 'R', delta: 'AAAA'.repeat(1600) });
  assert.equal(call.receiveModel(delta).at(-1)[0], 'mark');
  const heard = call.heardMs('A');
  assert.ok(heard >= 0 && heard <= 100, String(heard));
  assert.equal(call.heardMs('nope'), null);
});

test('RequestValidator: Twilio\'s documented example', () => {
  const v = new RequestValidator('12345');
  const url = 'https://mycompany.com/myapp.php?foo=1&bar=2';
  const params = { CallSid: 'CA1234567890ABCDE', Caller: '+12349013030', Digits: '1234', From: '+12349013030', To: '+18005551212' };
  assert.equal(v.sign(url, params), '0/KCTR6DLpKmkAf8muzZqo1nDgQ=');
  assert.equal(v.sign(url, Object.entries(params)), '0/KCTR6DLpKmkAf8muzZqo1nDgQ=');
  assert.equal(v.validate(url, params, '0/KCTR6DLpKmkAf8muzZqo1nDgQ='), true);
  assert.equal(v.validate(url, { ...params, Digits: '9999' }, '0/KCTR6DLpKmkAf8muzZqo1nDgQ='), false);
  assert.throws(() => v.sign(url, { a: 1 }), { code: 'ERR_INVALID_ARG_TYPE' });
});

test('provider facts come from the engine', () => {
  // What every relay needs to open the model socket: the key's variable and headers.
  assert.equal(new Call().modelKeyEnv, 'OPENAI_API_KEY');
  assert.deepStrictEqual(new Call().modelHeaders('sk'), [['Authorization', 'Bearer sk']]);
  assert.deepStrictEqual(new Call({ api: 'beta' }).modelHeaders('sk'), [['Authorization', 'Bearer sk'], ['OpenAI-Beta', 'realtime=v1']]);
  assert.deepStrictEqual(new Call({ model: 'azure' }).modelHeaders('k'), [['api-key', 'k']]);
  assert.equal(new Call({ model: 'gemini' }).modelKeyEnv, 'GEMINI_API_KEY');
});
