/**
 * The gradient of MirrorPad (reflection padding: CycleGAN / pix2pix generators, style-transfer
 * nets), which TF.js 4.22 gets wrong on every backend: its gradient only slices x's window out
 * of dy, dropping what the padded copies of x's edge elements contribute. As in TF's
 * MirrorPadGrad, each axis's two pads are folded back onto the elements they copy: reversed,
 * and added at an offset of 1 for 'reflect' (the edge is not repeated) and 0 for 'symmetric'.
 * Made of slice, reverse, pad and add, so it runs on any backend and has a gradient itself.
 * Checked in graph-op-gradients.test.ts against finite differences on cpu and wasm.
 */
import * as tf from '@tensorflow/tfjs-core';

export function mirrorPadGrad(dy: tf.Tensor, xShape: number[], paddings: Array<[number, number]>, mode: 'reflect' | 'symmetric'): tf.Tensor {
  const skip = mode === 'reflect' ? 1 : 0;
  return tf.tidy(() => {
    let g = dy;
    xShape.forEach((n, axis) => {
      const [a, b] = paddings[axis];
      if (a === 0 && b === 0) return;
      const part = (begin: number, size: number) =>
        tf.slice(g, g.shape.map((_, i) => (i === axis ? begin : 0)), g.shape.map((d, i) => (i === axis ? size : d)));
      const at = (t: tf.Tensor, before: number) =>
        tf.pad(tf.reverse(t, axis), g.shape.map((_, i) => (i === axis ? [before, n - before - t.shape[axis]] : [0, 0]) as [number, number]));
      // The left pad copies x[skip .. skip + a) in reverse, the right pad x[n − skip − b .. n − skip).
      let sum = part(a, n);
      if (a > 0) sum = tf.add(sum, at(part(0, a), skip));
      if (b > 0) sum = tf.add(sum, at(part(a + n, b), n - skip - b));
      g = sum;
    });
    return g;
  });
}

let registered = false;

export function registerMirrorPadGradient(): void {
  // Before tfjs-layers registers TF.js's gradients, ours would be overwritten: wait for them.
  if (registered || !tf.getGradient(tf.MirrorPad)) return;
  registered = true;
  tf.registerGradient({
    kernelName: tf.MirrorPad,
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const { paddings, mode } = attrs as unknown as tf.MirrorPadAttrs;
      return { x: () => mirrorPadGrad(dy as tf.Tensor, saved[0].shape, paddings, mode) };
    },
  });
}
