/** WASM backend set-up: advx's gradient kernels, registered before the backend is first used. */
import type { BackendOptions } from './options.ts';
import '@tensorflow/tfjs-backend-wasm';
import { registerWasmGradientKernels } from './kernels/index.ts';
import { setNativeWorkers } from './kernels/native.ts';
import { nodeOnly } from './node-only.ts';

let installed = false;

export async function installWasm(options: BackendOptions): Promise<void> {
  if (installed) return;
  installed = true;
  registerWasmGradientKernels();
  await installThreads(options.threads);
}

/**
 * In Node the package only ever runs single-threaded (see wasm-threads.ts), so we swap in its
 * threaded build there. Browsers get threads from the package itself when the page is
 * cross-origin isolated, and must not load node:* modules, hence the platform check and the
 * dynamic imports through `nodeOnly`, whose computed specifiers bundlers leave alone.
 * If threading cannot start, the stock backend stays (with a warning).
 */
async function installThreads(requested: number | undefined): Promise<void> {
  if (typeof process === 'undefined' || !process.versions?.node) return;
  const os = (await nodeOnly('node:os')) as typeof import('node:os');
  const threads = requested ?? os.availableParallelism();
  if (threads < 2) return;
  const { registerThreadedWasmBackend } = (await nodeOnly(new URL('./wasm-threads.ts', import.meta.url).href)) as typeof import('./wasm-threads.ts');
  if (await registerThreadedWasmBackend(threads)) {
    // advx's own native kernels cannot use TF.js's pthreads; give them as many workers of their
    // own (they sleep on a futex between kernels), over the same shared memory.
    const { Worker } = (await nodeOnly('node:worker_threads')) as typeof import('node:worker_threads');
    setNativeWorkers((source) => {
      const w = new Worker(source, { eval: true });
      w.unref(); // like TF.js's pool threads, they must not keep the process alive
      return w;
    }, Math.min(threads, MAX_NATIVE_THREADS) - 1);
  }
}

/** The same cap as TF.js's pool (wasm-threads.ts). */
const MAX_NATIVE_THREADS = 8;

