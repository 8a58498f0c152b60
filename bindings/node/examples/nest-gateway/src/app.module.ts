import { Controller, DynamicModule, Get, Header, Inject, Logger, Module, Post, Req, Res } from '@nestjs/common';
import { TwilioMediaStreamGateway } from './twilio-media-stream.gateway';
import { LIFE } from './lifecycle';
import { RelaySettings, SETTINGS } from './settings';

/** What this controller uses of Express's request and response. */
interface Request extends AsyncIterable<Buffer> {
  method: string;
  headers: Record<string, string | string[] | undefined>;
  originalUrl: string;
}
interface Response {
  status(code: number): Response;
  type(t: string): Response;
  send(body: string | Buffer): void;
}

/** Largest answer-webhook body (the providers' posts are a few KiB), as the Rust relay's. */
const MAX_ANSWER_BODY = 64 * 1024;

/** The request's body as sent (signatures cover the raw bytes), at most MAX_ANSWER_BODY. */
async function rawBody(req: Request): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > MAX_ANSWER_BODY) return null;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

@Controller()
export class RelayController {
  private readonly logger = new Logger(RelayController.name);

  constructor(@Inject(SETTINGS) private readonly settings: RelaySettings) {}

  /** Readiness: red from SIGTERM on (the load balancer stops sending calls). */
  @Get('healthz')
  healthz(@Res() res: Response): void {
    if (LIFE.draining) res.status(503).type('text/plain').send('draining\n');
    else res.type('text/plain').send('ok\n');
  }

  /** Liveness: green to the end of the drain. */
  @Get('livez')
  @Header('content-type', 'text/plain')
  livez(): string {
    return 'ok\n';
  }

  @Get('metrics')
  async metrics(@Res() res: Response): Promise<void> {
    res.type(LIFE.registry.contentType).send(await LIFE.registry.metrics());
  }

  /**
   * Every provider's answer webhook (/twiml, /texml, /answer): teledsp's Gate
   * checks the signature and writes the document (another provider's path: 404).
   */
  @Post(['twiml', 'texml', 'answer'])
  async answerPost(@Req() req: Request, @Res() res: Response): Promise<void> {
    await this.answer(req, res);
  }

  @Get('answer')
  async answerGet(@Req() req: Request, @Res() res: Response): Promise<void> {
    await this.answer(req, res);
  }

  private async answer(req: Request, res: Response): Promise<void> {
    if (LIFE.stopping) {
      res.status(503).type('text/plain').send('stopping\n');
      return;
    }
    const body = await rawBody(req);
    if (body === null) {
      res.status(413).type('text/plain').send(`request body over ${MAX_ANSWER_BODY} bytes\n`);
      return;
    }
    const r = this.settings.gate.answer(req.method, req.originalUrl, req.headers, body);
    if (r.refused) this.logger.warn(`answer webhook refused: ${r.refused}`);
    res.status(r.status).type(r.contentType).send(r.body);
  }
}

@Module({})
export class AppModule {
  static forRoot(settings: RelaySettings): DynamicModule {
    return {
      module: AppModule,
      controllers: [RelayController],
      providers: [{ provide: SETTINGS, useValue: settings }, TwilioMediaStreamGateway],
    };
  }
}
