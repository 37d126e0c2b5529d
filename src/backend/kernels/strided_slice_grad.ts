/**
 * The gradient of StridedSlice (TF's StridedSliceGrad), which TF.js lacks on every backend:
 * converted graph models use strided slices for `x[:, ::2]`, `x[..., 0]` and Keras Cropping.
 * dy is scattered back into zeros of x's shape with differentiable ops only (reverse for
 * negative strides, zero-interleaving for strides > 1, then one pad), so it runs on any backend
 * and has a gradient itself. TF.js's own `slice_util.sliceInfo` resolves the masks, as TF does,
 * so the elements chosen are exactly those the forward pass chose (once strided_slice_forward.ts
 * has mended the cases where TF.js's own forward kernels misuse sliceInfo's result).
 */
import * as tf from '@tensorflow/tfjs-core';

/** dy (the slice, with shrunk and new axes) scattered into zeros of `xShape`. */
export function stridedSliceGrad(dy: tf.Tensor, xShape: number[], attrs: tf.StridedSliceAttrs): tf.Tensor {
  const { begin, end, strides, beginMask, endMask, ellipsisMask, newAxisMask, shrinkAxisMask } = attrs;
  const info = tf.slice_util.sliceInfo(xShape, begin, end, strides, beginMask, endMask, ellipsisMask, newAxisMask, shrinkAxisMask);
  // Elements taken along each dimension of x: begin + k·stride for k < n.
  const n = xShape.map((_, i) => {
    const [b, e, s] = [info.begin[i], info.end[i], info.strides[i]];
    return Math.max(0, Math.ceil((e - b) / s));
  });
  if (n.some((k) => k === 0)) return tf.zeros(xShape);
  return tf.tidy(() => {
    let g = tf.reshape(dy, n);
    const pads: Array<[number, number]> = [];
    for (let i = 0; i < xShape.length; i++) {
      const s = info.strides[i];
      const step = Math.abs(s);
      // A negative stride walks down from begin: reversed, it walks up from its last element.
      if (s < 0) g = tf.reverse(g, i);
      const lo = s < 0 ? info.begin[i] + (n[i] - 1) * s : info.begin[i];
      if (step > 1 && n[i] > 1) {
        // Put step − 1 zeros after each element, then drop the trailing ones.
        const shape = g.shape;
        const split = [...shape.slice(0, i + 1), 1, ...shape.slice(i + 1)];
        const spread = tf.pad(tf.reshape(g, split), split.map((_, j) => (j === i + 1 ? [0, step - 1] : [0, 0]) as [number, number]));
        const long = tf.reshape(spread, [...shape.slice(0, i), n[i] * step, ...shape.slice(i + 1)]);
        g = tf.slice(long, shape.map(() => 0), shape.map((d, j) => (j === i ? (n[i] - 1) * step + 1 : d)));
      }
      const span = (n[i] - 1) * step + 1;
      pads.push([lo, xShape[i] - lo - span]);
    }
    return tf.pad(g, pads);
  });
}

let registered = false;

export function registerStridedSliceGradient(): void {
  if (registered || tf.getGradient(tf.StridedSlice)) return; // never replace one TF.js may add
  registered = true;
  tf.registerGradient({
    kernelName: tf.StridedSlice,
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved;
      return { x: () => stridedSliceGrad(dy as tf.Tensor, x.shape, attrs as unknown as tf.StridedSliceAttrs) };
    },
  });
}
