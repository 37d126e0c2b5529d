/**
 * Winograd F(2×2, 3×3) (src/backend/kernels/winograd.ts) against the path it replaced, XNNPACK's
 * convolution, on the wasm backend: 3×3 stride-1 forward convolutions of the reference CNN and
 * larger ones, in one process, the two paths in turn (ABAB) so that load on a shared machine
 * falls on both; each cell is the fastest and the median of the timed calls after 2 warm-ups.
 * Also the largest difference of the two outputs, against the outputs' scale.
 *
 *   node --experimental-wasm-relaxed-simd --import tsx bench/winograd.ts [--runs 15]
 */
import * as tf from '@tensorflow/tfjs-core';
import { parseArgs } from 'node:util';
import { useBackend } from '../src/backend/index.ts';
import { WINOGRAD } from '../src/backend/kernels/winograd.ts';
import { median } from '../src/core/arrays.ts';

const { values: args } = parseArgs({ options: { runs: { type: 'string', default: '15' } } });
const runs = Number(args.runs);

/** [batch, height, width, in channels, out channels], 'valid' padding. */
const SHAPES: Array<[string, number[]]> = [
  ['CNN conv 2 (13×13, 32→64)', [128, 13, 13, 32, 64]],
  ['CNN conv 2, one image', [1, 13, 13, 32, 64]],
  ['CNN conv 2 on 26×26', [128, 26, 26, 32, 64]],
  ['28×28, 32→32', [64, 28, 28, 32, 32]],
  ['13×13, 64→32', [128, 13, 13, 64, 32]],
  ['56×56, 64→64', [32, 56, 56, 64, 64]],
];

await useBackend('wasm');
// Let the kernels' worker threads start before timing.
await new Promise((r) => setTimeout(r, 500));
console.log('| convolution | XNNPACK ms (min / median) | Winograd ms (min / median) | speed-up (min) | max |Δ| / max |y| |');
console.log('| --- | ---: | ---: | ---: | ---: |');
for (const [name, [n, h, w, c, o]] of SHAPES) {
  const x = tf.randomNormal([n!, h!, w!, c!], 0, 1, 'float32', 1) as tf.Tensor4D;
  const f = tf.randomNormal([3, 3, c!, o!], 0, 0.1, 'float32', 2) as tf.Tensor4D;
  const times: Record<'on' | 'off', number[]> = { on: [], off: [] };
  for (let i = 0; i < 2 * (runs + 2); i++) {
    const on = i % 2 === 1;
    WINOGRAD.enabled = on;
    const t = performance.now();
    const y = tf.conv2d(x, f, 1, 'valid');
    const dt = performance.now() - t;
    y.dispose();
    if (i >= 4) times[on ? 'on' : 'off'].push(dt);
  }
  const [yOn, yOff] = [true, false].map((on) => {
    WINOGRAD.enabled = on;
    return tf.conv2d(x, f, 1, 'valid');
  });
  const error = tf.tidy(() => tf.max(tf.abs(tf.sub(yOn!, yOff!))).dataSync()[0]! / tf.max(tf.abs(yOff!)).dataSync()[0]!);
  WINOGRAD.enabled = true;
  const cell = (a: number[]) => `${Math.min(...a).toFixed(2)} / ${median(a).toFixed(2)}`;
  console.log(`| ${name} | ${cell(times.off)} | ${cell(times.on)} | ${(Math.min(...times.off) / Math.min(...times.on)).toFixed(2)}× | ${error.toExponential(1)} |`);
  tf.dispose([x, f, yOn!, yOff!]);
}
