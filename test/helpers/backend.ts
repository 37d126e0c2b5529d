/** Test set-up: the default backend (wasm) with advx's kernels, once per test file. */
import { useBackend, type BackendName } from '../../src/backend/index.ts';
import * as tf from '@tensorflow/tfjs-core';

export async function setup(name: BackendName = 'wasm'): Promise<void> {
  await useBackend(name);
}

/** Runs `fn` a few times and returns the tensor counts after each run (they must be flat). */
export async function tensorCounts(fn: () => Promise<void> | void, times = 3): Promise<number[]> {
  const counts: number[] = [];
  for (let i = 0; i < times; i++) {
    await fn();
    counts.push(tf.memory().numTensors);
  }
  return counts;
}
