import { CanActivate, ExecutionContext, Injectable, Logger, Optional } from '@nestjs/common';
import type { Request } from 'express';
import { AppException } from '../common/errors/app.exception';
import { AppConfig } from '../config/app-config';
import { FormParams, isValidTwilioSignature } from '../calls/webhook-signature';
import { MetricsRecorder } from '../observability/metrics/metrics-recorder';

export class WebhookSignatureInvalidException extends AppException {
  constructor(issue: string) {
    super('WEBHOOK_001', { field: 'X-Twilio-Signature', issue });
  }
}

// The signed URL is PUBLIC_BASE_URL + the path and query exactly as received. It is never rebuilt from
// Host or the protocol, which a TLS-terminating proxy changes.
@Injectable()
export class TwilioSignatureGuard implements CanActivate {
  private readonly logger = new Logger('WebhookSignature');
  private readonly tokens: string[];

  constructor(
    private readonly config: AppConfig,
    @Optional() private readonly metrics?: MetricsRecorder,
  ) {
    this.tokens = [...new Set([config.twilio.authToken, config.simulator.signingToken].filter((t): t is string => !!t))];
  }

  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<Request>();
    const signature = req.headers['x-twilio-signature'];
    if (typeof signature !== 'string' || signature.length === 0 || signature.length > 256) {
      this.reject(req, 'missing');
      throw new WebhookSignatureInvalidException('The X-Twilio-Signature header is missing');
    }
    const contentType = req.headers['content-type'] ?? '';
    const body: unknown = req.body;
    if (!/^application\/x-www-form-urlencoded/i.test(contentType) || body === null || typeof body !== 'object' || Array.isArray(body)) {
      this.reject(req, 'content-type');
      throw new WebhookSignatureInvalidException('Status callbacks must be application/x-www-form-urlencoded');
    }
    const url = `${this.config.publicBaseUrl}${req.originalUrl}`;
    const params = body as FormParams;
    if (!this.tokens.some((token) => isValidTwilioSignature(token, signature, url, params))) {
      this.reject(req, 'mismatch');
      throw new WebhookSignatureInvalidException('The signature does not match the request');
    }
    return true;
  }

  private reject(req: Request, reason: string): void {
    this.logger.warn(`rejected ${req.method} ${req.path}: signature ${reason}`);
    this.metrics?.webhookSignatureFailed(reason);
  }
}
