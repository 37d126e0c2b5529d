/**
 * The model zoo: small classifiers for 28×28 images (and flat vectors), built with tfjs-layers.
 * Each builder returns an uncompiled LayersModel that outputs logits (no softmax), since attacks
 * and losses want logits.
 */
import * as tf from '@tensorflow/tfjs-layers';
import { AdvxError } from '../core/errors.ts';

export interface ModelSpec {
  /** Input shape without the batch dimension, e.g. [28, 28, 1]. */
  inputShape: number[];
  numClasses: number;
  /** Seed for the weight initialisers, so a run is repeatable. */
  seed?: number;
  /** Train-time dropout where the architecture has it (cnn; default true). */
  dropout?: boolean;
}

/** Builds an uncompiled LayersModel that outputs logits. */
export type ModelBuilder = (spec: ModelSpec) => tf.LayersModel;

function init(seed: number | undefined, k: number) {
  return tf.initializers.glorotUniform({ seed: seed === undefined ? undefined : seed + k });
}

/** Multinomial logistic regression: one dense layer on the flattened input. */
export function logistic({ inputShape, numClasses, seed }: ModelSpec): tf.LayersModel {
  const m = tf.sequential({ name: 'logistic' });
  m.add(tf.layers.flatten({ inputShape }));
  m.add(tf.layers.dense({ units: numClasses, kernelInitializer: init(seed, 0) }));
  return m;
}

/** Two hidden layers of 256 ReLU units. */
export function mlp({ inputShape, numClasses, seed }: ModelSpec): tf.LayersModel {
  const m = tf.sequential({ name: 'mlp' });
  m.add(tf.layers.flatten({ inputShape }));
  m.add(tf.layers.dense({ units: 256, activation: 'relu', kernelInitializer: init(seed, 0) }));
  m.add(tf.layers.dense({ units: 256, activation: 'relu', kernelInitializer: init(seed, 1) }));
  m.add(tf.layers.dense({ units: numClasses, kernelInitializer: init(seed, 2) }));
  return m;
}

/**
 * The reference CNN of the benchmarks (WORKLOADS.md): conv 3×3×32 relu, maxpool 2,
 * conv 3×3×64 relu, maxpool 2, flatten, dense 128 relu, dense 10. With `dropout`, the Keras
 * MNIST recipe's dropout (0.25 after the convolutions, 0.5 after dense 128) is added for training;
 * at inference the network is the reference one.
 */
export function cnn({ inputShape, numClasses, seed }: ModelSpec, dropout = false): tf.LayersModel {
  const m = tf.sequential({ name: 'cnn' });
  m.add(tf.layers.conv2d({ inputShape, filters: 32, kernelSize: 3, activation: 'relu', kernelInitializer: init(seed, 0) }));
  m.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  m.add(tf.layers.conv2d({ filters: 64, kernelSize: 3, activation: 'relu', kernelInitializer: init(seed, 1) }));
  m.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  if (dropout) m.add(tf.layers.dropout({ rate: 0.25 }));
  m.add(tf.layers.flatten());
  m.add(tf.layers.dense({ units: 128, activation: 'relu', kernelInitializer: init(seed, 2) }));
  if (dropout) m.add(tf.layers.dropout({ rate: 0.5 }));
  m.add(tf.layers.dense({ units: numClasses, kernelInitializer: init(seed, 3) }));
  return m;
}

/** LeNet-5 style: conv 5×5×6 (same), maxpool, conv 5×5×16, maxpool, dense 120, 84, classes. */
export function lenet({ inputShape, numClasses, seed }: ModelSpec): tf.LayersModel {
  const m = tf.sequential({ name: 'lenet' });
  m.add(tf.layers.conv2d({ inputShape, filters: 6, kernelSize: 5, padding: 'same', activation: 'relu', kernelInitializer: init(seed, 0) }));
  m.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  m.add(tf.layers.conv2d({ filters: 16, kernelSize: 5, activation: 'relu', kernelInitializer: init(seed, 1) }));
  m.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  m.add(tf.layers.flatten());
  m.add(tf.layers.dense({ units: 120, activation: 'relu', kernelInitializer: init(seed, 2) }));
  m.add(tf.layers.dense({ units: 84, activation: 'relu', kernelInitializer: init(seed, 3) }));
  m.add(tf.layers.dense({ units: numClasses, kernelInitializer: init(seed, 4) }));
  return m;
}

/** The zoo's builders by name: logistic, mlp, cnn (with dropout unless `spec.dropout` is false), lenet. */
export const MODELS: Record<string, ModelBuilder> = { logistic, mlp, cnn: (spec) => cnn(spec, spec.dropout ?? true), lenet };

/** Checks a user-given architecture name (e.g. from the CLI). */
export function parseModelName(name: string): string {
  if (!MODELS[name]) throw new AdvxError(`unknown model "${name}": choose one of ${Object.keys(MODELS).join(', ')}`);
  return name;
}

/** Builds the zoo model `name` (see MODELS); AdvxError naming the choices for an unknown name. */
export function buildModel(name: string, spec: ModelSpec): tf.LayersModel {
  return MODELS[parseModelName(name)](spec);
}
