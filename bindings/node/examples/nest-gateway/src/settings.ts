// What the relay runs with: the same settings as `teledsp-relay serve` and
// fastapi_relay.py, from the same command line and environment.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Call, RequestValidator } from 'teledsp';
import type { CallOptions } from 'teledsp';

export const SETTINGS = Symbol('RelaySettings');

export interface RelaySettings {
  /** Where to listen. */
  host: string;
  port: number;
  /** The https base URL Twilio reaches (Stream URL and signature checks). */
  publicUrl: string;
  /** The model's WebSocket URL. */
  modelUrl: string;
  /** The model's API key, from the variable teledsp names for --model (never logged). */
  modelApiKey: string;
  /** Checks X-Twilio-Signature; null only with --insecure-no-signature. */
  validator: RequestValidator | null;
  /** Where tool calls are POSTed. */
  toolsWebhook: string | null;
  /** teledsp's Call options. */
  call: CallOptions;
  /** Time bounds, ms (the Rust relay's options of the same names). */
  limits: Limits;
}

export interface Limits {
  /** Whole request head (Node's headersTimeout; checked every 30 s by Node). */
  headerReadMs: number;
  /** Upgrade to Twilio's `start`. */
  startMs: number;
  /** Longest gap in inbound media while a call is up. */
  mediaMs: number;
  /** `start` to the model's session.updated, connection included. */
  sessionMs: number;
  /** A peer that does not take what is written. */
  writeMs: number;
  /** Live calls after SIGTERM. */
  drainMs: number;
  /** After SIGTERM, calls are still taken this long while /healthz says 503 (0 allowed). */
  preStopMs: number;
}

export const NO_TOKEN =
  'TWILIO_AUTH_TOKEN is not set: refusing to accept unsigned Twilio requests (pass --insecure-no-signature for local development)';

const USAGE = `usage: node dist/main.js serve [--listen HOST:PORT] [--public-url URL] [--model-url URL]
       [--model openai|azure|gemini|elevenlabs] [--openai-api ga|beta] [--audio pcm|pcmu|pcma|pcm16k]
       [--instructions TEXT] [--voice NAME]
       [--tools-webhook URL] [--tools-file FILE] [--local-vad] [--echo-cancel] [--echo-cancel-to-model]
       [--insecure-no-signature]
       [--drain-timeout S] [--pre-stop S] [--header-read-timeout S] [--start-timeout S] [--media-timeout S]
       [--session-timeout S] [--write-timeout S]
The model's key (OPENAI_API_KEY, AZURE_OPENAI_API_KEY, GEMINI_API_KEY or
ELEVENLABS_API_KEY, by --model) and TWILIO_AUTH_TOKEN come from the environment.`;

/** --audio's names (the Rust relay's) -> Call's. */
const AUDIO = { pcm: 'pcm24k', pcmu: 'pcmu', pcma: 'pcma', pcm16k: 'pcm16k' } as const;
const MODELS = ['openai', 'azure', 'gemini', 'elevenlabs'] as const;

/** Settings from `argv` (after the script name) and `env`; throws a usage error. */
export function fromArgs(argv: string[], env: NodeJS.ProcessEnv): RelaySettings {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      listen: { type: 'string', default: '127.0.0.1:8080' },
      'public-url': { type: 'string', default: env.PUBLIC_URL ?? 'http://127.0.0.1:8080' },
      'model-url': { type: 'string' },
      // The old name of --model-url.
      'openai-url': { type: 'string' },
      model: { type: 'string', default: 'openai' },
      'openai-api': { type: 'string', default: 'ga' },
      audio: { type: 'string', default: 'pcm' },
      instructions: { type: 'string' },
      voice: { type: 'string', default: 'marin' },
      'tools-webhook': { type: 'string' },
      'tools-file': { type: 'string' },
      'local-vad': { type: 'boolean', default: false },
      'echo-cancel': { type: 'boolean', default: false },
      'echo-cancel-to-model': { type: 'boolean', default: false },
      'insecure-no-signature': { type: 'boolean', default: false },
      'drain-timeout': { type: 'string', default: '30' },
      'pre-stop': { type: 'string', default: '5' },
      'header-read-timeout': { type: 'string', default: '10' },
      'start-timeout': { type: 'string', default: '5' },
      'media-timeout': { type: 'string', default: '10' },
      'session-timeout': { type: 'string', default: '10' },
      'write-timeout': { type: 'string', default: '5' },
    },
  });
  const ms = (name: string): number => {
    const v = Number((values as Record<string, unknown>)[name]);
    if (!(v > 0)) throw new Error(`--${name} takes a positive number of seconds, got ${(values as Record<string, unknown>)[name]}\n${USAGE}`);
    return Math.round(v * 1000);
  };
  const preStop = Number(values['pre-stop']);
  if (!(preStop >= 0)) throw new Error(`--pre-stop takes 0 or more seconds, got ${values['pre-stop']}\n${USAGE}`);
  if (positionals[0] !== 'serve' || positionals.length !== 1) throw new Error(USAGE);
  const token = env.TWILIO_AUTH_TOKEN;
  if (!token && !values['insecure-no-signature']) throw new Error(NO_TOKEN);
  const listen = values.listen!;
  const colon = listen.lastIndexOf(':');
  const port = Number(listen.slice(colon + 1));
  if (colon < 0 || !Number.isInteger(port)) throw new Error(`--listen takes HOST:PORT, got ${listen}\n${USAGE}`);
  if (!(values.audio! in AUDIO)) throw new Error(`--audio takes pcm, pcmu, pcma or pcm16k\n${USAGE}`);
  if (!(MODELS as readonly string[]).includes(values.model!)) throw new Error(`--model takes ${MODELS.join(', ')}\n${USAGE}`);
  if (values['echo-cancel-to-model'] && !values['echo-cancel']) throw new Error(`--echo-cancel-to-model needs --echo-cancel\n${USAGE}`);
  const call: CallOptions = {
    model: values.model as (typeof MODELS)[number],
    api: values['openai-api'] as 'ga' | 'beta',
    audio: AUDIO[values.audio as keyof typeof AUDIO],
    voice: values.voice,
    localVad: values['local-vad'],
    echoCancel: values['echo-cancel'],
    echoCancelToModel: values['echo-cancel-to-model'],
  };
  if (values.instructions) call.instructions = values.instructions;
  if (values['tools-file']) call.tools = JSON.parse(readFileSync(values['tools-file'], 'utf8'));
  return {
    host: listen.slice(0, colon) || '127.0.0.1',
    port,
    publicUrl: values['public-url']!,
    modelUrl: values['model-url'] ?? values['openai-url'] ?? env.OPENAI_REALTIME_URL ?? 'wss://api.openai.com/v1/realtime?model=gpt-realtime',
    modelApiKey: env[new Call(call).modelKeyEnv] ?? '',
    validator: token ? new RequestValidator(token) : null,
    toolsWebhook: values['tools-webhook'] ?? null,
    call,
    limits: {
      headerReadMs: ms('header-read-timeout'),
      startMs: ms('start-timeout'),
      mediaMs: ms('media-timeout'),
      sessionMs: ms('session-timeout'),
      writeMs: ms('write-timeout'),
      drainMs: ms('drain-timeout'),
      preStopMs: Math.round(preStop * 1000),
    },
  };
}
