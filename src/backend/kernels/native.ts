/**
 * advx's native WASM kernels (src/backend/native/kernels.c), instantiated over TF.js's own heap,
 * optionally on worker threads too.
 *
 * The module imports the wasm backend's WebAssembly.Memory, so a kernel is called with the
 * tensors' heap offsets and reads and writes them in place: no copies in or out. It owns no
 * memory itself (no data, no stack; scripts/build-wasm.sh checks), so it cannot clobber TF.js's.
 * There are two builds, for TF.js's shared (threaded) and unshared memory, each twice: with
 * relaxed SIMD (multiply-adds fused, see ../relaxed-simd.ts), picked where the engine validates
 * it and `NATIVE.relaxed` is on, and with plain SIMD.
 *
 * `nativeKernels(backend)` returns the kernels, or null when they cannot be used (no SIMD, a
 * backend without a reachable memory, or, in a browser that refuses synchronous compilation on
 * the main thread, until the asynchronous instantiation finishes); every caller keeps its JS path
 * for that case. `NATIVE.enabled = false` forces the JS paths (tests and benchmarks use it).
 *
 * Threads: TF.js's pthreads are not reachable from outside its module, so when the memory is
 * shared and a host has called `setNativeWorkers` (Node's wasm set-up does, see ../wasm.ts), the
 * same module is also instantiated on that many workers of our own, over the same memory, and
 * `run` splits a kernel's work (by images or output rows) between the calling thread and them.
 * Dispatch is a futex handshake on a small SharedArrayBuffer (Atomics.notify / Atomics.wait):
 * ~tens of µs, against kernels of milliseconds. Until the workers report ready, and wherever
 * there are none, all shares run on the calling thread.
 */
import { KERNELS_WASM_PLAIN, KERNELS_WASM_PLAIN_RELAXED, KERNELS_WASM_SHARED, KERNELS_WASM_SHARED_RELAXED } from '../native/kernels.wasm.ts';
import { relaxedSimdAllowed, relaxedSimdAvailable } from '../relaxed-simd.ts';
import type { WasmBackend } from './wasm-backend.ts';
import type * as tf from '@tensorflow/tfjs-core';

/** The exports of kernels.c. Pointers are byte offsets into TF.js's heap; the rest are counts. */
export interface NativeExports {
  conv2d_backprop_filter(
    x: number, dy: number, dw: number, rowBegin: number, rowEnd: number, H: number, W: number, C: number, OH: number,
    OW: number, O: number, FH: number, FW: number, SH: number, SW: number, PT: number, PL: number): void;
  conv2d_backprop_input(
    dy: number, w: number, wt: number, dx: number, n0: number, n1: number, H: number, W: number, C: number, OH: number,
    OW: number, O: number, FH: number, FW: number, SH: number, SW: number, PT: number, PL: number): void;
  col2im(
    cols: number, dx: number, p0: number, pc: number, H: number, W: number, C: number, OH: number, OW: number,
    FH: number, FW: number, SH: number, SW: number, PT: number, PL: number): void;
  max_pool_grad(
    x: number, dy: number, dx: number, n0: number, n1: number, H: number, W: number, C: number, OH: number, OW: number,
    FH: number, FW: number, SH: number, SW: number, PT: number, PL: number): void;
  /** c = a·b for row-major a [M, K], b [K, N]; callers split the rows over threads. */
  matmul(a: number, b: number, c: number, M: number, K: number, N: number): void;
  /**
   * out = a op b (op 0 +, 1 −, 2 ×) over R × C, one operand broadcast: mode 0 b is a row [C],
   * 1 a is a row, 2 b is a column [R], 3 a is a column.
   */
  binary_bcast(a: number, b: number, out: number, R: number, C: number, op: number, mode: number): void;
  /** out = max(x, 0) over n floats (NaN passes through); out may be x. */
  relu(x: number, out: number, n: number): void;
  /** dx = dy·[0 < x ≤ hi] over n floats (NaN where x is NaN): ReLU's gradient (hi = ∞) and ReLU6's (hi = 6). */
  relu_grad(dy: number, x: number, dx: number, n: number, hi: number): void;
  /** 2×2 stride-2 max pool over full windows, NHWC (one thread). */
  max_pool_2x2(x: number, out: number, N: number, H: number, W: number, C: number, OH: number, OW: number): void;
  /** dst[c] = Σ_r src[r, c] for a rows × cols matrix (one pass, blocks of 64 rows summed first). */
  column_sum(src: number, dst: number, rows: number, cols: number): void;
  /** dst = srcᵀ for a rows × cols matrix (4×4 SIMD blocks; ~3× the JS loop). */
  transpose2d(src: number, dst: number, rows: number, cols: number): void;
  /** dx of a depthwise convolution with channel multiplier 1, over input rows rowBegin..rowEnd−1 (rows = N·H). */
  depthwise_backprop_input(
    dy: number, w: number, dx: number, rowBegin: number, rowEnd: number, H: number, W: number, C: number, OH: number, OW: number,
    FH: number, FW: number, SH: number, SW: number, DH: number, DW: number, PT: number, PL: number): void;
  /**
   * Winograd F(4×4, 3×3) (R = 3) or F(2×2, 5×5) (R = 5): U = G g Gᵀ [36, C, O] for an R×R filter
   * g [R, R, C, O], O a multiple of 4 (one thread).
   */
  winograd_filter(g: number, U: number, C: number, O: number, R: number): void;
  /** Floats of scratch winograd_conv needs per thread. */
  winograd_scratch(C: number, O: number, R: number): number;
  /**
   * y = act(bias + x ⋆ g) for an R×R stride-1 convolution over images n0..n1−1, C and O multiples
   * of 4, with U from winograd_filter; act 0 none, 1 ReLU, 2 ReLU6.
   */
  winograd_conv(
    x: number, U: number, bias: number, y: number, scratch: number, n0: number, n1: number, H: number, W: number, C: number,
    OH: number, OW: number, O: number, PT: number, PL: number, hasBias: number, act: number, R: number): void;
  /** Floats of scratch winograd_grad needs per thread. */
  winograd_grad_scratch(C: number, O: number, R: number): number;
  /** This share's filter gradient in the Winograd domain, dU [36, C, O], over images n0..n1−1. */
  winograd_grad(
    x: number, dy: number, dU: number, scratch: number, n0: number, n1: number, H: number, W: number, C: number,
    OH: number, OW: number, O: number, PT: number, PL: number, R: number): void;
  /** dg [R, R, C, O] = Gᵀ (Σ of the `parts` consecutive dU [36, C, O]) G (one thread). */
  winograd_filter_back(dU: number, parts: number, dg: number, C: number, O: number, R: number): void;
}

/** The kernels that `run` may split over threads. */
const PARALLEL_FNS = ['conv2d_backprop_filter', 'conv2d_backprop_input', 'depthwise_backprop_input', 'max_pool_grad', 'matmul', 'winograd_conv', 'winograd_grad'] as const;
type ParallelFn = (typeof PARALLEL_FNS)[number];

export interface NativeKernels {
  exports: NativeExports;
  /** Whether this is the relaxed SIMD build (fused multiply-adds). */
  readonly relaxedSimd: boolean;
  /** Threads `run` spreads over now (1 + ready workers). */
  readonly threads: number;
  /**
   * How many shares a kernel splits its work into: 1 + the workers asked for, fixed for the
   * process. Not `threads`: a kernel that sums partial results per share (the filter gradient)
   * would then round differently while the workers start up, and a run resumed from a checkpoint
   * would drift from one that never stopped.
   */
  readonly shares: number;
  /**
   * Runs `fn` once per argument list, shares[0] on the calling thread and the rest on workers,
   * concurrently; returns when all are done. Until every worker is ready, and for shares beyond
   * the workers, they run on the calling thread.
   */
  run(fn: ParallelFn, shares: number[][]): void;
}

export const NATIVE = { enabled: true, relaxed: relaxedSimdAllowed() };

/**
 * Below this many multiply-adds (or, for memory-bound kernels, a quarter as many elements) a
 * kernel stays on one thread: a dispatch costs tens of µs, which is most of a small kernel.
 */
export const PARALLEL = {
  minMacs: 1 << 21,
  /**
   * false runs every share on the calling thread, in order, as while the workers are still
   * starting: a kernel's bits must not depend on it (test/backend/kernel-determinism.test.ts).
   */
  workers: true,
};

interface EmscriptenLike {
  wasmMemory?: WebAssembly.Memory;
  asm?: { memory?: WebAssembly.Memory };
  HEAPU8?: Uint8Array;
}

/**
 * Per build (plain SIMD, relaxed SIMD) and TF.js module: the kernels, null when unusable, or a
 * pending promise. Both builds can be live over the same memory (each with its own workers), so
 * `NATIVE.relaxed` may change between kernels (benchmarks alternate them step by step).
 */
const instances = [new WeakMap<object, NativeKernels | null | Promise<void>>(), new WeakMap<object, NativeKernels | null | Promise<void>>()];

function decode(b64: string): Uint8Array<ArrayBuffer> {
  const s = atob(b64);
  const bytes = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) bytes[i] = s.charCodeAt(i);
  return bytes;
}

function memoryOf(mod: EmscriptenLike): WebAssembly.Memory | undefined {
  const mem = mod.wasmMemory ?? mod.asm?.memory;
  if (!(mem instanceof WebAssembly.Memory)) return undefined;
  // Must be the memory TF.js's tensors live in.
  if (mod.HEAPU8 && mod.HEAPU8.buffer !== mem.buffer) return undefined;
  return mem;
}

export function nativeKernels(backend: WasmBackend): NativeKernels | null {
  if (!NATIVE.enabled) return null;
  return load(backend.wasm as unknown as object, NATIVE.relaxed);
}

function load(mod: object, wantRelaxed: boolean): NativeKernels | null {
  const cache = instances[wantRelaxed ? 1 : 0];
  const have = cache.get(mod);
  if (have !== undefined) return have instanceof Promise ? null : have;
  cache.set(mod, null);
  // The relaxed build where the engine validates it; the plain one (shared) otherwise.
  const usePlain = (): NativeKernels | null => {
    const plain = load(mod, false);
    cache.set(mod, instances[0].get(mod)!);
    return plain;
  };
  if (wantRelaxed && !relaxedSimdAvailable()) return usePlain();
  const memory = memoryOf(mod as EmscriptenLike);
  if (!memory) return null;
  const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
  const bytes = decode(wantRelaxed ? (shared ? KERNELS_WASM_SHARED_RELAXED : KERNELS_WASM_PLAIN_RELAXED) : shared ? KERNELS_WASM_SHARED : KERNELS_WASM_PLAIN);
  if (!WebAssembly.validate(bytes)) return wantRelaxed ? usePlain() : null; // no SIMD (or bulk memory) here
  const imports = { env: { memory } };
  const ready = (module: WebAssembly.Module, instance: WebAssembly.Instance): NativeKernels => {
    const k = makeKernels(instance.exports as unknown as NativeExports, shared ? startWorkers(module, memory) : null, wantRelaxed);
    cache.set(mod, k);
    return k;
  };
  try {
    const module = new WebAssembly.Module(bytes);
    return ready(module, new WebAssembly.Instance(module, imports));
  } catch {
    // Browsers may refuse synchronous compilation on the main thread: go asynchronous and use
    // the JS paths until it is done.
    const pending = WebAssembly.instantiate(bytes, imports).then(
      ({ module, instance }) => void ready(module, instance),
      () => void cache.set(mod, null),
    );
    cache.set(mod, pending);
    return null;
  }
}

/** A tensor's byte offset in TF.js's heap. */
export function ptr(backend: WasmBackend, t: tf.TensorInfo): number {
  return backend.dataIdMap.get(t.dataId).memoryOffset;
}

/** Splits [0, n) into `parts` contiguous ranges, as even as possible. */
export function splitRange(n: number, parts: number): Array<[number, number]> {
  const p = Math.max(1, Math.min(parts, n));
  const out: Array<[number, number]> = [];
  for (let i = 0; i < p; i++) out.push([Math.floor((i * n) / p), Math.floor(((i + 1) * n) / p)]);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Worker threads
// ---------------------------------------------------------------------------------------------

/** The slice of a Worker (web or node:worker_threads) used here. */
export interface WorkerLike {
  postMessage(message: unknown): void;
}
export type WorkerSpawner = (source: string) => WorkerLike;

let spawner: WorkerSpawner | null = null;
let workerCount = 0;

/**
 * Lets the native kernels run on `count` extra threads, created with `spawn(source)` (a classic
 * script: `new Worker(source, { eval: true })` in Node, a Blob URL worker in a browser) the
 * first time the kernels are set up over a shared memory. Call before the first wasm kernel.
 */
export function setNativeWorkers(spawn: WorkerSpawner, count: number): void {
  spawner = spawn;
  workerCount = Math.max(0, Math.floor(count));
}

/** Control block layout (Int32 slots). */
const SEQ = 0; // bumped by the caller per dispatch; workers wait on it
const DONE = 1; // shares finished this dispatch; the caller waits on it
const READY = 2; // workers that have instantiated the module
const FAILED = 3; // set by a worker whose share threw
const JOBS = 16; // worker k's job: [fn index, argc, args...] at JOBS + k·JOB_SLOTS
const JOB_SLOTS = 32;

/** The worker's whole program; it runs the same module over the same memory. */
const WORKER_SOURCE = `
const FNS = ${JSON.stringify(PARALLEL_FNS)};
const port = typeof require === 'function' ? require('node:worker_threads').parentPort : self;
function start({ module, memory, control, index }) {
  const ex = new WebAssembly.Instance(module, { env: { memory } }).exports;
  const ctrl = new Int32Array(control);
  const base = ${JOBS} + ${JOB_SLOTS} * index;
  let seen = Atomics.load(ctrl, ${SEQ});
  Atomics.add(ctrl, ${READY}, 1);
  Atomics.notify(ctrl, ${READY});
  for (;;) {
    Atomics.wait(ctrl, ${SEQ}, seen);
    const s = Atomics.load(ctrl, ${SEQ});
    if (s === seen) continue;
    seen = s;
    if (ctrl[base] >= 0) try {
      const argc = ctrl[base + 1];
      const args = [];
      for (let i = 0; i < argc; i++) args.push(ctrl[base + 2 + i]);
      ex[FNS[ctrl[base]]](...args);
    } catch (e) {
      Atomics.store(ctrl, ${FAILED}, 1);
    }
    Atomics.add(ctrl, ${DONE}, 1);
    Atomics.notify(ctrl, ${DONE});
  }
}
if (typeof require === 'function') port.once('message', start);
else self.onmessage = (e) => start(e.data);
`;

interface Pool {
  ctrl: Int32Array;
  count: number;
}

function startWorkers(module: WebAssembly.Module, memory: WebAssembly.Memory): Pool | null {
  if (!spawner || workerCount < 1 || typeof Atomics === 'undefined') return null;
  const ctrl = new Int32Array(new SharedArrayBuffer(4 * (JOBS + JOB_SLOTS * workerCount)));
  try {
    for (let k = 0; k < workerCount; k++) spawner(WORKER_SOURCE).postMessage({ module, memory, control: ctrl.buffer, index: k });
  } catch {
    return null; // whatever started never reports ready, so it is never used
  }
  return { ctrl, count: workerCount };
}

/** Atomics.wait is not allowed on a browser's main thread; there the caller spins instead. */
let canWait = true;

function makeKernels(exports: NativeExports, pool: Pool | null, relaxedSimd: boolean): NativeKernels {
  const call = (fn: ParallelFn, args: number[]) => (exports[fn] as (...a: number[]) => void)(...args);
  return {
    exports,
    relaxedSimd,
    get threads() {
      return pool ? 1 + Math.min(pool.count, Atomics.load(pool.ctrl, READY)) : 1;
    },
    shares: 1 + (pool?.count ?? 0),
    run(fn, shares) {
      // All workers or none: every worker wakes on a dispatch and the caller waits for all of
      // them, so one that became ready half-way through a dispatch would never report done.
      const ready = pool && PARALLEL.workers ? Math.min(pool.count, Atomics.load(pool.ctrl, READY)) : 0;
      const remote = ready === pool?.count ? Math.min(ready, shares.length - 1) : 0;
      if (!pool || remote < 1) {
        for (const s of shares) call(fn, s);
        return;
      }
      const { ctrl } = pool;
      const fnIndex = PARALLEL_FNS.indexOf(fn);
      for (let k = 0; k < pool.count; k++) {
        const base = JOBS + JOB_SLOTS * k;
        if (k >= remote) {
          ctrl[base] = -1; // no share this time (every worker wakes on SEQ and reports done)
          continue;
        }
        const args = shares[1 + k];
        if (args.length > JOB_SLOTS - 2) throw new Error(`advx native: too many arguments for ${fn}`);
        ctrl[base] = fnIndex;
        ctrl[base + 1] = args.length;
        ctrl.set(args, base + 2);
      }
      Atomics.store(ctrl, DONE, 0);
      Atomics.store(ctrl, FAILED, 0);
      Atomics.add(ctrl, SEQ, 1);
      Atomics.notify(ctrl, SEQ);
      call(fn, shares[0]);
      for (let i = 1 + remote; i < shares.length; i++) call(fn, shares[i]);
      for (let d = Atomics.load(ctrl, DONE); d < pool.count; d = Atomics.load(ctrl, DONE)) {
        if (canWait) {
          try {
            Atomics.wait(ctrl, DONE, d);
          } catch {
            canWait = false;
          }
        }
      }
      if (Atomics.load(ctrl, FAILED)) throw new Error(`advx native: ${fn} failed on a worker thread`);
    },
  };
}
