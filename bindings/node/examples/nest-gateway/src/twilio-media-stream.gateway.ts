// The Twilio Media Stream gateway of seed 001, on teledsp's call engine.
// I/O only: every protocol decision (audio, framing, marks, barge-in,
// truncation, tools) is Call's; this file moves its outputs to sockets.
//
// Bounds: Twilio's socket may buffer up to TWILIO_BUFFER bytes (~10 s of
// audio); beyond, audio and marks are dropped and counted, a clear never is.
// start within 10 s; OpenAI handshake 10 s; tool webhook 8 s; messages 1 MiB.
import type { IncomingMessage } from 'node:http';
import { Inject, Logger } from '@nestjs/common';
import { OnGatewayConnection, WebSocketGateway } from '@nestjs/websockets';
import WebSocket from 'ws';
import { Call } from 'teledsp';
import { RelaySettings, SETTINGS } from './settings';

const TWILIO_BUFFER = 512 * 300;
const START_TIMEOUT_MS = 10_000;
const CONNECT_TIMEOUT_MS = 10_000;
const WEBHOOK_TIMEOUT_MS = 8_000;
const MAX_MESSAGE = 1 << 20;

type Outputs = ReturnType<Call['receivePhone']>;

@WebSocketGateway({ path: '/media', maxPayload: MAX_MESSAGE })
export class TwilioMediaStreamGateway implements OnGatewayConnection {
  private readonly logger = new Logger(TwilioMediaStreamGateway.name);

  constructor(@Inject(SETTINGS) private readonly settings: RelaySettings) {}

  handleConnection(twilio: WebSocket, req: IncomingMessage): void {
    const s = this.settings;
    if (s.validator) {
      const base = s.publicUrl.replace(/\/+$/, '').replace(/^https:\/\//, 'wss://').replace(/^http:\/\//, 'ws://');
      const sig = req.headers['x-twilio-signature'];
      if (!s.validator.validate(base + (req.url ?? '/media'), [], typeof sig === 'string' ? sig : '')) {
        twilio.close(1008, 'invalid X-Twilio-Signature');
        return;
      }
    }
    const call = new Call(s.call);
    let openai: WebSocket | null = null;
    let dropped = 0;
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      clearTimeout(startTimer);
      if (openai && openai.readyState !== WebSocket.CLOSED) openai.close();
      if (twilio.readyState === WebSocket.OPEN) twilio.close(1000); // Twilio then runs the TwiML after <Connect>
      this.logger.log(`call ${call.callSid ?? '?'} ended: ${JSON.stringify(call.counters)}, ${dropped} frames dropped`);
    };
    const dispatch = (outputs: Outputs) => {
      for (const [target, payload] of outputs) {
        if (target === 'model') {
          if (openai?.readyState === WebSocket.OPEN) openai.send(payload);
        } else if (target === 'event') {
          if (payload.type === 'tool_call') void this.runTool(call, payload).then((out) => dispatch(call.toolResult(payload.call_id, out)));
          else if (payload.type === 'stopped') end();
          else if (payload.type === 'model_error') this.logger.warn(`call ${call.callSid}: OpenAI error ${payload.code}: ${payload.message}`);
        } else if (target === 'clear' || twilio.bufferedAmount < TWILIO_BUFFER) {
          if (twilio.readyState === WebSocket.OPEN) twilio.send(payload);
        } else {
          dropped += 1;
        }
      }
    };
    const receive = (side: 'phone' | 'model', data: Buffer) => {
      try {
        dispatch(side === 'phone' ? call.receivePhone(data) : call.receiveModel(data));
      } catch (e) {
        // Counted by the engine; the call goes on.
        this.logger.warn(`call ${call.callSid ?? '?'}: skipped a ${side} message: ${(e as Error).message}`);
      }
    };
    const startTimer = setTimeout(() => {
      this.logger.warn('no start from Twilio within 10 s');
      end();
    }, START_TIMEOUT_MS);

    twilio.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) return this.logger.warn('skipped a binary Twilio frame');
      receive('phone', data); // the Buffer as received: no toString()
      if (openai === null && call.streamSid !== null && !ended) {
        clearTimeout(startTimer);
        openai = this.connect(call, dispatch, receive, end);
      }
    });
    twilio.on('close', end);
    twilio.on('error', end);
  }

  private connect(call: Call, dispatch: (o: Outputs) => void, receive: (side: 'model', d: Buffer) => void, end: () => void): WebSocket {
    const s = this.settings;
    const headers: Record<string, string> = { Authorization: `Bearer ${s.openaiApiKey}` };
    if (s.call.api === 'beta') headers['OpenAI-Beta'] = 'realtime=v1';
    const openai = new WebSocket(s.openaiUrl, { headers, handshakeTimeout: CONNECT_TIMEOUT_MS, maxPayload: MAX_MESSAGE });
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
