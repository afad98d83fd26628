import { Controller, HttpCode, Post, UseGuards, ValidationPipe } from '@nestjs/common';
import { Public } from '../auth/auth.decorators';
import { RequestValidationException } from '../common/errors/app.exception';
import { StatusCallbackQuery, TwilioStatusCallbackDto } from './dto/twilio-status-callback.dto';
import { FormBody, RawQuery } from './form-body.decorator';
import { StatusUpdateService } from './status-update.service';
import { twilioCallbackReport } from '../calls/providers/twilio-status';
import { TwilioSignatureGuard } from './twilio-signature.guard';

const lenient = new ValidationPipe({
  // FormBody/RawQuery are custom decorators, which ValidationPipe skips unless told: without this a signed
  // callback missing CallStatus reached the service and wrote a status-less timeline entry.
  validateCustomDecorators: true,
  whitelist: true,
  forbidNonWhitelisted: false,
  transform: true,
  exceptionFactory: (errors) => {
    const first = errors[0];
    return new RequestValidationException('VALIDATION_001', first?.property ?? null, Object.values(first?.constraints ?? {})[0] ?? 'Invalid callback');
  },
});

@Public()
@Controller('webhook')
export class StatusUpdateController {
  constructor(private readonly service: StatusUpdateService) {}

  @Post('call-status')
  @HttpCode(200)
  @UseGuards(TwilioSignatureGuard)
  async callStatus(@FormBody(lenient) body: TwilioStatusCallbackDto, @RawQuery(lenient) query: StatusCallbackQuery) {
    const outcome = await this.service.applyReport(twilioCallbackReport(body), query.call_log_id);
    return { status: 'success', outcome };
  }
}
