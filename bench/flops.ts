/**
 * The FLOP rate each heavy kernel of the training workloads reaches, beside PyTorch's on the same
 * shapes and the machine's peak, so that the distance to the hardware stays visible.
 *
 * The kernels are the convolutions of the reference CNN (3×3, cnn-train) and of DANN's network
 * (5×5, dann-step) at the workloads' batch of 128 images, forward and both gradients, and the
 * matrix products of the dense layers; stated once here and sent to bench/torch_kernels.py as JSON.
 */
import * as tf from '@tensorflow/tfjs-core';
import { median } from '../src/core/arrays.ts';

export interface KernelSpec {
  name: string;
  op: 'conv2d' | 'conv2d-grad-input' | 'conv2d-grad-filter' | 'matmul';
  /** conv: the input NHWC and the filter [kh, kw, cin, cout] (stride 1, valid); matmul: [m, k] and [k, n]. */
  x: number[];
  f: number[];
}

export const KERNELS: KernelSpec[] = [
  { name: 'cnn conv1 3×3 1→32', op: 'conv2d', x: [128, 28, 28, 1], f: [3, 3, 1, 32] },
  { name: 'cnn conv2 3×3 32→64', op: 'conv2d', x: [128, 13, 13, 32], f: [3, 3, 32, 64] },
  { name: 'cnn conv2 3×3 32→64', op: 'conv2d-grad-input', x: [128, 13, 13, 32], f: [3, 3, 32, 64] },
  { name: 'cnn conv2 3×3 32→64', op: 'conv2d-grad-filter', x: [128, 13, 13, 32], f: [3, 3, 32, 64] },
  { name: 'cnn conv1 3×3 1→32', op: 'conv2d-grad-filter', x: [128, 28, 28, 1], f: [3, 3, 1, 32] },
  { name: 'dann conv1 5×5 3→32', op: 'conv2d', x: [128, 28, 28, 3], f: [5, 5, 3, 32] },
  { name: 'dann conv2 5×5 32→48', op: 'conv2d', x: [128, 12, 12, 32], f: [5, 5, 32, 48] },
  { name: 'dann conv2 5×5 32→48', op: 'conv2d-grad-input', x: [128, 12, 12, 32], f: [5, 5, 32, 48] },
  { name: 'dann conv2 5×5 32→48', op: 'conv2d-grad-filter', x: [128, 12, 12, 32], f: [5, 5, 32, 48] },
  { name: 'dann conv1 5×5 3→32', op: 'conv2d-grad-filter', x: [128, 28, 28, 3], f: [5, 5, 3, 32] },
  { name: 'cnn dense 1600→128', op: 'matmul', x: [128, 1600], f: [1600, 128] },
  { name: 'square 1024', op: 'matmul', x: [1024, 1024], f: [1024, 1024] },
];

/** Multiply-adds count 2: the convention of FLOP rates. */
export function kernelFlops(k: KernelSpec): number {
  if (k.op === 'matmul') return 2 * k.x[0]! * k.x[1]! * k.f[1]!;
  const [n, h, w] = k.x as [number, number, number, number];
  const [kh, kw, cin, cout] = k.f as [number, number, number, number];
  return 2 * n * (h - kh + 1) * (w - kw + 1) * cout * kh * kw * cin;
}

/** One call of the kernel on the current backend, through TF.js's kernel registry. */
function kernelCall(k: KernelSpec): { run: () => tf.Tensor; dispose: () => void } {
  const x = tf.randomUniform(k.x, -1, 1, 'float32', 1);
  const f = tf.randomUniform(k.f, -1, 1, 'float32', 2);
  const conv = { strides: [1, 1], pad: 'valid', dataFormat: 'NHWC', dilations: [1, 1], dimRoundingMode: undefined };
  const dy = k.op === 'matmul' ? undefined : tf.tidy(() => tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, 1, 'valid'));
  const run = {
    matmul: () => tf.matMul(x as tf.Tensor2D, f as tf.Tensor2D),
    conv2d: () => tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, 1, 'valid'),
    'conv2d-grad-input': () => tf.engine().runKernel('Conv2DBackpropInput', { dy: dy!, filter: f }, { ...conv, inputShape: k.x } as unknown as tf.NamedAttrMap) as tf.Tensor,
    'conv2d-grad-filter': () => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy: dy! }, { ...conv, filterShape: k.f } as unknown as tf.NamedAttrMap) as tf.Tensor,
  }[k.op];
  return { run, dispose: () => tf.dispose([x, f, ...(dy ? [dy] : [])]) };
}

/** GFLOP/s of each kernel on the current (synchronous) backend: median of `runs` calls after two warm-ups. */
export async function kernelRates(runs = 7): Promise<number[]> {
  const rates: number[] = [];
  for (const k of KERNELS) {
    const call = kernelCall(k);
    const times: number[] = [];
    for (let i = 0; i < runs + 2; i++) {
      // The wasm and cpu kernels run synchronously: the call is the kernel. (Reading the result
      // back, as `await data()`, added up to 10 ms to a 10 ms convolution: not the kernel's.)
      const t = performance.now();
      const out = call.run();
      const dt = performance.now() - t;
      out.dispose();
      if (i >= 2) times.push(dt);
    }
    call.dispose();
    rates.push(kernelFlops(k) / (median(times) / 1000) / 1e9);
  }
  return rates;
}
