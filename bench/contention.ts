/**
 * Contention between the two thread pools of the wasm backend in Node: TF.js's (XNNPACK's
 * pthreadpool, which runs the convolutions advx leaves to TF.js) and advx's native kernels'
 * workers (src/backend/kernels/native.ts, which wait on a futex). On 2 cores the two pools have
 * 3 threads besides the caller's; a pool whose threads spin for a while after their job would take
 * cycles from the other pool's next kernel.
 *
 * Two kernels of DANN's 5×5 convolution (32 → 48, 12×12) at batch 128, one of each pool: its
 * forward pass on XNNPACK (Winograd off for it: advx's Winograd path takes it in training) and
 * advx's filter gradient of the same convolution. Each is timed
 * alone (back to back) and right after the other kernel, the four cases in turn so that other
 * load on the machine falls on all of them; min and median of the timed calls.
 *
 *   node --experimental-wasm-relaxed-simd --import tsx bench/contention.ts [--runs 25] [--json]
 */
import * as tf from '@tensorflow/tfjs-core';
import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { kernelInfo, useBackend } from '../src/backend/index.ts';
import { WINOGRAD } from '../src/backend/kernels/winograd.ts';
import { median } from '../src/core/arrays.ts';

const { values: args } = parseArgs({ options: { runs: { type: 'string', default: '25' }, json: { type: 'boolean', default: false } } });
const runs = Number(args.runs);

await useBackend('wasm');
// Let both pools' threads start before timing.
await new Promise((r) => setTimeout(r, 500));

const x = tf.randomNormal([128, 12, 12, 32], 0, 1, 'float32', 1) as tf.Tensor4D;
const f = tf.randomNormal([5, 5, 32, 48], 0, 0.1, 'float32', 2) as tf.Tensor4D;
const dy = tf.conv2d(x, f, 1, 'valid');
const attrs = { strides: [1, 1], pad: 'valid', dataFormat: 'NHWC', dilations: [1, 1], dimRoundingMode: undefined, filterShape: f.shape } as unknown as tf.NamedAttrMap;
/** Each kernel once, its result disposed: the call is the kernel (both run synchronously). */
const KERNELS = {
  xnnpack: () => {
    WINOGRAD.enabled = false;
    tf.dispose(tf.conv2d(x, f, 1, 'valid'));
    WINOGRAD.enabled = true;
  },
  advx: () => tf.dispose(tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, attrs) as tf.Tensor),
};
type Pool = keyof typeof KERNELS;
const other = (p: Pool): Pool => (p === 'xnnpack' ? 'advx' : 'xnnpack');

const CASES: Array<{ timed: Pool; after: Pool }> = [
  { timed: 'xnnpack', after: 'xnnpack' },
  { timed: 'xnnpack', after: 'advx' },
  { timed: 'advx', after: 'advx' },
  { timed: 'advx', after: 'xnnpack' },
];
const times: number[][] = CASES.map(() => []);
for (let i = 0; i < runs + 2; i++) {
  CASES.forEach(({ timed, after }, c) => {
    KERNELS[after]();
    const t = performance.now();
    KERNELS[timed]();
    const dt = performance.now() - t;
    if (i >= 2) times[c]!.push(dt);
  });
}
tf.dispose([x, f, dy]);

const info = await kernelInfo();
const rows = CASES.map(({ timed, after }, c) => ({ kernel: timed, after: after === timed ? 'itself' : other(timed), min_ms: Math.min(...times[c]!), median_ms: median(times[c]!) }));
if (args.json) {
  console.log(JSON.stringify({ xnnpack_threads: getThreadsCount(), advx_threads: info.threads, rows }));
} else {
  console.log(`${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${cpus().length} × ${cpus()[0]?.model.trim()}, XNNPACK ${getThreadsCount()} threads, advx's kernels ${info.threads} threads, ${runs} timed calls per case`);
  console.log('| kernel | right after | min ms | median ms | median against "itself" |');
  console.log('| --- | --- | ---: | ---: | ---: |');
  for (const r of rows) {
    const base = rows.find((b) => b.kernel === r.kernel && b.after === 'itself')!;
    console.log(`| ${r.kernel === 'xnnpack' ? "XNNPACK's 5×5 convolution" : "advx's filter gradient"} | ${r.after === 'itself' ? 'itself' : r.after === 'xnnpack' ? 'an XNNPACK kernel' : "an advx kernel"} | ${r.min_ms.toFixed(2)} | ${r.median_ms.toFixed(2)} | ${(r.median_ms / base.median_ms).toFixed(2)}× |`);
  }
}
