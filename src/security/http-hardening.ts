import { INestApplication } from '@nestjs/common';
import helmet from 'helmet';
import { AppConfigValues } from '../config/app-config';

// Security headers for every response. The CSP allows only same-origin scripts, styles, images and
// fetches (the dashboard and Swagger UI are served by the service itself; no CDN, no inline script).
// Swagger UI sets inline styles, hence 'unsafe-inline' for styles only.
export function applyHttpHardening(app: INestApplication, config: AppConfigValues): void {
  const https = config.publicBaseUrl.startsWith('https://');
  app.use(
    helmet({
      contentSecurityPolicy: {
        useDefaults: false,
        directives: {
          'default-src': ["'self'"],
          'script-src': ["'self'"],
          'style-src': ["'self'", "'unsafe-inline'"],
          'img-src': ["'self'", 'data:'],
          'font-src': ["'self'", 'data:'],
          'connect-src': ["'self'"],
          'object-src': ["'none'"],
          'base-uri': ["'self'"],
          'form-action': ["'self'"],
          'frame-ancestors': ["'none'"],
          ...(https ? { 'upgrade-insecure-requests': [] } : {}),
        },
      },
      strictTransportSecurity: https ? { maxAge: 15_552_000, includeSubDomains: true } : false,
      crossOriginEmbedderPolicy: false,
    }),
  );
  const origins = config.operations.corsOrigins;
  if (origins.length > 0) {
    app.enableCors({
      origin: origins,
      methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
      allowedHeaders: ['Authorization', 'Content-Type', 'Idempotency-Key', 'Last-Event-ID', 'X-Request-Id'],
      exposedHeaders: ['X-Request-Id', 'Idempotent-Replayed', 'Retry-After'],
      maxAge: 600,
    });
  }
}
