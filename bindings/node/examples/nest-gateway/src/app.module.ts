import { Controller, Get, Module } from '@nestjs/common';
import { isa } from 'teledsp';
import { TwilioMediaStreamGateway } from './twilio-media-stream.gateway';

@Controller()
export class HealthController {
  @Get('health')
  health(): { status: string; isa: string } {
    return { status: 'ok', isa: isa() };
  }
}

@Module({ controllers: [HealthController], providers: [TwilioMediaStreamGateway] })
export class AppModule {}
