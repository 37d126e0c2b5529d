/**
 * `advx gan sample` and `advx gan evaluate` on a generator saved by `advx gan train`: a PNG of
 * samples (or latent interpolation strips), and FID, KID, precision/recall and class coverage on a
 * classifier's features.
 */
import * as tf from '@tensorflow/tfjs-core';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { PACKAGE_ROOT } from '../io/packages.ts';
import { AdvxError } from '../../core/errors.ts';
import { evaluateGenerator, type GeneratorEvaluation } from '../../gan/metrics.ts';
import { loadDataset, parseDatasetName } from '../datasets/index.ts';
import { loadClassifier } from '../io/load-model.ts';
import type { OnProgress } from '../io/progress.ts';
import { loadGenerator, writeInterpolation, writeSampleGrid } from './gan-files.ts';

export interface GanSampleOptions {
  /** The model/ folder of a gan train run. */
  model: string;
  /** Images, or with `interpolate` rows of `cols` images. */
  n: number;
  /** The class of every image (conditional generators; default k mod classes). */
  class?: number;
  seed: number;
  /** The PNG file to write. */
  out: string;
  cols?: number;
  interpolate?: boolean;
}

/** Writes the PNG; returns how many images it holds and the generator's architecture. */
export async function runGanSample(o: GanSampleOptions): Promise<{ images: number; arch: string }> {
  const { generator, info } = await loadGenerator(o.model);
  try {
    const k = generator.config.numClasses;
    if (o.class !== undefined) {
      if (!k) throw new AdvxError(`--class: the generator in ${o.model} is unconditional (arch ${info.arch})`);
      if (o.class >= k) throw new AdvxError(`--class must be in [0, ${k - 1}], got ${o.class}`);
    }
    if (o.interpolate) {
      const cols = o.cols ?? 10;
      if (cols < 2) throw new AdvxError('--cols must be at least 2 for --interpolate');
      await writeInterpolation(o.out, generator, { rows: o.n, cols, seed: o.seed, labels: k ? Array.from({ length: o.n }, (_, r) => o.class ?? r % k) : undefined });
      return { images: o.n * cols, arch: info.arch };
    }
    const labels = k ? Array.from({ length: o.n }, (_, i) => o.class ?? i % k) : undefined;
    await writeSampleGrid(o.out, generator, { n: o.n, cols: o.cols ?? Math.ceil(Math.sqrt(o.n)), seed: o.seed, labels });
    return { images: o.n, arch: info.arch };
  } finally {
    generator.model.dispose();
  }
}

export interface GanEvaluateOptions {
  model: string;
  /** Real images to compare with (test split; default: the dataset the generator was trained on). */
  data?: string;
  n: number;
  /** The classifier whose features are compared (default: the shipped CNN of the dataset). */
  classifier?: string;
  seed: number;
  /** Told the phases of the evaluation done (EVALUATION_PHASES), 0 first. */
  onProgress?: OnProgress;
}

export type GanEvaluation = Omit<GeneratorEvaluation, 'class_accuracy'> & { n: number; real: number; data: string; classifier: string; arch: string; class_accuracy?: number };

/** The default classifier of a dataset, found from the working folder or the advx folder. */
export function defaultClassifier(data: string): string {
  const rel = parseDatasetName(data).startsWith('fashion') ? 'models/fashion-cnn' : 'models/mnist-cnn';
  return existsSync(rel) ? rel : resolve(PACKAGE_ROOT, rel);
}

export async function runGanEvaluate(o: GanEvaluateOptions): Promise<GanEvaluation> {
  const { generator, info } = await loadGenerator(o.model);
  const data = o.data ?? info.dataset;
  const classifierPath = o.classifier ?? defaultClassifier(data);
  const loaded = await loadClassifier(classifierPath);
  let realX: tf.Tensor4D | undefined;
  try {
    if (!loaded.layers) throw new AdvxError(`--classifier ${classifierPath}: a LayersModel is needed for its features (got a GraphModel)`);
    const real = loadDataset(data, { limit: { train: 0, test: o.n } }).test;
    const g = generator.config;
    const want = [g.imageSize, g.imageSize, g.channels].join('×');
    if (real.shape.join('×') !== want) throw new AdvxError(`${data} images are ${real.shape.join('×')}, the generator makes ${want}`);
    if (real.count < o.n) process.stderr.write(`${data} has ${real.count} test images: comparing ${o.n} samples with ${real.count} real ones\n`);
    realX = tf.tensor4d(real.images, [real.count, ...real.shape]);
    const { class_accuracy, ...m } = await evaluateGenerator(generator, { classifier: loaded.classifier, features: loaded.layers }, realX, { n: o.n, seed: o.seed, onPhase: o.onProgress });
    // The key order of the CLI's JSON: the metrics, what they were measured on, then the class accuracy.
    return { ...m, n: o.n, real: real.count, data, classifier: classifierPath, arch: info.arch, ...(class_accuracy === undefined ? {} : { class_accuracy }) };
  } finally {
    realX?.dispose();
    generator.model.dispose();
    loaded.layers?.dispose();
  }
}
