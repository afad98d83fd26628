import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// Served by the service itself under /dashboard/ (src/dashboard), so every asset is same-origin and
// the page works under a strict Content-Security-Policy: no inline scripts or styles, no data: URLs.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/dashboard/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
  },
});
