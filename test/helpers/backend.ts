/** Test set-up: the default backend (wasm) with advx's kernels, once per test file. */
import { useBackend, type BackendName } from '../../src/backend/index.ts';
import * as tf from '@tensorflow/tfjs-core';
import assert from 'node:assert/strict';

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

/** The largest |a − b| over two outputs of the same length (two backends, two runtimes). */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}
