/**
 * The lab's production build: `npm run build` → web/dist, served by `advx lab`.
 * The advx core is imported straight from ../src (its isomorphic modules only); TF.js and the
 * WASM backend's .wasm files are bundled, so the built lab makes no external request (ONNX Runtime
 * Web's .wasm comes from the same server: see below).
 */
import { defineConfig, type Plugin } from 'vite';
import { fileURLToPath } from 'node:url';

/**
 * ONNX Runtime Web's glue names its 15 MB .wasm with `new URL(…, import.meta.url)`, so Vite copies
 * it into the build; the lab gets it from the installed onnxruntime-web instead (web/src/onnx-runtime.ts,
 * served by `advx lab` under /vendor/), and the copy is dropped here.
 */
const ortWasmNotBundled: Plugin = {
  name: 'advx:ort-wasm-not-bundled',
  generateBundle(_, bundle) {
    for (const name of Object.keys(bundle)) if (/(^|\/)ort-wasm[^/]*\.wasm$/.test(name)) delete bundle[name];
  },
};

export default defineConfig({
  plugins: [ortWasmNotBundled],
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
