// What the relay runs with: the same settings as `teledsp-relay serve` and
// fastapi_relay.py, from the same command line and environment.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Call, Gate } from 'teledsp';
import type { CallOptions } from 'teledsp';

export const SETTINGS = Symbol('RelaySettings');

export interface RelaySettings {
  /** Where to listen. */
  host: string;
  port: number;
  /** The https base URL the provider reaches (stream URL and signature checks). */
  publicUrl: string;
  /** The model's WebSocket URL. */
  modelUrl: string;
  /** The model's API key, from the variable teledsp names for --model (never logged). */
  modelApiKey: string;
  /** The answer webhook's, the upgrade's and start's checks (teledsp's, per --telephony). */
  gate: Gate;
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

const USAGE = `usage: node dist/main.js serve [--listen HOST:PORT] [--public-url URL] [--model-url URL]
       [--telephony twilio|telnyx|plivo|vonage|exotel|signalwire]
       [--model openai|azure|gemini|elevenlabs] [--openai-api ga|beta] [--audio pcm|pcmu|pcma|pcm16k]
       [--instructions TEXT] [--voice NAME]
       [--tools-webhook URL] [--tools-file FILE] [--local-vad] [--echo-cancel] [--echo-cancel-to-model]
       [--resume-false-interruptions] [--commit-after-ms MS]
       [--call-tokens] [--call-token-ttl S] [--insecure-no-signature]
       [--drain-timeout S] [--pre-stop S] [--header-read-timeout S] [--start-timeout S] [--media-timeout S]
       [--session-timeout S] [--write-timeout S]
The model's key (OPENAI_API_KEY, AZURE_OPENAI_API_KEY, GEMINI_API_KEY or
ELEVENLABS_API_KEY, by --model) and the provider's signing secret
(TWILIO_AUTH_TOKEN, TELNYX_PUBLIC_KEY, PLIVO_AUTH_TOKEN, VONAGE_SIGNATURE_SECRET
or SIGNALWIRE_SIGNING_KEY, by --telephony) come from the environment.`;

/** --audio's names (the Rust relay's) -> Call's. */
const AUDIO = { pcm: 'pcm24k', pcmu: 'pcmu', pcma: 'pcma', pcm16k: 'pcm16k' } as const;
const MODELS = ['openai', 'azure', 'gemini', 'elevenlabs'] as const;
const TELEPHONIES = ['twilio', 'telnyx', 'plivo', 'vonage', 'exotel', 'signalwire'] as const;

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
      telephony: { type: 'string', default: 'twilio' },
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
      'resume-false-interruptions': { type: 'boolean', default: false },
      'commit-after-ms': { type: 'string', default: '700' },
      'call-tokens': { type: 'boolean', default: false },
      'call-token-ttl': { type: 'string', default: '60' },
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
  const telephony = values.telephony as (typeof TELEPHONIES)[number];
  if (!(TELEPHONIES as readonly string[]).includes(telephony)) throw new Error(`--telephony takes ${TELEPHONIES.join(', ')}\n${USAGE}`);
  const ttl = Number(values['call-token-ttl']);
  if (!(Number.isInteger(ttl) && ttl > 0)) throw new Error(`--call-token-ttl takes a positive whole number of seconds\n${USAGE}`);
  // The provider's secret, from the variable teledsp names; the Gate says
  // what is missing or malformed (ERR_TELEDSP_CONFIG).
  const secretEnv = Gate.secretEnv(telephony);
  const gate = new Gate({
    telephony,
    publicUrl: values['public-url']!,
    secret: secretEnv ? env[secretEnv] : undefined,
    callTokens: values['call-tokens'],
    callTokenTtl: ttl,
    insecureNoSignature: values['insecure-no-signature'],
  });
  const listen = values.listen!;
  const colon = listen.lastIndexOf(':');
  const port = Number(listen.slice(colon + 1));
  if (colon < 0 || !Number.isInteger(port)) throw new Error(`--listen takes HOST:PORT, got ${listen}\n${USAGE}`);
  if (!(values.audio! in AUDIO)) throw new Error(`--audio takes pcm, pcmu, pcma or pcm16k\n${USAGE}`);
  if (!(MODELS as readonly string[]).includes(values.model!)) throw new Error(`--model takes ${MODELS.join(', ')}\n${USAGE}`);
  if (values['echo-cancel-to-model'] && !values['echo-cancel']) throw new Error(`--echo-cancel-to-model needs --echo-cancel\n${USAGE}`);
  const call: CallOptions = {
    telephony,
    model: values.model as (typeof MODELS)[number],
    api: values['openai-api'] as 'ga' | 'beta',
    audio: AUDIO[values.audio as keyof typeof AUDIO],
    voice: values.voice,
    localVad: values['local-vad'],
    echoCancel: values['echo-cancel'],
    echoCancelToModel: values['echo-cancel-to-model'],
    resumeFalseInterruptions: values['resume-false-interruptions'],
    commitAfterMs: Number(values['commit-after-ms']),
  };
  if (!(Number.isInteger(call.commitAfterMs) && call.commitAfterMs! > 0)) throw new Error(`--commit-after-ms takes a positive whole number\n${USAGE}`);
  if (values.instructions) call.instructions = values.instructions;
  if (values['tools-file']) call.tools = JSON.parse(readFileSync(values['tools-file'], 'utf8'));
  return {
    host: listen.slice(0, colon) || '127.0.0.1',
    port,
    publicUrl: values['public-url']!,
    modelUrl: values['model-url'] ?? values['openai-url'] ?? env.OPENAI_REALTIME_URL ?? 'wss://api.openai.com/v1/realtime?model=gpt-realtime',
    // new Call checks every setting (ERR_TELEDSP_CONFIG says what is wrong).
    modelApiKey: env[new Call(call).modelKeyEnv] ?? '',
    gate,
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
