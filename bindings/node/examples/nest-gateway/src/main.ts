// Run: npm run build:example && OPENAI_API_KEY=sk-... node examples/nest-gateway/dist/main.js
// Settings (environment): PORT (5050), OPENAI_REALTIME_URL, OPENAI_API_KEY,
// RELAY_VOICE, RELAY_INSTRUCTIONS. Point Twilio's <Connect><Stream> at
// wss://<your host>/media-stream.
import 'reflect-metadata';
import { INestApplication, LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { WsAdapter } from '@nestjs/platform-ws';
import { AppModule } from './app.module';

export async function createApp(logger: LogLevel[] = ['log', 'warn', 'error']): Promise<INestApplication> {
  const app = await NestFactory.create(AppModule, { logger });
  app.useWebSocketAdapter(new WsAdapter(app));
  return app;
}

if (require.main === module) {
  createApp().then((app) => app.listen(Number(process.env.PORT ?? 5050)));
}
