// The NestJS example gateway end to end: a simulated Twilio stream (a real
// WebSocket client) -> the gateway (Nest + ws adapter, on loopback) -> a fake
// OpenAI Realtime server (a real WebSocket server on loopback), and back.
// `npm test` compiles the example first (the "pretest" script).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { WebSocketServer, WebSocket } from 'ws';
import { Resampler, Framer, mulaw } from 'teledsp';
import { SID, twilio, openai, tone } from './helpers.mjs';

const require = createRequire(import.meta.url);
const { createApp } = require('../examples/nest-gateway/dist/main.js');
const { fromArgs } = require('../examples/nest-gateway/dist/settings.js');

/** Resolves with the next `n` messages on `ws`, parsed. */
function nextMessages(ws, n) {
  return new Promise((resolve, reject) => {
    const got = [];
    const timer = setTimeout(() => reject(new Error(`timed out with ${got.length} of ${n} messages`)), 5000);
    const on = (data) => {
      got.push(JSON.parse(data.toString()));
      if (got.length === n) {
        clearTimeout(timer);
        ws.off('message', on);
        resolve(got);
      }
    };
    ws.on('message', on);
  });
}

test('a call through the Nest gateway: audio both ways, marks, barge-in, hang-up', async () => {
  // Fake OpenAI: records what the gateway sends; the test drives its replies.
  const fake = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await once(fake, 'listening');
  const upstream = once(fake, 'connection');
  const url = `ws://127.0.0.1:${fake.address().port}/v1/realtime?model=gpt-realtime`;
  const settings = fromArgs(['serve', '--openai-url', url, '--insecure-no-signature'], { OPENAI_API_KEY: 'sk-test' });
  assert.throws(() => fromArgs(['serve'], {}), /TWILIO_AUTH_TOKEN is not set/);
  assert.throws(() => fromArgs(['serve', '--listen', 'nope', '--insecure-no-signature'], {}), /HOST:PORT/);

  const app = await createApp(settings, ['error']);
  await app.listen(0, '127.0.0.1');
  const port = app.getHttpServer().address().port;
  try {
    assert.equal(await (await fetch(`http://127.0.0.1:${port}/healthz`)).text(), 'ok\n');

    const phone = new WebSocket(`ws://127.0.0.1:${port}/media`);
    await once(phone, 'open');
    // Twilio -> OpenAI: 25 frames (500 ms) of a 440 Hz tone, as mu-law; the
    // upstream connects on start.
    const caller = mulaw.encode(tone(4000, 440, 8000));
    phone.send(twilio.connected());
    phone.send(twilio.start({ caller: '+15550100' }));
    const [ai, req] = await upstream;
    assert.equal(req.headers.authorization, 'Bearer sk-test');
    const fromGateway = [];
    ai.on('message', (d) => fromGateway.push(JSON.parse(d.toString())));
    for (let i = 0; i < 25; i++) phone.send(twilio.media(caller.subarray(160 * i, 160 * (i + 1)), i));
    const deadline = Date.now() + 5000;
    while (fromGateway.length < 26 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(fromGateway[0].type, 'session.update');
    assert.equal(fromGateway[0].session.audio.input.format.rate, 24000);
    const appends = fromGateway.slice(1);
    assert.equal(appends.length, 25);
    const up = new Resampler(8000, 24000);
    appends.forEach((m, i) => {
      assert.equal(m.type, 'input_audio_buffer.append');
      const expected = up.processFromUlaw(caller.subarray(160 * i, 160 * (i + 1)));
      assert.deepEqual(Buffer.from(m.audio, 'base64'), Buffer.from(expected.buffer));
    });

    // OpenAI -> Twilio: a 100 ms delta becomes five 160-byte frames + a mark.
    const answer = tone(2400, 300, 24000, 6000);
    const toPhone = nextMessages(phone, 6);
    ai.send(openai.audioDelta(answer));
    const out = await toPhone;
    const want = new Framer({ frameBytes: 160 }).push(new Resampler(24000, 8000).processToUlaw(answer));
    assert.deepEqual(out.slice(0, 5).map((m) => Buffer.from(m.media.payload, 'base64')), want);
    assert.ok(out.slice(0, 5).every((m) => m.event === 'media' && m.streamSid === SID));
    assert.deepEqual(out[5], { event: 'mark', streamSid: SID, mark: { name: 'teledsp-1' } });

    // Barge-in: speech_started -> clear, and the model is told how much of
    // the item was heard (this client plays nothing: at most what was sent).
    const cleared = nextMessages(phone, 1);
    ai.send(openai.speechStarted());
    assert.deepEqual(await cleared, [{ event: 'clear', streamSid: SID }]);
    while (!fromGateway.some((m) => m.type === 'conversation.item.truncate') && Date.now() < deadline + 5000) {
      await new Promise((r) => setTimeout(r, 10));
    }
    const truncate = fromGateway.find((m) => m.type === 'conversation.item.truncate');
    assert.equal(truncate.item_id, 'item_001');
    assert.ok(truncate.audio_end_ms <= 100, JSON.stringify(truncate));

    // A malformed frame is dropped, the call goes on.
    phone.send('{"event":"media","media":{"payload":"%%%"}}');
    // Hang-up: Twilio's stop closes the upstream socket.
    const closed = once(ai, 'close');
    phone.send(twilio.stop());
    await closed;
    phone.close();
  } finally {
    await app.close();
    fake.close();
  }
});
