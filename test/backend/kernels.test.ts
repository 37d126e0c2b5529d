/**
 * advx's wasm kernels (src/backend/kernels) against the cpu backend: each kernel on seeded
 * random data over strides, paddings, odd sizes, channel counts and kernel sizes; then whole
 * gradients of the reference CNN; and no tensor or backend-memory growth across calls.
 */
import { before, describe, it } from 'node:test';
import { availableParallelism } from 'node:os';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { useBackend } from '../../src/backend/index.ts';
import { NATIVE, nativeKernels, PARALLEL } from '../../src/backend/kernels/native.ts';
import { NATIVE_MATMUL } from '../../src/backend/kernels/batch_mat_mul.ts';
import { wholeCopies } from '../../src/backend/kernels/tile.ts';
import { WINOGRAD, winogradApplies } from '../../src/backend/kernels/winograd.ts';
import { convGeometry, type WasmBackend } from '../../src/backend/kernels/util.ts';
import { Rng } from '../../src/core/rng.ts';
import { cnn } from '../../src/models/zoo.ts';

const rng = new Rng(1234);
function randn(n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.normal();
  return a;
}

type Input = { data: Float32Array; shape: number[] };
const input = (shape: number[]): Input => ({ data: randn(shape.reduce((p, q) => p * q, 1)), shape });

/** Runs one kernel on `backend` over fresh tensors made from `inputs`; returns its values. */
async function runOn(backend: string, kernel: string, inputs: Record<string, Input>, attrs: object): Promise<{ values: Float32Array; shape: number[] }> {
  await tf.setBackend(backend);
  const ts: tf.NamedTensorMap = {};
  for (const [k, v] of Object.entries(inputs)) ts[k] = tf.tensor(v.data, v.shape);
  const out = tf.engine().runKernel(kernel, ts, attrs as tf.NamedAttrMap) as tf.Tensor;
  const values = (await out.data()) as Float32Array;
  const shape = out.shape;
  out.dispose();
  tf.dispose(Object.values(ts));
  return { values: Float32Array.from(values), shape };
}

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, rtol = 1e-4): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let scale = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  const atol = rtol * Math.max(scale, 1e-6);
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    if (!(d <= atol + rtol * Math.abs(expected[i]))) {
      assert.fail(`${what}: element ${i}: wasm ${actual[i]} vs cpu ${expected[i]} (scale ${scale})`);
    }
  }
}

/**
 * Checks the wasm kernel against cpu: with advx's native (C) kernels split over threads even
 * when small, with them as configured, and with the JS paths.
 */
type Mode = 'native, threads' | 'native' | 'JS';
async function compare(kernel: string, inputs: Record<string, Input>, attrs: object, what: string, rtol = 1e-4,
  modes: readonly Mode[] = ['native, threads', 'native', 'JS']): Promise<void> {
  const cpu = await runOn('cpu', kernel, inputs, attrs);
  const minMacs = PARALLEL.minMacs;
  try {
    for (const mode of modes) {
      NATIVE.enabled = mode !== 'JS';
      PARALLEL.minMacs = mode === 'native, threads' ? 0 : minMacs;
      const wasm = await runOn('wasm', kernel, inputs, attrs);
      const label = `${what} (${mode})`;
      assert.deepEqual(wasm.shape, cpu.shape, `${label}: shape`);
      assertClose(wasm.values, cpu.values, label, rtol);
    }
  } finally {
    NATIVE.enabled = true;
    PARALLEL.minMacs = minMacs;
  }
}

const convOut = (n: number, f: number, s: number, pad: 'same' | 'valid') => (pad === 'same' ? Math.ceil(n / s) : Math.ceil((n - f + 1) / s));

interface ConvCase { b: number; h: number; w: number; c: number; o: number; f: number; s: number; pad: 'same' | 'valid' }
const CONV_CASES: ConvCase[] = [
  { b: 1, h: 7, w: 7, c: 1, o: 8, f: 3, s: 1, pad: 'valid' },
  { b: 2, h: 13, w: 13, c: 3, o: 8, f: 3, s: 1, pad: 'same' },
  { b: 1, h: 13, w: 7, c: 8, o: 3, f: 5, s: 2, pad: 'same' },
  { b: 3, h: 7, w: 13, c: 32, o: 8, f: 1, s: 1, pad: 'valid' },
  { b: 2, h: 13, w: 13, c: 8, o: 32, f: 3, s: 2, pad: 'valid' },
  { b: 1, h: 7, w: 7, c: 3, o: 1, f: 5, s: 1, pad: 'same' },
  { b: 2, h: 8, w: 9, c: 8, o: 8, f: 1, s: 2, pad: 'valid' },
  { b: 4, h: 28, w: 28, c: 1, o: 32, f: 3, s: 1, pad: 'valid' },
  { b: 4, h: 13, w: 13, c: 32, o: 64, f: 3, s: 1, pad: 'valid' },
  // Channel counts that exercise every register tile and remainder of the native kernels
  // (4/2/1 input channels × 16/8/4 output channels, then O % 4 scalar), odd sizes, stride 2.
  { b: 1, h: 9, w: 11, c: 5, o: 12, f: 3, s: 2, pad: 'same' },
  { b: 2, h: 10, w: 7, c: 6, o: 20, f: 3, s: 2, pad: 'valid' },
  { b: 1, h: 6, w: 6, c: 2, o: 16, f: 2, s: 2, pad: 'same' },
  { b: 3, h: 11, w: 9, c: 17, o: 33, f: 3, s: 1, pad: 'same' },
  { b: 1, h: 5, w: 8, c: 12, o: 2, f: 4, s: 1, pad: 'same' },
  { b: 2, h: 12, w: 12, c: 7, o: 5, f: 3, s: 2, pad: 'same' },
  { b: 1, h: 15, w: 15, c: 1, o: 7, f: 5, s: 2, pad: 'valid' },
  // DANN's convs (5×5 on 3 channels, 32→48): a 'valid' window row is one contiguous tap of
  // f·c channels for the filter gradient; 4×12 tiles with 8- and 4-wide and scalar remainders.
  { b: 2, h: 28, w: 28, c: 3, o: 32, f: 5, s: 1, pad: 'valid' },
  { b: 3, h: 12, w: 12, c: 32, o: 48, f: 5, s: 1, pad: 'valid' },
  { b: 2, h: 11, w: 10, c: 3, o: 27, f: 5, s: 2, pad: 'valid' },
  { b: 1, h: 9, w: 14, c: 2, o: 13, f: 4, s: 3, pad: 'valid' },
  { b: 2, h: 8, w: 8, c: 3, o: 12, f: 2, s: 1, pad: 'same' },
];
/**
 * 3×3 and 5×5 stride-1 convolutions that go through Winograd F(4×4, 3×3) or F(2×2, 5×5) (multiples of 4
 * channels, at least 16; at least 128 outputs per channel, so that the forward convolution takes
 * it too; the input gradient's threshold is lifted for them): odd and even output sizes (partial tiles), both paddings, tile counts
 * that are not multiples of the 4-tile register tile or of the 16- and 32-tile blocks, and output
 * channels that use the 12-, 8- and 4-wide tiles; the CNN's second convolution and DANN's.
 */
const WINOGRAD_CASES: ConvCase[] = [
  { b: 15, h: 5, w: 5, c: 16, o: 16, f: 3, s: 1, pad: 'valid' },
  { b: 3, h: 9, w: 7, c: 20, o: 44, f: 3, s: 1, pad: 'same' },
  { b: 3, h: 8, w: 11, c: 32, o: 24, f: 3, s: 1, pad: 'valid' },
  { b: 1, h: 14, w: 13, c: 16, o: 36, f: 3, s: 1, pad: 'same' },
  { b: 4, h: 13, w: 13, c: 32, o: 64, f: 3, s: 1, pad: 'valid' },
  { b: 3, h: 12, w: 12, c: 32, o: 48, f: 5, s: 1, pad: 'valid' },
  { b: 2, h: 9, w: 10, c: 16, o: 20, f: 5, s: 1, pad: 'same' },
  { b: 11, h: 7, w: 8, c: 16, o: 28, f: 5, s: 1, pad: 'valid' },
];
/** Winograd on and off where it takes the case (both paths checked), else the one path. */
const winogradSettings = (k: ConvCase) =>
  winogradApplies(convGeometry([k.b, k.h, k.w, k.c], [k.f, k.f, k.c, k.o], { strides: k.s, pad: k.pad }, false)) ? [true, false] : [true];
const name = (k: ConvCase) => `b${k.b} ${k.h}×${k.w}×${k.c}→${k.o} f${k.f} s${k.s} ${k.pad}`;

before(async () => {
  await useBackend('wasm');
  await tf.setBackend('wasm');
  // The native kernels must load in Node (else every test below only checks the JS paths), and
  // their worker threads start (else the split kernels are only checked on one thread).
  const native = nativeKernels(tf.backend() as unknown as WasmBackend);
  assert.ok(native, 'native kernels failed to load');
  const want = Math.min(8, availableParallelism());
  for (let i = 0; i < 200 && native.threads < want; i++) await new Promise((r) => setTimeout(r, 25));
  assert.equal(native.threads, want, 'native worker threads did not start');
  // Which build (test/backend/kernels-relaxed.test.ts runs this file once per build): a run meant
  // for the relaxed SIMD kernels must not pass on the plain ones, nor the other way round.
  const expect = process.env.ADVX_EXPECT_RELAXED_SIMD;
  if (expect !== undefined) assert.equal(native.relaxedSimd, expect === '1', `relaxed SIMD kernels ${native.relaxedSimd ? 'loaded' : 'did not load'}`);
  await tf.setBackend('cpu');
});

describe('wasm gradient kernels match cpu', () => {
  it('Conv2DBackpropFilter (Winograd where it applies, and the direct kernel on the same shapes)', async () => {
    for (const k of [...CONV_CASES, ...WINOGRAD_CASES]) {
      const oh = convOut(k.h, k.f, k.s, k.pad);
      const ow = convOut(k.w, k.f, k.s, k.pad);
      for (const winograd of winogradSettings(k)) {
        WINOGRAD.filterGrad = winograd;
        try {
          await compare('Conv2DBackpropFilter',
            { x: input([k.b, k.h, k.w, k.c]), dy: input([k.b, oh, ow, k.o]) },
            { strides: k.s, pad: k.pad, dataFormat: 'NHWC', dimRoundingMode: undefined, filterShape: [k.f, k.f, k.c, k.o] },
            `Conv2DBackpropFilter ${name(k)}${winograd ? '' : ' (Winograd off)'}`);
        } finally {
          WINOGRAD.filterGrad = true;
        }
      }
    }
  });

  it('Conv2DBackpropInput (Winograd where it applies, and the direct kernel on the same shapes)', async () => {
    for (const k of [...CONV_CASES, ...WINOGRAD_CASES]) {
      const oh = convOut(k.h, k.f, k.s, k.pad);
      const ow = convOut(k.w, k.f, k.s, k.pad);
      for (const winograd of winogradSettings(k)) {
        // Every case through Winograd when on, however few its outputs (the threshold is for speed).
        const minOutputs = WINOGRAD.minInputGradOutputs;
        WINOGRAD.inputGrad = winograd;
        WINOGRAD.minInputGradOutputs = 0;
        try {
          await compare('Conv2DBackpropInput',
            { dy: input([k.b, oh, ow, k.o]), filter: input([k.f, k.f, k.c, k.o]) },
            { strides: k.s, pad: k.pad, dataFormat: 'NHWC', dimRoundingMode: undefined, inputShape: [k.b, k.h, k.w, k.c] },
            `Conv2DBackpropInput ${name(k)}${winograd ? '' : ' (Winograd off)'}`);
        } finally {
          WINOGRAD.inputGrad = true;
          WINOGRAD.minInputGradOutputs = minOutputs;
        }
      }
    }
  });

  it('Conv2D and FusedConv2D (Winograd where it applies, else TF.js) with bias and linear / relu / relu6', async () => {
    for (const k of [...WINOGRAD_CASES, ...CONV_CASES.slice(0, 4)]) {
      const [x, filter] = [input([k.b, k.h, k.w, k.c]), input([k.f, k.f, k.c, k.o])];
      const attrs = { strides: k.s, pad: k.pad, dataFormat: 'NHWC', dilations: 1, dimRoundingMode: undefined };
      await compare('Conv2D', { x, filter }, attrs, `Conv2D ${name(k)}`);
      for (const activation of ['linear', 'relu', 'relu6']) {
        await compare('FusedConv2D', { x, filter, bias: input([k.o]) }, { ...attrs, activation, leakyreluAlpha: 0 }, `FusedConv2D ${name(k)} ${activation}`);
      }
    }
  });

  it('DepthwiseConv2dNativeBackpropInput (native for channel multiplier 1, JS otherwise)', async () => {
    // Channels that fill vectors and leave a remainder, strides, both paddings, MobileNet's shapes
    // (dilations: graph-op-gradients.test.ts, against cpu on the zero-inserted filter, as cpu's
    // own kernel ignores them).
    const cases = [
      { b: 2, h: 9, w: 9, c: 32, m: 1, f: 3, s: 1, d: 1, pad: 'same' },
      { b: 1, h: 13, w: 11, c: 7, m: 1, f: 3, s: 2, d: 1, pad: 'same' },
      { b: 3, h: 12, w: 10, c: 12, m: 1, f: 5, s: 2, d: 1, pad: 'valid' },
      { b: 2, h: 14, w: 14, c: 96, m: 1, f: 3, s: 2, d: 1, pad: 'same' },
      { b: 1, h: 9, w: 10, c: 3, m: 2, f: 3, s: 1, d: 1, pad: 'valid' },
    ] as const;
    for (const k of cases) {
      const info = tf.backend_util.computeConv2DInfo([k.b, k.h, k.w, k.c], [k.f, k.f, k.c, k.m], k.s, k.d, k.pad, undefined, true);
      await compare('DepthwiseConv2dNativeBackpropInput',
        { dy: input([k.b, info.outHeight, info.outWidth, k.c * k.m]), filter: input([k.f, k.f, k.c, k.m]) },
        { strides: k.s, pad: k.pad, dilations: k.d, dimRoundingMode: undefined, inputShape: [k.b, k.h, k.w, k.c] },
        `DepthwiseConv2dNativeBackpropInput b${k.b} ${k.h}×${k.w}×${k.c}×${k.m} f${k.f} s${k.s} d${k.d} ${k.pad}`);
    }
  });

  it('MaxPoolGrad', async () => {
    const cases = [
      { b: 1, h: 7, w: 7, c: 1, f: 2, s: 2, pad: 'valid' },
      { b: 2, h: 13, w: 13, c: 3, f: 2, s: 2, pad: 'same' },
      { b: 1, h: 13, w: 7, c: 8, f: 3, s: 2, pad: 'same' },
      { b: 2, h: 7, w: 13, c: 32, f: 3, s: 1, pad: 'valid' },
      { b: 3, h: 26, w: 26, c: 32, f: 2, s: 2, pad: 'valid' },
      { b: 1, h: 11, w: 11, c: 64, f: 2, s: 2, pad: 'valid' },
      { b: 2, h: 9, w: 7, c: 6, f: 2, s: 2, pad: 'same' },
      { b: 1, h: 10, w: 11, c: 5, f: 3, s: 3, pad: 'same' },
      { b: 2, h: 8, w: 8, c: 12, f: 3, s: 2, pad: 'valid' },
      { b: 1, h: 7, w: 9, c: 9, f: 2, s: 1, pad: 'same' },
    ] as const;
    for (const k of cases) {
      const x = input([k.b, k.h, k.w, k.c]);
      // Ties (common after a ReLU) must go to the first maximum of each window, as on cpu.
      for (let i = 0; i < x.data.length; i += 3) x.data[i] = Math.max(0, x.data[i]);
      // Whole windows of zeros (a dead ReLU region): the first position must take the gradient.
      for (let i = 0; i < Math.min(x.data.length, 4 * k.w * k.c); i++) x.data[i] = 0;
      await tf.setBackend('cpu');
      const y = tf.maxPool(tf.tensor4d(x.data, x.shape as [number, number, number, number]), k.f, k.s, k.pad);
      const yIn = { data: Float32Array.from(y.dataSync()), shape: y.shape };
      y.dispose();
      await compare('MaxPoolGrad', { dy: input(yIn.shape), input: x, output: yIn },
        { filterSize: k.f, strides: k.s, pad: k.pad, dimRoundingMode: undefined },
        `MaxPoolGrad b${k.b} ${k.h}×${k.w}×${k.c} f${k.f} s${k.s} ${k.pad}`);
    }
  });

  it('MaxPool (2×2 stride 2 native, the rest TF.js)', async () => {
    const cases = [
      { b: 2, h: 24, w: 24, c: 32, f: 2, s: 2, pad: 'valid' }, { b: 1, h: 13, w: 11, c: 6, f: 2, s: 2, pad: 'valid' },
      { b: 2, h: 8, w: 8, c: 3, f: 2, s: 2, pad: 'same' }, { b: 1, h: 9, w: 7, c: 5, f: 2, s: 2, pad: 'same' },
      { b: 1, h: 9, w: 9, c: 4, f: 3, s: 2, pad: 'valid' }, { b: 1, h: 8, w: 8, c: 4, f: 2, s: 1, pad: 'valid' },
    ] as const;
    for (const k of cases) {
      const x = input([k.b, k.h, k.w, k.c]);
      for (let i = 0; i < x.data.length; i += 3) x.data[i] = Math.max(0, x.data[i]);
      await compare('MaxPool', { x }, { filterSize: k.f, strides: k.s, pad: k.pad, dimRoundingMode: undefined },
        `MaxPool b${k.b} ${k.h}×${k.w}×${k.c} f${k.f} s${k.s} ${k.pad}`);
    }
  });

  it('BatchMatMul with transposes and batches', async () => {
    // The native GEMM's 4-row and 1-row, 12/8/4-column and scalar tiles (9×17×27), rows split
    // over threads (130×256×70 in the 'native' mode); products past NATIVE_MATMUL run on XNNPACK.
    const { maxMacs, threadMacs } = NATIVE_MATMUL;
    try {
      NATIVE_MATMUL.maxMacs = 5000;
      for (const m of [3, 40]) await compare('BatchMatMul', { a: input([2, m, 50]), b: input([2, 50, 60]) }, { transposeA: false, transposeB: false }, `BatchMatMul on XNNPACK ${m}×50×60`);
      NATIVE_MATMUL.maxMacs = maxMacs;
      NATIVE_MATMUL.threadMacs = 0;
      await checkBatchMatMul();
    } finally {
      Object.assign(NATIVE_MATMUL, { maxMacs, threadMacs });
    }
  });

  async function checkBatchMatMul(): Promise<void> {
    for (const [m, k, n] of [[7, 13, 5], [128, 100, 32], [1, 33, 9], [9, 17, 27], [64, 100, 10], [130, 256, 70]]) {
      for (const batch of [[1, 1], [3, 3], [3, 1], [1, 2]]) {
        for (const ta of [false, true]) {
          for (const tb of [false, true]) {
            const a = input([batch[0], ta ? k : m, ta ? m : k]);
            const b = input([batch[1], tb ? n : k, tb ? k : n]);
            await compare('BatchMatMul', { a, b }, { transposeA: ta, transposeB: tb },
              `BatchMatMul ${m}×${k}×${n} batch ${batch} tA ${ta} tB ${tb}`);
          }
        }
      }
    }
  }

  it('Sum over leading axes (bias gradients) and others', async () => {
    const x = input([4, 7, 13, 8]);
    for (const [axis, keepDims] of [[[0, 1, 2], false], [[0], true], [[0, 1], false], [[1, 2], false], [[3], false], [[0, 1, 2, 3], false], [-1, true]] as const) {
      await compare('Sum', { x }, { axis, keepDims }, `Sum axis ${axis} keepDims ${keepDims}`);
    }
    // The native column sum's 32-, 16-, 4- and 1-column blocks, runs of rows past its 64-row
    // blocks, and a conv's bias gradient at full size (73 728 rows).
    for (const shape of [[3, 5, 7, 53], [130, 37], [65, 2], [2, 100], [128, 24, 24, 32]]) {
      const axis = shape.slice(0, -1).map((_, i) => i);
      await compare('Sum', { x: input(shape) }, { axis, keepDims: false }, `Sum [${shape}] over leading axes`);
    }
  });

  it('Add, Sub, Multiply with a broadcast row or column, and the cases left to TF.js', async () => {
    const pairs: Array<[number[], number[]]> = [
      [[4, 5, 6, 7], [7]], [[7], [4, 5, 6, 7]], [[2, 3, 4], [1, 3, 4]], [[1, 3, 4], [2, 3, 4]],
      [[64, 10], [64, 1]], [[64, 1], [64, 10]], [[2, 3, 5], [2, 3, 1]], [[2, 3, 1], [1, 2, 3, 5]],
      [[128, 100], [100]], [[9, 6], [1, 6]],
      // Not native: same shape, scalar, outer-product broadcast, a column repeated over a leading dim.
      [[5, 6], [5, 6]], [[5, 6], []], [[3, 1], [1, 4]], [[4, 8, 10], [8, 1]],
    ];
    for (const [sa, sb] of pairs) {
      const a = input(sa);
      const b = input(sb);
      for (const kernel of ['Add', 'Sub', 'Multiply']) {
        await compare(kernel, { a, b }, {}, `${kernel} [${sa}] [${sb}]`);
      }
    }
  });

  it('Relu, and _FusedMatMul with bias and linear / relu / other activations', async () => {
    for (const shape of [[7], [4, 5, 6, 7], [128, 24, 24, 32]]) {
      const x = input(shape);
      x.data[0] = 0;
      x.data[1] = -0;
      await compare('Relu', { x }, {}, `Relu [${shape}]`);
    }
    // (130×300×1000 is past NATIVE_MATMUL: the product on XNNPACK, bias and activation native.)
    for (const [m, k, n] of [[64, 100, 10], [5, 7, 3], [128, 100, 1], [130, 300, 1000]]) {
      for (const [ta, tb] of [[false, false], [true, false], [false, true]]) {
        for (const activation of ['linear', 'relu', 'elu']) {
          for (const withBias of [true, false]) {
            const a = input([1, ta ? k : m, ta ? m : k]);
            const b = input([1, tb ? n : k, tb ? k : n]);
            const inputs: Record<string, Input> = withBias ? { a, b, bias: input([n]) } : { a, b };
            // TF.js's own kernel (JS mode; elu always) gets transposed products wrong, off from
            // cpu by 1e-3 relative and more: those cases are checked on the native path only.
            if ((ta || tb) && activation === 'elu') continue;
            await compare('_FusedMatMul', inputs, { transposeA: ta, transposeB: tb, activation, leakyreluAlpha: 0 },
              `_FusedMatMul ${m}×${k}×${n} tA ${ta} tB ${tb} ${activation}${withBias ? ' bias' : ''}`, 1e-4,
              ta || tb ? ['native, threads', 'native'] : undefined);
          }
        }
      }
    }
  });

  it('PadV2 (first axis only in JS, the rest TF.js)', async () => {
    const cases: Array<[number[], Array<[number, number]>, number]> = [
      [[64, 768], [[0, 64], [0, 0]], 0], [[5, 3, 2], [[2, 1], [0, 0], [0, 0]], 1.5], [[4], [[3, 0]], -2],
      [[3, 4], [[0, 0], [1, 2]], 0], [[3, 4], [[1, 0], [0, 1]], 0.5],
    ];
    for (const [shape, paddings, constantValue] of cases) {
      await compare('PadV2', { x: input(shape) }, { paddings, constantValue }, `PadV2 [${shape}] ${JSON.stringify(paddings)} ${constantValue}`);
    }
  });

  it('Tile (the input repeated whole copied by doubling, the rest TF.js)', async () => {
    const cases: Array<[number[], number[]]> = [
      [[1, 1, 1, 64], [4, 5, 5, 1]], [[1, 7], [9, 1]], [[1, 1, 3], [2, 3, 1]], [[5], [1]], [[1, 1, 2], [3, 1, 1]],
      // Not whole copies: TF.js's kernel.
      [[2, 3], [2, 2]], [[1, 4, 1], [2, 1, 3]], [[3, 1], [1, 4]],
    ];
    for (const [shape, reps] of cases) await compare('Tile', { x: input(shape) }, { reps }, `Tile [${shape}] × [${reps}]`);
    assert.deepEqual([wholeCopies([1, 1, 1, 64], [4, 5, 5, 1]), wholeCopies([2, 3], [2, 2]), wholeCopies([1, 4, 1], [1, 1, 3]), wholeCopies([1, 4, 1], [2, 1, 1])], [100, null, null, 2]);
  });

  it('Identity and same-dtype Cast share data without changing values', async () => {
    const x = input([3, 5]);
    await compare('Identity', { x }, {}, 'Identity');
    await compare('Cast', { x }, { dtype: 'float32' }, 'Cast float32');
    await compare('Cast', { x }, { dtype: 'int32' }, 'Cast int32');
  });
});

describe('reference CNN gradients on wasm match cpu', () => {
  const batch = 8;
  const xs = input([batch, 28, 28, 1]);
  for (let i = 0; i < xs.data.length; i++) xs.data[i] = Math.abs(xs.data[i]) % 1;
  const labels = Array.from({ length: batch }, () => rng.int(10));

  async function grads(backend: string): Promise<{ input: Float32Array; weights: Float32Array[] }> {
    await tf.setBackend(backend);
    const model = cnn({ inputShape: [28, 28, 1], numClasses: 10, seed: 1 });
    const x = tf.tensor4d(xs.data, xs.shape as [number, number, number, number]);
    const y = tf.oneHot(tf.tensor1d(labels, 'int32'), 10);
    const loss = (inp: tf.Tensor) => tf.losses.softmaxCrossEntropy(y, model.apply(inp) as tf.Tensor) as tf.Scalar;
    const gx = tf.grad(loss)(x);
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const { grads: gw } = tf.variableGrads(() => loss(x), vars);
    const out = {
      input: Float32Array.from(gx.dataSync()),
      weights: vars.map((v) => Float32Array.from(gw[v.name].dataSync())),
    };
    tf.dispose([gx, x, y, ...Object.values(gw)]);
    model.dispose();
    return out;
  }

  it('gradient wrt the input and wrt every weight', async () => {
    const cpu = await grads('cpu');
    const wasm = await grads('wasm');
    assertClose(wasm.input, cpu.input, 'd loss / d input', 1e-3);
    assert.equal(wasm.weights.length, cpu.weights.length);
    wasm.weights.forEach((w, i) => assertClose(w, cpu.weights[i], `d loss / d weight ${i}`, 1e-3));
  });
});

describe('no leaks on wasm', () => {
  it('tensors and backend buffers stay flat over repeated train steps and input gradients', async () => {
    await tf.setBackend('wasm');
    const model = cnn({ inputShape: [28, 28, 1], numClasses: 10, seed: 1 });
    const x = tf.randomUniform([4, 28, 28, 1], 0, 1, 'float32', 3);
    const y = tf.oneHot(tf.tensor1d([1, 2, 3, 4], 'int32'), 10);
    const opt = tf.train.adam(1e-3);
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const loss = (inp: tf.Tensor) => tf.losses.softmaxCrossEntropy(y, model.apply(inp) as tf.Tensor) as tf.Scalar;
    const gradFn = tf.grad(loss);
    const step = () => {
      opt.minimize(() => loss(x), false, vars);
      tf.dispose(gradFn(x));
    };
    step(); // Adam makes its slot variables on the first step
    const backend = tf.backend() as unknown as { numDataIds(): number };
    const counts: Array<[number, number]> = [];
    for (let i = 0; i < 3; i++) {
      step();
      counts.push([tf.memory().numTensors, backend.numDataIds()]);
    }
    assert.deepEqual(counts[1], counts[0], `tensors/buffers grew: ${JSON.stringify(counts)}`);
    assert.deepEqual(counts[2], counts[0], `tensors/buffers grew: ${JSON.stringify(counts)}`);
    tf.dispose([x, y]);
    opt.dispose();
    model.dispose();
  });
});
