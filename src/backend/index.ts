/**
 * Backend choice. The same advx code runs on any TF.js backend; this module picks one and,
 * for WASM, installs advx's fast gradient kernels and its threading.
 */
import * as tf from '@tensorflow/tfjs-core';
// tfjs-core registers no gradients by itself; tfjs-layers' bundle registers all of them (and its
// deep ESM path does not load in Node), so importing layers is how every backend gets autograd.
import '@tensorflow/tfjs-layers';
import { AdvxError } from '../core/errors.ts';
import { registerGraphOpGradients } from './kernels/graph_op_gradients.ts';
import type { BackendOptions } from './options.ts';
import { PLATFORM, type Platform } from './platform.ts';
import { relaxedSimdAvailable } from './relaxed-simd.ts';

/**
 * Every backend useBackend starts, and where it runs. WebGL exists only in browsers; WebGPU runs
 * in Node too, through Dawn (webgpu.ts).
 */
export const BACKEND_PLATFORMS = {
  wasm: ['node', 'browser'],
  cpu: ['node', 'browser'],
  webgpu: ['node', 'browser'],
  webgl: ['browser'],
} as const satisfies Record<string, readonly Platform[]>;

export type BackendName = keyof typeof BACKEND_PLATFORMS;

/** The backends that run here: in Node (the CLI's `--backend` choices) wasm, cpu, webgpu; in a browser webgl too. */
export const BACKENDS: readonly BackendName[] = (Object.keys(BACKEND_PLATFORMS) as BackendName[]).filter((b) => runsHere(b));

export type { Platform } from './platform.ts';
export type { BackendOptions } from './options.ts';
export { WASM_FILES, type WasmFile, type WasmPaths } from './wasm-paths.ts';

function runsHere(name: BackendName): boolean {
  return (BACKEND_PLATFORMS[name] as readonly Platform[]).includes(PLATFORM);
}

export function parseBackend(name: string): BackendName {
  if ((BACKENDS as readonly string[]).includes(name)) return name as BackendName;
  if (Object.hasOwn(BACKEND_PLATFORMS, name)) {
    const where = BACKEND_PLATFORMS[name as BackendName].join(' and ');
    throw new AdvxError(`backend "${name}" runs only in ${where === 'browser' ? 'browsers' : where}: in ${PLATFORM === 'node' ? 'Node' : 'a browser'} choose one of ${BACKENDS.join(', ')}`);
  }
  throw new AdvxError(`unknown backend "${name}": choose one of ${BACKENDS.join(', ')}`);
}

/**
 * Makes `name` the active TF.js backend, with advx's kernels registered for it. In a browser,
 * `wasm` needs its .wasm files served (options.wasmPaths), and `webgl` needs the app to import
 * `@tensorflow/tfjs-backend-webgl` first (webgl.ts says why).
 */
export async function useBackend(name: BackendName, options: BackendOptions = {}): Promise<void> {
  parseBackend(name); // a name that does not run here (webgl in Node) fails with a clear message
  let startProblem: () => Promise<string | undefined> = async () => undefined;
  if (name === 'cpu') {
    await import('@tensorflow/tfjs-backend-cpu');
  } else if (name === 'wasm') {
    const { installWasm, wasmStartProblem } = await import('./wasm.ts');
    await installWasm(options);
    startProblem = wasmStartProblem;
  } else if (name === 'webgl') {
    const { installWebGl } = await import('./webgl.ts');
    await installWebGl();
  } else {
    const { installWebGpu } = await import('./webgpu.ts');
    await installWebGpu();
  }
  // After the backend's import, so that the kernels this wraps are registered.
  registerGraphOpGradients();
  const ok = await tf.setBackend(name);
  // TF.js only logs why; a missing .wasm file (the usual cause in a bundled app) is worth naming.
  if (!ok) throw new AdvxError((await startProblem()) ?? `backend "${name}" failed to initialise on this machine`);
  await tf.ready();
}

/** What runs the kernels of the active backend, for `advx inspect` and `advx --version`. */
export interface KernelInfo {
  backend: string;
  /** Whether advx's native SIMD kernels (src/backend/native) run (wasm only). */
  native: boolean;
  /** Threads the native kernels split work over (1 without them). */
  threads: number;
  /** Whether they are the relaxed SIMD build (fused multiply-adds). */
  relaxedSimd: boolean;
  /** Whether the engine has relaxed SIMD at all (advx may still be told not to use it: ADVX_RELAXED_SIMD=0). */
  relaxedSimdAvailable: boolean;
}

export async function kernelInfo(): Promise<KernelInfo> {
  const backend = tf.getBackend();
  const info: KernelInfo = { backend, native: false, threads: 1, relaxedSimd: false, relaxedSimdAvailable: relaxedSimdAvailable() };
  if (backend !== 'wasm') return info;
  const { nativeKernelInfo } = await import('./wasm.ts');
  return { ...info, ...nativeKernelInfo() };
}
