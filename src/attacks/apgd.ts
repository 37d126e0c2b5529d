/**
 * APGD (Croce & Hein, 2020, Algorithm 1): the step-size-free PGD of AutoAttack.
 *   x⁽⁰⁾ = random start in B(x, ε),  η = 2ε,  P = projection onto B(x, ε) ∩ bounds
 *   z⁽ᵏ⁺¹⁾ = P(x⁽ᵏ⁾ + η · dir(∇f(x⁽ᵏ⁾)))                       dir = sign (L∞) or g/‖g‖₂ (L2)
 *   x⁽ᵏ⁺¹⁾ = P(x⁽ᵏ⁾ + α(z⁽ᵏ⁺¹⁾ − x⁽ᵏ⁾) + (1 − α)(x⁽ᵏ⁾ − x⁽ᵏ⁻¹⁾))   α = 0.75 (1 on the first step)
 * At checkpoints wⱼ = ⌈pⱼN⌉ (p₀ = 0, p₁ = 0.22, pⱼ₊₁ = pⱼ + max(pⱼ − pⱼ₋₁ − 0.03, 0.06)) each
 * example halves η and restarts from its best point x_max when
 *   (1) f rose on fewer than ρ = 0.75 of the steps since the last checkpoint, or
 *   (2) η was not halved at the last checkpoint and f_max has not improved since.
 * Losses f, per example, for logits z, true label y, π the classes sorted by z descending:
 *   CE                 −log softmax(z)_y; targeted goal t: +log softmax(z)_t (a CE-targeted APGD)
 *   DLR                −(z_y − max_{i≠y} z_i) / (z_π1 − z_π3 + 10⁻¹²)             (≥ 3 classes)
 *   targeted DLR to t  −(z_y − z_t) / (z_π1 − (z_π3 + z_π4)/2 + 10⁻¹²)             (≥ 4 classes)
 * DLR is invariant to shifting and scaling the logits, so it still has a gradient where the
 * softmax saturates and the CE gradient underflows to zero.
 * APGD-T (apgdTargeted): for each of the top-K classes t by clean logits (y excluded, K ≤ C − 1),
 * APGD on the targeted DLR toward t, on the examples still correctly classified; success is
 * misclassification (the untargeted criterion), and each example keeps its first success.
 * EOT: ∇f is the mean over eotIter forward/backward passes (for randomised models).
 * Each example returns its first point that meets the goal, else its highest-loss point.
 */
import * as tf from '@tensorflow/tfjs-core';
import { AdvxError } from '../core/errors.ts';
import { Rng } from '../core/rng.ts';
import { clipToBounds, normalizeGradient, perExample, projectToFeasible, type Norm } from '../core/norms.ts';
import type { Classifier } from '../models/classifier.ts';
import { checkAttackInputs, summarize, type AttackGoal, type AttackResult, type StepProgress } from './types.ts';

export type ApgdLoss = 'ce' | 'dlr';

/** `onStep` counts restarts × steps (APGD-T: × targets); runs not needed are skipped over. */
export interface ApgdOptions extends StepProgress {
  eps: number;
  norm?: Norm;
  /** Iterations N (default 100, as in AutoAttack). */
  steps?: number;
  /** Independent runs from new random starts; an example keeps the first that succeeds (default 1). */
  restarts?: number;
  randomStart?: boolean;
  seed?: number;
  /** The loss f (default 'ce'). 'dlr' is untargeted only: a targeted goal is refused. */
  loss?: ApgdLoss;
  /** Gradients averaged over this many forward/backward passes (default 1; AutoAttack's "rand" uses 20). */
  eotIter?: number;
}

export interface ApgdTargetedOptions extends Omit<ApgdOptions, 'loss'> {
  /** How many of the top classes (the true one excluded) to try as targets (default 9; capped at C − 1). */
  targets?: number;
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

/** z[i, idx[i]] per row, differentiable in z. */
function pick(z: tf.Tensor2D, idx: tf.Tensor1D): tf.Tensor1D {
  return tf.sum(tf.mul(z, tf.oneHot(idx, z.shape[1])), 1) as tf.Tensor1D;
}

/**
 * The k largest logits of each row, largest first, differentiable in z (the gradient reaches the
 * chosen entries, as through PyTorch's sort). Not tf.topk: it has no gradient in TF.js, and the
 * tape refuses any op without one on the path from x to the loss, even one that only picks indices.
 */
function largest(z: tf.Tensor2D, k: number): tf.Tensor1D[] {
  const out: tf.Tensor1D[] = [];
  const minusInf = tf.fill(z.shape, -Infinity);
  let rest: tf.Tensor = z;
  for (let i = 0; i < k; i++) {
    const idx = tf.argMax(rest, 1) as tf.Tensor1D;
    out.push(pick(z, idx));
    rest = tf.where(tf.cast(tf.oneHot(idx, z.shape[1]), 'bool'), minusInf, rest);
  }
  return out;
}

/** DLR (untargeted) per example: −(z_y − max_{i≠y} z_i) / (z_π1 − z_π3 + 10⁻¹²). */
export function dlrLoss(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Tensor1D {
  if (logits.shape[1] < 3) throw new AdvxError(`the DLR loss needs at least 3 classes, got ${logits.shape[1]}`);
  return tf.tidy(() => {
    const zy = pick(logits, labels);
    const notY = tf.where(tf.cast(tf.oneHot(labels, logits.shape[1]), 'bool'), tf.fill(logits.shape, -Infinity), logits);
    const other = pick(logits, tf.argMax(notY, 1) as tf.Tensor1D);
    const [z1, , z3] = largest(logits, 3);
    return tf.neg(tf.div(tf.sub(zy, other), tf.add(tf.sub(z1, z3), 1e-12))) as tf.Tensor1D;
  });
}

/** Targeted DLR per example, toward `targets` from `labels`: −(z_y − z_t) / (z_π1 − (z_π3 + z_π4)/2 + 10⁻¹²). */
export function dlrLossTargeted(logits: tf.Tensor2D, labels: tf.Tensor1D, targets: tf.Tensor1D): tf.Tensor1D {
  if (logits.shape[1] < 4) throw new AdvxError(`the targeted DLR loss needs at least 4 classes, got ${logits.shape[1]}`);
  return tf.tidy(() => {
    const [z1, , z3, z4] = largest(logits, 4);
    const scale = tf.add(tf.sub(z1, tf.mul(0.5, tf.add(z3, z4))), 1e-12);
    return tf.neg(tf.div(tf.sub(pick(logits, labels), pick(logits, targets)), scale)) as tf.Tensor1D;
  });
}

/** A per-example loss of the logits, which APGD ascends. */
export type LogitLoss = (logits: tf.Tensor2D) => tf.Tensor1D;

/**
 * The loss and its gradient as APGD uses them: both the mean over `eotIter` forward/backward
 * passes (EOT; for a deterministic model every pass is the same), and the last pass's predicted
 * labels, as AutoAttack takes them. Without `withGrad` only the forward passes, and grad is zero.
 */
export function averagedGradient(classifier: Classifier, x: tf.Tensor, loss: LogitLoss, eotIter = 1, withGrad = true): { loss: tf.Tensor1D; grad: tf.Tensor; pred: tf.Tensor1D } {
  return tf.tidy(() => {
    let seen: tf.Tensor[] = [];
    const f = (input: tf.Tensor) => {
      const logits = classifier.logits(input);
      const l = loss(logits);
      // The gradient's forward pass also hands out the losses and predictions it computed.
      seen = [tf.keep(l), tf.keep(tf.argMax(logits, 1))];
      return tf.sum(l);
    };
    let lossSum: tf.Tensor = tf.zeros([x.shape[0]]);
    let gradSum: tf.Tensor = tf.zerosLike(x);
    let pred: tf.Tensor = tf.zeros([x.shape[0]], 'int32');
    for (let i = 0; i < eotIter; i++) {
      if (withGrad) gradSum = tf.add(gradSum, tf.grad(f)(x));
      else f(x);
      // Hand the kept tensors back to this tidy, which disposes them at its end.
      lossSum = tf.add(lossSum, seen[0]);
      pred = tf.clone(seen[1]);
      tf.dispose(seen);
    }
    return { loss: tf.div(lossSum, eotIter) as tf.Tensor1D, grad: tf.div(gradSum, eotIter), pred: pred as tf.Tensor1D };
  });
}

interface Checked {
  eps: number;
  norm: Norm;
  steps: number;
  restarts: number;
  randomStart: boolean;
  seed: number;
  eotIter: number;
}

function checkOptions(options: ApgdOptions): Checked {
  const { eps, norm = 'linf', steps = 100, restarts = 1, randomStart = true, seed = 0, eotIter = 1 } = options;
  if (norm !== 'linf' && norm !== 'l2') throw new AdvxError(`norm must be linf or l2, got "${norm}"`);
  if (!Number.isInteger(steps) || steps < 1) throw new AdvxError(`steps must be a positive integer, got ${steps}`);
  if (!Number.isInteger(restarts) || restarts < 1) throw new AdvxError(`restarts must be a positive integer, got ${restarts}`);
  if (!Number.isInteger(eotIter) || eotIter < 1) throw new AdvxError(`eotIter must be a positive integer, got ${eotIter}`);
  return { eps, norm, steps, restarts, randomStart, seed, eotIter };
}

/**
 * APGD (Croce & Hein, AutoAttack): PGD with momentum whose step size starts at 2ε and is halved
 * at checkpoints where the loss stopped improving; the cross-entropy (`loss: 'ce'`, untargeted or
 * targeted) or the DLR loss (`'dlr'`, untargeted, 3 classes or more). Each example keeps its first
 * point that meets the goal, else its highest-loss one. The caller disposes `result.adversarial`.
 */
export async function apgd(classifier: Classifier, x: tf.Tensor, goal: AttackGoal, options: ApgdOptions): Promise<AttackResult> {
  checkAttackInputs(classifier, x, goal, options.eps);
  const o = checkOptions(options);
  const { loss = 'ce' } = options;
  if (loss !== 'ce' && loss !== 'dlr') throw new AdvxError(`loss must be ce or dlr, got "${loss}"`);
  // AutoAttack's targeted DLR measures z_t against the true class z_y, which a targeted goal
  // (target labels only) does not give; a DLR of our own for it would be no paper's attack.
  if (loss === 'dlr' && goal.targeted) throw new AdvxError('the DLR loss is untargeted: use loss "ce" for a targeted goal, or apgdTargeted (APGD-T) to try targets');
  if (loss === 'dlr' && classifier.info.numClasses < 3) throw new AdvxError(`the DLR loss needs at least 3 classes, the classifier has ${classifier.info.numClasses}`);
  const f: LogitLoss =
    loss === 'dlr'
      ? (z) => dlrLoss(z, goal.labels)
      : (z) => {
          const ce = tf.losses.softmaxCrossEntropy(tf.oneHot(goal.labels, z.shape[1]), z, undefined, 0, tf.Reduction.NONE) as tf.Tensor1D;
          return goal.targeted ? tf.neg(ce) : ce;
        };
  const rng = new Rng(o.seed);
  let best: tf.Tensor | undefined;
  let found: tf.Tensor | undefined;
  const onStep = options.onStep;
  const total = o.steps * o.restarts;
  for (let r = 0; r < o.restarts; r++) {
    const run = apgdRun(classifier, x, goal, f, { ...o, seed: rng.seed(), onStep: onStep && ((k) => onStep(r * o.steps + k, total)) });
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
  onStep?.(total, total);
  return summarize(classifier, x, best!, goal, o.steps * o.restarts * o.eotIter);
}

/**
 * AutoAttack's APGD-T: APGD on the targeted DLR loss toward each of the top `targets` classes
 * of the clean logits in turn (the true class excluded), each run on the examples not yet
 * misclassified. `goal` is untargeted (the true labels): success is misclassification. An example
 * misclassified from the start keeps its clean input, as does one that no run fooled.
 * `iterations` counts the gradient evaluations of an example attacked by every run.
 */
export async function apgdTargeted(classifier: Classifier, x: tf.Tensor, goal: AttackGoal, options: ApgdTargetedOptions): Promise<AttackResult> {
  checkAttackInputs(classifier, x, goal, options.eps);
  if (goal.targeted) throw new AdvxError('apgdTargeted (APGD-T) is untargeted, it picks its own targets: pass the true labels with targeted false');
  const o = checkOptions(options);
  const numClasses = classifier.info.numClasses;
  if (numClasses < 4) throw new AdvxError(`APGD-T's targeted DLR loss needs at least 4 classes, the classifier has ${numClasses}`);
  const { targets = 9 } = options;
  if (!Number.isInteger(targets) || targets < 1) throw new AdvxError(`targets must be a positive integer, got ${targets}`);
  const k = Math.min(targets, numClasses - 1);
  const n = x.shape[0];

  // The targets, per example: the classes by clean logit, largest first, the true one excluded.
  const [order, clean] = tf.tidy(() => {
    const z = classifier.logits(x);
    const notY = tf.where(tf.cast(tf.oneHot(goal.labels, numClasses), 'bool'), tf.fill(z.shape, -Infinity), z);
    return [tf.topk(notY, k).indices, tf.argMax(z, 1)];
  });
  const [targetOf, cleanPred, labels] = [(await order.array()) as number[][], await clean.data(), await goal.labels.data()];
  tf.dispose([order, clean]);
  const fooled = Array.from(cleanPred, (p, i) => p !== labels[i]);

  const rng = new Rng(o.seed);
  let adversarial = tf.clone(x);
  let runs = 0;
  const onStep = options.onStep;
  const total = k * o.restarts * o.steps;
  for (let j = 0; j < k; j++) {
    for (let r = 0; r < o.restarts; r++) {
      const left = fooled.flatMap((f, i) => (f ? [] : [i]));
      if (left.length === 0) break;
      runs++;
      const idx = tf.tensor1d(left, 'int32');
      const xs = tf.gather(x, idx);
      const ys = tf.gather(goal.labels, idx) as tf.Tensor1D;
      const ts = tf.tensor1d(left.map((i) => targetOf[i][j]), 'int32');
      const run = apgdRun(classifier, xs, { labels: ys }, (z) => dlrLossTargeted(z, ys, ts), { ...o, seed: rng.seed(), onStep: onStep && ((step) => onStep((j * o.restarts + r) * o.steps + step, total)) });
      const found = await run.found.data();
      left.forEach((i, m) => {
        if (found[m]) fooled[i] = true;
      });
      // Write the new successes back into the batch; every other example keeps what it had.
      const next = tf.tidy(() => {
        const placed = tf.scatterND(tf.reshape(idx, [-1, 1]), run.adversarial, x.shape);
        const mask = tf.scatterND(tf.reshape(idx, [-1, 1]), tf.cast(run.found, 'int32'), [n]);
        return tf.where(perExample(tf.cast(mask, 'bool') as tf.Tensor1D, x), placed, adversarial);
      });
      tf.dispose([adversarial, idx, xs, ys, ts, run.adversarial, run.found]);
      adversarial = next;
    }
  }
  onStep?.(total, total);
  return summarize(classifier, x, adversarial, { labels: goal.labels }, runs * o.steps * o.eotIter);
}

/** One APGD run of the loss `f`: per example, the first point that met the goal, else the highest-loss point. */
function apgdRun(classifier: Classifier, x: tf.Tensor, goal: AttackGoal, f: LogitLoss, o: Omit<Checked, 'restarts'> & { onStep?: (step: number) => void }): { adversarial: tf.Tensor; found: tf.Tensor } {
  const bounds = classifier.info.bounds;
  const n = x.shape[0];
  const project = (v: tf.Tensor) => projectToFeasible(x, v, o.norm, o.eps, bounds);
  const each = (mask: tf.Tensor) => perExample(mask as tf.Tensor1D, x);

  /** f per example, whether the goal is met, and ∇f (skipped after the last step, where no step follows). */
  const evaluate = (point: tf.Tensor, withGrad: boolean) =>
    tf.tidy(() => {
      const { loss, grad, pred } = averagedGradient(classifier, point, f, o.eotIter, withGrad);
      const met = goal.targeted ? tf.equal(pred, goal.labels) : tf.notEqual(pred, goal.labels);
      return { loss, met, grad };
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
    o.onStep?.(k + 1);
  }
  const adversarial = tf.tidy(() => tf.where(each(s.found), s.xFound, s.xMax));
  const found = s.found;
  tf.dispose(Object.values(s).filter((t) => t !== found));
  return { adversarial, found };
}
