/**
 * FID and KID along a GAN's training (`advx gan train`): at each checkpoint, a small fixed sample
 * of the generator against as many real training images, in the features of the dataset's shipped
 * classifier (as `advx gan evaluate`, with fewer images). Small samples bias FID upwards (by about
 * 1/n) and leave KID unbiased but noisy: the curve compares checkpoints of one run, not runs with
 * `gan evaluate`'s numbers.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { existsSync } from 'node:fs';
import type { Generator } from '../../gan/dcgan.ts';
import { classifierFeatures, frechetDistance, kernelInceptionDistance } from '../../gan/metrics.ts';
import { sampleImages } from '../../gan/train-images.ts';
import type { ImageDataset } from '../../data/types.ts';
import { loadClassifier } from '../io/load-model.ts';
import { defaultClassifier } from './gan.ts';

/** Images per side (generated, real) at each checkpoint: enough for KID, cheap next to the training steps. */
export const QUALITY_SAMPLES = 256;

export interface QualityProbe {
  /** FID and KID of the generator's fixed sample against the real images. */
  measure(g: Generator): Promise<{ fid: number; kid: number }>;
  dispose(): void;
}

/**
 * The probe for `data`'s training images, or undefined where the dataset has no shipped classifier
 * of its image shape (then the run has no FID/KID curve).
 */
export async function qualityProbe(data: ImageDataset, dataName: string, seed: number): Promise<QualityProbe | undefined> {
  const path = defaultClassifier(dataName);
  if (!existsSync(path)) return undefined;
  const loaded = await loadClassifier(path);
  const layers: tfl.LayersModel | undefined = loaded.layers;
  if (!layers || loaded.classifier.info.inputShape.join('×') !== data.shape.join('×')) {
    layers?.dispose();
    return undefined;
  }
  const n = Math.min(QUALITY_SAMPLES, data.count);
  const size = data.shape[0] * data.shape[1] * data.shape[2];
  const realFeatures = tf.tidy(() => classifierFeatures(layers, tf.tensor4d(data.images.subarray(0, n * size), [n, ...data.shape])));
  return {
    async measure(g) {
      const pixels = await sampleImages(g, n, seed);
      const fake = tf.tidy(() => classifierFeatures(layers, tf.tensor4d(pixels, [n, ...data.shape])));
      try {
        return { fid: frechetDistance(fake, realFeatures), kid: kernelInceptionDistance(fake, realFeatures, { seed }).mean };
      } finally {
        fake.dispose();
      }
    },
    dispose() {
      realFeatures.dispose();
      layers.dispose();
    },
  };
}
