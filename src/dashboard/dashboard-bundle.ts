import { Injectable } from '@nestjs/common';
import type { Response } from 'express';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

// Where `npm run build:dashboard` (Vite, dashboard/vite.config.ts) writes the page. Outside dist/ because
// `nest build` empties dist/; the same relative path holds from src/dashboard and dist/dashboard.
export const DEFAULT_DASHBOARD_DIR = resolve(__dirname, '..', '..', 'dashboard', 'dist');

export type SendOutcome = 'sent' | 'not_found';

// The built files on disk, served with Express's own static file sender (ETag, Last-Modified,
// ranges, content types, and no path outside the directory).
@Injectable()
export class DashboardBundle {
  constructor(readonly dir: string = DEFAULT_DASHBOARD_DIR) {}

  isBuilt(): boolean {
    return existsSync(join(this.dir, 'index.html'));
  }

  send(res: Response, relativePath: string): Promise<SendOutcome> {
    // Vite names files under assets/ by content hash: they never change, so browsers may keep them.
    const immutable = relativePath.startsWith('assets/');
    return new Promise((done, fail) => {
      res.sendFile(
        relativePath,
        {
          root: this.dir,
          dotfiles: 'deny',
          maxAge: immutable ? '365d' : 0,
          immutable,
          headers: immutable ? {} : { 'Cache-Control': 'no-cache' },
        },
        (error?: Error & { status?: number; statusCode?: number }) => {
          if (!error) return done('sent');
          const status = error.status ?? error.statusCode;
          if (!res.headersSent && (status === 404 || status === 403 || status === 400)) return done('not_found');
          fail(error);
        },
      );
    });
  }
}
