/**
 * Image datasets as plain typed arrays, the same in Node and the browser (no Node APIs here).
 * Loaders live elsewhere (src/node/datasets/index.ts in Node); this module only describes and slices.
 */
import * as tf from '@tensorflow/tfjs-core';
import { AdvxError } from '../core/errors.ts';

export interface ImageDataset {
  name: string;
  /** count*H*W*C pixel values in [0, 1], image after image, row-major, channels last. Treat as read-only. */
  images: Float32Array;
  /** One class index in [0, numClasses) per image. */
  labels: Uint8Array;
  /** [H, W, C] of one image. */
  shape: [number, number, number];
  numClasses: number;
  classNames: string[];
  count: number;
}

export interface DatasetSplits {
  train: ImageDataset;
  test: ImageDataset;
}

function imageSize(ds: ImageDataset): number {
  return ds.shape[0] * ds.shape[1] * ds.shape[2];
}

/** Images [start, start + count) as a view that shares memory with `ds` (no copy). */
export function subset(ds: ImageDataset, start: number, count: number): ImageDataset {
  if (!Number.isInteger(start) || !Number.isInteger(count) || start < 0 || count < 0 || start + count > ds.count) {
    throw new AdvxError(`subset(${start}, ${count}) is out of range for ${ds.name}, which has ${ds.count} images`);
  }
  const size = imageSize(ds);
  return {
    ...ds,
    images: ds.images.subarray(start * size, (start + count) * size),
    labels: ds.labels.subarray(start, start + count),
    count,
  };
}

/** The images at `indices`, in that order, copied into a new dataset. */
export function take(ds: ImageDataset, indices: ArrayLike<number>): ImageDataset {
  const size = imageSize(ds);
  const n = indices.length;
  const images = new Float32Array(n * size);
  const labels = new Uint8Array(n);
  for (let k = 0; k < n; k++) {
    const i = indices[k];
    if (!Number.isInteger(i) || i < 0 || i >= ds.count) {
      throw new AdvxError(`index ${i} is out of range for ${ds.name}, which has ${ds.count} images`);
    }
    images.set(ds.images.subarray(i * size, (i + 1) * size), k * size);
    labels[k] = ds.labels[i];
  }
  return { ...ds, images, labels, count: n };
}

/** x: [N, H, W, C] float32 in [0, 1]; y: [N] int32 class indices. All images, or those at `indices`. */
export function toTensors(ds: ImageDataset, indices?: ArrayLike<number>): { x: tf.Tensor4D; y: tf.Tensor1D } {
  const d = indices === undefined ? ds : take(ds, indices);
  const [h, w, c] = d.shape;
  return {
    x: tf.tensor4d(d.images, [d.count, h, w, c], 'float32'),
    y: tf.tensor1d(Int32Array.from(d.labels), 'int32'),
  };
}
