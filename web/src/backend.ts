/**
 * TF.js backends for the lab: WASM (default: advx's gradient kernels, the .wasm files bundled and
 * served by the lab itself), WebGL, or plain JS (cpu). Threads need cross-origin isolation, which
 * the lab does not ask for, so the WASM backend runs its SIMD single-thread build.
 */
import * as tf from '@tensorflow/tfjs-core';
import wasmPlain from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreaded from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import { useBackend, type BackendName, type BackendOptions } from '../../src/index.ts';

export const LAB_BACKENDS = ['wasm', 'webgl', 'cpu'] as const satisfies readonly BackendName[];
export type LabBackend = (typeof LAB_BACKENDS)[number];

/** Vite bundles the three binaries (hashed names); TF.js picks one for the browser. */
const wasmPaths: BackendOptions['wasmPaths'] = {
  'tfjs-backend-wasm.wasm': wasmPlain,
  'tfjs-backend-wasm-simd.wasm': wasmSimd,
  'tfjs-backend-wasm-threaded-simd.wasm': wasmThreaded,
};

async function start(name: LabBackend): Promise<void> {
  // WebGL is an optional peer of advx, so the app imports it (here, in its own chunk, on demand).
  if (name === 'webgl') await import('@tensorflow/tfjs-backend-webgl');
  await useBackend(name, name === 'wasm' ? { wasmPaths } : {});
}

/** Starts `wanted`, falling back to wasm, then cpu; returns the backend that runs and why it differs. */
export async function startBackend(wanted: LabBackend): Promise<{ name: string; note?: string }> {
  const order = [wanted, ...(['wasm', 'cpu'] as const).filter((b) => b !== wanted)];
  const failures: string[] = [];
  for (const name of order) {
    try {
      await start(name);
      return { name: tf.getBackend(), note: failures.length ? failures.join('; ') : undefined };
    } catch (e) {
      failures.push(`${name}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  throw new Error(`no TF.js backend could start (${failures.join('; ')})`);
}
