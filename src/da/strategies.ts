/**
 * Alignment strategies: what each domain adaptation method adds to the source cross-entropy, one
 * entry per method (TLlib's one loss module per method). trainDann's loop draws the batches, runs
 * the extractor and the label head, and hands the features to the strategy; a new method (MDD,
 * JAN, …) is a new entry here, or a strategy passed as trainDann's `method`. No Node API here.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { assertOption } from '../core/errors.ts';
import { multilinearMap } from './cdan.ts';
import { coralLoss } from './coral.ts';
import { gradientReversal } from './gradient-reversal.ts';
import { mmdLoss } from './mmd.ts';

/** What a strategy sees of one step, inside the gradient tape. */
export interface AlignmentBatch {
  /** The extractor's features of the source images then the target images: [ns + nt, dim]. */
  features: tf.Tensor2D;
  /** The source rows and the target rows of `features`. */
  source: tf.Tensor2D;
  target: tf.Tensor2D;
  /** The label head's logits: of the source rows, or of all rows for a strategy with `targetLogits`. */
  logits: tf.Tensor2D;
  /** The alignment weight of this step (the schedule's ramp included). */
  lambda: number;
  /** The strategy's domain head, when it declares one. */
  domainHead?: tfl.LayersModel;
}

export interface Alignment {
  /** Added to the label loss and minimised (λ already applied). */
  objective: tf.Scalar;
  /** The alignment loss without its weight, reported as domainLoss. */
  loss: tf.Scalar;
  /** Correct domain predictions among the ns + nt rows, for a strategy with a domain head. */
  correct?: tf.Scalar;
}

export interface AlignmentStrategy {
  readonly name: string;
  /** The domain head trained with the extractor, sized from the feature size and the class count; none if absent. */
  readonly domainHead?: (featureDim: number, numClasses: number) => { inputs: number; outputs: number };
  /** Run the label head on the target rows too (CDAN conditions on the target's class probabilities). */
  readonly targetLogits?: boolean;
  /** Fewest source images the alignment needs (default 1); a smaller last batch trains on the labels alone. */
  readonly minBatch?: number;
  /** The alignment term of a step. Absent: the source-only baseline, which draws no target batches. */
  readonly align?: (batch: AlignmentBatch) => Alignment;
}

/** The domain head's logistic loss through gradient reversal (source rows 0, target rows 1): λ weighs the reversed gradient, not the loss. */
function adversarial(b: AlignmentBatch, input: tf.Tensor2D): Alignment {
  const [ns, nt] = [b.source.shape[0], b.target.shape[0]];
  const d = tf.reshape(b.domainHead!.apply(gradientReversal(input, b.lambda), { training: true }) as tf.Tensor, [ns + nt]);
  const domains = tf.concat([tf.zeros([ns]), tf.ones([nt])]);
  const loss = tf.losses.sigmoidCrossEntropy(domains, d) as tf.Scalar;
  const correct = tf.sum(tf.cast(tf.equal(tf.cast(tf.greater(d, 0), 'float32'), domains), 'float32')) as tf.Scalar;
  return { objective: loss, loss, correct };
}

/** A discrepancy between the two batches of features that the extractor minimises, weighted by λ. */
function discrepancy(measure: (source: tf.Tensor2D, target: tf.Tensor2D) => tf.Scalar): (b: AlignmentBatch) => Alignment {
  return (b) => {
    const loss = measure(b.source, b.target);
    return { objective: tf.mul(loss, b.lambda), loss };
  };
}

const oneLogit = (dim: number) => ({ inputs: dim, outputs: 1 });

export const ALIGNMENT_STRATEGIES = {
  'source-only': { name: 'source-only' },
  dann: { name: 'dann', domainHead: oneLogit, align: (b) => adversarial(b, b.features) },
  // The domain head reads classes × features.
  cdan: { name: 'cdan', domainHead: (dim, classes) => oneLogit(dim * classes), targetLogits: true, align: (b) => adversarial(b, multilinearMap(b.features, b.logits)) },
  // CORAL needs a covariance per domain; MMD keeps the same steps so the two compare.
  coral: { name: 'coral', minBatch: 2, align: discrepancy(coralLoss) },
  mmd: { name: 'mmd', minBatch: 2, align: discrepancy(mmdLoss) },
} satisfies Record<string, AlignmentStrategy>;

export type AdaptationMethod = keyof typeof ALIGNMENT_STRATEGIES;
export const ADAPTATION_METHODS = Object.keys(ALIGNMENT_STRATEGIES) as readonly AdaptationMethod[];

/** The registry's strategy of a method name; a strategy object passes through. */
export function alignmentStrategy(method: AdaptationMethod | AlignmentStrategy): AlignmentStrategy {
  if (typeof method !== 'string') return method;
  assertOption(ADAPTATION_METHODS.includes(method), `method must be one of ${ADAPTATION_METHODS.join(', ')}, got ${String(method)}`);
  return ALIGNMENT_STRATEGIES[method];
}
