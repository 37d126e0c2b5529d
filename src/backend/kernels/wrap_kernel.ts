/**
 * Wraps a forward kernel on every backend that has registered it, for the gradient fixes that
 * need to see (or amend) a kernel's call before TF.js's tape records it, and for forward fixes
 * (the wrapper gets the backend's name, to call its other kernels). Kernels are registered
 * when a backend package is imported, so this runs again from useBackend after each import.
 * A kernel is wrapped once; one registered anew since (advx's wasm _FusedMatMul replaces TF.js's
 * when registerWasmGradientKernels runs after a wrap) is wrapped again, so no wrap is lost.
 */
import * as tf from '@tensorflow/tfjs-core';

/** The kernel functions this module made, per kernel name. */
const wrappers = new Map<string, WeakSet<tf.KernelFunc>>();

export function wrapKernelOnEveryBackend(
  kernelName: string,
  wrap: (original: tf.KernelFunc, backendName: string) => tf.KernelFunc,
): void {
  const mine = wrappers.get(kernelName) ?? new WeakSet<tf.KernelFunc>();
  wrappers.set(kernelName, mine);
  for (const backendName of Object.keys(tf.engine().registryFactory)) {
    const prev = tf.getKernel(kernelName, backendName);
    if (!prev || mine.has(prev.kernelFunc)) continue;
    const kernelFunc = wrap(prev.kernelFunc, backendName);
    mine.add(kernelFunc);
    tf.unregisterKernel(kernelName, backendName);
    // The set-up function binds a backend's native entry points; keep it for later initialisation.
    tf.registerKernel({ ...prev, kernelFunc });
  }
}
