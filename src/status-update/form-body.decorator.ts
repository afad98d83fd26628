import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';

// Raw form body, outside the global whitelist pipe: Twilio adds parameters over time and every one of
// them is part of the signature, so unknown fields must be tolerated here (and only here).
export const FormBody = createParamDecorator((_: unknown, ctx: ExecutionContext): unknown => ctx.switchToHttp().getRequest<Request>().body);
export const RawQuery = createParamDecorator((_: unknown, ctx: ExecutionContext): unknown => ctx.switchToHttp().getRequest<Request>().query);
