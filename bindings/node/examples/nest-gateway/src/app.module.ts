import { Controller, DynamicModule, Get, Header, HttpCode, Inject, Module, Post, Req, Res } from '@nestjs/common';
import { TwilioMediaStreamGateway } from './twilio-media-stream.gateway';
import { LIFE } from './lifecycle';
import { RelaySettings, SETTINGS } from './settings';

/** What this controller uses of Express's request and response. */
interface Request {
  body?: Record<string, string>;
  headers: Record<string, string | string[] | undefined>;
  originalUrl: string;
}
interface Response {
  status(code: number): Response;
  type(t: string): Response;
  send(body: string | Buffer): void;
}

const attr = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/'/g, '&apos;');

@Controller()
export class RelayController {
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

  /** <Connect><Stream> to /media, with CallSid/From/To as <Parameter>s. */
  @Post('twiml')
  @HttpCode(200)
  twiml(@Req() req: Request, @Res() res: Response): void {
    if (LIFE.stopping) {
      res.status(503).type('text/plain').send('stopping\n');
      return;
    }
    const base = this.settings.publicUrl.replace(/\/+$/, '');
    const params = Object.entries((req.body ?? {}) as Record<string, string>);
    const sig = req.headers['x-twilio-signature'];
    if (this.settings.validator && !this.settings.validator.validate(base + req.originalUrl, params, typeof sig === 'string' ? sig : '')) {
      res.status(403).type('text/plain').send('invalid X-Twilio-Signature\n');
      return;
    }
    const stream = base.replace(/^https:\/\//, 'wss://').replace(/^http:\/\//, 'ws://') + '/media';
    const p = Object.fromEntries(params);
    const parts = ['CallSid', 'From', 'To']
      .filter((k) => k in p)
      .map((k) => `<Parameter name="${k}" value="${attr(p[k])}"/>`)
      .join('');
    res
      .type('text/xml')
      .send(
        `<?xml version="1.0" encoding="UTF-8"?><Response><Connect><Stream url="${attr(stream)}">${parts}</Stream></Connect>` +
          '<Say>Sorry, the assistant is unavailable. Goodbye.</Say></Response>',
      );
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
