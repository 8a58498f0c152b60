// The Twilio Media Stream gateway of seed 001 (twilio-media-stream.gateway.ts),
// with teledsp doing the audio: one native call per message each way instead
// of per-sample mu-law loops and unfiltered linear-interpolation resampling.
//
//   Twilio -> OpenAI: bridge.twilioToOpenai(msg)  mu-law 8 kHz -> PCM16 24 kHz append
//   OpenAI -> Twilio: bridge.openaiToTwilio(msg)  PCM16 24 kHz delta -> exact 20 ms
//                                                 mu-law media frames + a mark;
//                                                 speech_started -> clear (barge-in)
import { Logger } from '@nestjs/common';
import { OnGatewayConnection, WebSocketGateway } from '@nestjs/websockets';
import WebSocket from 'ws';
import { TwilioBridge } from 'teledsp';

const DEFAULT_URL = 'wss://api.openai.com/v1/realtime?model=gpt-realtime';
/** Inbound frames held while the OpenAI socket connects: 1 s of audio, then the oldest go. */
const MAX_PENDING = 50;

/** GA session settings: PCM16 at 24 kHz both ways, server VAD for turns. */
export function sessionUpdate(): string {
  return JSON.stringify({
    type: 'session.update',
    session: {
      type: 'realtime',
      instructions: process.env.RELAY_INSTRUCTIONS ?? 'You are a helpful phone agent.',
      audio: {
        input: { format: { type: 'audio/pcm', rate: 24000 }, turn_detection: { type: 'server_vad' } },
        output: { format: { type: 'audio/pcm', rate: 24000 }, voice: process.env.RELAY_VOICE ?? 'marin' },
      },
    },
  });
}

@WebSocketGateway({ path: '/media-stream' })
export class TwilioMediaStreamGateway implements OnGatewayConnection {
  private readonly logger = new Logger(TwilioMediaStreamGateway.name);

  handleConnection(twilio: WebSocket): void {
    const bridge = new TwilioBridge({ api: 'ga', audio: 'pcm24k' });
    const openai = new WebSocket(process.env.OPENAI_REALTIME_URL ?? DEFAULT_URL, {
      headers: { Authorization: `Bearer ${process.env.OPENAI_API_KEY ?? ''}` },
    });
    const pending: string[] = [];
    let dropped = 0;

    openai.on('open', () => {
      openai.send(sessionUpdate());
      for (const msg of pending.splice(0)) openai.send(msg);
    });

    twilio.on('message', (data: Buffer) => {
      let out: string | null;
      try {
        out = bridge.twilioToOpenai(data); // the Buffer as received: no toString()
      } catch (e) {
        this.logger.warn(`dropped Twilio message: ${(e as Error).message}`);
        return;
      }
      if (out !== null) {
        if (openai.readyState === WebSocket.OPEN) openai.send(out);
        else if (pending.push(out) > MAX_PENDING) {
          pending.shift();
          dropped += 1;
        }
      }
      if (bridge.stopped) openai.close();
    });

    openai.on('message', (data: Buffer) => {
      try {
        for (const msg of bridge.openaiToTwilio(data)) twilio.send(msg);
      } catch (e) {
        this.logger.warn(`dropped OpenAI event: ${(e as Error).message}`);
      }
    });

    openai.on('error', (e) => {
      this.logger.error(`OpenAI socket for call ${bridge.callSid ?? '?'}: ${e.message}`);
      twilio.close(); // Twilio then runs the TwiML after <Connect>
    });
    openai.on('close', () => {
      if (twilio.readyState === WebSocket.OPEN) twilio.close();
    });
    twilio.on('close', () => {
      if (openai.readyState === WebSocket.OPEN || openai.readyState === WebSocket.CONNECTING) openai.close();
      this.logger.log(`call ${bridge.callSid ?? '?'} ended: ${bridge.marksSent} marks sent, ${dropped} early frames dropped`);
    });
  }
}
