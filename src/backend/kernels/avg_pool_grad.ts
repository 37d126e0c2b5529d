/**
 * The gradient of AvgPool where windows overlap the padding ('same' or explicit pads), which
 * TF.js 4.22 gets wrong on every backend. Its forward kernels (cpu, and wasm through XNNPACK)
 * average only the window's elements inside the input, as TensorFlow does; its AvgPoolGrad
 * kernels (cpu and wasm alike) divide by the full window instead, so a border element's
 * gradient comes out fh·fw/count too small (2/3 at a 3×3 'same' corner row). Not a kernel: a
 * gradient registration replacing TF.js's that scales dy by fh·fw/count per output position
 * and then runs the backend's AvgPoolGrad, whose 1/(fh·fw) turns it into the forward's 1/count.
 * 'valid' pools (every count fh·fw) pass straight through. Checked in
 * graph-op-gradients.test.ts against finite differences on cpu and wasm.
 */
import * as tf from '@tensorflow/tfjs-core';

/** In-input elements of each window along one axis: output o covers [o·s − pad, o·s − pad + f). */
function counts(outSize: number, inSize: number, f: number, s: number, pad: number): number[] {
  return Array.from({ length: outSize }, (_, o) => {
    const start = o * s - pad;
    return Math.max(0, Math.min(start + f, inSize) - Math.max(start, 0));
  });
}

let registered = false;

export function registerAvgPoolGradient(): void {
  // Before tfjs-layers registers TF.js's gradients, ours would be overwritten: wait for them.
  if (registered || !tf.getGradient(tf.AvgPool)) return;
  registered = true;
  tf.registerGradient({
    kernelName: tf.AvgPool,
    inputsToSave: ['x'],
    gradFunc: (dyIn, saved, attrs) => {
      const dy = dyIn as tf.Tensor4D;
      const [x] = saved as [tf.Tensor4D];
      const { filterSize, strides, pad, dimRoundingMode } = attrs as unknown as tf.AvgPoolAttrs;
      const info = tf.backend_util.computePool2DInfo(x.shape, filterSize, strides, 1, pad, dimRoundingMode);
      const { filterHeight: fh, filterWidth: fw, strideHeight: sh, strideWidth: sw } = info;
      const rows = counts(info.outHeight, info.inHeight, fh, sh, info.padInfo.top);
      const cols = counts(info.outWidth, info.inWidth, fw, sw, info.padInfo.left);
      const full = rows.every((r) => r === fh) && cols.every((c) => c === fw);
      const scale = rows.flatMap((r) => cols.map((c) => (r * c > 0 ? (fh * fw) / (r * c) : 0)));
      return {
        x: () => {
          const g = full ? dy : tf.mul(dy, tf.tensor4d(scale, [1, info.outHeight, info.outWidth, 1]));
          return tf.engine().runKernel(tf.AvgPoolGrad, { dy: g, input: x }, { filterSize, strides, pad } as unknown as tf.NamedAttrMap) as tf.Tensor;
        },
      };
    },
  });
}
