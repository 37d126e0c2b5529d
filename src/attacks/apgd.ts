/**
 * APGD-CE (Croce & Hein, 2020, Algorithm 1): the step-size-free PGD of AutoAttack.
 *   x⁽⁰⁾ = random start in B(x, ε),  η = 2ε,  P = projection onto B(x, ε) ∩ bounds
 *   z⁽ᵏ⁺¹⁾ = P(x⁽ᵏ⁾ + η · dir(∇f(x⁽ᵏ⁾)))                       dir = sign (L∞) or g/‖g‖₂ (L2)
 *   x⁽ᵏ⁺¹⁾ = P(x⁽ᵏ⁾ + α(z⁽ᵏ⁺¹⁾ − x⁽ᵏ⁾) + (1 − α)(x⁽ᵏ⁾ − x⁽ᵏ⁻¹⁾))   α = 0.75 (1 on the first step)
 * At checkpoints wⱼ = ⌈pⱼN⌉ (p₀ = 0, p₁ = 0.22, pⱼ₊₁ = pⱼ + max(pⱼ − pⱼ₋₁ − 0.03, 0.06)) each
 * example halves η and restarts from its best point x_max when
 *   (1) f rose on fewer than ρ = 0.75 of the steps since the last checkpoint, or
 *   (2) η was not halved at the last checkpoint and f_max has not improved since.
 * f is the cross-entropy of the true label; targeted, minus the cross-entropy of the target
 * (a CE-targeted APGD, not the paper's APGD-T, which uses the targeted DLR loss).
 * Each example returns its first point that meets the goal, else its highest-loss point.
 */
import * as tf from '@tensorflow/tfjs-core';
import { AdvxError } from '../core/errors.ts';
import { Rng } from '../core/rng.ts';
import { clipToBounds, normalizeGradient, perExample, projectBall, type Norm } from '../core/norms.ts';
import type { Classifier } from '../models/classifier.ts';
import { checkAttackInputs, summarize, type AttackGoal, type AttackResult } from './types.ts';

export interface ApgdOptions {
  eps: number;
  norm?: Norm;
  /** Iterations N (default 100, as in AutoAttack). */
  steps?: number;
  /** Independent runs from new random starts; an example keeps the first that succeeds (default 1). */
  restarts?: number;
  randomStart?: boolean;
  seed?: number;
}

const ALPHA = 0.75;
const RHO = 0.75;

/** The iterations after which APGD checks its progress: wⱼ = ⌈pⱼN⌉ for j ≥ 1. */
export function apgdCheckpoints(steps: number): number[] {
  const p = [0, 0.22];
  while (p[p.length - 1] < 1) p.push(p[p.length - 1] + Math.max(p[p.length - 1] - p[p.length - 2] - 0.03, 0.06));
  // − 1e-9: in floating point 0.22 + 0.19 + 0.16 is 0.5700…01, whose ceiling would be 58, not 57.
  return [...new Set(p.slice(1).map((pj) => Math.ceil(pj * steps - 1e-9)).filter((w) => w > 0 && w <= steps))];
}

export async function apgd(classifier: Classifier, x: tf.Tensor, goal: AttackGoal, options: ApgdOptions): Promise<AttackResult> {
  const { eps, norm = 'linf', steps = 100, restarts = 1, randomStart = true, seed = 0 } = options;
  checkAttackInputs(classifier, x, goal, eps);
  if (norm !== 'linf' && norm !== 'l2') throw new AdvxError(`norm must be linf or l2, got "${norm}"`);
  if (!Number.isInteger(steps) || steps < 1) throw new AdvxError(`steps must be a positive integer, got ${steps}`);
  if (!Number.isInteger(restarts) || restarts < 1) throw new AdvxError(`restarts must be a positive integer, got ${restarts}`);
  const rng = new Rng(seed);
  let best: tf.Tensor | undefined;
  let found: tf.Tensor | undefined;
  for (let r = 0; r < restarts; r++) {
    const run = apgdRun(classifier, x, goal, { eps, norm, steps, randomStart, seed: rng.seed() });
    if (!best || !found) {
      [best, found] = [run.adversarial, run.found];
      continue;
    }
    // Keep each example's earlier success, else take this run.
    const merged = tf.tidy(() => [tf.where(perExample(found as tf.Tensor1D, x), best!, run.adversarial), tf.logicalOr(found!, run.found)]);
    tf.dispose([best, found, run.adversarial, run.found]);
    [best, found] = merged;
  }
  found!.dispose();
  return summarize(classifier, x, best!, goal, steps * restarts);
}

interface RunOptions {
  eps: number;
  norm: Norm;
  steps: number;
  randomStart: boolean;
  seed: number;
}

/** One APGD run: per example, the first point that met the goal, else the highest-loss point. */
function apgdRun(classifier: Classifier, x: tf.Tensor, goal: AttackGoal, o: RunOptions): { adversarial: tf.Tensor; found: tf.Tensor } {
  const bounds = classifier.info.bounds;
  const n = x.shape[0];
  const project = (v: tf.Tensor) => clipToBounds(tf.add(x, projectBall(tf.sub(v, x), o.norm, o.eps)), bounds);
  const each = (mask: tf.Tensor) => perExample(mask as tf.Tensor1D, x);

  /** f per example, whether the goal is met, and ∇f (skipped after the last step, where no step follows). */
  const evaluate = (point: tf.Tensor, withGrad: boolean) =>
    tf.tidy(() => {
      let seen: tf.Tensor[] = [];
      const f = (input: tf.Tensor) => {
        const logits = classifier.logits(input);
        const ce = tf.losses.softmaxCrossEntropy(tf.oneHot(goal.labels, logits.shape[1]), logits, undefined, 0, tf.Reduction.NONE);
        const loss = goal.targeted ? tf.neg(ce) : ce;
        // The gradient's forward pass also hands out the losses and predictions it computed.
        seen = [tf.keep(loss), tf.keep(tf.argMax(logits, 1))];
        return tf.sum(loss);
      };
      let grad: tf.Tensor;
      if (withGrad) grad = tf.valueAndGrad(f)(point).grad;
      else {
        f(point);
        grad = tf.zerosLike(point);
      }
      const [loss, pred] = seen;
      const met = goal.targeted ? tf.equal(pred, goal.labels) : tf.notEqual(pred, goal.labels);
      // Hand the kept tensors back to this tidy, which disposes them at its end.
      const out = { loss: tf.clone(loss), met, grad };
      tf.dispose(seen);
      return out;
    });

  const x0 = tf.tidy(() => {
    if (!o.randomStart || o.eps === 0) return tf.clone(x);
    const noise = o.norm === 'linf' ? tf.randomUniform(x.shape, -o.eps, o.eps, 'float32', o.seed) : tf.mul(o.eps, normalizeGradient(tf.randomNormal(x.shape, 0, 1, 'float32', o.seed), 'l2'));
    return clipToBounds(tf.add(x, noise), bounds);
  });
  const start = evaluate(x0, true);
  // Per-example state: step size η, loss now and best, the best point and its gradient, the first success.
  let s = {
    xk: x0,
    xPrev: tf.clone(x0),
    grad: start.grad,
    f: start.loss,
    eta: tf.fill([n], 2 * o.eps),
    fMax: tf.clone(start.loss),
    xMax: tf.clone(x0),
    gradMax: tf.clone(start.grad),
    found: start.met,
    xFound: tf.clone(x0),
    rises: tf.zeros([n]),
    halvedLast: tf.zeros([n], 'bool'),
    fMaxLast: tf.clone(start.loss),
  };
  const checkpoints = apgdCheckpoints(o.steps);
  let lastCheckpoint = 0;
  for (let k = 0; k < o.steps; k++) {
    const next = tf.tidy(() => {
      const a = k === 0 ? 1 : ALPHA;
      const step = tf.mul(each(s.eta), normalizeGradient(s.grad, o.norm));
      const z = project(tf.add(s.xk, step));
      // Momentum: a step toward z plus a share of the previous move.
      const xk = project(tf.add(tf.add(s.xk, tf.mul(a, tf.sub(z, s.xk))), tf.mul(1 - a, tf.sub(s.xk, s.xPrev))));
      const e = evaluate(xk, k < o.steps - 1);
      const improved = tf.greater(e.loss, s.fMax);
      const firstHit = tf.logicalAnd(e.met, tf.logicalNot(s.found));
      let t = {
        ...s,
        xk,
        xPrev: s.xk,
        grad: e.grad,
        f: e.loss,
        fMax: tf.where(improved, e.loss, s.fMax),
        xMax: tf.where(each(improved), xk, s.xMax),
        gradMax: tf.where(each(improved), e.grad, s.gradMax),
        found: tf.logicalOr(s.found, e.met),
        xFound: tf.where(each(firstHit), xk, s.xFound),
        rises: tf.add(s.rises, tf.cast(tf.greater(e.loss, s.f), 'float32')),
      };
      if (checkpoints.includes(k + 1)) {
        const since = k + 1 - lastCheckpoint;
        const oscillating = tf.less(t.rises, RHO * since); // condition (1)
        const stalled = tf.logicalAnd(tf.logicalNot(s.halvedLast), tf.lessEqual(t.fMax, s.fMaxLast)); // condition (2)
        const halve = tf.logicalOr(oscillating, stalled);
        t = {
          ...t,
          eta: tf.where(halve, tf.div(s.eta, 2), s.eta),
          xk: tf.where(each(halve), t.xMax, t.xk),
          grad: tf.where(each(halve), t.gradMax, t.grad),
          rises: tf.zeros([n]),
          halvedLast: halve,
          fMaxLast: tf.clone(t.fMax),
        };
      }
      return t;
    });
    if (checkpoints.includes(k + 1)) lastCheckpoint = k + 1;
    // Dispose what the new state no longer holds.
    const keep = new Set(Object.values(next).map((t) => t.id));
    tf.dispose(Object.values(s).filter((t) => !keep.has(t.id)));
    s = next;
  }
  const adversarial = tf.tidy(() => tf.where(each(s.found), s.xFound, s.xMax));
  const found = s.found;
  tf.dispose(Object.values(s).filter((t) => t !== found));
  return { adversarial, found };
}
