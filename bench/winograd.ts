/**
 * Winograd F(4×4, 3×3) and F(2×2, 5×5) (src/backend/kernels/winograd.ts) against the paths it
 * replaced, on the wasm backend: forward convolutions against XNNPACK's, input and filter
 * gradients against advx's direct kernels (kernels.c `conv2d_backprop_input`,
 * `conv2d_backprop_filter`), on the reference CNN's and DANN's
 * stride-1 convolutions and larger ones, in one process, the two paths in turn (ABAB) so that
 * load on a shared machine falls on both; each cell is the fastest and the median of the timed
 * calls after 2 warm-ups. Also the largest difference of the two results, against their scale.
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

/** [batch, height, width, in channels, out channels, filter size], 'valid' padding. */
const SHAPES: Array<[string, number[]]> = [
  ['CNN conv 2 (13×13, 32→64)', [128, 13, 13, 32, 64, 3]],
  ['CNN conv 2, one image', [1, 13, 13, 32, 64, 3]],
  ['CNN conv 2 on 26×26', [128, 26, 26, 32, 64, 3]],
  ['28×28, 32→32', [64, 28, 28, 32, 32, 3]],
  ['13×13, 64→32', [128, 13, 13, 64, 32, 3]],
  ['56×56, 64→64', [32, 56, 56, 64, 64, 3]],
  ['DANN conv 2 (12×12, 32→48, 5×5)', [128, 12, 12, 32, 48, 5]],
  ['DANN conv 2, one image', [1, 12, 12, 32, 48, 5]],
  ['28×28, 32→32, 5×5', [64, 28, 28, 32, 32, 5]],
];

/** The two operations timed, each with the switch that turns Winograd off for it alone. */
const OPS = {
  convolution: {
    against: 'XNNPACK',
    set: (on: boolean) => (WINOGRAD.enabled = on),
    run: (x: tf.Tensor4D, f: tf.Tensor4D, _dy: tf.Tensor4D) => tf.conv2d(x, f, 1, 'valid'),
  },
  'input gradient': {
    against: 'direct',
    set: (on: boolean) => (WINOGRAD.inputGrad = on),
    run: (x: tf.Tensor4D, f: tf.Tensor4D, dy: tf.Tensor4D) =>
      tf.engine().runKernel(tf.Conv2DBackpropInput, { dy, filter: f }, { strides: 1, pad: 'valid', dataFormat: 'NHWC', inputShape: x.shape }) as tf.Tensor,
  },
  'filter gradient': {
    against: 'direct',
    set: (on: boolean) => (WINOGRAD.filterGrad = on),
    run: (x: tf.Tensor4D, f: tf.Tensor4D, dy: tf.Tensor4D) =>
      tf.engine().runKernel(tf.Conv2DBackpropFilter, { x, dy }, { strides: 1, pad: 'valid', dataFormat: 'NHWC', filterShape: f.shape }) as tf.Tensor,
  },
};

await useBackend('wasm');
// Let the kernels' worker threads start before timing.
await new Promise((r) => setTimeout(r, 500));
console.log('| operation | shape | other path ms (min / median) | Winograd ms (min / median) | speed-up (min) | max |Δ| / max |y| |');
console.log('| --- | --- | ---: | ---: | ---: | ---: |');
for (const [opName, op] of Object.entries(OPS)) {
  for (const [name, [n, h, w, c, o, r]] of SHAPES) {
    const x = tf.randomNormal([n!, h!, w!, c!], 0, 1, 'float32', 1) as tf.Tensor4D;
    const f = tf.randomNormal([r!, r!, c!, o!], 0, 0.1, 'float32', 2) as tf.Tensor4D;
    const dy = tf.randomNormal([n!, h! - r! + 1, w! - r! + 1, o!], 0, 1, 'float32', 3) as tf.Tensor4D;
    const times: Record<'on' | 'off', number[]> = { on: [], off: [] };
    for (let i = 0; i < 2 * (runs + 2); i++) {
      const on = i % 2 === 1;
      op.set(on);
      const t = performance.now();
      const y = op.run(x, f, dy);
      const dt = performance.now() - t;
      y.dispose();
      if (i >= 4) times[on ? 'on' : 'off'].push(dt);
    }
    const [yOn, yOff] = [true, false].map((on) => {
      op.set(on);
      return op.run(x, f, dy);
    });
    op.set(true);
    const error = tf.tidy(() => tf.max(tf.abs(tf.sub(yOn!, yOff!))).dataSync()[0]! / tf.max(tf.abs(yOff!)).dataSync()[0]!);
    const cell = (a: number[]) => `${Math.min(...a).toFixed(2)} / ${median(a).toFixed(2)}`;
    console.log(`| ${opName} (against ${op.against}) | ${name} | ${cell(times.off)} | ${cell(times.on)} | ${(Math.min(...times.off) / Math.min(...times.on)).toFixed(2)}× | ${error.toExponential(1)} |`);
    tf.dispose([x, f, dy, yOn!, yOff!]);
  }
}
