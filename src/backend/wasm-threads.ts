/**
 * Multi-threaded TF.js WASM backend for Node.
 *
 * `@tensorflow/tfjs-backend-wasm` ships a pthreads + SIMD build, but never uses it in Node: its
 * `WASM_HAS_MULTITHREAD_SUPPORT` flag is hard-wired to false there (tfjs issue #3830), and its
 * `init()` hands Emscripten a Blob URL for the pthread worker script, which `worker_threads`
 * cannot load. The Emscripten glue itself supports Node pthreads, so this module instantiates the
 * threaded build directly with loadable worker/script locations and registers the result under
 * the name 'wasm'. Every kernel the package registers for 'wasm' then runs unchanged, with
 * XNNPACK's thread pool spread over the cores.
 *
 * Node only (imports node:*); callers gate on the platform. On any failure it reports false and
 * leaves the package's stock single-threaded 'wasm' backend registered.
 */
import * as tf from '@tensorflow/tfjs-core';
import { BackendWasm, getThreadsCount, setThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Worker } from 'node:worker_threads';

/** The package registers 'wasm' at this priority; we keep it so backend auto-selection is unchanged. */
const WASM_PRIORITY = 2;
/** XNNPACK's pool is capped at the 8 pthread workers the build pre-spawns (see backend.cc). */
const MAX_THREADS = 8;
/** Start-up normally takes well under a second; past this something is wrong, so give up rather than hang. */
const INIT_TIMEOUT_MS = 20_000;

const BASENAME = 'tfjs-backend-wasm-threaded-simd';

/** The slice of the Emscripten module object this file touches. */
interface EmscriptenModule {
  cwrap(name: string, ret: string | null, args: string[]): (...args: number[]) => number;
  PThread: { unusedWorkers: Worker[]; runningWorkers: Worker[]; terminateAllThreads(): void };
  tfjs?: Record<string, (...args: number[]) => number>;
}

interface FactoryConfig {
  locateFile(path: string, prefix: string): string | URL;
  mainScriptUrlOrBlob: string;
  instantiateWasm(
    imports: { env: Record<string, unknown> },
    receive: (instance: WebAssembly.Instance, module: WebAssembly.Module) => void,
  ): object;
  onAbort(what: unknown): void;
}

type Factory = (config: FactoryConfig) => Promise<EmscriptenModule>;

/**
 * Registers a 'wasm' backend running on `threads` threads (the calling thread plus threads − 1
 * pthread workers). Resolves true when the threaded backend is registered and its thread pool is
 * up; false, leaving the stock backend in place, when it is not possible (threads < 2, a 'wasm'
 * backend already in use, or any load failure). Never rejects and never hangs.
 */
export async function registerThreadedWasmBackend(threads: number): Promise<boolean> {
  const n = Math.min(Math.floor(threads), MAX_THREADS);
  if (!(n >= 2)) return false;
  // Swapping a backend that already holds tensors would orphan them.
  if (tf.engine().registry['wasm'] !== undefined) {
    warn('the wasm backend was already in use; register threads before the first wasm op');
    return false;
  }

  let module: EmscriptenModule;
  try {
    module = await createThreadedModule(n);
  } catch (e) {
    warn(e);
    return false;
  }

  let backend: BackendWasm;
  try {
    // BackendWasm's constructor starts XNNPACK's pool with the count passed to setThreadsCount.
    setThreadsCount(n);
    backend = new BackendWasm(module as unknown as ConstructorParameters<typeof BackendWasm>[0]);
    if (getThreadsCount() !== n) throw new Error(`thread pool started with ${getThreadsCount()} threads, wanted ${n}`);
  } catch (e) {
    module.PThread.terminateAllThreads();
    setThreadsCount(-1); // the package's default, for the stock backend
    warn(e);
    return false;
  }
  // Emscripten refs a worker while it runs a pthread; XNNPACK's pool threads run forever, so
  // without this a script would never exit. Unref'd workers still compute; they just don't keep
  // the process alive.
  for (const w of module.PThread.runningWorkers) w.unref();
  // Nothing else creates threads, so any worker left idle would only hold memory.
  for (const w of module.PThread.unusedWorkers.splice(0)) void w.terminate();

  if (tf.engine().registryFactory['wasm'] !== undefined) tf.removeBackend('wasm');
  tf.registerBackend('wasm', () => backend, WASM_PRIORITY);
  return true;
}

/** Loads and starts the threaded Emscripten module, with the JS bridge BackendWasm expects. */
async function createThreadedModule(threads: number): Promise<EmscriptenModule> {
  const require = createRequire(import.meta.url);
  const mainScript = require.resolve(`@tensorflow/tfjs-backend-wasm/wasm-out/${BASENAME}.js`);
  const dir = dirname(mainScript);
  const factory = require(mainScript) as Factory;
  const wasmBinary = await readFile(join(dir, `${BASENAME}.wasm`));
  const workerUrl = pthreadWorkerUrl(require, mainScript, join(dir, `${BASENAME}.worker.js`));

  // Emscripten rethrows worker errors from an event listener, which would crash the process, and
  // a worker that dies while loading leaves its ready promise pending forever; while starting up
  // we turn both into a rejection instead.
  let settled = false;
  let fail: (e: unknown) => void = () => {};
  const failed = new Promise<never>((_, reject) => {
    fail = (e) => {
      if (!settled) reject(e instanceof Error ? e : new Error(String(e)));
    };
  });
  failed.catch(() => {}); // observed through the race below; this only silences early rejections

  const listenersBefore = snapshotProcessListeners();
  let workers: Worker[] = [];
  const config: FactoryConfig = {
    // The worker script has to come from memory (see pthreadWorkerUrl); the rest are real files.
    locateFile: (path) => (path.endsWith('.worker.js') ? workerUrl : join(dir, path)),
    // Each pthread worker evaluates this script to define the module factory.
    mainScriptUrlOrBlob: mainScript,
    instantiateWasm(imports, receive) {
      // The C++ side sizes its pool as min(requested, logical cores / 2), assuming
      // hyper-threading; report enough "cores" that the requested count is what we get.
      imports.env['emscripten_num_logical_cores'] = () => 2 * threads;
      WebAssembly.instantiate(wasmBinary, imports as WebAssembly.Imports).then(({ instance, module }) => {
        receive(instance, module); // also posts the compiled module to the pre-spawned workers
        for (const w of workers) {
          const emscriptenOnError = (w as unknown as { onerror: (e: unknown) => void }).onerror;
          (w as unknown as { onerror: (e: unknown) => void }).onerror = (e) => (settled ? emscriptenOnError(e) : fail(e));
        }
      }, fail);
      return {};
    },
    onAbort: (what) => fail(new Error(`threaded WASM module aborted: ${String(what)}`)),
  };

  let ready: Promise<EmscriptenModule>;
  try {
    ready = factory(config);
  } finally {
    // The glue adds process-wide handlers that rethrow every uncaught exception and unhandled
    // rejection (so Node reports them from inside the 50 kB minified script); Node's defaults do
    // the same job, so drop them.
    removeAddedProcessListeners(listenersBefore);
  }
  const mod = config as unknown as EmscriptenModule;
  // The build pre-spawns 8 workers (each a V8 isolate that must load the module before start-up
  // completes), but XNNPACK's pool, created once, takes only threads − 1; drop the rest now.
  for (const w of mod.PThread.unusedWorkers.splice(threads - 1)) void w.terminate();
  workers = [...mod.PThread.unusedWorkers];
  for (const w of workers) {
    w.once('error', fail);
    w.once('exit', (code) => fail(new Error(`pthread worker exited (${code}) while loading`)));
  }

  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`threaded WASM module did not start in ${INIT_TIMEOUT_MS} ms`)), INIT_TIMEOUT_MS);
    });
    await Promise.race([ready, failed, timeout]);
  } catch (e) {
    settled = true;
    mod.PThread.terminateAllThreads();
    for (const w of workers) void w.terminate();
    throw e;
  } finally {
    settled = true;
    clearTimeout(timer);
  }

  // The same bridge tfjs-backend-wasm's init() builds (dist/backend_wasm.js).
  mod.tfjs = {
    init: mod.cwrap('init', null, []),
    initWithThreadsCount: mod.cwrap('init_with_threads_count', null, ['number']),
    getThreadsCount: mod.cwrap('get_threads_count', 'number', []),
    registerTensor: mod.cwrap('register_tensor', null, ['number', 'number', 'number']),
    disposeData: mod.cwrap('dispose_data', null, ['number']),
    dispose: mod.cwrap('dispose', null, []),
  };
  return mod;
}

/**
 * The package's `.worker.js` is not the worker script but a CommonJS module exporting its source
 * as a string (meant for a Blob URL). Emscripten passes whatever locateFile returns straight to
 * `new Worker()`, and Node accepts a `data:` URL there, loaded as an ES module; the script is
 * classic CommonJS-style code, so it gets the `require` and `__filename` it expects prepended.
 */
function pthreadWorkerUrl(require: NodeRequire, mainScript: string, workerModule: string): URL {
  const { wasmWorkerContents } = require(workerModule) as { wasmWorkerContents: string };
  // The source sat in a template literal, which turned its "\n" escapes into real newlines inside
  // string literals; the package's init() re-escapes them the same way.
  const body = wasmWorkerContents.replace(/\n/g, '\\n');
  const prelude =
    `import { createRequire } from 'node:module';` +
    `const require = createRequire(${JSON.stringify(mainScript)});` +
    `const __filename = ${JSON.stringify(mainScript)};\n`;
  return new URL(`data:text/javascript;base64,${Buffer.from(prelude + body).toString('base64')}`);
}

type ProcessListener = (...args: unknown[]) => void;
type ListenerSnapshot = { uncaughtException: Function[]; unhandledRejection: Function[] };

function snapshotProcessListeners(): ListenerSnapshot {
  return {
    uncaughtException: process.listeners('uncaughtException'),
    unhandledRejection: process.listeners('unhandledRejection'),
  };
}

function removeAddedProcessListeners(before: ListenerSnapshot): void {
  for (const l of process.listeners('uncaughtException')) {
    if (!before.uncaughtException.includes(l)) process.removeListener('uncaughtException', l as ProcessListener);
  }
  for (const l of process.listeners('unhandledRejection')) {
    if (!before.unhandledRejection.includes(l)) process.removeListener('unhandledRejection', l as ProcessListener);
  }
}

function warn(e: unknown): void {
  const msg = e instanceof Error ? e.message : String(e);
  console.warn(`advx: multi-threaded WASM unavailable, using single-threaded WASM (${msg})`);
}
