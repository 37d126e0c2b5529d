/**
 * The lab's production build: `npm run build` → web/dist, served by `advx lab`.
 * The advx core is imported straight from ../src (its isomorphic modules only); TF.js and the
 * WASM backend's .wasm files are bundled, so the built lab makes no external request.
 */
import { defineConfig } from 'vite';
import { fileURLToPath } from 'node:url';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  publicDir: 'public',
  logLevel: 'warn',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    // TF.js is large; one chunk per page is the point of a bundle here.
    chunkSizeWarningLimit: 4096,
    // Keep .wasm files as files (never inlined as data: URLs).
    assetsInlineLimit: (file) => (file.endsWith('.wasm') ? false : undefined),
  },
  server: { fs: { allow: ['..'] } },
});
