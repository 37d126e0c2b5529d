/**
 * WASM backend set-up: advx's gradient kernels, registered before the backend is first used; in
 * Node, threads; in browsers, where the .wasm files are, and why they did not load.
 */
import * as tf from '@tensorflow/tfjs-core';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { AdvxError } from '../core/errors.ts';
import type { BackendOptions } from './options.ts';
import { registerWasmGradientKernels } from './kernels/index.ts';
import { nativeKernels, setNativeWorkers } from './kernels/native.ts';
import type { WasmBackend } from './kernels/wasm-backend.ts';
import { unbundledImport } from './node-only.ts';
import { PLATFORM } from './platform.ts';
import { normalizeWasmPaths, wasmFetchProblem, wasmFileFor, wasmFileUrl, type WasmPaths } from './wasm-paths.ts';

let installed = false;
/** What was last given to setWasmPaths: TF.js keeps it in module state we cannot read. */
let appliedPaths: WasmPaths | undefined;

// Emscripten's default folder for the .wasm file is that of the script that loaded its glue,
// known only while a classic script runs (a module script has no currentScript: then it is the
// page's folder). This module loads in the same pass as the glue, so it sees the same script.
const loadingScript = (globalThis as { document?: { currentScript?: { src?: string } | null } }).document?.currentScript?.src || undefined;

export async function installWasm(options: BackendOptions): Promise<void> {
  if (options.wasmPaths !== undefined && PLATFORM === 'browser') applyWasmPaths(options.wasmPaths);
  if (installed) return;
  installed = true;
  registerWasmGradientKernels();
  await installThreads(options.threads);
}

/**
 * Hands the paths to TF.js, unless they are the ones it already has or the backend is running
 * (then the files are loaded and paths no longer matter). After a failed start TF.js refuses new
 * paths for good, which only a reload undoes.
 */
function applyWasmPaths(paths: WasmPaths): void {
  const normalized = normalizeWasmPaths(paths);
  if (JSON.stringify(normalized) === JSON.stringify(appliedPaths) || tf.engine().registry['wasm'] !== undefined) return;
  try {
    setWasmPaths(normalized);
  } catch (e) {
    throw new AdvxError(`the wasm backend already failed to start with other wasmPaths, and TF.js takes no new ones after that: reload the page (${(e as Error).message})`);
  }
  appliedPaths = normalized;
}

/**
 * Why the wasm backend failed to start in a browser, when the cause is its .wasm file: the file
 * TF.js chose for this browser, fetched from where TF.js looked. Undefined in Node, or when the
 * file is fine.
 */
export async function wasmStartProblem(): Promise<string | undefined> {
  const location = (globalThis as { location?: { href: string } }).location;
  const doc = (globalThis as { document?: { baseURI: string } }).document;
  const documentUrl = doc?.baseURI ?? location?.href;
  if (PLATFORM !== 'browser' || documentUrl === undefined) return undefined;
  const [simd, threads] = await Promise.all([tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'), tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT')]);
  const file = wasmFileFor(Boolean(simd), Boolean(threads));
  const url = wasmFileUrl(file, appliedPaths, documentUrl, loadingScript ?? documentUrl);
  return wasmFetchProblem(file, url, appliedPaths !== undefined);
}

/**
 * In Node the package only ever runs single-threaded (see wasm-threads.ts), so we swap in its
 * threaded build there. Browsers get threads from the package itself when the page is
 * cross-origin isolated, and must not load node:* modules, hence the platform check and the
 * dynamic imports through `unbundledImport`, whose computed specifiers bundlers leave alone.
 * If threading cannot start, the stock backend stays (with a warning).
 */
async function installThreads(requested: number | undefined): Promise<void> {
  if (PLATFORM !== 'node') return;
  const os = (await unbundledImport('node:os')) as typeof import('node:os');
  const threads = requested ?? os.availableParallelism();
  if (threads < 2) return;
  // This file runs as wasm.ts from source (tsx) and as wasm.js from the package's dist/. The base
  // is a variable because bundlers read `new URL('…', import.meta.url)` as a file the page needs
  // and copy it into browser builds (Vite did: assets/wasm-threads-*.ts).
  const here = import.meta.url;
  const sibling = new URL(`./wasm-threads${here.slice(here.lastIndexOf('.'))}`, here);
  const { registerThreadedWasmBackend } = (await unbundledImport(sibling.href)) as typeof import('./wasm-threads.ts');
  if (await registerThreadedWasmBackend(threads)) {
    // advx's own native kernels cannot use TF.js's pthreads; give them as many workers of their
    // own (they sleep on a futex between kernels), over the same shared memory.
    const { Worker } = (await unbundledImport('node:worker_threads')) as typeof import('node:worker_threads');
    setNativeWorkers((source) => {
      const w = new Worker(source, { eval: true });
      w.unref(); // like TF.js's pool threads, they must not keep the process alive
      return w;
    }, Math.min(threads, MAX_NATIVE_THREADS) - 1);
  }
}

/** The same cap as TF.js's pool (wasm-threads.ts). */
const MAX_NATIVE_THREADS = 8;


/** Whether advx's native kernels run on the active wasm backend, on how many threads, and which build. */
export function nativeKernelInfo(): { native: boolean; threads: number; relaxedSimd: boolean } {
  const k = nativeKernels(tf.backend() as unknown as WasmBackend);
  return k ? { native: true, threads: k.shares, relaxedSimd: k.relaxedSimd } : { native: false, threads: 1, relaxedSimd: false };
}
