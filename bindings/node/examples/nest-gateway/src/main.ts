// The Nest relay: the same relay as `teledsp-relay serve` (Rust) and
// fastapi_relay.py (Python), with the same command line:
//   npm run build:example && node examples/nest-gateway/dist/main.js serve \
//     --listen 0.0.0.0:8080 --public-url https://relay.example.com --model-url wss://... \
//     [--telephony twilio|telnyx|plivo|vonage|exotel|signalwire] [--model ...] [--call-tokens] [--tools-webhook URL]
// The provider's answer webhook (POST /twiml, POST /texml, GET or POST
// /answer; teledsp's Gate checks and answers), GET /media (the media
// stream), GET /healthz, /livez and /metrics. SIGTERM or SIGINT drains it (lifecycle.ts: /healthz red, calls
// taken for --pre-stop, then refused, 1001 at --drain-timeout) and it exits
// with status 0; a second signal exits at once (status 1).
import 'reflect-metadata';
import { INestApplication, LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { WsAdapter } from '@nestjs/platform-ws';
import { AppModule } from './app.module';
import { LIFE } from './lifecycle';
import { RelaySettings, fromArgs } from './settings';

export async function createApp(settings: RelaySettings, logger: LogLevel[] = ['log', 'warn', 'error']): Promise<INestApplication> {
  // No body parser: the answer webhooks' signatures cover the raw body, read there (bounded).
  const app = await NestFactory.create(AppModule.forRoot(settings), { logger, bodyParser: false });
  app.useWebSocketAdapter(new WsAdapter(app));
  // From the signal on, no connection is kept alive for a next request.
  app.use((_req: unknown, res: { setHeader(k: string, v: string): void }, next: () => void) => {
    if (LIFE.draining) res.setHeader('connection', 'close');
    next();
  });
  return app;
}

async function main(): Promise<void> {
  let settings: RelaySettings;
  try {
    settings = fromArgs(process.argv.slice(2), process.env);
  } catch (e) {
    console.error((e as Error).message);
    process.exit(2);
  }
  // RELAY_LOG_LEVEL as the Python relays read it (default: warnings). No
  // library here logs headers or messages (ws does not log), and the
  // gateway never logs a key or audio, at any level.
  const levels: Record<string, LogLevel[]> = {
    DEBUG: ['verbose', 'debug', 'log', 'warn', 'error'],
    INFO: ['log', 'warn', 'error'],
    WARNING: ['warn', 'error'],
    ERROR: ['error'],
  };
  const app = await createApp(settings, levels[(process.env.RELAY_LOG_LEVEL ?? 'WARNING').toUpperCase()] ?? levels.WARNING);
  // Slow request heads are cut (Node checks every 30 s: its
  // connectionsCheckingInterval), and so are idle keep-alives.
  const server = app.getHttpServer();
  server.headersTimeout = settings.limits.headerReadMs;
  server.requestTimeout = settings.limits.headerReadMs;
  await app.listen(settings.port, settings.host);
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    process.on(sig, () => {
      if (LIFE.draining) {
        console.error('second signal: exiting now');
        process.exit(1);
      }
      void LIFE.drain(settings.limits.drainMs, settings.limits.preStopMs).then(() => process.exit(0));
    });
  }
}

if (require.main === module) void main();
