/**
 * Projected Gradient Descent (Madry et al., 2018); with no random start and L∞ it is
 * I-FGSM / BIM (Kurakin et al., 2017).
 *   x⁰ = x + U(−ε, ε)                      (random start, optional)
 *   xᵏ⁺¹ = Π_{B(x,ε) ∩ bounds}(xᵏ + α · dir(∇x J(xᵏ, y)))   dir = sign (L∞) or g/‖g‖₂ (L2)
 * With restarts, each example keeps the first restart that succeeds (else the last).
 */
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../core/rng.ts';
import { perExample, type Norm } from '../core/norms.ts';
import type { Classifier } from '../models/classifier.ts';
import { lastIterate, projectedIterates } from './projected.ts';
import { checkAttackInputs, summarize, type AttackGoal, type AttackResult, type StepProgress } from './types.ts';
import { AdvxError } from '../core/errors.ts';

/** `onStep` counts restarts × steps; later restarts that are not needed are skipped over. */
export interface PgdOptions extends StepProgress {
  /** Radius ε of the ball around each input, in the norm `norm`. */
  eps: number;
  /** 'linf' (default) or 'l2'. */
  norm?: Norm;
  /** Iterations (default 40). */
  steps?: number;
  /** Step size α (default 2.5·ε/steps, as in Madry et al.). */
  stepSize?: number;
  /** Start from a uniform random point of the ball (default true); false: from the input. */
  randomStart?: boolean;
  /** Runs (default 1); each later one only on the examples not yet fooled. */
  restarts?: number;
  /** Seed of the random starts (default 0). */
  seed?: number;
}

/**
 * PGD (Madry et al.): `steps` steps along the loss gradient's sign (L∞) or direction (L2), from a
 * random point of the ε-ball (unless `randomStart` is false: BIM), each projected back onto the
 * ball and the classifier's bounds. Untargeted (`goal.labels` the true labels) or targeted
 * (`goal.targeted`: the labels are the targets). Each restart attacks again the examples that
 * no earlier one fooled. The caller disposes `result.adversarial`.
 */
export async function pgd(classifier: Classifier, x: tf.Tensor, goal: AttackGoal, options: PgdOptions): Promise<AttackResult> {
  const { eps, norm = 'linf', steps = 40, randomStart = true, restarts = 1, seed = 0 } = options;
  checkAttackInputs(classifier, x, goal, eps);
  if (!Number.isInteger(steps) || steps < 0) throw new AdvxError(`steps must be a non-negative integer, got ${steps}`);
  if (!Number.isInteger(restarts) || restarts < 1) throw new AdvxError(`restarts must be a positive integer, got ${restarts}`);
  const alpha = options.stepSize ?? (2.5 * eps) / Math.max(1, steps);
  const rng = new Rng(seed);
  const onStep = options.onStep;
  const total = steps * restarts;
  const restartStep = (r: number) => (onStep ? (k: number) => onStep(r * steps + k, total) : undefined);
  let best = pgdRun(classifier, x, goal, { eps, norm, steps, alpha, randomStart, seed: rng.seed(), onStep: restartStep(0) });
  let result = await summarize(classifier, x, best, goal, steps);
  for (let r = 1; r < restarts; r++) {
    // Later restarts attack only the examples that still resist: on an undefended model they cost
    // almost nothing, on a robust one they spend the time where it can change the answer.
    const open = result.success.flatMap((ok, i) => (ok ? [] : [i]));
    if (open.length === 0) break;
    const idx = tf.tensor1d(open, 'int32');
    const [xs, labels] = [tf.gather(x, idx), tf.gather(goal.labels, idx) as tf.Tensor1D];
    const adv = pgdRun(classifier, xs, { labels, targeted: goal.targeted }, { eps, norm, steps, alpha, randomStart, seed: rng.seed(), onStep: restartStep(r) });
    const keepOld = tf.tensor1d(result.success.map((ok) => (ok ? 1 : 0)));
    const merged = tf.tidy(() => {
      const placed = tf.scatterND(tf.reshape(idx, [-1, 1]), adv, best.shape);
      return tf.add(tf.mul(perExample(keepOld, x), best), placed);
    });
    tf.dispose([idx, xs, labels, adv, keepOld, best]);
    best = merged;
    result = await summarize(classifier, x, merged, goal, steps * (r + 1));
  }
  onStep?.(total, total);
  return result;
}

/** pgdRun's settings: those of PgdOptions, resolved (α given, one seed). */
export interface PgdRunOptions extends StepProgress {
  eps: number;
  norm: Norm;
  steps: number;
  alpha: number;
  randomStart: boolean;
  seed: number;
}

/** One PGD run; returns the adversarial batch. */
export function pgdRun(classifier: Classifier, x: tf.Tensor, goal: AttackGoal, o: PgdRunOptions): tf.Tensor {
  return lastIterate(projectedIterates(classifier, x, goal, { eps: o.eps, norm: o.norm, steps: o.steps, stepSize: o.alpha, randomStart: o.randomStart, seed: o.seed, onStep: o.onStep }));
}
