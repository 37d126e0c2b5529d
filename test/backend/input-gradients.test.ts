/**
 * The gradients that make input gradients cheaper (fused_conv_grad.ts, relu_grad.ts):
 * - tf.fused.conv2d's and tf.fused.matMul's per-input gradients against TF.js's own gradients
 *   of the same computation written unfused (conv2d / matMul + add + activation, whose
 *   registered gradients run the very ops TF.js's fused gradient runs): bit for bit on cpu,
 *   close on wasm; and against central differences of the forward op, on both backends.
 * - Training stays exact: every weight gradient of a small conv net (fused convolutions with
 *   relu6, relu and linear activations, with and without bias, and a fused dense head) on wasm
 *   against cpu, and on cpu bit for bit against the unfused net.
 * - An input-only gradient no longer runs the weight gradients (Conv2DBackpropFilter, the bias
 *   Sum, the weight product), by tf.profile's kernel names; asking for the weights still does.
 * - ReLU's and ReLU6's gradients on wasm (native pass and its JS fallback) bit for bit against
 *   cpu's TF.js composition at the boundaries (0, −0, 6, NaN, ±∞, NaN and ∞ in dy), a second-
 *   order gradient through them, and their kernel names.
 * - No tensor or wasm data is left behind by any of it.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { useBackend } from '../../src/backend/index.ts';
import { NATIVE } from '../../src/backend/kernels/native.ts';
import { Rng } from '../../src/core/rng.ts';

const rng = new Rng(2468);
function normal(shape: number[], scale = 1): { data: Float32Array; shape: number[] } {
  const data = new Float32Array(shape.reduce((p, q) => p * q, 1));
  for (let i = 0; i < data.length; i++) data[i] = scale * rng.normal();
  return { data, shape };
}
type Data = ReturnType<typeof normal>;
const tensor = (d: Data) => tf.tensor(d.data, d.shape);

before(async () => {
  await useBackend('wasm', { threads: 1 });
  await useBackend('cpu');
});

/** Largest |a − e| within rtol of the largest |e| (as the other kernel tests judge). */
function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, rtol = 1e-4): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let scale = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    if (!(d <= rtol * Math.max(scale, 1e-6))) assert.fail(`${what}: element ${i}: ${actual[i]} vs ${expected[i]} (scale ${scale})`);
  }
}

function assertSame(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    if (!Object.is(actual[i], expected[i])) assert.fail(`${what}: element ${i}: ${actual[i]} vs ${expected[i]}`);
  }
}

/** Runs `f` on `backend`, checks it leaves no tensor and no backend data behind, returns its arrays. */
async function on<T>(backend: string, f: () => Promise<T>): Promise<T> {
  await tf.setBackend(backend);
  const tensors = tf.memory().numTensors;
  const dataIds = tf.engine().backend.numDataIds();
  const out = await f();
  assert.equal(tf.memory().numTensors, tensors, `${backend}: tensors leaked`);
  assert.equal(tf.engine().backend.numDataIds(), dataIds, `${backend}: backend data leaked`);
  return out;
}

async function values(ts: tf.Tensor[]): Promise<Float32Array[]> {
  const out = await Promise.all(ts.map(async (t) => Float32Array.from(await t.data())));
  tf.dispose(ts);
  return out;
}

// ---------------------------------------------------------------------------------------------
// tf.fused.conv2d
// ---------------------------------------------------------------------------------------------

interface ConvCase { x: number[]; f: number[]; s: number; pad: 'same' | 'valid' | number; bias: boolean }
const CONV_CASES: ConvCase[] = [
  { x: [2, 7, 7, 3], f: [3, 3, 3, 4], s: 1, pad: 'same', bias: true },
  { x: [2, 9, 8, 4], f: [3, 3, 4, 5], s: 2, pad: 'same', bias: false },
  { x: [1, 8, 9, 3], f: [1, 1, 3, 6], s: 1, pad: 'valid', bias: true },
  { x: [2, 10, 10, 2], f: [3, 2, 2, 3], s: 2, pad: 'valid', bias: true },
  { x: [1, 6, 7, 3], f: [3, 3, 3, 2], s: 1, pad: 1, bias: true },
  { x: [6, 6, 3], f: [3, 3, 3, 4], s: 1, pad: 'same', bias: true },
];
const convName = (c: ConvCase) => `x ${c.x} f ${c.f} s${c.s} ${c.pad}${c.bias ? ' bias' : ''}`;

interface ConvData { x: Data; f: Data; b?: Data; w: Data }
function convData(c: ConvCase): ConvData {
  const b = c.bias ? normal([c.f[3]]) : undefined;
  const probe = tf.tidy(() => tf.conv2d(tf.zeros<tf.Rank>(c.x) as tf.Tensor4D, tf.zeros<tf.Rank>(c.f) as tf.Tensor4D, c.s, c.pad));
  const w = normal(probe.shape);
  probe.dispose();
  return { x: normal(c.x), f: normal(c.f, 0.5), b, w };
}

/** Σ w·conv(x, f) + b, fused or as TF.js writes it unfused, a function of [x, filter, bias?]. */
function convLoss(c: ConvCase, d: ConvData, fused: boolean): (...a: tf.Tensor[]) => tf.Scalar {
  return (x, f, b) => {
    const w = tensor(d.w); // made inside the caller's tidy
    const y = fused
      ? tf.fused.conv2d({ x: x as tf.Tensor4D, filter: f as tf.Tensor4D, strides: c.s, pad: c.pad, bias: b, activation: 'linear' })
      : ((t: tf.Tensor) => (b ? tf.add(t, b) : t))(tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, c.s, c.pad));
    return tf.sum(tf.mul(y, w));
  };
}

async function convGrads(c: ConvCase, d: ConvData, fused: boolean): Promise<Float32Array[]> {
  const args = [tensor(d.x), tensor(d.f), ...(d.b ? [tensor(d.b)] : [])];
  const loss = convLoss(c, d, fused);
  const grads = tf.tidy(() => tf.grads((...a: tf.Tensor[]) => loss(...a))(args));
  tf.dispose(args);
  return values(grads);
}

describe('tf.fused.conv2d gradients (per input)', () => {
  for (const c of CONV_CASES) {
    it(`equal TF.js's own on cpu, close on wasm, and match central differences: ${convName(c)}`, async () => {
      const d = convData(c);
      const fusedCpu = await on('cpu', () => convGrads(c, d, true));
      const unfusedCpu = await on('cpu', () => convGrads(c, d, false));
      const fusedWasm = await on('wasm', () => convGrads(c, d, true));
      const names = ['x', 'filter', 'bias'];
      fusedCpu.forEach((g, i) => {
        assertSame(g, unfusedCpu[i], `${names[i]} gradient, cpu fused vs TF.js's unfused`);
        assertClose(fusedWasm[i], g, `${names[i]} gradient, wasm vs cpu`);
      });
      // Central differences of the (linear) forward op: exact but for float32 rounding.
      for (const be of ['cpu', 'wasm']) {
        await tf.setBackend(be);
        const grads = be === 'cpu' ? fusedCpu : fusedWasm;
        const inputs = [d.x, d.f, ...(d.b ? [d.b] : [])];
        const loss = convLoss(c, d, true);
        for (let i = 0; i < inputs.length; i++) {
          const n = inputs[i].data.length;
          for (const k of [0, Math.floor(n / 3), n - 1]) {
            const at = (delta: number) => {
              const moved = inputs.map((v, j) => {
                const data = Float32Array.from(v.data);
                if (j === i) data[k] += delta;
                return { data, shape: v.shape };
              });
              return tf.tidy(() => loss(...moved.map(tensor)).dataSync()[0]);
            };
            const h = 1e-2;
            const fd = (at(h) - at(-h)) / (2 * h);
            const scale = Math.max(1, Math.abs(fd));
            assert.ok(Math.abs(fd - grads[i][k]) < 2e-2 * scale, `${be} ${names[i]}[${k}]: ${grads[i][k]} vs finite difference ${fd}`);
          }
        }
      }
    });
  }

  it('runs only the gradients asked for (tf.profile), with no leaks', async () => {
    const c = CONV_CASES[0];
    const d = convData(c);
    for (const be of ['cpu', 'wasm']) {
      await on(be, async () => {
        const [x, f, b] = [tensor(d.x), tensor(d.f), tensor(d.b!)];
        const loss = convLoss(c, d, true);
        const kernels = async (g: () => tf.Tensor[]) => (await tf.profile(() => tf.dispose(tf.tidy(g)))).kernelNames;
        const inputOnly = await kernels(() => [tf.grad((t: tf.Tensor) => loss(t, f, b))(x)]);
        assert.ok(inputOnly.includes('Conv2DBackpropInput'), `${be}: ${inputOnly}`);
        assert.ok(!inputOnly.includes('Conv2DBackpropFilter'), `${be}: input gradient ran ${inputOnly}`);
        assert.equal(inputOnly.filter((k) => k === 'Sum').length, 1, `${be}: the loss's Sum, no bias Sum: ${inputOnly}`);
        const filterOnly = await kernels(() => [tf.grad((t: tf.Tensor) => loss(x, t, b))(f)]);
        assert.ok(filterOnly.includes('Conv2DBackpropFilter') && !filterOnly.includes('Conv2DBackpropInput'), `${be}: ${filterOnly}`);
        const all = await kernels(() => tf.grads((...a: tf.Tensor[]) => loss(...a))([x, f, b]));
        assert.ok(all.includes('Conv2DBackpropFilter') && all.includes('Conv2DBackpropInput'), `${be}: ${all}`);
        tf.dispose([x, f, b]);
      });
    }
  });
});

// ---------------------------------------------------------------------------------------------
// tf.fused.matMul
// ---------------------------------------------------------------------------------------------

describe('tf.fused.matMul gradients (per input)', () => {
  const cases = [
    { ta: false, tb: false, bias: true },
    { ta: false, tb: true, bias: false },
    { ta: true, tb: false, bias: true },
    { ta: true, tb: true, bias: true },
    { ta: false, tb: false, bias: true, batch: 3 },
  ];
  for (const c of cases) {
    it(`equal TF.js's own on cpu and close on wasm: transposeA ${c.ta} transposeB ${c.tb} bias ${c.bias} batch ${c.batch ?? '-'}`, async () => {
      const [m, k, n] = [5, 7, 6];
      const lead = c.batch ? [c.batch] : [];
      const a = normal([...lead, ...(c.ta ? [k, m] : [m, k])]);
      const b = normal([...lead, ...(c.tb ? [n, k] : [k, n])]);
      const bias = c.bias ? normal([n]) : undefined;
      const w = normal([...lead, m, n]);
      const run = (fused: boolean) => async () => {
        const args = [tensor(a), tensor(b), ...(bias ? [tensor(bias)] : [])];
        const wt = tensor(w);
        const grads = tf.tidy(() => tf.grads((...t: tf.Tensor[]) => {
          const y = fused
            ? tf.fused.matMul({ a: t[0], b: t[1], transposeA: c.ta, transposeB: c.tb, bias: t[2], activation: 'linear' })
            : ((p: tf.Tensor) => (t[2] ? tf.add(p, t[2]) : p))(tf.matMul(t[0], t[1], c.ta, c.tb));
          return tf.sum(tf.mul(y, wt));
        })(args));
        tf.dispose([...args, wt]);
        return values(grads);
      };
      const fusedCpu = await on('cpu', run(true));
      const unfusedCpu = await on('cpu', run(false));
      const fusedWasm = await on('wasm', run(true));
      fusedCpu.forEach((g, i) => {
        assertSame(g, unfusedCpu[i], `input ${i}, cpu fused vs TF.js's unfused`);
        assertClose(fusedWasm[i], g, `input ${i}, wasm vs cpu`);
      });
    });
  }

  it('an input-only gradient runs one product, not two (tf.profile)', async () => {
    for (const be of ['cpu', 'wasm']) {
      await on(be, async () => {
        const [a, b, bias] = [tensor(normal([4, 8])), tensor(normal([8, 3])), tensor(normal([3]))];
        const prof = await tf.profile(() => tf.tidy(() => {
          tf.grad((t: tf.Tensor) => tf.sum(tf.fused.matMul({ a: t, b, bias })))(a);
        }));
        const products = prof.kernelNames.filter((k) => k === 'BatchMatMul' || k === '_FusedMatMul');
        assert.equal(products.length, 2, `${be}: forward and the input's product only: ${prof.kernelNames}`);
        assert.equal(prof.kernelNames.filter((k) => k === 'Sum').length, 1, `${be}: the loss's Sum, no bias Sum: ${prof.kernelNames}`);
        tf.dispose([a, b, bias]);
      });
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Training a small conv net: every weight gradient unchanged
// ---------------------------------------------------------------------------------------------

describe('training a small conv net', () => {
  it('gives the same weight gradients on wasm as on cpu, and on cpu as the unfused net', async () => {
    const shapes: Record<string, number[]> = {
      c1: [3, 3, 3, 8], b1: [8], c2: [3, 3, 8, 8], c3: [1, 1, 8, 6], b3: [6], c4: [3, 3, 6, 4], b4: [4], d: [4 * 4 * 4, 5], bd: [5],
    };
    const init = Object.fromEntries(Object.entries(shapes).map(([k, s]) => [k, normal(s, 0.4)]));
    const xData = normal([3, 16, 16, 3]);
    const labels = [0, 3, 4];
    const grads = (fused: boolean) => async () => {
      const vars = Object.fromEntries(Object.entries(init).map(([k, v]) => {
        const t = tensor(v);
        const variable = tf.variable(t, true, `${k}${fused}${tf.getBackend()}`);
        t.dispose();
        return [k, variable];
      }));
      const x = tensor(xData);
      const y = tf.oneHot(labels, 5);
      const conv = (h: tf.Tensor4D, f: string, b: string | undefined, s: number, act: 'relu6' | 'relu' | 'linear') => {
        if (fused) return tf.fused.conv2d({ x: h, filter: vars[f] as tf.Tensor4D, strides: s, pad: 'same', bias: b ? vars[b] : undefined, activation: act });
        const z = tf.conv2d(h, vars[f] as tf.Tensor4D, s, 'same');
        const zb = b ? tf.add(z, vars[b]) : z;
        return (act === 'relu6' ? tf.relu6(zb) : act === 'relu' ? tf.relu(zb) : zb) as tf.Tensor4D;
      };
      const { value, grads: g } = tf.variableGrads(() => {
        let h = conv(x as tf.Tensor4D, 'c1', 'b1', 1, 'relu6');
        h = conv(h, 'c2', undefined, 2, 'relu');
        h = conv(h, 'c3', 'b3', 1, 'linear');
        h = conv(h, 'c4', 'b4', 2, 'relu6');
        const flat = tf.reshape(h, [3, 4 * 4 * 4]);
        const logits = fused ? tf.fused.matMul({ a: flat, b: vars.d, bias: vars.bd }) : tf.add(tf.matMul(flat, vars.d), vars.bd);
        return tf.losses.softmaxCrossEntropy(y, logits);
      });
      value.dispose();
      const out = await values(Object.keys(shapes).map((k) => g[vars[k].name]));
      tf.dispose([x, y, ...Object.values(vars)]);
      return out;
    };
    const fusedCpu = await on('cpu', grads(true));
    const unfusedCpu = await on('cpu', grads(false));
    const fusedWasm = await on('wasm', grads(true));
    Object.keys(shapes).forEach((k, i) => {
      assert.ok(fusedCpu[i].some((v) => v !== 0), `${k}: a gradient that is not all zero`);
      assertSame(fusedCpu[i], unfusedCpu[i], `${k}: cpu fused vs unfused`);
      assertClose(fusedWasm[i], fusedCpu[i], `${k}: wasm vs cpu`, 2e-4);
    });
  });
});

// ---------------------------------------------------------------------------------------------
// ReLU and ReLU6
// ---------------------------------------------------------------------------------------------

describe('ReLU and ReLU6 gradients', () => {
  // Boundaries and specials in x, and NaN, ±∞ and signed values in dy; 19 values, so the SIMD
  // loop and its scalar tail both see them.
  const xs = [-1, -0, 0, 1e-30, 3, 6, 6.0000005, 7, NaN, Infinity, -Infinity, 5.9999995, 2, 1, 0.5, 4, 8, 6, 0];
  const dys = [1, -2, 3, Infinity, -1, 2, 3, NaN, 1, 1, 1, -1, Infinity, -Infinity, 0.5, -0.25, 1, -Infinity, Infinity];
  const ops = { relu: tf.relu, relu6: tf.relu6 } as const;
  const grad = (op: keyof typeof ops, x: number[], dy: number[]) => async () => {
    const [xt, dyt] = [tf.tensor(x), tf.tensor(dy)];
    const g = tf.tidy(() => tf.grad((t: tf.Tensor) => ops[op](t))(xt, dyt));
    const kernels = (await tf.profile(() => tf.tidy(() => void tf.grad((t: tf.Tensor) => ops[op](t))(xt, dyt)))).kernelNames;
    tf.dispose([xt, dyt]);
    return { values: (await values([g]))[0], kernels };
  };

  for (const op of ['relu', 'relu6'] as const) {
    it(`${op}: wasm equals cpu's TF.js composition bit for bit (native pass and JS fallback)`, async () => {
      const cpu = await on('cpu', grad(op, xs, dys));
      assert.ok(cpu.kernels.includes('Step'), `cpu keeps TF.js's gradient: ${cpu.kernels}`);
      for (const native of [true, false]) {
        NATIVE.enabled = native;
        try {
          const wasm = await on('wasm', grad(op, xs, dys));
          assertSame(wasm.values, cpu.values, `${op} native ${native}`);
          assert.ok(wasm.kernels.includes('AdvxReluGrad') && !wasm.kernels.includes('Step') && !wasm.kernels.includes('LessEqual'),
            `wasm runs one kernel: ${wasm.kernels}`);
        } finally {
          NATIVE.enabled = true;
        }
      }
      // A larger tensor of random values, around both kinks.
      const big = normal([3, 17, 13, 5], 4);
      const dy = normal(big.shape);
      const a = await on('cpu', grad(op, Array.from(big.data), Array.from(dy.data)));
      const b = await on('wasm', grad(op, Array.from(big.data), Array.from(dy.data)));
      assertSame(b.values, a.values, `${op}: ${big.shape}`);
    });
  }

  it('second order: the gradient of an input gradient w.r.t. dy, as on cpu', async () => {
    const x = normal([4, 9], 4);
    const dy = normal([4, 9]);
    const w = normal([4, 9]);
    const run = async () => {
      const [xt, dyt, wt] = [tensor(x), tensor(dy), tensor(w)];
      const g = tf.tidy(() => tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.grad((t: tf.Tensor) => tf.relu6(tf.relu(t)))(xt, v), wt)))(dyt));
      tf.dispose([xt, dyt, wt]);
      return (await values([g]))[0];
    };
    const cpu = await on('cpu', run);
    const wasm = await on('wasm', run);
    assertSame(wasm, cpu, 'd/d(dy)');
  });
});
