// Gate across the Node boundary: options, Node's header shapes, Buffer and
// string bodies, Call and Pipeline in admit, errors. The checks themselves
// are the crate's (teledsp::providers::Gate's tests).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Call, Gate, Pipeline, RequestValidator } from 'teledsp';

const PUBLIC = 'https://relay.example.com';

test('a Twilio call token is issued by /twiml and required at start', () => {
  const gate = new Gate({ telephony: 'twilio', publicUrl: PUBLIC, secret: 'tok', callTokens: true });
  assert.equal(gate.callTokens, true);
  assert.equal(gate.answerPath, '/twiml');
  const v = new RequestValidator('tok');
  const sig = v.sign(`${PUBLIC}/twiml`, { CallSid: 'CA9' });
  // Node's req.headers: lower-case names, strings or arrays.
  const r = gate.answer('POST', '/twiml', { 'x-twilio-signature': sig, accept: ['a', 'b'] }, 'CallSid=CA9', 1_700_000_000);
  assert.equal(r.status, 200, r.body);
  assert.equal(r.contentType, 'text/xml');
  assert.equal(r.refused, undefined);
  const token = /name="teledspCallToken" value="([^"]+)"/.exec(r.body)[1];
  const start = (sid, params) => JSON.stringify({ event: 'start', start: { streamSid: 'MZ1', callSid: sid, customParameters: params } });
  const ok = new Call();
  ok.receivePhone(start('CA9', { teledspCallToken: token }), 0);
  assert.equal(gate.admit(ok, null, 1_700_000_030), null);
  assert.match(gate.admit(ok, null, 1_700_000_060), /expired/);
  const other = new Pipeline();
  other.receivePhone(start('CA10', { teledspCallToken: token }), 0);
  assert.match(gate.admit(other, null, 1_700_000_030), /not issued for this call SID/);
  assert.equal(gate.admit(new Call()), 'the stream has not started');
  // A bad signature: 403 and why; the upgrade is signed over its URL.
  const bad = gate.answer('POST', '/twiml', [['X-Twilio-Signature', 'AAAA']], Buffer.from('CallSid=CA9'));
  assert.equal(bad.status, 403);
  assert.match(bad.refused, /does not match/);
  assert.deepEqual(gate.upgrade('/media', { 'x-twilio-signature': v.sign(`wss://relay.example.com/media`) }), {});
  assert.deepEqual(gate.upgrade('/media', {}), { refused: 'invalid X-Twilio-Signature' });
});

test('each provider answers at its own path', () => {
  for (const [telephony, path] of [['telnyx', '/texml'], ['plivo', '/answer'], ['vonage', '/answer'], ['signalwire', '/twiml']]) {
    const gate = new Gate({ telephony, publicUrl: PUBLIC, insecureNoSignature: true });
    assert.equal(gate.answer('POST', path, {}, Buffer.from('CallSid=CA1')).status, 200, telephony);
    assert.equal(gate.answer('POST', '/nowhere', {}, '').status, 404, telephony);
  }
  const vonage = new Gate({ telephony: 'vonage', publicUrl: PUBLIC, insecureNoSignature: true });
  assert.equal(JSON.parse(vonage.answer('GET', '/answer?uuid=u-7', {}, '').body)[0].endpoint[0].headers.uuid, 'u-7');
  assert.equal(new Gate({ telephony: 'exotel', publicUrl: PUBLIC, insecureNoSignature: true }).answerPath, null);
});

test('bad options and arguments say what was wrong', () => {
  assert.throws(() => new Gate({ telephony: 'plivo', publicUrl: PUBLIC }), { code: 'ERR_TELEDSP_CONFIG', message: /PLIVO_AUTH_TOKEN is not set/ });
  assert.throws(() => new Gate({ telephony: 'twillio', publicUrl: PUBLIC }), { code: 'ERR_TELEDSP_CONFIG', message: /twillio/ });
  assert.throws(() => new Gate({ telephony: 'telnyx', publicUrl: PUBLIC, secret: 'AAAA' }), { code: 'ERR_TELEDSP_CONFIG', message: /32/ });
  assert.equal(Gate.secretEnv('vonage'), 'VONAGE_SIGNATURE_SECRET');
  assert.equal(Gate.secretEnv('exotel'), null);
  const gate = new Gate({ telephony: 'twilio', publicUrl: PUBLIC, insecureNoSignature: true });
  assert.throws(() => gate.answer('POST', '/twiml', { a: 1 }, ''), { code: 'ERR_INVALID_ARG_TYPE' });
  assert.throws(() => gate.admit({}), /Call|Pipeline/);
});
