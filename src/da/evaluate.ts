/**
 * Evaluating an adapted model on both domains. With per-domain batch normalisation each domain is
 * evaluated under its own statistics (AdaBN), measured on its unlabelled training images: the
 * network a user runs on that domain. The target is evaluated last, so its statistics stay in the
 * model and the model is the one adapted to the target. No Node API here.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { concatFloat32 } from '../core/arrays.ts';
import { gatherBatch } from '../data/batch.ts';
import { toTensors, type DatasetSplits, type ImageDataset } from '../data/types.ts';
import { classAccuracy, type ClassAccuracy } from '../eval/accuracy.ts';
import type { Classifier } from '../models/classifier.ts';
import { recalibrateBatchNorm } from './adabn.ts';

/** Unlabelled training images per domain from which its batch-norm statistics are measured. */
export const RECALIBRATION_IMAGES = 2000;

/** Sets the extractor's batch-norm statistics to those of the first unlabelled training images of `d`. */
export function calibrateOn(extractor: tfl.LayersModel, d: ImageDataset): void {
  const { x, y } = gatherBatch(d, Int32Array.from({ length: Math.min(RECALIBRATION_IMAGES, d.count) }, (_, i) => i));
  recalibrateBatchNorm(extractor, x);
  tf.dispose([x, y]);
}

/** Test accuracy in each domain, overall and per class (eval/accuracy.ts). */
export interface DomainAccuracies {
  source: ClassAccuracy;
  target: ClassAccuracy;
}

/**
 * Source and target test accuracy of `classifier`, overall and per class. `perDomain`: the
 * extractor whose batch-norm statistics each domain gets in turn (the target last, so they stay
 * set); without it, both domains share the model's statistics.
 */
export async function domainAccuracies(classifier: Classifier, source: DatasetSplits, target: DatasetSplits, perDomain?: tfl.LayersModel): Promise<DomainAccuracies> {
  if (perDomain) calibrateOn(perDomain, source.train);
  const sourceAccuracy = await classAccuracy(classifier, source.test);
  if (perDomain) calibrateOn(perDomain, target.train);
  return { source: sourceAccuracy, target: await classAccuracy(classifier, target.test) };
}

/** A domain under its own statistics: its test accuracy (overall and per class), and its first test images as a dataset of feature vectors. */
export interface DomainEvaluation extends ClassAccuracy {
  features: ImageDataset;
}

/**
 * Each domain's test accuracy and the features of its first `n` test images, each under its own
 * batch-norm statistics (set on `extractor`); `extract` gives the features compared (the
 * extractor's output, or what a fine-tuned head reads).
 */
export async function evaluateEachDomain(
  classifier: Classifier,
  extractor: tfl.LayersModel,
  extract: (x: tf.Tensor) => tf.Tensor,
  domains: { source: DatasetSplits; target: DatasetSplits },
  n: number,
): Promise<{ source: DomainEvaluation; target: DomainEvaluation }> {
  const underOwnStatistics = async (d: DatasetSplits): Promise<DomainEvaluation> => {
    calibrateOn(extractor, d.train);
    return { ...(await classAccuracy(classifier, d.test)), features: await featureDataset(extract, d.test, n) };
  };
  const source = await underOwnStatistics(domains.source);
  return { source, target: await underOwnStatistics(domains.target) };
}

/** Features of the first n images of `d`, row after row, 256 images at a time. */
export async function featureMatrix(extract: (x: tf.Tensor) => tf.Tensor, d: ImageDataset, n: number): Promise<Float32Array> {
  const rows: Float32Array[] = [];
  for (let i = 0; i < n; i += 256) {
    const { x, y } = toTensors(d, Array.from({ length: Math.min(256, n - i) }, (_, k) => i + k));
    const f = tf.tidy(() => tf.reshape(extract(x), [x.shape[0], -1]));
    rows.push((await f.data()) as Float32Array);
    tf.dispose([x, y, f]);
  }
  return concatFloat32(rows);
}

/** The first n images of `d` as a dataset of their feature vectors (shape [1, 1, dim]). */
export async function featureDataset(extract: (x: tf.Tensor) => tf.Tensor, d: ImageDataset, n: number): Promise<ImageDataset> {
  const images = await featureMatrix(extract, d, n);
  return { ...d, name: `${d.name} features`, images, labels: d.labels.slice(0, n), shape: [1, 1, images.length / n], count: n };
}
