/**
 * Options of useBackend (index.ts). In their own file because the backends' set-up modules
 * (wasm.ts), which index.ts loads, read them too: defined in index.ts they made a cycle.
 */
import type { WasmPaths } from './wasm-paths.ts';

export interface BackendOptions {
  /** Threads for the WASM backend in Node (default: all cores). 1 disables threading. */
  threads?: number;
  /**
   * Browsers: where the WASM backend's `.wasm` files are served, given to TF.js's `setWasmPaths`
   * before the backend first starts. A bundler does not copy them by itself, and by default TF.js
   * fetches them next to the page, so without this a bundled app usually gets a 404 (which
   * useBackend reports, naming the file and its URL). Either
   *  - the URL of a folder holding the three files of `@tensorflow/tfjs-backend-wasm/dist/`
   *    (WASM_FILES), e.g. copied to Vite's `public/wasm/`: `useBackend('wasm', { wasmPaths: '/wasm/' })`;
   *  - or one URL per file, e.g. with Vite, which then bundles them with hashed names:
   *    ```ts
   *    import plain from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
   *    import simd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
   *    import threadedSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
   *    await useBackend('wasm', { wasmPaths: { 'tfjs-backend-wasm.wasm': plain, 'tfjs-backend-wasm-simd.wasm': simd, 'tfjs-backend-wasm-threaded-simd.wasm': threadedSimd } });
   *    ```
   * TF.js loads one of the three: SIMD where the browser has it, threaded SIMD where the page is
   * also cross-origin isolated, plain otherwise. Node reads them from the installed package and
   * ignores this option.
   */
  wasmPaths?: WasmPaths;
}
