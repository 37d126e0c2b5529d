/**
 * The gradients of ResizeBilinear and ResizeNearestNeighbor (upsampling in segmentation heads,
 * FPNs, U-Nets, ONNX Resize), which TF.js 4.22 gets wrong. Its ResizeBilinearGrad kernels
 * ignore halfPixelCenters (cpu and wasm), and cpu's returns its result with height and width
 * swapped in the shape ([b, w, h, c]) so tf.grad throws for any non-square image. Its cpu
 * ResizeNearestNeighborGrad ignores halfPixelCenters and reads dy at the image's batch stride,
 * wrong once batch > 1. Not kernels: gradient registrations replacing TF.js's.
 *
 * Both resizes are separable linear maps, out = Aₕ·x·A_wᵀ per image and channel, where row r of
 * A holds the weights of the (one or two) source rows the forward op reads for output row r; so
 * dx = Aₕᵀ·dy·A_w, two matMuls, with A built from the forward's own index and weight arithmetic
 * (TF's, as TF.js's forward kernels compute it on every backend). Made of TF ops, it runs on any
 * backend and has a gradient itself. On wasm the nearest-neighbour gradient keeps advx's kernel
 * (resize_nearest_neighbor_grad.ts), which is right and one pass.
 * Checked in graph-op-gradients.test.ts against finite differences on cpu and wasm.
 */
import * as tf from '@tensorflow/tfjs-core';
import { resizeNearestNeighborGrad, sourceIndices } from './resize_nearest_neighbor_grad.ts';

/** Source rows and their weights, per output row, as TF's bilinear resize reads them. */
function bilinearTaps(inSize: number, outSize: number, alignCorners: boolean, halfPixelCenters: boolean): { ids: number[]; weights: number[] } {
  const ratio = alignCorners && outSize > 1 ? (inSize - 1) / (outSize - 1) : inSize / outSize;
  const lo: number[] = [];
  const hi: number[] = [];
  const wLo: number[] = [];
  const wHi: number[] = [];
  for (let o = 0; o < outSize; o++) {
    const src = halfPixelCenters ? ratio * (o + 0.5) - 0.5 : ratio * o;
    const lerp = src - Math.floor(src); // where src < 0 both taps are row 0 and the weights still sum to 1
    lo.push(Math.max(0, Math.floor(src)));
    hi.push(Math.min(inSize - 1, Math.ceil(src)));
    wLo.push(1 - lerp);
    wHi.push(lerp);
  }
  return { ids: [...lo, ...hi], weights: [...wLo, ...wHi] };
}

type Taps = (inSize: number, outSize: number) => { ids: ArrayLike<number>; weights: number[] | null };

/**
 * The forward's map along one axis, transposed: Aᵀ [in, out] with Aᵀ[i, o] the weight output o
 * takes from source i (taps k ≡ o (mod out): one or two per output). Dense, as matMul (XNNPACK
 * or advx's GEMM on wasm) beats the sparse TF-op forms: for a 33²→257²×21 resize's gradient on
 * wasm, 4 ms (TF.js's own, wrong, kernel: 6 ms) against 250 ms for a gather of each source's
 * readers (TF.js's wasm Gather is slow); cpu's UnsortedSegmentSum makes one whole-tensor pass
 * per segment (45 s). cpu pays ~0.2–1.3 s for these matMuls at such sizes: cpu is the slow path.
 */
function transposedMap(taps: Taps, inSize: number, outSize: number): tf.Tensor2D {
  const { ids, weights } = taps(inSize, outSize);
  const at = new Float32Array(inSize * outSize);
  for (let k = 0; k < ids.length; k++) at[ids[k] * outSize + (k % outSize)] += weights ? weights[k] : 1;
  return tf.tensor2d(at, [inSize, outSize]);
}

/** dy [b, oh, ow, c] scattered back onto images [b, h, w, c]: dx = Aₕᵀ·dy·A_w, rows then columns. */
export function separableResizeGrad(dy: tf.Tensor4D, imagesShape: number[], taps: Taps): tf.Tensor4D {
  const [b, h, w, c] = imagesShape;
  const [, oh, ow] = dy.shape;
  return tf.tidy(() => {
    // Rows: [1, h, oh] (broadcast over the batch) times [b, oh, ow·c], no transpose needed.
    const rows = tf.matMul(tf.expandDims(transposedMap(taps, h, oh), 0), tf.reshape(dy, [b, oh, ow * c])); // [b, h, ow·c]
    // Columns: bring ow last, times A_w [ow, w], and back.
    const last = tf.reshape(tf.transpose(tf.reshape(rows, [b * h, ow, c]), [0, 2, 1]), [b * h * c, ow]);
    const cols = tf.matMul(last, transposedMap(taps, w, ow), false, true); // [b·h·c, w]
    return tf.reshape(tf.transpose(tf.reshape(cols, [b * h, c, w]), [0, 2, 1]), [b, h, w, c]) as tf.Tensor4D;
  });
}

let registered = false;

export function registerResizeGradients(): void {
  // Before tfjs-layers registers TF.js's gradients, ours would be overwritten: wait for them.
  if (registered || !tf.getGradient(tf.ResizeBilinear) || !tf.getGradient(tf.ResizeNearestNeighbor)) return;
  registered = true;
  tf.registerGradient({
    kernelName: tf.ResizeBilinear,
    inputsToSave: ['images'],
    gradFunc: (dy, saved, attrs) => {
      const { alignCorners, halfPixelCenters } = attrs as unknown as tf.ResizeBilinearAttrs;
      const taps: Taps = (i, o) => bilinearTaps(i, o, alignCorners, halfPixelCenters);
      return { images: () => separableResizeGrad(dy as tf.Tensor4D, saved[0].shape, taps) };
    },
  });
  tf.registerGradient({
    kernelName: tf.ResizeNearestNeighbor,
    inputsToSave: ['images'],
    gradFunc: (dy, saved, attrs) => {
      const [images] = saved;
      const { alignCorners, halfPixelCenters } = attrs as unknown as tf.ResizeNearestNeighborAttrs;
      // advx's wasm kernel, where it is the one registered (registerWasmGradientKernels).
      if (tf.getBackend() === 'wasm' && tf.getKernel(tf.ResizeNearestNeighborGrad, 'wasm')?.kernelFunc === (resizeNearestNeighborGrad as unknown)) {
        const a = { alignCorners, halfPixelCenters } as unknown as tf.NamedAttrMap;
        return { images: () => tf.engine().runKernel(tf.ResizeNearestNeighborGrad, { images, dy: dy as tf.Tensor }, a) as tf.Tensor };
      }
      const taps: Taps = (i, o) => ({ ids: sourceIndices(i, o, alignCorners, halfPixelCenters), weights: null });
      return { images: () => separableResizeGrad(dy as tf.Tensor4D, images.shape, taps) };
    },
  });
}
