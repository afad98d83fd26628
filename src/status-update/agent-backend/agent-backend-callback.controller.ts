import { Controller, HttpCode, Post, Req } from '@nestjs/common';
import type { Request } from 'express';
import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { Public } from '../../auth/auth.decorators';
import { isValidAgentBackendSignature, AGENT_BACKEND_SIGNATURE_HEADER } from '../../calls/agent-backend-signature';
import { AGENT_BACKEND_CALLBACK_PATH } from '../../calls/webhook-paths';
import { AppException, RequestValidationException } from '../../common/errors/app.exception';
import { AppConfig } from '../../config/app-config';
import { AGENT_CALLBACK_SOURCE, StatusUpdateService } from '../status-update.service';
import { AgentBackendCallbackDto, AgentBackendCallbackQuery, agentBackendStatusOf } from './agent-backend-callback.dto';

const BODY_LIMIT_BYTES = 16 * 1024;

class AgentBackendSignatureInvalidException extends AppException {
  constructor(issue: string) {
    super('WEBHOOK_001', { field: 'X-Agent-Backend-Signature', issue });
  }
}

function validated<T extends object>(cls: new () => T, data: unknown): T {
  const instance = plainToInstance(cls, data ?? {});
  const errors = validateSync(instance, { whitelist: true, forbidNonWhitelisted: false });
  const first = errors[0];
  if (first) throw new RequestValidationException('VALIDATION_001', first.property, Object.values(first.constraints ?? {})[0] ?? 'Invalid callback');
  return instance;
}

// Outcomes an agent backend reports for a call it accepted, at the callbackUrl we passed to /call/start.
// The signature covers the raw body, so this route reads its own (see own-body-routes.middleware.ts).
@Public()
@Controller()
export class AgentBackendCallbackController {
  constructor(
    private readonly service: StatusUpdateService,
    private readonly config: AppConfig,
  ) {}

  @Post(AGENT_BACKEND_CALLBACK_PATH)
  @HttpCode(200)
  async callStatus(@Req() req: Request) {
    const raw = await readRawBody(req);
    const token = this.config.agentBackend.internalToken;
    const signature = req.headers[AGENT_BACKEND_SIGNATURE_HEADER];
    if (!token) throw new AgentBackendSignatureInvalidException('Agent backend callbacks are not accepted without BACKEND_INTERNAL_TOKEN');
    if (typeof signature !== 'string' || signature.length === 0 || signature.length > 256) {
      throw new AgentBackendSignatureInvalidException('The X-Agent-Backend-Signature header is missing');
    }
    if (!isValidAgentBackendSignature(token, signature, `${this.config.publicBaseUrl}${req.originalUrl}`, raw)) {
      throw new AgentBackendSignatureInvalidException('The signature does not match the request');
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      throw new RequestValidationException('VALIDATION_004', null, 'Body could not be parsed as JSON');
    }
    const query = validated(AgentBackendCallbackQuery, req.query);
    const body = validated(AgentBackendCallbackDto, parsed);
    const status = agentBackendStatusOf(body.status)!;
    const at = body.timestamp ? new Date(body.timestamp) : null;
    const outcome = await this.service.applyReport(
      {
        callId: body.callId,
        status,
        // Recorded in the timeline in one spelling whichever the backend used (`no-answer`, like Twilio's).
        providerStatus: status.replace(/_/g, '-'),
        sequence: null,
        at: at && !Number.isNaN(at.getTime()) ? at : null,
        duration: body.durationSeconds ?? null,
        answeredBy: null,
        errorCode: null,
        errorMessage: body.error || null,
      },
      query.call_log_id,
      AGENT_CALLBACK_SOURCE,
    );
    return { status: 'success', outcome };
  }
}

async function readRawBody(req: Request): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > BODY_LIMIT_BYTES) throw new RequestValidationException('VALIDATION_005', null, `Body exceeds ${BODY_LIMIT_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
