// TwilioBridge round trips on realistic messages: start, media, mark, stop,
// clear; GA and beta names; pcmu passthrough; errors. The same semantics as
// the Python binding's bridge (bindings/python/tests/test_bridge.py).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TwilioBridge, Resampler, Framer, mulaw } from 'teledsp';
import { SID, CALL, twilio, openai, rng } from './helpers.mjs';

function speechLike(n, rate, seed = 0) {
  const r = rng(seed);
  return Int16Array.from({ length: n }, (_, i) => {
    const t = i / rate;
    return Math.round(8000 * Math.sin(2 * Math.PI * 220 * t) + 3000 * Math.sin(2 * Math.PI * 1700 * t) + (r() - 0.5) * 600);
  });
}

const b64 = (s) => Buffer.from(s, 'base64');
const bytesOf = (a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

test('Twilio side: state and inbound audio, frame by frame', () => {
  const b = new TwilioBridge();
  assert.equal(b.twilioToOpenai(twilio.connected()), null);
  assert.equal(b.twilioToOpenai(twilio.start({ caller: '+15550100', lang: 'en' })), null);
  assert.equal(b.streamSid, SID);
  assert.equal(b.callSid, CALL);
  assert.deepEqual(b.customParameters, { caller: '+15550100', lang: 'en' });
  const ulaw = mulaw.encode(speechLike(8000, 8000));
  const ref = new Resampler(8000, 24000);
  for (let i = 0; i < 50; i++) {
    const frame = ulaw.subarray(160 * i, 160 * (i + 1));
    const text = twilio.media(frame, i);
    const out = b.twilioToOpenai(i % 2 ? Buffer.from(text) : text); // Buffers are taken too
    const msg = JSON.parse(out);
    assert.deepEqual(Object.keys(msg).sort(), ['audio', 'type']);
    assert.equal(msg.type, 'input_audio_buffer.append');
    const pcm24 = b64(msg.audio);
    assert.equal(pcm24.length, 960); // 20 ms at 24 kHz, every frame
    assert.deepEqual(pcm24, bytesOf(ref.processFromUlaw(frame))); // state carried across messages
  }
  assert.equal(b.twilioToOpenai(twilio.dtmf()), null);
  assert.equal(b.twilioToOpenai(twilio.mark('teledsp-1')), null);
  assert.equal(b.lastMark, 'teledsp-1');
  assert.equal(b.stopped, false);
  assert.equal(b.twilioToOpenai(twilio.stop()), null);
  assert.equal(b.stopped, true);
});

for (const ga of [true, false]) {
  test(`OpenAI deltas (${ga ? 'GA' : 'beta'}) become exact 20 ms frames plus a uniquely named mark`, () => {
    const b = new TwilioBridge({ api: ga ? 'ga' : 'beta' });
    b.twilioToOpenai(twilio.start());
    const pcm = speechLike(24000, 24000, 1);
    const down = new Resampler(24000, 8000);
    const framer = new Framer({ frameBytes: 160 });
    let pos = 0;
    let marks = 0;
    for (const [n, size] of [2400, 1234, 7, 5000].entries()) {
      const delta = pcm.subarray(pos, pos + size);
      pos += size;
      const out = b.openaiToTwilio(openai.audioDelta(delta, ga, n)).map((x) => JSON.parse(x));
      const want = framer.push(down.processToUlaw(delta));
      const media = out.filter((x) => x.event === 'media');
      assert.deepEqual(media.map((x) => b64(x.media.payload)), want);
      assert.ok(out.every((x) => x.streamSid === SID));
      if (want.length) {
        marks += 1;
        assert.deepEqual(out.at(-1), { event: 'mark', streamSid: SID, mark: { name: `teledsp-${marks}` } });
        assert.equal(out.length, want.length + 1);
      } else {
        assert.deepEqual(out, []); // 7 samples: nothing whole to send yet
      }
    }
    assert.equal(b.marksSent, marks);
    // A tolerant reader: the other flavour's event names are audio too
    // (100 ms: five frames, and a mark).
    const other = b.openaiToTwilio(openai.audioDelta(pcm.subarray(0, 2400), !ga)).map((x) => JSON.parse(x).event);
    assert.deepEqual(other, ['media', 'media', 'media', 'media', 'media', 'mark']);
  });
}

test('speech_started clears Twilio and drops the partial frame', () => {
  const b = new TwilioBridge();
  b.twilioToOpenai(twilio.start());
  assert.equal(b.openaiToTwilio(openai.audioDelta(new Int16Array(500))).length, 2); // 1 frame + mark, 6 pending
  assert.deepEqual(b.openaiToTwilio(openai.speechStarted()).map((x) => JSON.parse(x)), [{ event: 'clear', streamSid: SID }]);
  const out = b.openaiToTwilio(openai.audioDelta(new Int16Array(480))); // exactly 160: the 6 dropped do not come back
  assert.equal(out.length, 2);
  assert.equal(b64(JSON.parse(out[0]).media.payload).length, 160);
  for (const other of [openai.sessionCreated(), openai.responseDone()]) assert.deepEqual(b.openaiToTwilio(other), []);
});

test('pcmu passthrough', () => {
  const b = new TwilioBridge({ audio: 'audio/pcmu' });
  b.twilioToOpenai(twilio.start());
  const payload = mulaw.encode(speechLike(160, 8000));
  assert.deepEqual(b64(JSON.parse(b.twilioToOpenai(twilio.media(payload, 0))).audio), Buffer.from(payload));
  const delta = Buffer.concat([payload, payload, payload.subarray(0, 50)]);
  const out = b.openaiToTwilio(openai.audioDelta(delta)).map((x) => JSON.parse(x));
  assert.deepEqual(out.map((x) => x.event), ['media', 'media', 'mark']);
  assert.deepEqual(b64(out[1].media.payload), Buffer.from(payload));
});

test('errors say what was wrong, and leave the bridge usable', () => {
  const b = new TwilioBridge();
  const cases = [
    [() => b.twilioToOpenai('hello'), 'ERR_TELEDSP_MALFORMED', /Twilio message is not the expected JSON: expected value at line 1 column 1/],
    [() => b.twilioToOpenai('{"media": {"payload": ""}}'), 'ERR_TELEDSP_MALFORMED', /missing field `event`/],
    [() => b.twilioToOpenai('{"event":"media","media":{"payload":"AB$D"}}'), 'ERR_TELEDSP_MALFORMED', /Twilio media.payload is not valid base64: invalid symbol 36 at offset 2/],
    [() => b.twilioToOpenai('{"event":"media"}'), 'ERR_TELEDSP_MALFORMED', /Twilio media message without media.payload/],
    [() => b.openaiToTwilio(openai.audioDelta(new Uint8Array(3))), 'ERR_TELEDSP_MALFORMED', /OpenAI PCM16 delta has an odd byte count/],
    [() => b.openaiToTwilio('{"type":"response.output_audio.delta","delta":"%%%"}'), 'ERR_TELEDSP_MALFORMED', /OpenAI delta is not valid base64/],
    [() => b.twilioToOpenai(Buffer.from([0xff, 0xfe, 0x7b, 0x7d])), 'ERR_TELEDSP_MALFORMED', /message is not UTF-8 text/],
    [() => b.twilioToOpenai(42), 'ERR_INVALID_ARG_TYPE', /message must be a string or a Buffer of UTF-8, got number/],
    [() => b.twilioToOpenai(new Int16Array(2)), 'ERR_INVALID_ARG_TYPE', /got Int16Array/],
    [() => new TwilioBridge({ api: 'v2' }), 'ERR_TELEDSP_CONFIG', /unknown OpenAI Realtime API "v2"; expected one of: ga, beta/],
    [() => new TwilioBridge({ audio: 'opus' }), 'ERR_TELEDSP_CONFIG', /unknown model audio format "opus"/],
  ];
  for (const [f, code, message] of cases) {
    assert.throws(f, (e) => e instanceof Error && e.code === code && message.test(e.message), String(f));
  }
  assert.equal(b.twilioToOpenai(twilio.start()), null);
  assert.equal(b.streamSid, SID);
});
