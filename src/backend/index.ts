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

export const BACKENDS = ['wasm', 'cpu', 'webgpu'] as const;
export type BackendName = (typeof BACKENDS)[number];

export type { BackendOptions } from './options.ts';

export function parseBackend(name: string): BackendName {
  if ((BACKENDS as readonly string[]).includes(name)) return name as BackendName;
  throw new AdvxError(`unknown backend "${name}": choose one of ${BACKENDS.join(', ')}`);
}

/** Makes `name` the active TF.js backend, with advx's kernels registered for it. */
export async function useBackend(name: BackendName, options: BackendOptions = {}): Promise<void> {
  if (name === 'cpu') {
    await import('@tensorflow/tfjs-backend-cpu');
  } else if (name === 'wasm') {
    const { installWasm } = await import('./wasm.ts');
    await installWasm(options);
  } else {
    const { installWebGpu } = await import('./webgpu.ts');
    await installWebGpu();
  }
  // After the backend's import, so that the kernels this wraps are registered.
  registerGraphOpGradients();
  const ok = await tf.setBackend(name);
  if (!ok) throw new AdvxError(`backend "${name}" failed to initialise on this machine`);
  await tf.ready();
}
