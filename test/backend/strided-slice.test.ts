/**
 * StridedSlice's forward pass on cpu and wasm against NumPy's basic indexing (which TF defines
 * strided_slice by), written here as plain nested index lists: begin/end/ellipsis/new-axis/shrink
 * masks, negative strides and indices, clamping, empty slices, and the cases TF.js 4.22 gets
 * wrong (an axis dropped while another strides ≠ 1), which strided_slice_forward.ts mends; then
 * the gradient of those cases against finite differences of the mended forward pass.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { useBackend } from '../../src/backend/index.ts';
import { Rng } from '../../src/core/rng.ts';

type Spec = [begin: number[], end: number[], strides: number[], beginMask?: number, endMask?: number, ellipsisMask?: number, newAxisMask?: number, shrinkAxisMask?: number];

/**
 * One slice: its NumPy spelling, x's shape, TF's encoding; `rerouted` where strided_slice_forward.ts
 * computes it (TF.js 4.22 alone returns wrong values or throws for all of these but the two empty
 * ones, on cpu and wasm; checked once with the fix switched off).
 */
interface Case { py: string; shape: number[]; spec: Spec; rerouted?: true; note?: string }

const X1 = [9];
const X2 = [5, 7];
const X3 = [4, 6, 5];
const X4 = [2, 5, 6, 3];

const CASES: Case[] = [
  // Dropped axes with some stride ≠ 1: TF.js's general path.
  { py: 'x[0:4:2, 0:6:2, 2]', shape: X3, spec: [[0, 0, 2], [4, 6, 3], [2, 2, 1], 0, 0, 0, 0, 0b100], rerouted: true },
  { py: 'x[1, None, 0:6:2, 2]', shape: X3, spec: [[1, 0, 0, 2], [2, 0, 6, 3], [1, 1, 2, 1], 0, 0, 0, 0b10, 0b1001], rerouted: true },
  { py: 'x[::2, 3]', shape: X3, spec: [[0, 3], [0, 4], [2, 1], 0b1, 0b1, 0, 0, 0b10], rerouted: true },
  { py: 'x[1, ::-2, 1:4:2]', shape: X3, spec: [[1, 0, 1], [2, 0, 4], [1, -2, 2], 0b10, 0b10, 0, 0, 0b1], rerouted: true },
  { py: 'x[::-1, 2, ::-2]', shape: X3, spec: [[0, 2, 0], [0, 3, 0], [-1, 1, -2], 0b101, 0b101, 0, 0, 0b10], rerouted: true },
  { py: 'x[..., ::2, -1]', shape: X4, spec: [[0, 0, -1], [0, 0, 0], [1, 2, 1], 0b10, 0b10, 0b1, 0, 0b100], rerouted: true },
  { py: 'x[None, ::3, None, -2, ::2]', shape: X3, spec: [[0, 0, 0, -2, 0], [0, 0, 0, -1, 0], [1, 3, 1, 1, 2], 0b10010, 0b10010, 0, 0b101, 0b1000], rerouted: true },
  { py: 'x[::2, ..., 0]', shape: X4, spec: [[0, 0, 0], [0, 0, 1], [2, 1, 1], 0b1, 0b1, 0b10, 0, 0b100], rerouted: true },
  { py: 'x[0:4:2, 1]', shape: X3, spec: [[0, 1], [4, 2], [2, 3], 0, 0, 0, 0, 0b10], rerouted: true, note: 'stride 3 on the dropped axis' },
  { py: 'x[:, ::2, 4]', shape: X3, spec: [[0, 0, 4], [0, 0, 5], [1, 2, 1], 0b11, 0b11, 0, 0, 0b100], rerouted: true },
  { py: 'x[10:-10:-1, 2]', shape: X3, spec: [[10, 2], [-10, 3], [-1, 1], 0, 0, 0, 0, 0b10], rerouted: true },
  { py: 'x[-10::-1, 2]', shape: X3, spec: [[-10, 2], [0, 3], [-1, 1], 0, 0b1, 0, 0, 0b10], rerouted: true, note: 'empty: begin clamps before element 0' },
  { py: 'x[3:1:2, 0]', shape: X3, spec: [[3, 0], [1, 1], [2, 1], 0, 0, 0, 0, 0b10], rerouted: true, note: 'empty' },
  { py: 'x[3]', shape: X1, spec: [[3], [4], [2], 0, 0, 0, 0, 0b1], rerouted: true, note: 'stride 2 on the dropped axis: a scalar' },
  { py: 'x[:, ::2, ::2, 0]', shape: X4, spec: [[0, 0, 0, 0], [0, 0, 0, 1], [1, 2, 2, 1], 0b111, 0b111, 0, 0, 0b1000], rerouted: true },
  { py: 'x[0, ..., ::-1]', shape: X4, spec: [[0, 0, 0], [1, 0, 0], [1, 1, -1], 0b100, 0b100, 0b10, 0, 0b1], rerouted: true },
  { py: 'x[1, 2, 3]', shape: X3, spec: [[1, 2, 3], [2, 3, 4], [1, 2, 1], 0, 0, 0, 0, 0b111], rerouted: true, note: 'stride 2 on a dropped axis: a scalar' },
  { py: 'x[1, ..., None, ::2]', shape: X4, spec: [[1, 0, 0, 0], [2, 0, 0, 0], [1, 1, 1, 2], 0b1000, 0b1000, 0b10, 0b100, 0b1], rerouted: true },
  { py: 'x[None, -1, ::-3]', shape: X3, spec: [[0, -1, 0], [0, 0, 0], [1, 1, -3], 0b100, 0b100, 0, 0b1, 0b10], rerouted: true },
  { py: 'x[-1, :, None, ::-1]', shape: X3, spec: [[-1, 0, 0, 0], [0, 0, 0, 0], [1, 1, 1, -1], 0b1010, 0b1010, 0, 0b100, 0b1], rerouted: true },
  { py: 'x[::-2, 3]', shape: X2, spec: [[0, 3], [0, 4], [-2, 1], 0b1, 0b1, 0, 0, 0b10], rerouted: true },
  { py: 'x[:3:2, -3]', shape: X2, spec: [[0, -3], [3, -2], [2, 1], 0b1, 0, 0, 0, 0b10], rerouted: true },
  // What TF.js already gets right, and which must pass through unchanged.
  { py: 'x[::-1, ::-2, ::-3]', shape: X3, spec: [[0, 0, 0], [0, 0, 0], [-1, -2, -3], 0b111, 0b111] },
  { py: 'x[-3:-1, -5:-1:3, 1:5:2]', shape: X3, spec: [[-3, -5, 1], [-1, -1, 5], [1, 3, 2]] },
  { py: 'x[3:0:-2, 4:1:-1, 1:]', shape: X3, spec: [[3, 4, 1], [0, 1, 0], [-2, -1, 1], 0, 0b100] },
  { py: 'x[1:, ::2, None]', shape: X3, spec: [[1, 0, 0], [0, 0, 0], [1, 2, 1], 0b10, 0b11, 0, 0b100] },
  { py: 'x[..., 1:4:2]', shape: X3, spec: [[0, 1], [0, 4], [1, 2], 0, 0, 0b1] },
  { py: 'x[1, None, 1:5, 2]', shape: X3, spec: [[1, 0, 1, 2], [2, 0, 5, 3], [1, 1, 1, 1], 0, 0, 0, 0b10, 0b1001] },
  { py: 'x[-1]', shape: X3, spec: [[-1], [0], [1], 0, 0, 0, 0, 0b1] },
  { py: 'x[..., 2]', shape: X3, spec: [[0, 2], [0, 3], [1, 1], 0, 0, 0b1, 0, 0b10] },
  { py: 'x[2:2]', shape: X3, spec: [[2], [2], [1]] },
  { py: 'x[:, 1:-1, 2:-1, :]', shape: X4, spec: [[0, 1, 2, 0], [0, -1, -1, 0], [1, 1, 1, 1], 0b1001, 0b1001] },
  { py: 'x[:]', shape: X3, spec: [[0], [0], [1], 0b1, 0b1] },
  { py: 'x[::2]', shape: X1, spec: [[0], [0], [2], 0b1, 0b1] },
  { py: 'x[None, ..., None]', shape: X2, spec: [[0, 0, 0], [0, 0, 0], [1, 1, 1], 0, 0, 0b10, 0b101] },
];

/** CPython's slice.indices: the indices `b:e:s` takes from an axis of n (a masked end is left out). */
function sliceIndices(n: number, b: number, e: number, s: number, noBegin: boolean, noEnd: boolean): number[] {
  const at = (v: number, lo: number, hi: number) => Math.min(Math.max(v < 0 ? v + n : v, lo), hi);
  const [lo, hi] = s > 0 ? [0, n] : [-1, n - 1];
  const start = noBegin ? (s > 0 ? 0 : n - 1) : at(b, lo, hi);
  const stop = noEnd ? (s > 0 ? n : -1) : at(e, lo, hi);
  const out: number[] = [];
  for (let k = start; s > 0 ? k < stop : k > stop; k += s) out.push(k);
  return out;
}

/**
 * x[spec] for x of `shape` in row-major order: the output's shape, and for each output element
 * the flat index into x it copies. Each position of the spec is, in TF's order of precedence, an
 * ellipsis (every axis the other positions leave), a new axis, an index (the axis is dropped) or
 * a range; with no ellipsis the axes left over are taken whole.
 */
function reference(shape: number[], [begin, end, strides, bm = 0, em = 0, ell = 0, na = 0, sh = 0]: Spec): { shape: number[]; from: number[] } {
  const bit = (mask: number, i: number) => ((mask >> i) & 1) === 1;
  const all = (n: number) => Array.from({ length: n }, (_, k) => k);
  const consumes = begin.filter((_, i) => !bit(ell, i) && !bit(na, i)).length;
  const axes: Array<{ axis: number; take: number[] } | 'new'> = []; // the output's axes
  const fixed = new Map<number, number>(); // dropped axis → its index
  let axis = 0;
  let ellipsis = false;
  for (let i = 0; i < begin.length; i++) {
    if (bit(ell, i)) {
      ellipsis = true;
      for (let k = 0; k < shape.length - consumes; k++, axis++) axes.push({ axis, take: all(shape[axis]) });
    } else if (bit(na, i)) {
      axes.push('new');
    } else if (bit(sh, i)) {
      const idx = begin[i] < 0 ? begin[i] + shape[axis] : begin[i];
      assert.ok(idx >= 0 && idx < shape[axis], 'reference: index in range');
      fixed.set(axis++, idx);
    } else {
      axes.push({ axis, take: sliceIndices(shape[axis], begin[i], end[i], strides[i], bit(bm, i), bit(em, i)) });
      axis++;
    }
  }
  if (!ellipsis) for (; axis < shape.length; axis++) axes.push({ axis, take: all(shape[axis]) });
  const xStride = shape.map((_, a) => shape.slice(a + 1).reduce((p, q) => p * q, 1));
  const outShape = axes.map((a) => (a === 'new' ? 1 : a.take.length));
  let base = 0;
  for (const [a, idx] of fixed) base += idx * xStride[a];
  // Nested loops over the output's axes, one level per axis.
  const from: number[] = [];
  const walk = (level: number, offset: number): void => {
    if (level === axes.length) return void from.push(offset);
    const a = axes[level];
    if (a === 'new') return walk(level + 1, offset);
    for (const k of a.take) walk(level + 1, offset + k * xStride[a.axis]);
  };
  walk(0, base);
  return { shape: outShape, from };
}

const size = (shape: number[]) => shape.reduce((p, q) => p * q, 1);
const slice = (t: tf.Tensor, [b, e, s, bm, em, ell, na, sh]: Spec) => tf.stridedSlice(t, b, e, s, bm, em, ell, na, sh);
const label = (c: Case) => `${c.py} of [${c.shape}]${c.note ? ` (${c.note})` : ''}`;

before(async () => {
  await useBackend('wasm', { threads: 1 });
});

describe('StridedSlice forward = NumPy indexing, on cpu and wasm', () => {
  it('the reference itself: the two slices from TF.js\'s bug report, by hand', () => {
    // x = range(120) reshaped [4, 6, 5]: x[i, j, k] = 30i + 5j + k.
    const a = reference(X3, CASES[0].spec);
    assert.deepEqual(a.shape, [2, 3]);
    assert.deepEqual(a.from, [2, 12, 22, 62, 72, 82]);
    const b = reference(X3, CASES[1].spec);
    assert.deepEqual(b.shape, [1, 3]);
    assert.deepEqual(b.from, [32, 42, 52]);
  });

  for (const be of ['cpu', 'wasm']) {
    it(`${be}: ${CASES.length} slices, with no tensor left behind`, async () => {
      await tf.setBackend(be);
      for (const c of CASES) {
        const want = reference(c.shape, c.spec);
        const before = tf.memory().numTensors;
        // x[i] = i, so each output value names the element of x it came from.
        const x = tf.tensor(Float32Array.from({ length: size(c.shape) }, (_, i) => i), c.shape);
        const y = slice(x, c.spec);
        assert.deepEqual(y.shape, want.shape, `${label(c)} on ${be}: shape`);
        assert.equal(y.dtype, 'float32');
        assert.deepEqual(Array.from(await y.data()), want.from, `${label(c)} on ${be}: values`);
        tf.dispose([x, y]);
        assert.equal(tf.memory().numTensors, before, `${label(c)} on ${be}: no tensors leak`);
      }
    });
  }
});

describe('StridedSlice gradient = finite differences of the mended forward pass', () => {
  const rng = new Rng(2024);
  for (const be of ['cpu', 'wasm']) {
    it(`${be}: the rerouted slices`, async () => {
      await tf.setBackend(be);
      for (const c of CASES.filter((k) => k.rerouted)) {
        const n = size(c.shape);
        const xv = Float32Array.from({ length: n }, () => rng.normal());
        const outShape = reference(c.shape, c.spec).shape;
        const wv = Float32Array.from({ length: size(outShape) }, () => rng.normal());
        const before = tf.memory().numTensors;
        const x = tf.tensor(xv, c.shape);
        const w = tf.tensor(wv, outShape);
        const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(slice(t, c.spec), w)))(x);
        assert.deepEqual(g.shape, c.shape, `${label(c)} on ${be}: gradient shape`);
        const got = await g.data();
        // Σ w·slice(x) summed in float64, so a step's effect is not lost in float32 rounding.
        const loss = (v: Float32Array): number => {
          const t = tf.tensor(v, c.shape);
          const y = slice(t, c.spec);
          const o = y.dataSync();
          tf.dispose([t, y]);
          let l = 0;
          for (let k = 0; k < o.length; k++) l += o[k] * wv[k];
          return l;
        };
        for (let j = 0; j < n; j++) {
          const v = Float32Array.from(xv);
          const [hi, lo] = [Math.fround(xv[j] + 0.25), Math.fround(xv[j] - 0.25)];
          v[j] = hi;
          const up = loss(v);
          v[j] = lo;
          const fd = (up - loss(v)) / (hi - lo);
          assert.ok(Math.abs(got[j] - fd) <= 1e-5 * (1 + Math.abs(fd)), `${label(c)} on ${be}: d/dx[${j}] ${got[j]} vs finite difference ${fd}`);
        }
        tf.dispose([x, w, g]);
        assert.equal(tf.memory().numTensors, before, `${label(c)} on ${be}: no tensors leak`);
      }
    });
  }
});
