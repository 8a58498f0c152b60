// The echo canceller through the binding, and in Call and Pipeline.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EchoCanceller, Call, Pipeline } from 'teledsp';
import { rng } from './helpers.mjs';

/** White-ish far end and its echo `delay` samples later at half the level, with line noise. */
function echoLine(seconds = 4, delay = 800) {
  const rand = rng(1);
  const far = new Int16Array(8000 * seconds).map(() => Math.round((rand() - 0.5) * 10000));
  const near = new Int16Array(far.length).map((_, i) => (i >= delay ? far[i - delay] >> 1 : 0) + Math.round((rand() - 0.5) * 6));
  return { far, near };
}

test('no far end: the caller passes unchanged', () => {
  const aec = new EchoCanceller({ sampleRate: 8000, frameMs: 20 });
  const near = new Int16Array(160).map((_, i) => (i * 37) % 2000 - 1000);
  for (let k = 0; k < 20; k++) assert.deepEqual(aec.process(new Int16Array(160), near), near);
  assert.equal(aec.farLevelDbfs, -120);
  assert.equal(aec.frameLen, 160);
  assert.equal(aec.frameBytes, 320);
});

test('echo is cancelled and its delay found', () => {
  const { far, near } = echoLine();
  const aec = new EchoCanceller({ suppress: false });
  const out = new Int16Array(far.length);
  for (let i = 0; i < far.length; i += 160) out.set(aec.process(far.subarray(i, i + 160), near.subarray(i, i + 160)), i);
  const p = (x) => x.slice(3 * 8000).reduce((a, v) => a + v * v, 0);
  const erle = 10 * Math.log10(p(near) / p(out));
  assert.ok(erle > 20, `ERLE ${erle}`);
  const s = aec.stats;
  assert.ok(s.delayFound && s.delayMs >= 80 && s.delayMs <= 100, JSON.stringify(s));
  assert.deepEqual(Object.keys(s).sort(), ['delayChanges', 'delayFound', 'delayMs', 'doubleTalkFrames', 'erleDb', 'frames']);
  assert.ok(aec.converged);
  // The guard's reference: the loudest far frame in the filter's window,
  // which starts a frame before the delay (lag k is the frame k back).
  const db = [];
  for (let i = 0; i + 160 <= far.length; i += 160) {
    const f = far.subarray(i, i + 160);
    db.push(10 * Math.log10(Math.max(f.reduce((a, v) => a + (v / 32768) ** 2, 0) / 160, 1e-12)));
  }
  const last = db.length - 1;
  const level = aec.farLevelDbfs;
  assert.ok(level >= db[last - 5] - 0.01 && level <= Math.max(...db.slice(last - 14, last - 2)) + 0.01, `${level}`);
});

test('the far end forgotten and amended', () => {
  const aec = new EchoCanceller();
  aec.process(new Int16Array(160).fill(3000), new Int16Array(160));
  assert.ok(Math.abs(aec.farLevelDbfs + 20.8) < 0.1, `${aec.farLevelDbfs}`);
  aec.forgetFar(20); // the phone dropped it
  assert.equal(aec.farLevelDbfs, -120);
  const late = new Int16Array(160);
  late.fill(3000, 80); // sent half way through the frame
  aec.amendFar(late);
  assert.ok(Math.abs(aec.farLevelDbfs + 23.8) < 0.1, `${aec.farLevelDbfs}`);
  assert.throws(() => aec.amendFar(new Int16Array(159)), (e) => e.code === 'ERR_TELEDSP_INVALID_LENGTH' && /far-end frame/.test(e.message));
});

test('bad input says what was wrong', () => {
  const cases = [
    [() => new EchoCanceller({ sampleRate: 24000 }), 'ERR_TELEDSP_UNSUPPORTED_RATE', /24000 Hz; supported: \[8000, 16000\] Hz/],
    [() => new EchoCanceller({ frameMs: 30 }), 'ERR_TELEDSP_CONFIG', /frame duration 30 ms/],
    [() => new EchoCanceller({ filterMs: 0 }), 'ERR_TELEDSP_CONFIG', /1 to 500 ms, not 0/],
    [() => new EchoCanceller().process(new Int16Array(159), new Int16Array(160)), 'ERR_TELEDSP_INVALID_LENGTH', /far-end frame/],
    [() => new EchoCanceller().process(new Int16Array(160), Buffer.alloc(319)), 'ERR_TELEDSP_INVALID_LENGTH', /319 bytes/],
  ];
  for (const [f, code, message] of cases) {
    assert.throws(f, (e) => e instanceof Error && e.code === code && message.test(e.message), String(f));
  }
});

test('Call and Pipeline take the settings', () => {
  const call = new Call({ echoCancel: true, echoCancelToModel: true, localVad: true });
  call.receivePhone(JSON.stringify({ event: 'start', streamSid: 'MZ', start: { streamSid: 'MZ', callSid: 'CA' } }), 0);
  call.openModel(0);
  const payload = Buffer.alloc(160, 0xff).toString('base64');
  const outs = call.receivePhone(JSON.stringify({ event: 'media', streamSid: 'MZ', media: { payload } }), 20);
  assert.deepEqual(outs.map(([t]) => t), ['model']);
  const p = new Pipeline({ echoCancel: true });
  assert.equal(p.counters.echo_delay_ms, undefined);
});
