/**
 * The wasm kernels that gradients through converted graph models and imported ONNX models need
 * (depthwise convolution input and filter gradients, UnsortedSegmentSum for Gather,
 * ResizeNearestNeighborGrad) against the cpu backend or an independent reference, the input
 * gradient of a small MobileNet-style stack on wasm against cpu, and the gradients advx adds to
 * TF.js (StridedSlice, GatherNd, DepthToSpace, batchNorm without offset or scale, dilated fused
 * depthwise convolutions) and those it mends (AvgPool with padding, MirrorPad, ResizeBilinear,
 * ResizeNearestNeighbor: TF.js's are wrong) against central differences of the forward op on cpu
 * and on wasm, and wasm against cpu; those four forward ops also against TF's semantics by hand.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { useBackend } from '../../src/backend/index.ts';
import { stridedSliceGrad } from '../../src/backend/kernels/strided_slice_grad.ts';
import { Rng } from '../../src/core/rng.ts';

const rng = new Rng(4321);
type Input = { data: Float32Array | Int32Array; shape: number[]; dtype?: 'float32' | 'int32' };
function input(shape: number[]): Input {
  const data = new Float32Array(shape.reduce((p, q) => p * q, 1));
  for (let i = 0; i < data.length; i++) data[i] = rng.normal();
  return { data, shape };
}

async function runOn(backend: string, kernel: string, inputs: Record<string, Input>, attrs: object): Promise<{ values: Float32Array; shape: number[] }> {
  await tf.setBackend(backend);
  const ts: tf.NamedTensorMap = {};
  for (const [k, v] of Object.entries(inputs)) ts[k] = tf.tensor(v.data, v.shape, v.dtype ?? 'float32');
  const out = tf.engine().runKernel(kernel, ts, attrs as tf.NamedAttrMap) as tf.Tensor;
  const values = Float32Array.from(await out.data());
  const shape = out.shape;
  tf.dispose([out, ...Object.values(ts)]);
  return { values, shape };
}

/** Largest |a − e| over the largest |e|; asserts it is within rtol (as kernels.test.ts does). */
function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, rtol = 1e-4): number {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let scale = 0;
  let worst = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  const atol = rtol * Math.max(scale, 1e-6);
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    worst = Math.max(worst, d);
    if (!(d <= atol + rtol * Math.abs(expected[i]))) assert.fail(`${what}: element ${i}: wasm ${actual[i]} vs reference ${expected[i]} (scale ${scale})`);
  }
  return worst / Math.max(scale, 1e-30);
}

const worst: Record<string, number> = {};
const note = (key: string, r: number) => (worst[key] = Math.max(worst[key] ?? 0, r));

async function compare(kernel: string, inputs: Record<string, Input>, attrs: object, what: string): Promise<void> {
  const cpu = await runOn('cpu', kernel, inputs, attrs);
  const wasm = await runOn('wasm', kernel, inputs, attrs);
  assert.deepEqual(wasm.shape, cpu.shape, `${what}: shape`);
  note(kernel, assertClose(wasm.values, cpu.values, what));
}

type Pad = 'same' | 'valid' | number[][];
interface DwCase { b: number; h: number; w: number; c: number; m: number; f: number; s: number; pad: Pad; d?: number; fw?: number }
const DW_CASES: DwCase[] = [
  { b: 1, h: 7, w: 7, c: 1, m: 1, f: 3, s: 1, pad: 'same' },
  { b: 2, h: 13, w: 11, c: 5, m: 1, f: 3, s: 2, pad: 'same' },
  { b: 2, h: 12, w: 12, c: 8, m: 1, f: 3, s: 2, pad: 'valid' },
  { b: 1, h: 9, w: 10, c: 3, m: 2, f: 3, s: 1, pad: 'valid' },
  { b: 3, h: 8, w: 7, c: 4, m: 3, f: 5, s: 2, pad: 'same' },
  { b: 1, h: 11, w: 9, c: 6, m: 2, f: 3, s: 1, pad: [[0, 0], [1, 2], [2, 0], [0, 0]] },
  { b: 2, h: 10, w: 13, c: 7, m: 1, f: 3, s: 2, pad: [[0, 0], [0, 1], [1, 1], [0, 0]] },
  { b: 1, h: 6, w: 9, c: 2, m: 4, f: 2, s: 3, pad: 'same' },
  { b: 2, h: 9, w: 9, c: 32, m: 1, f: 3, s: 1, pad: 'same', fw: 5 },
];
const DILATED: DwCase[] = [
  { b: 1, h: 11, w: 9, c: 3, m: 1, f: 3, s: 1, pad: 'same', d: 2 },
  { b: 2, h: 12, w: 13, c: 4, m: 2, f: 3, s: 1, pad: 'valid', d: 2 },
  { b: 1, h: 13, w: 10, c: 2, m: 1, f: 3, s: 1, pad: [[0, 0], [2, 1], [0, 3], [0, 0]], d: 3 },
];
const dwName = (k: DwCase) => `b${k.b} ${k.h}×${k.w}×${k.c}×${k.m} f${k.f}${k.fw ? `×${k.fw}` : ''} s${k.s} d${k.d ?? 1} ${JSON.stringify(k.pad)}`;

function dwShapes(k: DwCase): { x: number[]; filter: number[]; dy: number[]; dilated: number[] } {
  const d = k.d ?? 1;
  const fw = k.fw ?? k.f;
  const info = tf.backend_util.computeConv2DInfo([k.b, k.h, k.w, k.c], [k.f, fw, k.c, k.m], k.s, d,
    k.pad as 'same', undefined, true);
  return { x: [k.b, k.h, k.w, k.c], filter: [k.f, fw, k.c, k.m], dy: [k.b, info.outHeight, info.outWidth, k.c * k.m],
    dilated: [(k.f - 1) * d + 1, (fw - 1) * d + 1, k.c, k.m] };
}

/** The filter with d − 1 zeros between taps. */
function zeroInsert(f: Input, d: number): Input {
  const [fh, fw, c, m] = f.shape;
  const [gh, gw] = [(fh - 1) * d + 1, (fw - 1) * d + 1];
  const out = new Float32Array(gh * gw * c * m);
  for (let i = 0; i < fh; i++) for (let j = 0; j < fw; j++) {
    out.set(f.data.subarray((i * fw + j) * c * m, (i * fw + j + 1) * c * m), (i * d * gw + j * d) * c * m);
  }
  return { data: out, shape: [gh, gw, c, m] };
}

before(async () => {
  await useBackend('wasm', { threads: 1 });
});

describe('wasm kernels for graph-model gradients match cpu', () => {
  it('DepthwiseConv2dNativeBackpropInput', async () => {
    for (const k of DW_CASES) {
      const s = dwShapes(k);
      await compare(tf.DepthwiseConv2dNativeBackpropInput, { dy: input(s.dy), filter: input(s.filter) },
        { strides: k.s, pad: k.pad, dilations: 1, dimRoundingMode: undefined, inputShape: s.x }, `dx ${dwName(k)}`);
    }
  });

  it('DepthwiseConv2dNativeBackpropFilter', async () => {
    for (const k of DW_CASES) {
      const s = dwShapes(k);
      await compare(tf.DepthwiseConv2dNativeBackpropFilter, { x: input(s.x), dy: input(s.dy) },
        { strides: k.s, pad: k.pad, dilations: 1, dimRoundingMode: undefined, filterShape: s.filter }, `dW ${dwName(k)}`);
    }
  });

  it('depthwise gradients with dilations > 1 (cpu on the zero-inserted filter as reference)', async () => {
    for (const k of DILATED) {
      const s = dwShapes(k);
      const d = k.d!;
      const [dy, filter, x] = [input(s.dy), input(s.filter), input(s.x)];
      const attrs = { strides: 1, pad: k.pad, dimRoundingMode: undefined };
      const dxRef = await runOn('cpu', tf.DepthwiseConv2dNativeBackpropInput, { dy, filter: zeroInsert(filter, d) }, { ...attrs, dilations: 1, inputShape: s.x });
      const dx = await runOn('wasm', tf.DepthwiseConv2dNativeBackpropInput, { dy, filter }, { ...attrs, dilations: d, inputShape: s.x });
      note('dilated dx', assertClose(dx.values, dxRef.values, `dilated dx ${dwName(k)}`));
      const full = await runOn('cpu', tf.DepthwiseConv2dNativeBackpropFilter, { x, dy }, { ...attrs, dilations: 1, filterShape: s.dilated });
      const dwRef = new Float32Array(tf.util.sizeFromShape(s.filter));
      const [fh, fw, c, m] = s.filter;
      for (let i = 0; i < fh; i++) for (let j = 0; j < fw; j++) {
        dwRef.set(full.values.subarray((i * d * s.dilated[1] + j * d) * c * m, (i * d * s.dilated[1] + j * d + 1) * c * m), (i * fw + j) * c * m);
      }
      const dw = await runOn('wasm', tf.DepthwiseConv2dNativeBackpropFilter, { x, dy }, { ...attrs, dilations: d, filterShape: s.filter });
      note('dilated dW', assertClose(dw.values, dwRef, `dilated dW ${dwName(k)}`));
    }
  });

  it('tf.grad through a dilated depthwiseConv2d: wasm = cpu = finite differences', async () => {
    const x0 = input([1, 9, 8, 3]);
    const f0 = input([3, 3, 3, 2]);
    const w0 = input([1, 9, 8, 6]);
    const grads: Record<string, Float32Array[]> = {};
    for (const be of ['cpu', 'wasm']) {
      await tf.setBackend(be);
      const [x, f, w] = [x0, f0, w0].map((t) => tf.tensor4d(t.data as Float32Array, t.shape as [number, number, number, number]));
      const loss = (a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, 'same', 'NHWC', 2), w)) as tf.Scalar;
      const [gx, gf] = tf.grads(loss)([x, f]);
      grads[be] = [Float32Array.from(gx.dataSync()), Float32Array.from(gf.dataSync())];
      if (be === 'cpu') {
        // Central differences of the (linear) loss at a few coordinates of x and of the filter.
        const eps = 1e-2;
        for (const [which, t, g] of [[0, x, gx], [1, f, gf]] as const) {
          for (const idx of [0, 17, t.size - 1]) {
            const bump = (s: number) => {
              const v = Float32Array.from(t.dataSync());
              v[idx] += s;
              const tt = tf.tensor(v, t.shape);
              const r = which === 0 ? loss(tt, f) : loss(x, tt);
              const out = r.dataSync()[0];
              tf.dispose([tt, r]);
              return out;
            };
            const fd = (bump(eps) - bump(-eps)) / (2 * eps);
            assert.ok(Math.abs(fd - g.dataSync()[idx]) < 1e-2 * Math.max(1, Math.abs(fd)), `finite differences ${which} ${idx}: ${fd} vs ${g.dataSync()[idx]}`);
          }
        }
      }
      tf.dispose([x, f, w, gx, gf]);
    }
    note('dilated tf.grad dx', assertClose(grads.wasm[0], grads.cpu[0], 'dilated tf.grad dx'));
    note('dilated tf.grad dW', assertClose(grads.wasm[1], grads.cpu[1], 'dilated tf.grad dW'));
  });

  it('UnsortedSegmentSum (the gradient of Gather)', async () => {
    const ids = (n: number, k: number): Input => ({ data: Int32Array.from({ length: n }, () => rng.int(k)), shape: [n], dtype: 'int32' });
    await compare(tf.UnsortedSegmentSum, { x: input([9, 5, 3]), segmentIds: ids(9, 4) }, { numSegments: 6 }, 'UnsortedSegmentSum [9,5,3]');
    await compare(tf.UnsortedSegmentSum, { x: input([17]), segmentIds: ids(17, 3) }, { numSegments: 3 }, 'UnsortedSegmentSum [17]');
    await compare(tf.UnsortedSegmentSum, { x: input([40, 33]), segmentIds: ids(40, 7) }, { numSegments: 7 }, 'UnsortedSegmentSum [40,33]');
    // And through tf.grad of gather on a middle axis.
    const g: Record<string, Float32Array> = {};
    const x0 = input([2, 5, 3]);
    for (const be of ['cpu', 'wasm']) {
      await tf.setBackend(be);
      const x = tf.tensor(x0.data, x0.shape);
      const w = tf.tensor(Float32Array.from({ length: 2 * 4 * 3 }, (_, i) => Math.sin(i)), [2, 4, 3]);
      const gx = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, tf.tensor1d([4, 0, 4, 2], 'int32'), 1), w)))(x);
      g[be] = Float32Array.from(gx.dataSync());
      tf.dispose([x, w, gx]);
    }
    note('gather grad', assertClose(g.wasm, g.cpu, 'gather grad'));
  });

  it('ResizeNearestNeighborGrad (reference: the forward op\'s own index map)', async () => {
    for (const [b, h, w, c, oh, ow] of [[2, 9, 9, 4, 13, 7], [1, 5, 6, 3, 10, 12], [3, 8, 7, 2, 4, 3]]) {
      for (const [alignCorners, halfPixelCenters] of [[false, false], [false, true], [true, false]]) {
        await tf.setBackend('wasm');
        const idx = tf.tensor4d(Float32Array.from({ length: b * h * w * c }, (_, i) => i), [b, h, w, c] as [number, number, number, number]);
        const map = tf.image.resizeNearestNeighbor(idx, [oh, ow], alignCorners, halfPixelCenters);
        const m = map.dataSync();
        idx.dispose();
        map.dispose();
        const dy = input([b, oh, ow, c]);
        const ref = new Float32Array(b * h * w * c);
        for (let k = 0; k < m.length; k++) ref[m[k]] += dy.data[k];
        const images = { data: new Float32Array(b * h * w * c), shape: [b, h, w, c] };
        const got = await runOn('wasm', tf.ResizeNearestNeighborGrad, { images, dy }, { alignCorners, halfPixelCenters });
        note(tf.ResizeNearestNeighborGrad, assertClose(got.values, ref, `ResizeNearestNeighborGrad ${[b, h, w, c]}→${oh}×${ow} ac ${alignCorners} hp ${halfPixelCenters}`));
      }
    }
  });
});

interface GradCase {
  name: string;
  inputs: Input[];
  /** The inputs to differentiate with respect to. */
  wrt: number[];
  op: (...t: tf.Tensor[]) => tf.Tensor;
  backends?: string[];
  /** Central-difference step; the ops here are linear in most inputs, where any step is exact. */
  eps?: number;
  rtol?: number;
  /** false: wasm against cpu only (a piecewise-linear op whose kinks central differences straddle). */
  fd?: boolean;
}

/**
 * tf.grads of Σ w·op(inputs) (w fixed, random) against central differences of the forward op,
 * with the sum taken in float64 and the step measured in float32 as it was applied; on each
 * backend, with no tensor left behind; then wasm against cpu.
 */
async function checkGradient(c: GradCase): Promise<void> {
  const got: Record<string, Float32Array[]> = {};
  const backends = c.backends ?? ['cpu', 'wasm'];
  let wv: Float32Array | undefined; // the same weights on every backend
  for (const be of backends) {
    await tf.setBackend(be);
    const before = tf.memory().numTensors;
    const ts = c.inputs.map((v) => tf.tensor(v.data, v.shape, v.dtype ?? 'float32'));
    const outShape = tf.tidy(() => c.op(...ts).shape);
    wv ??= input(outShape.length ? outShape : [1]).data as Float32Array;
    const weights = wv;
    const w = tf.tensor(wv, outShape);
    const withArgs = (xs: tf.Tensor[]) => ts.map((t, i) => (c.wrt.includes(i) ? xs[c.wrt.indexOf(i)] : t));
    const gs = tf.grads((...xs: tf.Tensor[]) => tf.sum(tf.mul(c.op(...withArgs(xs)), w)) as tf.Scalar)(c.wrt.map((i) => ts[i]));
    got[be] = gs.map((g, k) => {
      assert.deepEqual(g.shape, ts[c.wrt[k]].shape, `${c.name} ${be}: gradient shape`);
      return Float32Array.from(g.dataSync());
    });
    tf.dispose(gs);
    const lossAt = (i: number, vals: Float32Array): number => {
      const out = tf.tidy(() => {
        const t = tf.tensor(vals, ts[i].shape);
        return c.op(...ts.map((u, j) => (j === i ? t : u)));
      });
      const o = out.dataSync();
      out.dispose();
      let l = 0;
      for (let k = 0; k < o.length; k++) l += o[k] * weights[k];
      return l;
    };
    const eps = c.eps ?? 0.05;
    if (c.fd !== false) c.wrt.forEach((i, k) => {
      const base = c.inputs[i].data as Float32Array;
      const fd = new Float32Array(base.length);
      const every = Math.max(1, Math.floor(base.length / 150)); // at most ~150 coordinates each
      const idx: number[] = [];
      for (let j = 0; j < base.length; j += every) {
        const v = Float32Array.from(base);
        const [hi, lo] = [Math.fround(base[j] + eps), Math.fround(base[j] - eps)];
        v[j] = hi;
        const lp = lossAt(i, v);
        v[j] = lo;
        fd[j] = (lp - lossAt(i, v)) / (hi - lo);
        idx.push(j);
      }
      const pick = (a: Float32Array) => Float32Array.from(idx, (j) => a[j]);
      note(`${c.name} vs finite differences (${be})`, assertClose(pick(got[be][k]), pick(fd), `${c.name} d/d input ${i} on ${be} vs finite differences`, c.rtol ?? 1e-4));
    });
    tf.dispose([...ts, w]);
    assert.equal(tf.memory().numTensors, before, `${c.name} on ${be}: no tensors leak`);
  }
  if (backends.length === 2) {
    got.wasm.forEach((g, k) => note(`${c.name} wasm vs cpu`, assertClose(g, got.cpu[k], `${c.name} d/d input ${c.wrt[k]}: wasm vs cpu`)));
  }
}

const intInput = (data: number[], shape: number[]): Input => ({ data: Int32Array.from(data), shape, dtype: 'int32' });
const positive = (shape: number[]): Input => {
  const v = input(shape);
  return { data: (v.data as Float32Array).map((t) => 0.5 + Math.abs(t)), shape };
};

describe('gradients advx adds to TF.js: tf.grad = finite differences on cpu and wasm, wasm = cpu', () => {
  it('StridedSlice (strides, negative strides, begin/end/ellipsis/new-axis/shrink masks)', async () => {
    type Spec = [number[], number[], number[], number?, number?, number?, number?, number?];
    const x3 = input([4, 6, 5]);
    const specs: Array<[string, Input, Spec]> = [
      ['x[0:4:2, 1:6:2, :]', x3, [[0, 1, 0], [4, 6, 5], [2, 2, 1]]],
      ['x[::-1, ::-2, ::-3]', x3, [[3, 5, 4], [0, 0, 0], [-1, -2, -3], 0, 0b111]],
      ['x[-3:-1, -5:-1:3, 1:5:2]', x3, [[-3, -5, 1], [-1, -1, 5], [1, 3, 2]]],
      ['x[3:0:-2, 4:1:-1, 1:]', x3, [[3, 4, 1], [0, 1, 5], [-2, -1, 1]]],
      ['begin/end masks x[:, 1:5, ::2]', x3, [[0, 1, 0], [0, 5, 0], [1, 1, 2], 0b101, 0b101]],
      ['ellipsis x[..., 1:4:2]', x3, [[0, 1], [0, 4], [1, 2], 0, 0, 0b1]],
      ['new axis and shrink x[1, newaxis, 1:5, 2]', x3, [[1, 0, 1, 2], [2, 0, 5, 3], [1, 1, 1, 1], 0, 0, 0, 0b10, 0b1001]],
      ['shrink a negative index x[-1]', x3, [[-1], [0], [1], 0, 0, 0, 0, 0b1]],
      ['ellipsis then shrink x[..., 2]', x3, [[0, 2], [0, 3], [1, 1], 0, 0, 0b1, 0, 0b10]],
      ['empty x[2:2]', x3, [[2, 0, 0], [2, 6, 5], [1, 1, 1]]],
      ['Cropping2D x[:, 1:-1, 2:-1, :]', input([2, 7, 6, 3]), [[0, 1, 2, 0], [0, -1, -1, 0], [1, 1, 1, 1], 0b1001, 0b1001]],
    ];
    for (const [name, x, [b, e, s, bm, em, ell, na, sh]] of specs) {
      await checkGradient({ name: `StridedSlice ${name}`, inputs: [x], wrt: [0], op: (t) => tf.stridedSlice(t, b, e, s, bm, em, ell, na, sh) });
    }
  });

  it('StridedSlice shrinking an axis with other strides ≠ 1: TF\'s semantics, where TF.js\'s own forward errs', async () => {
    // TF.js 4.22's own forward (cpu and wasm alike) gets x[0:4:2, 0:6:2, 2] wrong ([[0,2,4],[60,62,64]]
    // for x = range(120) reshaped [4,6,5]; TF gives [[2,12,22],[62,72,82]]); advx mends it
    // (strided_slice_forward.ts, checked with finite differences in strided-slice.test.ts). Here a
    // hand-written TF reference: dy[i, j] lands on x[2i, 2j, 2].
    const dy = input([2, 3]);
    const ref = new Float32Array(4 * 6 * 5);
    for (let i = 0; i < 2; i++) for (let j = 0; j < 3; j++) ref[(2 * i) * 30 + (2 * j) * 5 + 2] = dy.data[i * 3 + j];
    for (const be of ['cpu', 'wasm']) {
      await tf.setBackend(be);
      const before = tf.memory().numTensors;
      const dyT = tf.tensor(dy.data, dy.shape);
      const g = stridedSliceGrad(dyT, [4, 6, 5], { begin: [0, 0, 2], end: [4, 6, 3], strides: [2, 2, 1], beginMask: 0, endMask: 0, ellipsisMask: 0, newAxisMask: 0, shrinkAxisMask: 0b100 });
      note(`StridedSlice shrink + strides vs TF semantics (${be})`, assertClose(g.dataSync(), ref, `StridedSlice shrink + strides on ${be}`));
      tf.dispose([dyT, g]);
      assert.equal(tf.memory().numTensors, before);
    }
  });

  it('GatherNd (whole slices, single elements, repeated indices, batched indices)', async () => {
    const p = input([5, 4, 3]);
    const cases: Array<[string, Input]> = [
      ['rows', intInput([4, 0, 2], [3, 1])],
      ['pairs with repeats', intInput([1, 2, 4, 3, 1, 2, 0, 0], [4, 2])],
      ['elements', intInput([0, 0, 0, 4, 3, 2, 2, 1, 1, 4, 3, 2], [4, 3])],
      ['batched [2,3,2]', intInput([0, 1, 1, 2, 4, 0, 3, 3, 0, 1, 2, 2], [2, 3, 2])],
    ];
    for (const [name, idx] of cases) {
      await checkGradient({ name: `GatherNd ${name}`, inputs: [p, idx], wrt: [0], op: (t, i) => tf.gatherND(t, i) });
    }
  });

  it('DepthToSpace (NHWC on both, NCHW on wasm: cpu has no NCHW kernel)', async () => {
    await checkGradient({ name: 'DepthToSpace NHWC b2', inputs: [input([2, 3, 2, 8])], wrt: [0], op: (t) => tf.depthToSpace(t as tf.Tensor4D, 2) });
    await checkGradient({ name: 'DepthToSpace NHWC b3', inputs: [input([1, 2, 3, 18])], wrt: [0], op: (t) => tf.depthToSpace(t as tf.Tensor4D, 3) });
    await checkGradient({ name: 'DepthToSpace NCHW b2', inputs: [input([2, 12, 3, 2])], wrt: [0], backends: ['wasm'], op: (t) => tf.depthToSpace(t as tf.Tensor4D, 2, 'NCHW') });
  });

  it('batchNorm without offset and/or scale (and with both, TF.js\'s own gradient)', async () => {
    const [x, mean, variance, offset, scale] = [input([2, 4, 3, 5]), input([5]), positive([5]), input([5]), input([5])];
    const eps = 1e-3;
    // Variance enters non-linearly: a smaller step, and float32 rounding of the op then bounds the check.
    const opts = { eps: 1e-2, rtol: 2e-3 };
    await checkGradient({ name: 'batchNorm (x, mean, variance)', inputs: [x, mean, variance], wrt: [0, 1, 2], ...opts, op: (a, m, v) => tf.batchNorm(a, m, v, undefined, undefined, eps) });
    await checkGradient({ name: 'batchNorm + offset', inputs: [x, mean, variance, offset], wrt: [0, 1, 2, 3], ...opts, op: (a, m, v, o) => tf.batchNorm(a, m, v, o, undefined, eps) });
    await checkGradient({ name: 'batchNorm + scale', inputs: [x, mean, variance, scale], wrt: [0, 1, 2, 3], ...opts, op: (a, m, v, s) => tf.batchNorm(a, m, v, undefined, s, eps) });
    await checkGradient({ name: 'batchNorm + offset + scale', inputs: [x, mean, variance, offset, scale], wrt: [0, 1, 2, 3, 4], ...opts, op: (a, m, v, o, s) => tf.batchNorm(a, m, v, o, s, eps) });
    await checkGradient({ name: 'batchNorm 2-D, no offset or scale', inputs: [input([6, 5]), mean, variance], wrt: [0], op: (a, m, v) => tf.batchNorm(a, m, v) });
  });

  it('fused depthwiseConv2d with dilations > 1 (and = 1, whose gradient advx now also supplies)', async () => {
    const fused = (pad: 'same' | 'valid', dilations: number | [number, number], activation: tf.fused.Activation = 'linear') =>
      (x: tf.Tensor, f: tf.Tensor, b?: tf.Tensor) =>
        tf.fused.depthwiseConv2d({ x: x as tf.Tensor4D, filter: f as tf.Tensor4D, strides: 1, pad, dilations, bias: b, activation });
    await checkGradient({ name: 'fused depthwise d2 same + bias', inputs: [input([1, 9, 8, 3]), input([3, 3, 3, 2]), input([6])], wrt: [0, 1, 2], op: fused('same', 2) });
    await checkGradient({ name: 'fused depthwise d[2,3] valid, no bias, rank-3 x', inputs: [input([11, 10, 2]), input([3, 2, 2, 1])], wrt: [0, 1], op: fused('valid', [2, 3]) });
    await checkGradient({ name: 'fused depthwise d1 same + bias', inputs: [input([2, 6, 5, 4]), input([3, 3, 4, 1]), input([4])], wrt: [0, 1, 2], op: fused('same', 1) });
    // Under tf.grad TF.js unfuses non-linear activations (the dilated DepthwiseConv2dNative
    // gradient then does the work): wasm against cpu only, relu6's kinks defeat differences.
    await checkGradient({ name: 'fused depthwise d2 + bias + relu6', inputs: [input([1, 8, 8, 2]), input([3, 3, 2, 2]), input([4])], wrt: [0, 1, 2], fd: false, op: fused('same', 2, 'relu6') });
  });

  it('advx inspect reports these graph ops as differentiable', async () => {
    const { graphOpSupport } = await import('../../src/node/io/describe-model.ts');
    for (const op of ['StridedSlice', 'GatherNd', 'DepthToSpace', 'FusedBatchNormV3', 'FusedDepthwiseConv2dNative', 'DepthwiseConv2dNative']) {
      assert.equal(graphOpSupport(op).gradient, 'yes', op);
    }
  });
});

/**
 * Every op the issue lists for converted graph models, differentiated through tf.grad on cpu and
 * wasm: finite differences where the op is smooth at the drawn inputs, wasm against cpu always.
 * Inputs are N(0, 1); the piecewise ops (relu6, clip, max, pools with max) are checked against
 * cpu only, as central differences straddle their kinks.
 */
describe('the ops converted models use: tf.grad on wasm = cpu (= finite differences where smooth)', () => {
  const x4 = () => input([2, 7, 6, 3]);
  // Curved ops: a smaller step, and a tolerance for its O(eps²) error.
  const curved = { eps: 1e-2, rtol: 1e-3 };
  const cases: GradCase[] = [
    { name: 'fused conv2d + bias + relu', inputs: [x4(), input([3, 3, 3, 4]), input([4])], wrt: [0, 1, 2], fd: false, op: (x, f, b) => tf.fused.conv2d({ x: x as tf.Tensor4D, filter: f as tf.Tensor4D, strides: 2, pad: 'same', bias: b, activation: 'relu' }) },
    { name: 'fused conv2d + bias, linear, explicit pads', inputs: [x4(), input([2, 3, 3, 5]), input([5])], wrt: [0, 1, 2], op: (x, f, b) => tf.fused.conv2d({ x: x as tf.Tensor4D, filter: f as tf.Tensor4D, strides: 1, pad: [[0, 0], [1, 0], [0, 2], [0, 0]], bias: b }) },
    { name: 'fused matMul + bias (+ transposed b)', inputs: [input([4, 6]), input([5, 6]), input([5])], wrt: [0, 1, 2], op: (a, b, c) => tf.fused.matMul({ a: a as tf.Tensor2D, b: b as tf.Tensor2D, transposeB: true, bias: c }) },
    { name: 'relu6', inputs: [x4()], wrt: [0], fd: false, op: (x) => tf.relu6(tf.mul(x, 4)) },
    { name: 'leakyRelu', inputs: [x4()], wrt: [0], fd: false, op: (x) => tf.leakyRelu(x, 0.2) },
    { name: 'elu', inputs: [x4()], wrt: [0], fd: false, op: (x) => tf.elu(x) },
    { name: 'sigmoid', inputs: [x4()], wrt: [0], ...curved, op: (x) => tf.sigmoid(x) },
    { name: 'tanh', inputs: [x4()], wrt: [0], ...curved, op: (x) => tf.tanh(x) },
    { name: 'softmax', inputs: [input([4, 7])], wrt: [0], ...curved, op: (x) => tf.softmax(x) },
    { name: 'mean and sum over axes', inputs: [x4()], wrt: [0], op: (x) => tf.add(tf.mean(x, [1, 2]), tf.sum(x, [1, 2])) },
    // 'same' windows that overlap the padding average fewer elements (avg_pool_grad.ts).
    { name: 'avgPool 3×3/2 same', inputs: [x4()], wrt: [0], op: (x) => tf.avgPool(x as tf.Tensor4D, 3, 2, 'same') },
    { name: 'avgPool 3×3/1 same', inputs: [x4()], wrt: [0], op: (x) => tf.avgPool(x as tf.Tensor4D, 3, 1, 'same') },
    { name: 'avgPool 2×3/[2,1] same, rank 3', inputs: [input([5, 8, 2])], wrt: [0], op: (x) => tf.avgPool(x as tf.Tensor3D, [2, 3], [2, 1], 'same') },
    { name: 'avgPool 3×3/2 explicit pads', inputs: [x4()], wrt: [0], op: (x) => tf.avgPool(x as tf.Tensor4D, 3, 2, 1) },
    { name: 'avgPool 2×3/1 valid', inputs: [x4()], wrt: [0], op: (x) => tf.avgPool(x as tf.Tensor4D, [2, 3], 1, 'valid') },
    { name: 'avgPool 3×3/2 valid', inputs: [x4()], wrt: [0], op: (x) => tf.avgPool(x as tf.Tensor4D, 3, 2, 'valid') },
    { name: 'maxPool 3×3/2 same', inputs: [x4()], wrt: [0], fd: false, op: (x) => tf.maxPool(x as tf.Tensor4D, 3, 2, 'same') },
    { name: 'maxPool 2×2/2 valid', inputs: [x4()], wrt: [0], fd: false, op: (x) => tf.maxPool(x as tf.Tensor4D, 2, 2, 'valid') },
    { name: 'pad', inputs: [x4()], wrt: [0], op: (x) => tf.pad(x, [[0, 0], [1, 2], [0, 1], [0, 0]], 0.5) },
    // The padding's copies of x send their gradient back to the elements they copy (mirror_pad_grad.ts).
    { name: 'mirrorPad reflect', inputs: [x4()], wrt: [0], op: (x) => tf.mirrorPad(x, [[0, 0], [2, 1], [1, 2], [0, 0]], 'reflect') },
    { name: 'mirrorPad symmetric', inputs: [x4()], wrt: [0], op: (x) => tf.mirrorPad(x, [[0, 0], [2, 1], [1, 2], [0, 0]], 'symmetric') },
    { name: 'mirrorPad reflect, widest pads (n − 1), every axis', inputs: [input([2, 4, 3])], wrt: [0], op: (x) => tf.mirrorPad(x, [[1, 1], [3, 2], [0, 2]], 'reflect') },
    { name: 'mirrorPad symmetric, widest pads (n), every axis', inputs: [input([2, 4, 3])], wrt: [0], op: (x) => tf.mirrorPad(x, [[2, 1], [4, 3], [3, 0]], 'symmetric') },
    { name: 'concat on channels', inputs: [x4(), input([2, 7, 6, 2])], wrt: [0, 1], op: (a, b) => tf.concat([a, b], 3) },
    { name: 'reshape, squeeze, expandDims, transpose', inputs: [input([2, 1, 6, 3])], wrt: [0], op: (x) => tf.transpose(tf.expandDims(tf.squeeze(tf.reshape(x, [2, 6, 1, 3]), [2]), 1), [0, 3, 2, 1]) },
    // Each resize mode, up and down, on a non-square input (7×6) to a non-square size (resize_grad.ts).
    ...([[false, false], [true, false], [false, true]] as const).flatMap(([ac, hp]): GradCase[] => [[11, 9], [4, 5], [1, 3]].flatMap(([oh, ow]) => [
      { name: `resizeBilinear 7×6→${oh}×${ow} alignCorners ${ac} halfPixelCenters ${hp}`, inputs: [x4()], wrt: [0], op: (x) => tf.image.resizeBilinear(x as tf.Tensor4D, [oh, ow], ac, hp) },
      { name: `resizeNearestNeighbor 7×6→${oh}×${ow} alignCorners ${ac} halfPixelCenters ${hp}`, inputs: [x4()], wrt: [0], op: (x) => tf.image.resizeNearestNeighbor(x as tf.Tensor4D, [oh, ow], ac, hp) },
    ])),
    { name: 'resizeBilinear square 5×5, rank 3, half-pixel centers', inputs: [input([5, 5, 1])], wrt: [0], op: (x) => tf.image.resizeBilinear(x as tf.Tensor3D, [9, 3], false, true) },
    { name: 'resizeNearestNeighbor 14×12 (batch 2, 3 channels)', inputs: [x4()], wrt: [0], op: (x) => tf.image.resizeNearestNeighbor(x as tf.Tensor4D, [14, 12]) },
    { name: 'min, max, clip', inputs: [x4(), x4()], wrt: [0, 1], fd: false, op: (a, b) => tf.add(tf.add(tf.minimum(a, b), tf.maximum(a, b)), tf.clipByValue(a, -0.5, 0.5)) },
    { name: 'mul, add, sub, div with broadcasting', inputs: [x4(), input([1, 1, 6, 3]), positive([3])], wrt: [0, 1, 2], ...curved, op: (a, b, c) => tf.div(tf.sub(tf.mul(a, b), tf.add(b, c)), c) },
    { name: 'batchMatMul with transposes', inputs: [input([3, 4, 5]), input([3, 6, 5])], wrt: [0, 1], op: (a, b) => tf.matMul(a, b, false, true) },
  ];
  for (const c of cases) it(c.name, () => checkGradient(c));

  it('avgPool, mirrorPad and the resizes as TensorFlow computes them, and their gradients (by hand)', async () => {
    type Hand = [string, number[], number[], (x: tf.Tensor) => tf.Tensor, number[], number[]];
    const x34 = Array.from({ length: 12 }, (_, i) => i + 1);
    const hand: Hand[] = [
      // TF averages only a window's elements inside the input: the 3×3/2 'same' windows of this
      // 3×4 image hold 6, 4, 6 and 4 of them. Each element's gradient is Σ 1/count over its windows.
      ['avgPool 3×3/2 same', x34, [1, 3, 4, 1], (x) => tf.avgPool(x as tf.Tensor4D, 3, 2, 'same'), [4, 5.5, 8, 9.5],
        [1 / 6, 1 / 6, 5 / 12, 1 / 4, 1 / 3, 1 / 3, 5 / 6, 1 / 2, 1 / 6, 1 / 6, 5 / 12, 1 / 4]],
      ['avgPool 3×3/1 same', x34, [1, 3, 4, 1], (x) => tf.avgPool(x as tf.Tensor4D, 3, 1, 'same'), [3.5, 4, 5, 5.5, 5.5, 6, 7, 7.5, 7.5, 8, 9, 9.5],
        // Rows hold 2, 3, 2 elements of the windows, columns 2, 3, 3, 2: Σ 1/count = (Σ 1/rows)·(Σ 1/cols).
        [5 / 6, 4 / 3, 5 / 6].flatMap((r) => [5 / 6, 7 / 6, 7 / 6, 5 / 6].map((c) => r * c))],
      // [a, b, c] padded [c, b, | a, b, c, | b, a] and [b, a, | a, b, c, | c, b, a].
      ['mirrorPad reflect', [1, 2, 3], [3], (x) => tf.mirrorPad(x, [[2, 2]], 'reflect'), [3, 2, 1, 2, 3, 2, 1], [2, 3, 2]],
      ['mirrorPad symmetric', [1, 2, 3], [3], (x) => tf.mirrorPad(x, [[2, 3]], 'symmetric'), [2, 1, 1, 2, 3, 3, 2, 1], [3, 3, 2]],
      ['mirrorPad reflect 2-D', [1, 2, 3, 4, 5, 6], [2, 3], (x) => tf.mirrorPad(x, [[1, 1], [2, 2]], 'reflect'),
        [6, 5, 4, 5, 6, 5, 4, 3, 2, 1, 2, 3, 2, 1, 6, 5, 4, 5, 6, 5, 4, 3, 2, 1, 2, 3, 2, 1], [4, 6, 4, 4, 6, 4]],
      // [0, 4] to width 4: sources 0, .5, 1, 1.5 (clamped to 1); with half-pixel centers −.25
      // (clamped to 0), .25, .75, 1.25 (clamped to 1); with aligned corners 0, 1/3, 2/3, 1.
      ['resizeBilinear', [0, 4], [1, 1, 2, 1], (x) => tf.image.resizeBilinear(x as tf.Tensor4D, [1, 4]), [0, 2, 4, 4], [1.5, 2.5]],
      ['resizeBilinear half-pixel', [0, 4], [1, 1, 2, 1], (x) => tf.image.resizeBilinear(x as tf.Tensor4D, [1, 4], false, true), [0, 1, 3, 4], [2, 2]],
      ['resizeBilinear aligned corners', [0, 4], [1, 1, 2, 1], (x) => tf.image.resizeBilinear(x as tf.Tensor4D, [1, 4], true), [0, 4 / 3, 8 / 3, 4], [2, 2]],
      ['resizeBilinear half-pixel, height', [0, 4], [1, 2, 1, 1], (x) => tf.image.resizeBilinear(x as tf.Tensor4D, [4, 1], false, true), [0, 1, 3, 4], [2, 2]],
      // [1, 2, 3] to width 2 (scale 1.5): sources floor(0), floor(1.5); half-pixel floor(.75), floor(2.25).
      ['resizeNearestNeighbor', [1, 2, 3], [1, 1, 3, 1], (x) => tf.image.resizeNearestNeighbor(x as tf.Tensor4D, [1, 2]), [1, 2], [1, 1, 0]],
      ['resizeNearestNeighbor half-pixel', [1, 2, 3], [1, 1, 3, 1], (x) => tf.image.resizeNearestNeighbor(x as tf.Tensor4D, [1, 2], false, true), [1, 3], [1, 0, 1]],
      ['resizeNearestNeighbor half-pixel, height', [1, 2, 3], [1, 3, 1, 1], (x) => tf.image.resizeNearestNeighbor(x as tf.Tensor4D, [2, 1], false, true), [1, 3], [1, 0, 1]],
    ];
    for (const be of ['cpu', 'wasm']) {
      await tf.setBackend(be);
      for (const [name, data, shape, op, y, dx] of hand) {
        const x = tf.tensor(data, shape);
        const out = op(x);
        const g = tf.grad((t: tf.Tensor) => tf.sum(op(t)))(x);
        note(`${name} forward by hand (${be})`, assertClose(out.dataSync(), y, `${name} forward on ${be}`, 1e-6));
        note(`${name} gradient by hand (${be})`, assertClose(g.dataSync(), dx, `${name} gradient on ${be}`, 1e-6));
        tf.dispose([x, out, g]);
      }
    }
  });
});

describe('MobileNet-style stack: input gradient on wasm = cpu', () => {
  it('conv + depthwise (strided, dilated) + pointwise + relu6 + batchnorm + avgpool + dense', async () => {
    const x0 = input([2, 17, 15, 3]);
    const params = {
      c1: input([3, 3, 3, 8]), b1: input([8]),
      d1: input([3, 3, 8, 1]), db1: input([8]),
      mean: input([8]), variance: { data: Float32Array.from({ length: 8 }, () => 0.5 + rng.next()), shape: [8] }, gamma: input([8]), beta: input([8]),
      p1: input([1, 1, 8, 16]),
      d2: input([3, 3, 16, 2]), d3: input([3, 3, 32, 1]),
      wd: input([32, 5]), bd: input([5]),
    };
    const result: Record<string, Float32Array> = {};
    for (const be of ['cpu', 'wasm']) {
      await tf.setBackend(be);
      const p = Object.fromEntries(Object.entries(params).map(([k, v]) => [k, tf.tensor(v.data, v.shape)])) as Record<string, tf.Tensor>;
      const net = (x: tf.Tensor4D): tf.Scalar => {
        let h: tf.Tensor4D = tf.fused.conv2d({ x, filter: p.c1 as tf.Tensor4D, strides: 2, pad: 'same', bias: p.b1, activation: 'relu6' });
        h = tf.fused.depthwiseConv2d({ x: h, filter: p.d1 as tf.Tensor4D, strides: 1, pad: 'same', bias: p.db1, activation: 'relu6' });
        h = tf.batchNorm(h, p.mean, p.variance, p.beta, p.gamma, 1e-3) as tf.Tensor4D;
        h = tf.fused.conv2d({ x: h, filter: p.p1 as tf.Tensor4D, strides: 1, pad: 'valid', activation: 'relu6' });
        h = tf.depthwiseConv2d(tf.pad(h, [[0, 0], [1, 1], [0, 1], [0, 0]]), p.d2 as tf.Tensor4D, 2, 'valid');
        h = tf.relu6(tf.depthwiseConv2d(h, p.d3 as tf.Tensor4D, 1, 'same', 'NHWC', 2));
        const pooled = tf.reshape(tf.avgPool(h, [h.shape[1], h.shape[2]] as [number, number], 1, 'valid'), [2, 32]);
        const logits = tf.fused.matMul({ a: pooled as tf.Tensor2D, b: p.wd as tf.Tensor2D, bias: p.bd });
        return tf.sum(tf.mul(tf.logSoftmax(logits), tf.tensor2d([[1, 0, 0, 0, 0], [0, 0, 0, 1, 0]]))) as tf.Scalar;
      };
      const x = tf.tensor4d(x0.data as Float32Array, x0.shape as [number, number, number, number]);
      const g = tf.grad((t: tf.Tensor) => net(t as tf.Tensor4D))(x);
      result[be] = Float32Array.from(g.dataSync());
      tf.dispose([x, g, ...Object.values(p)]);
    }
    note('MobileNet-style dL/dx', assertClose(result.wasm, result.cpu, 'MobileNet-style dL/dx', 1e-4));
  });

  it('reports the largest relative differences', () => {
    for (const [k, v] of Object.entries(worst)) console.log(`  max |wasm − ref| / max |ref|  ${k}: ${v.toExponential(2)}`);
  });
});
