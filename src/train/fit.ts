/**
 * The supervised training loop for classifiers: seeded shuffling and augmentation, Adam, a
 * per-epoch learning-rate decay, and hooks for progress and checkpoints. It holds no Node API:
 * the CLI's hooks write files; the web lab's hooks draw.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { Rng } from '../core/rng.ts';
import { assertOption } from '../core/errors.ts';
import type { ImageDataset } from '../data/types.ts';
import { gatherBatch } from '../data/batch.ts';

export interface FitOptions {
  epochs: number;
  batchSize: number;
  learningRate: number;
  /** Multiplies the learning rate after each epoch. */
  lrDecay?: number;
  seed: number;
  /** Random translation by up to this many pixels (0: none). */
  shift?: number;
  /** Epochs already done (resume); the optimizer must already hold the matching state. */
  startEpoch?: number;
  optimizer?: tf.Optimizer;
  /** Read the loss back every this many steps (a sync point). */
  logEvery?: number;
  onBatch?: (info: BatchInfo) => void;
  onEpoch?: (info: EpochInfo, optimizer: tf.Optimizer) => Promise<void> | void;
  /** Stops after the current step when it returns true (e.g. a Stop button). */
  shouldStop?: () => boolean;
  /**
   * Replaces each batch's inputs before the step (adversarial training). Called with the model in
   * inference mode; returns a new tensor that the loop disposes. `epochs` is the training progress
   * in epochs (2.5 = half-way through the third), for schedules such as a growing ε.
   */
  perturb?: (x: tf.Tensor, y: tf.Tensor1D, seed: number, epochs: number) => tf.Tensor;
  /**
   * Makes a second batch from each batch before the step, called like `perturb` (inference mode,
   * same arguments) but keeping the batch's own inputs: the loss gets both, as TRADES needs (the
   * clean x and its x′). It runs outside the step's gradient tape, so nothing is differentiated
   * through it; the loop hands it to `loss` as `step.companion` and disposes it. Not with `perturb`.
   */
  companion?: (x: tf.Tensor, y: tf.Tensor1D, seed: number, epochs: number) => tf.Tensor;
  /** The training loss (default: softmax cross-entropy with the labels), e.g. distillation's or TRADES's. */
  loss?: LossFn;
}

/** What a training loss sees of the step besides the batch's logits, inputs and labels. */
export interface LossStep {
  /**
   * The model in training mode (dropout on, as for `logits`), on the step's gradient tape: a
   * further forward pass whose gradient reaches the weights, e.g. of the companion batch. Dropout
   * layers are seeded once per step, so it draws the same masks as `logits`' pass.
   */
  forward: (x: tf.Tensor) => tf.Tensor2D;
  /** The batch made by `companion`, when it is set. */
  companion?: tf.Tensor;
}

/** A training loss: `logits` are the model's (training mode) on the batch's inputs `x`. */
export type LossFn = (logits: tf.Tensor2D, x: tf.Tensor, y: tf.Tensor1D, step: LossStep) => tf.Scalar;

export interface BatchInfo {
  epoch: number;
  step: number;
  stepsPerEpoch: number;
  loss: number;
  accuracy: number;
}

export interface EpochInfo {
  epoch: number;
  loss: number;
  accuracy: number;
  seconds: number;
  learningRate: number;
}

export function createOptimizer(learningRate: number): tf.AdamOptimizer {
  return tf.train.adam(learningRate);
}

/** Changes an optimizer's learning rate: SGD-family optimizers keep it in a tensor, Adam in a field. */
export function setLearningRate(optimizer: tf.Optimizer, lr: number): void {
  const o = optimizer as unknown as { setLearningRate?: (lr: number) => void; learningRate: number };
  if (typeof o.setLearningRate === 'function') o.setLearningRate(lr);
  else o.learningRate = lr;
}

/** Softmax cross-entropy from integer labels, averaged over the batch. */
export function crossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => tf.losses.softmaxCrossEntropy(tf.oneHot(labels, logits.shape[1]), logits) as tf.Scalar);
}

export async function fitClassifier(model: tfl.LayersModel, data: ImageDataset, options: FitOptions): Promise<EpochInfo[]> {
  const { epochs, batchSize, seed } = options;
  assertOption(Number.isInteger(epochs) && epochs >= 0, `epochs must be a non-negative integer, got ${epochs}`);
  assertOption(Number.isInteger(batchSize) && batchSize > 0, `batch size must be a positive integer, got ${batchSize}`);
  assertOption(options.learningRate > 0, `learning rate must be positive, got ${options.learningRate}`);
  assertOption(data.count > 0, 'the training set is empty');
  assertOption(!(options.perturb && options.companion), 'fitClassifier takes perturb or companion, not both');
  const optimizer = options.optimizer ?? createOptimizer(options.learningRate);
  const stepsPerEpoch = Math.ceil(data.count / batchSize);
  const logEvery = options.logEvery ?? 10;
  const history: EpochInfo[] = [];
  const vars = model.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val);
  const dropouts = model.layers.filter((l) => l.getClassName() === 'Dropout') as unknown as Array<{ seed?: number }>;

  for (let epoch = options.startEpoch ?? 0; epoch < epochs; epoch++) {
    // One generator per epoch, so a resumed run sees exactly the batches it would have seen.
    const rng = new Rng(seed * 1000003 + epoch);
    const order = rng.permutation(data.count);
    const lr = options.learningRate * (options.lrDecay ?? 1) ** epoch;
    setLearningRate(optimizer, lr);
    const start = performance.now();
    let lossSum = tf.scalar(0);
    let correctSum = tf.scalar(0);
    let seen = 0;
    for (let step = 0; step < stepsPerEpoch; step++) {
      const idx = order.subarray(step * batchSize, Math.min(data.count, (step + 1) * batchSize));
      const batch = gatherBatch(data, idx, rng, options.shift ?? 0);
      // A Dropout layer with a fixed seed draws the same mask at every step, and one without a
      // seed is not repeatable: give each step its own seed from the run's generator.
      for (const d of dropouts) d.seed = rng.seed();
      if (options.perturb) {
        const adversarial = options.perturb(batch.x, batch.y, rng.seed(), epoch + step / stepsPerEpoch);
        batch.x.dispose();
        batch.x = adversarial as tf.Tensor4D;
      }
      const companion = options.companion?.(batch.x, batch.y, rng.seed(), epoch + step / stepsPerEpoch);
      const [loss, correct] = trainStep(model, optimizer, vars, batch.x, batch.y, companion, options.loss ?? ((logits, _x, y) => crossEntropy(logits, y)));
      tf.dispose([batch.x, batch.y, ...(companion ? [companion] : [])]);
      const nextLoss = tf.tidy(() => tf.add(lossSum, tf.mul(loss, idx.length)) as tf.Scalar);
      const nextCorrect = tf.add(correctSum, correct) as tf.Scalar;
      tf.dispose([lossSum, correctSum, loss, correct]);
      lossSum = nextLoss;
      correctSum = nextCorrect;
      seen += idx.length;
      if (options.onBatch && ((step + 1) % logEvery === 0 || step === stepsPerEpoch - 1)) {
        options.onBatch({ epoch, step: step + 1, stepsPerEpoch, loss: (await lossSum.data())[0] / seen, accuracy: (await correctSum.data())[0] / seen });
      }
      if (options.shouldStop?.()) break;
    }
    const info: EpochInfo = {
      epoch: epoch + 1,
      loss: (await lossSum.data())[0] / Math.max(1, seen),
      accuracy: (await correctSum.data())[0] / Math.max(1, seen),
      seconds: (performance.now() - start) / 1000,
      learningRate: lr,
    };
    tf.dispose([lossSum, correctSum]);
    history.push(info);
    await options.onEpoch?.(info, optimizer);
    if (options.shouldStop?.()) break;
  }
  if (!options.optimizer) optimizer.dispose();
  return history;
}

/** One optimizer step; returns the batch's mean loss and its count of correct predictions. */
function trainStep(model: tfl.LayersModel, optimizer: tf.Optimizer, vars: tf.Variable[], x: tf.Tensor, y: tf.Tensor1D, companion: tf.Tensor | undefined, loss: LossFn): [tf.Scalar, tf.Scalar] {
  return tf.tidy(() => {
    let correct: tf.Scalar | undefined;
    const forward = (t: tf.Tensor) => model.apply(t, { training: true }) as tf.Tensor2D;
    const { value, grads } = tf.variableGrads(() => {
      const logits = forward(x);
      correct = tf.keep(tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), y), 'float32')) as tf.Scalar);
      return loss(logits, x, y, { forward, companion });
    }, vars);
    optimizer.applyGradients(grads);
    return [value, correct!];
  });
}
