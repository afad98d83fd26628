import { Body, Controller, Get, Header, HttpCode, Post, Req, Res } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiProduces, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { Public } from '../auth/auth.decorators';
import { AdminRoleRequiredException, MissingTokenException } from '../auth/auth.exceptions';
import { TokenVerifierService } from '../auth/token-verifier.service';
import { Clock } from '../common/clock/clock';
import { AppConfig } from '../config/app-config';
import { ADMIN_JOBS_PATH, ADMIN_SESSION_COOKIE, AdminSessionSigner } from './admin-session';

const LOGIN_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Call Scheduler job admin</title></head>
<body><h1>Job admin sign-in</h1>
<form method="post" action="/admin/session">
<label>Admin JWT <input type="password" name="token" autocomplete="off" size="60"></label>
<button type="submit">Open job admin</button></form>
<p>The token is exchanged for a short-lived, HttpOnly cookie scoped to ${ADMIN_JOBS_PATH}.</p></body></html>`;

// Browsers reach /admin/jobs with a cookie that this route sets in exchange for an admin JWT (bearer
// header, or a `token` form field from the sign-in page). The token itself is never put in a URL.
@ApiTags('admin')
@Public()
@Controller('admin/session')
export class AdminSessionController {
  private readonly signer: AdminSessionSigner;

  constructor(
    private readonly verifier: TokenVerifierService,
    private readonly clock: Clock,
    private readonly config: AppConfig,
  ) {
    this.signer = new AdminSessionSigner(config.jwt.secret);
  }

  @Get()
  @Header('Content-Type', 'text/html; charset=utf-8')
  @Header('Cache-Control', 'no-store')
  @ApiOperation({ summary: 'Sign-in page for the job admin (a form that posts an admin JWT)' })
  @ApiProduces('text/html')
  page(): string {
    return LOGIN_PAGE;
  }

  @Post()
  @HttpCode(303)
  @ApiOperation({ summary: 'Exchange an admin JWT (bearer header or form field `token`) for a job-admin cookie; redirects to /admin/jobs/' })
  @ApiBody({ required: false, schema: { type: 'object', properties: { token: { type: 'string', description: 'Admin JWT (form field)' } } } })
  @ApiResponse({ status: 303, description: 'Cookie set; Location: /admin/jobs/' })
  create(@Req() req: Request, @Body() body: unknown, @Res() res: Response): void {
    const header = req.headers.authorization;
    const bearer = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1] : undefined;
    const field = body && typeof body === 'object' && typeof (body as { token?: unknown }).token === 'string' ? (body as { token: string }).token.trim() : undefined;
    const token = bearer ?? field;
    if (!token) throw new MissingTokenException();
    const principal = this.verifier.verify(token);
    if (!principal.isAdmin) throw new AdminRoleRequiredException();
    const ttl = this.config.operations.adminSessionTtlSeconds;
    const value = this.signer.issue(principal.sub, new Date(this.clock.now().getTime() + ttl * 1000));
    res.cookie(ADMIN_SESSION_COOKIE, value, {
      httpOnly: true,
      sameSite: 'strict',
      secure: this.config.publicBaseUrl.startsWith('https://'),
      path: ADMIN_JOBS_PATH,
      maxAge: ttl * 1000,
    });
    res.redirect(303, `${ADMIN_JOBS_PATH}/`);
  }
}
