import { Controller, Header, HttpCode, Param, Post, UseGuards } from '@nestjs/common';
import { Public } from '../auth/auth.decorators';
import { AppException } from '../common/errors/app.exception';
import { buildVoiceTwiml } from '../calls/twiml.builder';
import { CallInstructionsService } from '../schedule/call-instructions.service';
import { TwilioSignatureGuard } from './twilio-signature.guard';

export class CallLogNotFoundException extends AppException {
  constructor() {
    super('WEBHOOK_002', { field: 'call_log_id', issue: 'No call log has this id' });
  }
}

// Twilio fetches this when the callee answers (the default Url of every call we place through it).
// It is signed like the status callback and verified the same way.
@Public()
@Controller('webhook')
export class TwimlController {
  constructor(private readonly instructions: CallInstructionsService) {}

  @Post('twiml/:call_log_id')
  @HttpCode(200)
  @Header('content-type', 'text/xml; charset=utf-8')
  @UseGuards(TwilioSignatureGuard)
  async twiml(@Param('call_log_id') callLogId: string): Promise<string> {
    const instructions = await this.instructions.forCallLog(callLogId);
    if (!instructions) throw new CallLogNotFoundException();
    return buildVoiceTwiml(instructions);
  }
}
