/**
 * ResizeNearestNeighborGrad for wasm: scatters dy back to the source pixel that the forward
 * resize read, with the forward's exact index arithmetic (alignCorners, halfPixelCenters).
 *
 * TF.js's wasm kernel (4.22) ignores halfPixelCenters, so the input gradient of a half-pixel
 * nearest-neighbour upsample — what ONNX Resize and TF2-converted models use — is wrong: up to
 * ~4 off on a 9×9 → 13×7 resize (and the cpu backend's kernel is wrong too, for every mode once
 * batch or channels exceed 1). Checked in test/backend/graph-op-gradients.test.ts against the
 * gradient computed from the forward op's own index map (resizing an image of indices).
 */
import * as tf from '@tensorflow/tfjs-core';
import { BACKEND, type KernelArgs, type WasmBackend } from './util.ts';

/** Source index of each output coordinate, as TF.js's ResizeNearestNeighbor computes it. */
export function sourceIndices(oldSize: number, newSize: number, alignCorners: boolean, halfPixelCenters: boolean): Int32Array {
  const effIn = alignCorners && newSize > 1 ? oldSize - 1 : oldSize;
  const effOut = alignCorners && newSize > 1 ? newSize - 1 : newSize;
  const ratio = effIn / effOut;
  const src = new Int32Array(newSize);
  for (let r = 0; r < newSize; r++) {
    const frac = halfPixelCenters ? ratio * (r + 0.5) : ratio * r;
    let s = Math.min(oldSize - 1, alignCorners ? Math.round(frac) : Math.floor(frac));
    if (halfPixelCenters) s = Math.max(0, s);
    src[r] = s;
  }
  return src;
}

export function resizeNearestNeighborGrad({ inputs, backend: be, attrs }: KernelArgs): tf.TensorInfo {
  const backend = be as WasmBackend;
  const { images, dy } = inputs as { images: tf.TensorInfo; dy: tf.TensorInfo };
  const { alignCorners, halfPixelCenters } = attrs as unknown as tf.ResizeNearestNeighborGradAttrs;
  const [N, H, W, C] = images.shape;
  const [, OH, OW] = dy.shape;
  const rows = sourceIndices(H, OH, alignCorners, halfPixelCenters);
  const cols = sourceIndices(W, OW, alignCorners, halfPixelCenters);
  const out = backend.makeOutput([N, H, W, C], 'float32');
  const dx = backend.typedArrayFromHeap(out);
  const g = backend.typedArrayFromHeap(dy);
  dx.fill(0);
  let o = 0;
  for (let n = 0; n < N; n++) {
    for (let r = 0; r < OH; r++) {
      const rowBase = (n * H + rows[r]) * W;
      for (let c = 0; c < OW; c++, o += C) {
        const base = (rowBase + cols[c]) * C;
        for (let d = 0; d < C; d++) dx[base + d] += g[o + d];
      }
    }
  }
  return out;
}

export const resizeNearestNeighborGradConfig: tf.KernelConfig = {
  kernelName: tf.ResizeNearestNeighborGrad,
  backendName: BACKEND,
  kernelFunc: resizeNearestNeighborGrad as unknown as tf.KernelFunc,
};
