/**
 * StridedSlice's forward pass, mended where TF.js 4.22 gets it wrong on every backend: a slice
 * that drops an axis (shrinkAxisMask) and is not a plain contiguous slice (some stride ≠ 1).
 * Converted graph models hold such slices (`x[::2, ::2, 0]`), and TF.js returns wrong values
 * for them silently, or throws when a new axis comes before a dropped one (`x[1, None, ::2, 2]`).
 *
 * The cause: `slice_util.sliceInfo` resolves begin, end and strides per axis of x, but the
 * kernels' general path walks an output of shape `finalShapeSparse` — x's axes with the dropped
 * ones already removed — and pairs its k-th index with x's k-th begin and stride, so after a
 * dropped axis every axis reads with its neighbour's offsets, and the dropped axis's own index
 * is lost. `finalShapeSparse` is also misbuilt: it filters `finalShape` by an index list that
 * still counts the dropped axes, so with a new axis present its size is wrong and the final
 * reshape throws. Without shrink bits the same path is right (one output axis per x axis).
 *
 * So such a slice is handed to the backend's own kernel as that right case: the per-axis
 * begin, end and strides sliceInfo resolved, no masks but the ones that spell "to the start"
 * for a negative stride, giving one output axis per x axis; a reshape then drops and adds
 * axes. Every other slice goes to TF.js's kernel unchanged. The tape records the call as made,
 * and strided_slice_grad.ts resolves those attrs with the same sliceInfo, so the gradient
 * scatters back to exactly the elements this forward pass now takes.
 */
import * as tf from '@tensorflow/tfjs-core';
import { wrapKernelOnEveryBackend } from './wrap_kernel.ts';

/**
 * The same slice as attrs with no shrink or new axis (one output axis per axis of x), and the
 * shape to reshape that to; null where TF.js's kernel is right: without shrink bits, and on its
 * fast paths (a reshape, or one contiguous slice then a reshape).
 */
function denseStridedSliceAttrs(xShape: number[], attrs: tf.StridedSliceAttrs): (tf.StridedSliceAttrs & { finalShape: number[] }) | null {
  const { begin, end, strides, beginMask, endMask, ellipsisMask, newAxisMask, shrinkAxisMask } = attrs;
  const info = tf.slice_util.sliceInfo(xShape, begin, end, strides, beginMask, endMask, ellipsisMask, newAxisMask, shrinkAxisMask);
  if (!shrinkAxisMask || info.isIdentity || info.sliceDim0 || info.isSimpleSlice) return null;
  const b = [...info.begin];
  const e = [...info.end];
  const s = [...info.strides];
  let toStart = 0; // end-mask bits
  for (let i = 0; i < xShape.length; i++) {
    // sliceInfo clamps a negative-stride axis's begin and end to [−1, n − 1], where −1 means
    // "before element 0"; passed back, −1 would mean the last element. A begin of −1 selects
    // nothing (say so with an empty unit-stride range), an end of −1 is the end mask.
    if (b[i] < 0) [b[i], e[i], s[i]] = [0, 0, 1];
    else if (e[i] < 0) toStart |= 1 << i;
  }
  return {
    begin: b, end: e, strides: s, beginMask: 0, endMask: toStart, ellipsisMask: 0, newAxisMask: 0, shrinkAxisMask: 0,
    finalShape: info.finalShape,
  };
}

export function registerStridedSliceForwardFix(): void {
  wrapKernelOnEveryBackend(tf.StridedSlice, (original, backendName) => (args) => {
    const x = args.inputs.x as tf.TensorInfo;
    const dense = denseStridedSliceAttrs(x.shape, args.attrs as unknown as tf.StridedSliceAttrs);
    if (!dense) return original(args);
    const { finalShape, ...attrs } = dense;
    const sliced = original({ ...args, attrs: attrs as unknown as tf.NamedAttrMap }) as tf.TensorInfo;
    // The backend's own Reshape (a new reference to the same data on cpu and wasm), then the
    // intermediate reference goes, as TF.js's kernels do it.
    const reshape = tf.getKernel(tf.Reshape, backendName)!.kernelFunc;
    const out = reshape({ inputs: { x: sliced }, backend: args.backend, attrs: { shape: finalShape } }) as tf.TensorInfo;
    (args.backend as tf.KernelBackend).disposeData(sliced.dataId);
    return out;
  });
}
