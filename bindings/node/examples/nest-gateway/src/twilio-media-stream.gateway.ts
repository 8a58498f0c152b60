// The media stream gateway of seed 001 (Twilio's, or --telephony's), on
// teledsp's call engine.
// I/O only: every protocol decision (audio, framing, marks, barge-in,
// truncation, tools) is Call's; this file moves its outputs to sockets.
//
// Bounds, as in the Rust relay (options of the same names): Twilio's socket
// may buffer up to TWILIO_BUFFER bytes (~10 s of audio); beyond, audio and
// marks are dropped and counted, a clear never is. `start` within
// --start-timeout; the model connected and its session.updated within
// --session-timeout (else the stream closes and the TwiML fallback plays);
// inbound media at least every --media-timeout; a socket that does not take
// what is written for --write-timeout ends the call; /media messages 16 KiB
// (1009 beyond), the model's 1 MiB; tool webhook 8 s; 3 warnings per kind
// and call.
import type { IncomingMessage } from 'node:http';
import { Inject, Logger } from '@nestjs/common';
import { OnGatewayConnection, WebSocketGateway } from '@nestjs/websockets';
import WebSocket from 'ws';
import { Call } from 'teledsp';
import { LIFE } from './lifecycle';
import { RelaySettings, SETTINGS } from './settings';

const TWILIO_BUFFER = 512 * 300;
const WEBHOOK_TIMEOUT_MS = 8_000;
const MAX_MESSAGE = 1 << 20;
const MAX_MEDIA_MESSAGE = 16 * 1024;
const WARNINGS_PER_CALL = 3;
const CHECK_MS = 100;

type Outputs = ReturnType<Call['receivePhone']> | ReturnType<Call['receivePhoneBinary']>;

/** A stopping relay refuses the upgrade itself (503), as the other relays. */
const verifyClient = (_info: unknown, done: (ok: boolean, code?: number, message?: string) => void) =>
  LIFE.stopping ? done(false, 503, 'relay stopping') : done(true);

@WebSocketGateway({ path: '/media', maxPayload: MAX_MEDIA_MESSAGE, verifyClient })
export class TwilioMediaStreamGateway implements OnGatewayConnection {
  private readonly logger = new Logger(TwilioMediaStreamGateway.name);

  constructor(@Inject(SETTINGS) private readonly settings: RelaySettings) {}

  handleConnection(twilio: WebSocket, req: IncomingMessage): void {
    const s = this.settings;
    // The upgrade's check (Twilio's signature, SignalWire's bearer) is teledsp's.
    const up = s.gate.upgrade(req.url ?? '/media', req.headers);
    if (up.refused) {
      twilio.close(1008, up.refused);
      return;
    }
    const call = new Call(s.call);
    // At the drain's deadline: 1001, then the call's end.
    const life = LIFE.socket(() => {
      if (twilio.readyState === WebSocket.OPEN) twilio.close(1001, 'relay shutting down');
      end();
    });
    let openai: WebSocket | null = null;
    let dropped = 0;
    let ended = false;
    const warned = new Map<string, number>();
    const warn = (kind: string, text: string) => {
      const n = (warned.get(kind) ?? 0) + 1;
      warned.set(kind, n);
      if (n <= WARNINGS_PER_CALL) this.logger.warn(`call ${call.callSid ?? '?'}: ${text}`);
    };
    // The session, media and write bounds, checked every CHECK_MS once started.
    let started = 0;
    let lastMedia = 0;
    let frames = 0;
    const stuckSince = new Map<WebSocket, number>();
    const check = () => {
      const now = Date.now();
      if (!call.modelReady && now - started > s.limits.sessionMs) {
        warn('timeout', `no session.updated within ${s.limits.sessionMs} ms; closing so the TwiML fallback plays`);
        return end();
      }
      const n = call.counters.frames_in;
      if (n !== frames) [frames, lastMedia] = [n, now];
      else if (now - lastMedia > s.limits.mediaMs) {
        warn('timeout', `no media for ${s.limits.mediaMs} ms; ending the call`);
        return end();
      }
      for (const sock of [twilio, openai]) {
        if (!sock || sock.bufferedAmount === 0) {
          if (sock) stuckSince.delete(sock);
          continue;
        }
        const since = stuckSince.get(sock) ?? now;
        stuckSince.set(sock, since);
        if (now - since > s.limits.writeMs) {
          warn('timeout', `a peer took nothing written for ${s.limits.writeMs} ms; ending the call`);
          twilio.terminate();
          return end();
        }
      }
    };
    let checker: NodeJS.Timeout | undefined;
    const end = () => {
      if (ended) return;
      ended = true;
      clearTimeout(startTimer);
      clearInterval(checker);
      if (openai && openai.readyState !== WebSocket.CLOSED) openai.close();
      if (twilio.readyState === WebSocket.OPEN) twilio.close(1000); // Twilio then runs the TwiML after <Connect>
      const notLogged = [...warned.values()].reduce((a, n) => a + Math.max(0, n - WARNINGS_PER_CALL), 0);
      this.logger.log(`call ${call.callSid ?? '?'} ended: ${JSON.stringify(call.counters)}, ${dropped} frames dropped, ${notLogged} warnings not logged`);
    };
    const dispatch = (outputs: Outputs) => {
      for (const [target, payload] of outputs) {
        if (target === 'model') {
          if (openai?.readyState === WebSocket.OPEN) openai.send(payload);
        } else if (target === 'event') {
          if (payload.type === 'tool_call') void this.runTool(call, payload).then((out) => dispatch(call.toolResult(payload.call_id, out)));
          else if (payload.type === 'stopped') end();
          else if (payload.type === 'model_error') warn('model_error', `OpenAI error ${payload.code}: ${payload.message}`);
        } else if (target === 'clear' || twilio.bufferedAmount < TWILIO_BUFFER) {
          if (twilio.readyState === WebSocket.OPEN) twilio.send(payload);
        } else {
          dropped += 1;
        }
      }
    };
    const receive = (side: 'phone' | 'phone-binary' | 'model', data: Buffer) => {
      try {
        if (side === 'phone') dispatch(call.receivePhone(data));
        // Vonage's audio; refused (and counted) by the engine for the others.
        else if (side === 'phone-binary') dispatch(call.receivePhoneBinary(data));
        else dispatch(call.receiveModel(data));
      } catch (e) {
        // Counted by the engine; the call goes on.
        warn('malformed', `skipped a ${side} message: ${(e as Error).message}`);
      }
    };
    const startTimer = setTimeout(() => {
      warn('timeout', `no start from Twilio within ${s.limits.startMs} ms`);
      end();
    }, s.limits.startMs);

    twilio.on('message', (data: Buffer, isBinary: boolean) => {
      receive(isBinary ? 'phone-binary' : 'phone', data); // the Buffer as received: no toString()
      if (openai === null && call.streamSid !== null && !ended) {
        const why = s.gate.admit(call, up.bearer);
        if (why) {
          // A call token missing, expired or another call's.
          warn('refused', `call refused: ${why}`);
          ended = true;
          clearTimeout(startTimer);
          twilio.close(1008, 'invalid call token');
          return;
        }
        life.started();
        clearTimeout(startTimer);
        started = lastMedia = Date.now();
        checker = setInterval(check, CHECK_MS);
        openai = this.connect(call, dispatch, receive, end);
      }
    });
    twilio.on('close', () => {
      end();
      life.closed();
    });
    twilio.on('error', end);
  }

  private connect(call: Call, dispatch: (o: Outputs) => void, receive: (side: 'model', d: Buffer) => void, end: () => void): WebSocket {
    const s = this.settings;
    // The API's key header (and OpenAI's beta header), as the engine says.
    const headers: Record<string, string> = Object.fromEntries(call.modelHeaders(s.modelApiKey));
    const openai = new WebSocket(s.modelUrl, { headers, handshakeTimeout: s.limits.sessionMs, maxPayload: MAX_MESSAGE });
    openai.on('open', () => dispatch(call.openModel()));
    openai.on('message', (data: Buffer) => receive('model', data));
    openai.on('error', (e) => {
      this.logger.warn(`call ${call.callSid}: OpenAI upstream: ${e.message}; closing the stream so the TwiML fallback plays`);
      end();
    });
    openai.on('close', end);
    return openai;
  }

  /** The tool webhook's answer, or an error text the model can speak about. */
  private async runTool(call: Call, ev: { [field: string]: any }): Promise<string> {
    const url = this.settings.toolsWebhook;
    if (!url) return JSON.stringify({ error: 'no tools are configured on this relay' });
    const body = { call_id: ev.call_id, name: ev.name, arguments: ev.arguments, call_sid: call.callSid, custom_parameters: call.customParameters };
    try {
      const r = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
      });
      if (!r.ok) return JSON.stringify({ error: `tool ${ev.name} failed with HTTP ${r.status}` });
      return await r.text();
    } catch (e) {
      const timedOut = (e as Error).name === 'TimeoutError';
      return JSON.stringify({ error: `tool ${ev.name} ${timedOut ? 'timed out' : 'is unreachable'}` });
    }
  }
}
