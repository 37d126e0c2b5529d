/**
 * Identity for wasm without a copy.
 *
 * The engine clones (runs Identity on) every tensor a kernel saves for its gradient, so under
 * tf.grad the CNN's step runs ~30 Identities, on activations up to 11 MB; TF.js's wasm Identity
 * and Cast copy the data (~2 ms per 11 MB). Here the output shares the input's data and bumps its
 * reference count, which is what the cpu backend does and what wasm's own Reshape does: wasm
 * kernels never write into their inputs, so sharing is safe.
 */
import * as tf from '@tensorflow/tfjs-core';
import { BACKEND, callOriginal, type KernelArgs, type WasmBackend } from './util.ts';

export function identity({ inputs, backend: be }: KernelArgs): tf.TensorInfo {
  const backend = be as WasmBackend;
  const x = inputs.x as tf.TensorInfo;
  if (x.dtype === 'string') return callOriginal(tf.Identity, inputs, backend);
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
}

export const identityConfig: tf.KernelConfig = {
  kernelName: tf.Identity,
  backendName: BACKEND,
  kernelFunc: identity as unknown as tf.KernelFunc,
};
