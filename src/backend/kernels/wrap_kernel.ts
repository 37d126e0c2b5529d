/**
 * Wraps a forward kernel on every backend that has registered it, for the gradient fixes that
 * need to see (or amend) a kernel's call before TF.js's tape records it, and for forward fixes
 * (the wrapper gets the backend's name, to call its other kernels). Kernels are registered
 * when a backend package is imported, so this runs again from useBackend after each import;
 * a backend is wrapped once.
 */
import * as tf from '@tensorflow/tfjs-core';

const wrapped = new Map<string, Set<string>>();

export function wrapKernelOnEveryBackend(
  kernelName: string,
  wrap: (original: tf.KernelFunc, backendName: string) => tf.KernelFunc,
): void {
  const done = wrapped.get(kernelName) ?? new Set<string>();
  wrapped.set(kernelName, done);
  for (const backendName of Object.keys(tf.engine().registryFactory)) {
    const prev = tf.getKernel(kernelName, backendName);
    if (!prev || done.has(backendName)) continue;
    done.add(backendName);
    tf.unregisterKernel(kernelName, backendName);
    // The set-up function binds a backend's native entry points; keep it for later initialisation.
    tf.registerKernel({ ...prev, kernelFunc: wrap(prev.kernelFunc, backendName) });
  }
}
