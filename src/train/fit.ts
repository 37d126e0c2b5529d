/**
 * The supervised training loop, one for image and text classifiers: seeded shuffling (and
 * augmentation), Adam, a per-epoch learning-rate decay, the core's divergence policy, and hooks
 * for progress and checkpoints. What differs between data kinds is how a batch is gathered; it is
 * a parameter of trainLoop. It holds no Node API: the CLI's hooks write files; the web lab's hooks draw.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { Rng } from '../core/rng.ts';
import { assertOption } from '../core/errors.ts';
import type { ImageDataset } from '../data/types.ts';
import { gatherBatch } from '../data/batch.ts';
import { LossMeter, disposeOptimizer, epochRng, guardedUpdate, setLearningRate, statisticsVariables, trainableVariables } from './core.ts';

// For the importers from before the core.
export { setLearningRate } from './core.ts';

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
  /** Calls onBatch every this many steps (and after an epoch's last). */
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

/** Adam with the given learning rate (TF.js's defaults otherwise), the optimizer the fit loop uses. */
export function createOptimizer(learningRate: number): tf.AdamOptimizer {
  return tf.train.adam(learningRate);
}

/** Softmax cross-entropy from integer labels, averaged over the batch. */
export function crossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => tf.losses.softmaxCrossEntropy(tf.oneHot(labels, logits.shape[1]), logits) as tf.Scalar);
}

/** Trains an image classifier: trainLoop on batches of `data`, each image shifted by up to `shift` pixels. */
export function fitClassifier(model: tfl.LayersModel, data: ImageDataset, options: FitOptions): Promise<EpochInfo[]> {
  return trainLoop(model, { ...options, count: data.count, gather: (idx, rng) => gatherBatch(data, idx, rng, options.shift ?? 0) });
}

/** What the loop needs of a batch: inputs and integer labels (images, token ids, …). */
export interface Batch {
  x: tf.Tensor;
  y: tf.Tensor1D;
}

/** trainLoop's options: those of fitClassifier but the image augmentation, and how a batch is made. */
export interface LoopOptions<B extends Batch> extends Omit<FitOptions, 'shift'> {
  /** Training examples; each epoch visits all of them, in an order drawn from its generator. */
  count: number;
  /**
   * Makes the batch of examples `idx` (the loop disposes its x and y). It may draw from the
   * epoch's `rng` (augmentation): before the step's dropout seeds, `perturb` and `companion`.
   */
  gather: (idx: Int32Array, rng: Rng) => B;
  /** The model's training-mode logits on a batch, on the gradient tape (default: the model on batch.x). */
  logits?: (batch: B) => tf.Tensor2D;
  /** What is trained, as a TrainingDivergedError names it (default "classifier"). */
  part?: string;
}

/**
 * The epoch/batch loop: one generator per epoch (so a resumed run sees exactly the batches it
 * would have seen), the learning rate of the epoch, a dropout seed per step, and each update
 * through the core's guardedUpdate: a non-finite loss or gradient throws TrainingDivergedError
 * with the weights and optimizer state of the last good step.
 */
export async function trainLoop<B extends Batch>(model: tfl.LayersModel, options: LoopOptions<B>): Promise<EpochInfo[]> {
  const { epochs, batchSize, seed, count } = options;
  assertOption(Number.isInteger(epochs) && epochs >= 0, `epochs must be a non-negative integer, got ${epochs}`);
  assertOption(Number.isInteger(batchSize) && batchSize > 0, `batch size must be a positive integer, got ${batchSize}`);
  assertOption(options.learningRate > 0, `learning rate must be positive, got ${options.learningRate}`);
  assertOption(count > 0, 'the training set is empty');
  assertOption(!(options.perturb && options.companion), 'fitClassifier takes perturb or companion, not both');
  const optimizer = options.optimizer ?? createOptimizer(options.learningRate);
  const stepsPerEpoch = Math.ceil(count / batchSize);
  const logEvery = options.logEvery ?? 10;
  const part = options.part ?? 'classifier';
  const loss = options.loss ?? ((logits, _x, y) => crossEntropy(logits, y));
  const forward = (t: tf.Tensor) => model.apply(t, { training: true }) as tf.Tensor2D;
  const logits = options.logits ?? ((batch: B) => forward(batch.x));
  const history: EpochInfo[] = [];
  const vars = trainableVariables(model);
  const statistics = statisticsVariables(model);
  const dropouts = model.layers.filter((l) => l.getClassName() === 'Dropout') as unknown as Array<{ seed?: number }>;
  try {
    for (let epoch = options.startEpoch ?? 0; epoch < epochs; epoch++) {
      const rng = epochRng(seed, epoch);
      const order = rng.permutation(count);
      const lr = options.learningRate * (options.lrDecay ?? 1) ** epoch;
      setLearningRate(optimizer, lr);
      const start = performance.now();
      const meter = new LossMeter();
      for (let step = 0; step < stepsPerEpoch; step++) {
        const idx = order.subarray(step * batchSize, Math.min(count, (step + 1) * batchSize));
        const batch = options.gather(idx, rng);
        let companion: tf.Tensor | undefined;
        try {
          // A Dropout layer with a fixed seed draws the same mask at every step, and one without a
          // seed is not repeatable: give each step its own seed from the run's generator.
          for (const d of dropouts) d.seed = rng.seed();
          if (options.perturb) {
            const adversarial = options.perturb(batch.x, batch.y, rng.seed(), epoch + step / stepsPerEpoch);
            batch.x.dispose();
            batch.x = adversarial;
          }
          companion = options.companion?.(batch.x, batch.y, rng.seed(), epoch + step / stepsPerEpoch);
          const done = await guardedUpdate(
            (_keep, report) => {
              const z = logits(batch);
              report(tf.sum(tf.cast(tf.equal(tf.argMax(z, 1), batch.y), 'float32')));
              return loss(z, batch.x, batch.y, { forward, companion });
            },
            vars,
            optimizer,
            { step: epoch * stepsPerEpoch + step + 1, part, statistics },
          );
          meter.add(idx.length, { loss: done.loss, accuracy: done.reported[0] / idx.length });
        } finally {
          tf.dispose([batch.x, batch.y, ...(companion ? [companion] : [])]);
        }
        if (options.onBatch && ((step + 1) % logEvery === 0 || step === stepsPerEpoch - 1)) {
          options.onBatch({ epoch, step: step + 1, stepsPerEpoch, loss: meter.mean('loss'), accuracy: meter.mean('accuracy') });
        }
        if (options.shouldStop?.()) break;
      }
      const info: EpochInfo = { epoch: epoch + 1, loss: meter.mean('loss'), accuracy: meter.mean('accuracy'), seconds: (performance.now() - start) / 1000, learningRate: lr };
      history.push(info);
      await options.onEpoch?.(info, optimizer);
      if (options.shouldStop?.()) break;
    }
  } finally {
    if (!options.optimizer) disposeOptimizer(optimizer);
  }
  return history;
}
