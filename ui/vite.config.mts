// Builds the web UI into dist/ui, served by the gateway at /ui (src/server/ui/ui-router.ts).
import { fileURLToPath } from 'node:url';
import preact from '@preact/preset-vite';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root,
  base: '/ui/',
  plugins: [preact()],
  build: {
    outDir: fileURLToPath(new URL('../dist/ui', import.meta.url)),
    emptyOutDir: true,
    // The CSP allows no inline scripts or styles: everything ships as files.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
    reportCompressedSize: true,
  },
  server: {
    proxy: {
      '/v1': 'http://127.0.0.1:7080',
      '/ui/api': 'http://127.0.0.1:7080',
    },
  },
});
