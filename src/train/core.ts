/**
 * The training core: what every training loop of advx shares — classifiers, text models, domain
 * adaptation, GANs — stated once.
 *
 * - Seeding: one generator per epoch (or per step), derived from the run's seed, so that a resumed
 *   run draws exactly the batches, masks and noise the uninterrupted one drew.
 * - The trainable variables of a LayersModel, the learning rate of any TF.js optimizer, and the
 *   disposal of an optimizer (with a TF.js leak mended).
 * - One divergence policy: the loss and the gradients' global norm are read back and checked
 *   *before* the update is applied; a non-finite one throws TrainingDivergedError and leaves the
 *   weights and the optimizer's state as they were after the last good update.
 * - A loss meter for the numbers each guarded update reads back anyway (loss, correct count).
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { AdvxError } from '../core/errors.ts';
import { Rng } from '../core/rng.ts';

/** Offsets of the independent streams a loop draws from in one epoch (e.g. DA's source and target batches). */
export const STREAM = { main: 0, target: 7919 } as const;

/** The generator of epoch `epoch` of a run seeded `seed` (stream: an independent second sequence). */
export function epochRng(seed: number, epoch: number, stream = 0): Rng {
  return new Rng(seed * 1000003 + epoch + stream);
}

/** The generator of step `step` of a step-counted run (GANs): the same for a resumed run. */
export function stepRng(seed: number, step: number): Rng {
  return new Rng((Math.imul(seed | 0, 0x9e3779b1) ^ Math.imul(step + 1, 0x85ebca77)) >>> 0);
}

/** The variables a LayersModel trains. */
export function trainableVariables(model: tfl.LayersModel): tf.Variable[] {
  return model.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val);
}

/** The variables a LayersModel's forward pass changes in training mode (batch norm's running statistics). */
export function statisticsVariables(model: tfl.LayersModel): tf.Variable[] {
  return model.nonTrainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val);
}

/** Changes an optimizer's learning rate: SGD-family optimizers keep it in a tensor, Adam in a field. */
export function setLearningRate(optimizer: tf.Optimizer, lr: number): void {
  const o = optimizer as unknown as { setLearningRate?: (lr: number) => void; learningRate: number };
  if (typeof o.setLearningRate === 'function') o.setLearningRate(lr);
  else o.learningRate = lr;
}

/** Disposes an optimizer. MomentumOptimizer.dispose() (TF.js 4.22) forgets the learning-rate scalar its SGD base keeps: it is freed too. */
export function disposeOptimizer(optimizer: tf.Optimizer): void {
  optimizer.dispose();
  (optimizer as unknown as { c?: tf.Tensor }).c?.dispose();
}

/** √(Σ‖g‖²) over all gradients. */
export function globalNorm(grads: tf.NamedTensorMap): tf.Scalar {
  return tf.tidy(() => tf.sqrt(tf.addN(Object.values(grads).map((g) => tf.sum(tf.square(g))))) as tf.Scalar);
}

/** Thrown when a loss or its gradient turns non-finite; the update was not applied. */
export class TrainingDivergedError extends AdvxError {
  constructor(
    /** The step (or epoch and step) where it happened, as the loop counts. */
    readonly step: number,
    /** What was being trained: "classifier", "discriminator", "generator", … */
    readonly part: string,
    readonly loss: number,
    readonly gradNorm: number,
  ) {
    super(`training diverged at step ${step}: the ${part}'s loss is ${loss} and its gradient norm ${gradNorm}; the update was not applied`);
    this.name = 'TrainingDivergedError';
  }
}

/** What a guarded update computes besides the loss: tensors kept out of its tidy scope (e.g. a count of correct predictions). */
export type Extras = tf.Tensor[];

/** Within a guarded update: keeps a tensor out of its scope (the caller disposes it). */
export type Keep = <T extends tf.Tensor>(t: T) => T;
/** Within a guarded update: reads a tensor back with the loss, in the same (single) read-back. */
export type Report = (t: tf.Tensor) => void;

/**
 * One optimizer step under the divergence policy: the gradients of `f` with respect to `vars`,
 * the loss and the gradients' global norm read back and checked, and only then applied. Returns
 * the loss, the norm, whatever `f` kept with `keep` (the caller disposes those), and the values
 * of what it passed to `report`, flattened in order: numbers a loop needs at every step (a
 * correct count) come back with the loss instead of costing a read-back of their own.
 */
export async function guardedUpdate(
  f: (keep: Keep, report: Report) => tf.Scalar,
  vars: tf.Variable[],
  optimizer: tf.Optimizer,
  where: { step: number; part: string; statistics?: tf.Variable[] },
): Promise<{ loss: number; gradNorm: number; kept: Extras; reported: Float32Array }> {
  // Batch normalisation moves its running statistics in the forward pass, before the check: a
  // refused step puts them back too, so that the whole model is as after the last good update.
  const saved = (where.statistics ?? []).map((v) => tf.clone(v));
  const putBack = () => where.statistics?.forEach((v, i) => v.assign(saved[i]));
  try {
    return await checkedUpdate(f, vars, optimizer, where, putBack);
  } finally {
    tf.dispose(saved);
  }
}

async function checkedUpdate(
  f: (keep: Keep, report: Report) => tf.Scalar,
  vars: tf.Variable[],
  optimizer: tf.Optimizer,
  where: { step: number; part: string },
  putBack: () => void,
): Promise<{ loss: number; gradNorm: number; kept: Extras; reported: Float32Array }> {
  const kept: Extras = [];
  const keep: Keep = (t) => {
    kept.push(tf.keep(t));
    return t;
  };
  // variableGrads runs f in a scope of its own: reported tensors must be kept to outlive it.
  const reports: tf.Tensor[] = [];
  const report: Report = (t) => void reports.push(tf.keep(t));
  let grads: tf.NamedTensorMap;
  let row: tf.Tensor1D;
  try {
    ({ grads, row } = tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() => f(keep, report), vars);
      const flat = reports.map((t) => tf.cast(tf.reshape(t, [-1]), 'float32'));
      return { grads, row: tf.concat([tf.stack([value, globalNorm(grads)]), ...flat]) as tf.Tensor1D };
    }));
  } catch (e) {
    tf.dispose(kept);
    putBack();
    throw e;
  } finally {
    tf.dispose(reports);
  }
  const values = (await row.data()) as Float32Array;
  row.dispose();
  const [loss, gradNorm] = values;
  if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) {
    tf.dispose([...Object.values(grads), ...kept]);
    putBack();
    throw new TrainingDivergedError(where.step, where.part, loss, gradNorm);
  }
  optimizer.applyGradients(grads);
  tf.dispose(Object.values(grads));
  return { loss, gradNorm, kept, reported: values.subarray(2) };
}

/**
 * Sums of per-example quantities (loss, correct predictions) over an epoch, weighted by batch
 * size. The sums are float32, as sums kept on the device are: a history is then the same, to the
 * bit, whether a loop sums its read-back losses here or (as advx's loops did before) on the device.
 */
export class LossMeter {
  private sums = new Map<string, number>();
  private count = 0;

  /** Adds a batch of `n` examples whose mean values are `means` (e.g. { loss: 0.3 }). */
  add(n: number, means: Record<string, number>): void {
    this.count += n;
    for (const [k, v] of Object.entries(means)) this.sums.set(k, Math.fround((this.sums.get(k) ?? 0) + Math.fround(v * n)));
  }

  /** The mean of `key` over the examples added so far (NaN before any). */
  mean(key: string): number {
    return this.count ? (this.sums.get(key) ?? 0) / this.count : NaN;
  }

  get examples(): number {
    return this.count;
  }
}
