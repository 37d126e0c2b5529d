/**
 * FAB, the Fast Adaptive Boundary attack (Croce & Hein, ICML 2020, Algorithm 1), L∞ and L2, and
 * FAB-T, AutoAttack's targeted variant. A minimal-norm attack: it returns, per example, the
 * smallest adversarial perturbation it found, whatever its size.
 *   x⁽⁰⁾ = x (restart r > 0: x + (ε/2)·u/‖u‖_p, u uniform in [−1, 1]ᴰ (L∞) or Gaussian (L2), clipped)
 *   for i = 0 … steps − 1:
 *     linearise at x⁽ⁱ⁾ the decision boundary between two classes s and r:
 *       f′ = f_s(x⁽ⁱ⁾) − f_r(x⁽ⁱ⁾),  w′ = ∇f_s(x⁽ⁱ⁾) − ∇f_r(x⁽ⁱ⁾),  π = { z : w′·(z − x⁽ⁱ⁾) + f′ = 0 }
 *       untargeted: r = y, s = argmin_{k≠y} |fₖ − f_y| / ‖∇fₖ − ∇f_y‖_q    (q: the dual norm, 1 for L∞, 2 for L2)
 *       FAB-T:      r = y, s = t                      (the reference's targeted FAB)
 *       targeted:   r = argmax_{k≠t} fₖ(x⁽ⁱ⁾), s = t   (t against its strongest rival at x⁽ⁱ⁾)
 *     δ⁽ⁱ⁾ = proj_p(x⁽ⁱ⁾, π, C) − x⁽ⁱ⁾,  δ_orig = proj_p(x, π, C) − x            (C: the input box)
 *       proj_p(z, π, C) = argmin_{v ∈ C ∩ π} ‖v − z‖_p, computed exactly (see fabProjection);
 *       where C ∩ π is empty, the corner of C nearest to π
 *     α = min(‖δ⁽ⁱ⁾‖_p / (‖δ⁽ⁱ⁾‖_p + ‖δ_orig‖_p), α_max)
 *     x⁽ⁱ⁺¹⁾ = clip_C((1 − α)(x⁽ⁱ⁾ + η δ⁽ⁱ⁾) + α(x + η δ_orig))          (biased extrapolation step)
 *     if x⁽ⁱ⁺¹⁾ meets the goal: keep it if ‖x⁽ⁱ⁺¹⁾ − x‖_p is the smallest so far, then
 *       x⁽ⁱ⁺¹⁾ = x + β(x⁽ⁱ⁺¹⁾ − x)                                          (backward step)
 * α_max = 0.1, η = 1.05, β = 0.9. The α term mixes in x's own projection, which keeps the
 * iterate close to x instead of letting it drift along the boundary; the backward step lets the
 * next steps approach the boundary again from nearer to x.
 *
 * FAB-T (AutoAttack): for each of the top-`targets` classes t of the clean logits other than y,
 * run targeted FAB (the hyperplane f_t − f_y, as above) on the examples not yet done; its success
 * test is untargeted (any wrong class). Each example keeps its smallest perturbation.
 *
 * ε is no budget: it sets the radius of the random starts and decides, as in the reference, which
 * examples are done (their best perturbation has norm ≤ ε); restarts and further target classes
 * run only on the others. Without ε an example is done once it is fooled at all.
 *
 * Targeted FAB (goal.targeted, goal.labels = targets) needs no true labels: success means the
 * target is the predicted class. The reference keeps r = y, enough for FAB-T, where any wrong
 * class counts; for a targeted goal it leaves the iterate on the f_t = f_y boundary wherever a
 * third class wins there (on the test MLP it reached 12–13 of 32 MNIST targets, the rival 31–32).
 * At the clean input the rival is the clean prediction, so the first step is the reference's.
 * Examples that already meet their goal (misclassified, or classified as the target) are left
 * unchanged.
 *
 * The linearisation is batched in TF.js (one backward pass over the C − 1 tiled differences,
 * untargeted, or one over f_s − f_r, targeted); the projections run per example in plain JS.
 */
import * as tf from '@tensorflow/tfjs-core';
import { AdvxError } from '../core/errors.ts';
import { Rng } from '../core/rng.ts';
import type { Norm } from '../core/norms.ts';
import type { Classifier } from '../models/classifier.ts';
import { checkAttackInputs, summarize, type AttackGoal, type AttackResult, type StepProgress } from './types.ts';

/** `onStep` counts restarts × steps (FAB-T: × targets); runs not needed (every example done) are skipped over. */
export interface FabOptions extends StepProgress {
  /** The norm minimised: 'linf' (default, as in AutoAttack) or 'l2'. */
  norm?: Norm;
  /** Iterations per run (default 100). */
  steps?: number;
  /** Runs per example: the first from x, the others from random points at ε/2 (default 1; > 1 needs eps). */
  restarts?: number;
  /** Radius of the random starts (they lie at ε/2), and the norm at which an example counts as done. */
  eps?: number;
  /** α_max, the largest pull toward the original point (default 0.1). */
  alphaMax?: number;
  /** η, the extrapolation past the hyperplane (default 1.05). */
  eta?: number;
  /** β, the backward step toward x after a success (default 0.9). */
  beta?: number;
  /** Seed of the random starts (default 0). */
  seed?: number;
}

export interface FabTOptions extends FabOptions {
  /** How many target classes to try, the highest clean logits first (default 9; at most classes − 1). */
  targets?: number;
}

interface Checked {
  norm: Norm;
  steps: number;
  restarts: number;
  /** ε, or ∞ when none was given (then an example is done once fooled). */
  done: number;
  eps: number | undefined;
  alphaMax: number;
  eta: number;
  beta: number;
  seed: number;
}

/** Where FAB's runs are in the attack's restarts × steps (× targets) iterations, for onStep. */
interface Progress {
  onStep?: (step: number, steps: number) => void;
  total: number;
  /** Iterations of the runs before the current one, done or skipped. */
  base: number;
}

function checkOptions(options: FabOptions): Checked {
  const { norm = 'linf', steps = 100, restarts = 1, eps, alphaMax = 0.1, eta = 1.05, beta = 0.9, seed = 0 } = options;
  if (norm !== 'linf' && norm !== 'l2') throw new AdvxError(`norm must be linf or l2, got "${norm}"`);
  if (!Number.isInteger(steps) || steps < 1) throw new AdvxError(`steps must be a positive integer, got ${steps}`);
  if (!Number.isInteger(restarts) || restarts < 1) throw new AdvxError(`restarts must be a positive integer, got ${restarts}`);
  if (restarts > 1 && eps === undefined) throw new AdvxError('FAB restarts start from random points in the ε-ball: pass eps with restarts > 1');
  if (!(Number.isFinite(alphaMax) && alphaMax >= 0 && alphaMax <= 1)) throw new AdvxError(`alphaMax must be in [0, 1], got ${alphaMax}`);
  if (!(Number.isFinite(eta) && eta >= 1)) throw new AdvxError(`eta must be a number ≥ 1, got ${eta}`);
  if (!(Number.isFinite(beta) && beta > 0 && beta <= 1)) throw new AdvxError(`beta must be in (0, 1], got ${beta}`);
  if (!Number.isFinite(seed)) throw new AdvxError(`seed must be a number, got ${seed}`);
  return { norm, steps, restarts, eps, done: eps ?? Infinity, alphaMax, eta, beta, seed };
}

/**
 * FAB. Untargeted: goal.labels are the true labels. Targeted: goal.labels are the targets (no true
 * labels needed: each step takes the boundary between the target and its strongest rival).
 */
export async function fab(classifier: Classifier, x: tf.Tensor, goal: AttackGoal, options: FabOptions = {}): Promise<AttackResult> {
  checkAttackInputs(classifier, x, goal, options.eps);
  const o = checkOptions(options);
  const state = await FabState.create(classifier, x, goal);
  const { n, clean, labels } = state;
  const boundary: Boundary = goal.targeted ? { kind: 'rival', target: labels } : { kind: 'nearest', source: labels };
  const isAdv = goal.targeted ? (p: number, i: number) => p === labels[i] : (p: number, i: number) => p !== labels[i];
  for (let i = 0; i < n; i++) if (isAdv(clean[i], i)) state.best[i] = 0;
  const progress: Progress = { onStep: options.onStep, total: o.restarts * o.steps, base: 0 };
  const iterations = await withRestarts(classifier, state, boundary, isAdv, o, new Rng(o.seed), progress);
  progress.onStep?.(progress.total, progress.total);
  return state.finish(goal, iterations);
}

/**
 * FAB-T (AutoAttack): untargeted (goal.labels are the true labels), it runs targeted FAB toward
 * each of the `targets` most likely wrong classes of the clean input in turn, on the examples not
 * yet fooled (within ε, if given), and keeps each example's smallest perturbation.
 */
export async function fabT(classifier: Classifier, x: tf.Tensor, goal: AttackGoal, options: FabTOptions = {}): Promise<AttackResult> {
  checkAttackInputs(classifier, x, goal, options.eps);
  if (goal.targeted) throw new AdvxError('FAB-T is untargeted (it picks its own target classes); for one given target use fab with a targeted goal');
  const o = checkOptions(options);
  const { targets = 9 } = options;
  if (!Number.isInteger(targets) || targets < 1) throw new AdvxError(`targets must be a positive integer, got ${targets}`);
  const state = await FabState.create(classifier, x, goal);
  const { n, clean, labels } = state;
  const numClasses = classifier.info.numClasses;
  const isAdv = (p: number, i: number) => p !== labels[i];
  for (let i = 0; i < n; i++) if (isAdv(clean[i], i)) state.best[i] = 0;
  // Each example's wrong classes by decreasing clean logit.
  const order = tf.tidy(() => tf.topk(classifier.logits(x), numClasses).indices);
  const ranked = (await order.data()) as Int32Array;
  order.dispose();
  const byRank = (i: number) => Array.from(ranked.subarray(i * numClasses, (i + 1) * numClasses)).filter((k) => k !== labels[i]);
  const wrong = Array.from({ length: n }, (_, i) => byRank(i));
  const rng = new Rng(o.seed);
  let iterations = 0;
  const runs = Math.min(targets, numClasses - 1);
  const progress: Progress = { onStep: options.onStep, total: runs * o.restarts * o.steps, base: 0 };
  for (let j = 0; j < runs; j++) {
    const boundary: Boundary = { kind: 'pair', source: labels, target: Int32Array.from(wrong, (w) => w[j]) };
    iterations += await withRestarts(classifier, state, boundary, isAdv, o, rng, progress);
  }
  progress.onStep?.(progress.total, progress.total);
  return state.finish(goal, iterations);
}

/** FAB's runs toward one boundary: the first from x, the others from random starts, each on the examples not yet done; returns the steps taken. */
async function withRestarts(classifier: Classifier, state: FabState, boundary: Boundary, isAdv: (p: number, i: number) => boolean, o: Checked, rng: Rng, progress: Progress): Promise<number> {
  let iterations = 0;
  const start = progress.base;
  for (let r = 0; r < o.restarts; r++) {
    const rows = state.pending(o.done);
    if (rows.length === 0) break;
    await fabRun(classifier, state, rows, boundary, isAdv, o, r > 0 ? rng : undefined, progress);
    iterations += o.steps;
    progress.base += o.steps;
  }
  // Restarts not needed count as done, so the next boundary's steps start after them.
  progress.base = start + o.restarts * o.steps;
  return iterations;
}

/** The inputs as flat arrays, and per example the best adversarial point found and its norm. */
class FabState {
  /** Best norm per example: ∞ while none is found, 0 for those that met the goal unattacked. */
  readonly best: Float64Array;
  readonly adv: Float32Array;

  private constructor(
    readonly classifier: Classifier,
    readonly x: tf.Tensor,
    readonly flat: Float32Array,
    readonly n: number,
    readonly dim: number,
    readonly clean: Int32Array,
    readonly labels: Int32Array,
  ) {
    this.best = new Float64Array(n).fill(Infinity);
    this.adv = Float32Array.from(flat);
  }

  static async create(classifier: Classifier, x: tf.Tensor, goal: AttackGoal): Promise<FabState> {
    const n = x.shape[0];
    const flat = (await x.data()) as Float32Array;
    const clean = await classifier.predict(x);
    const labels = Int32Array.from(await goal.labels.data());
    const dim = x.shape.slice(1).reduce((a, b) => a * b, 1);
    return new FabState(classifier, x, Float32Array.from(flat), n, dim, clean, labels);
  }

  /** Examples still to attack: none fooled yet, or not within `done`. */
  pending(done: number): number[] {
    const rows: number[] = [];
    for (let i = 0; i < this.n; i++) if (this.best[i] === Infinity || this.best[i] > done) rows.push(i);
    return rows;
  }

  /** Records a success of example i at `point` (norm `size`) if it is its smallest. */
  offer(i: number, point: Float32Array, size: number): void {
    if (size < this.best[i]) {
      this.best[i] = size;
      this.adv.set(point, i * this.dim);
    }
  }

  /** Examples never fooled come back unchanged. */
  finish(goal: AttackGoal, iterations: number): Promise<AttackResult> {
    return summarize(this.classifier, this.x, tf.tensor(this.adv, this.x.shape, 'float32'), goal, iterations);
  }
}

/**
 * One FAB run over the examples `rows`, from x (no rng) or from random starts at ε/2; each
 * success that beats an example's best is offered to `state`.
 */
async function fabRun(
  classifier: Classifier,
  state: FabState,
  rows: number[],
  boundary: Boundary,
  isAdv: (pred: number, i: number) => boolean,
  o: Checked,
  rng: Rng | undefined,
  progress: Progress,
): Promise<void> {
  const { dim, flat } = state;
  const [lo, hi] = classifier.info.bounds;
  const m = rows.length;
  const shape = [m, ...state.x.shape.slice(1)];
  const x0 = new Float32Array(m * dim);
  rows.forEach((i, r) => x0.set(flat.subarray(i * dim, (i + 1) * dim), r * dim));
  const x1 = Float32Array.from(x0);
  if (rng) randomStart(x1, x0, m, dim, o, rng, lo, hi);
  const ours = boundaryRows(boundary, rows);
  const d1 = new Float64Array(dim);
  const d2 = new Float64Array(dim);
  const scratch = projectionScratch(dim);
  const point = new Float32Array(dim);
  for (let step = 0; step < o.steps; step++) {
    const { w, f } = await linearise(classifier, x1, shape, ours, o.norm);
    for (let r = 0; r < m; r++) {
      const a = x1.subarray(r * dim, (r + 1) * dim);
      const z = x0.subarray(r * dim, (r + 1) * dim);
      const wr = w.subarray(r * dim, (r + 1) * dim);
      // π: w·(v − x⁽ⁱ⁾) + f = 0, so x⁽ⁱ⁾ needs w·d = −f to reach it, and x needs w·d = w·(x⁽ⁱ⁾ − x) − f.
      let gap = 0;
      for (let j = 0; j < dim; j++) gap += wr[j] * (a[j] - z[j]);
      solveProjection(a, wr, -f[r], o.norm, lo, hi, d1, scratch);
      solveProjection(z, wr, gap - f[r], o.norm, lo, hi, d2, scratch);
      const n1 = Math.max(normOf(d1, o.norm), 1e-8);
      const n2 = Math.max(normOf(d2, o.norm), 1e-8);
      const alpha = Math.min(n1 / (n1 + n2), o.alphaMax);
      for (let j = 0; j < dim; j++) {
        const v = (1 - alpha) * (a[j] + o.eta * d1[j]) + alpha * (z[j] + o.eta * d2[j]);
        a[j] = v < lo ? lo : v > hi ? hi : v;
      }
    }
    const xt = tf.tensor(x1, shape, 'float32');
    const pred = await classifier.predict(xt);
    xt.dispose();
    for (let r = 0; r < m; r++) {
      const i = rows[r];
      if (!isAdv(pred[r], i)) continue;
      const a = x1.subarray(r * dim, (r + 1) * dim);
      const z = x0.subarray(r * dim, (r + 1) * dim);
      for (let j = 0; j < dim; j++) point[j] = a[j] - z[j];
      state.offer(i, a, normOf(point, o.norm));
      // Backward step: restart the next iteration closer to x, on the same side.
      for (let j = 0; j < dim; j++) a[j] = z[j] + o.beta * point[j];
    }
    // The attack's last step is told once, at its end.
    const told = progress.base + step + 1;
    if (told < progress.total) progress.onStep?.(told, progress.total);
  }
}

/** x⁽⁰⁾ = clip(x + (ε/2)·u/‖u‖_p), as in the reference's random restarts. */
function randomStart(x1: Float32Array, x0: Float32Array, m: number, dim: number, o: Checked, rng: Rng, lo: number, hi: number): void {
  const u = new Float64Array(dim);
  for (let r = 0; r < m; r++) {
    for (let j = 0; j < dim; j++) u[j] = o.norm === 'linf' ? 2 * rng.next() - 1 : rng.normal();
    const scale = (0.5 * (o.eps ?? 0)) / Math.max(normOf(u, o.norm), 1e-12);
    for (let j = 0; j < dim; j++) {
      const v = x0[r * dim + j] + scale * u[j];
      x1[r * dim + j] = v < lo ? lo : v > hi ? hi : v;
    }
  }
}

/**
 * Which boundary each step linearises: `nearest`, y against the class of the nearest linearised
 * boundary (untargeted); `pair`, y against t (FAB-T, as the reference); `rival`, t against the
 * strongest other class at the current point (a targeted goal).
 */
type Boundary = { kind: 'nearest'; source: Int32Array } | { kind: 'pair'; source: Int32Array; target: Int32Array } | { kind: 'rival'; target: Int32Array };

/** The boundary restricted to the examples `rows`. */
function boundaryRows(b: Boundary, rows: number[]): Boundary {
  const pick = (a: Int32Array) => Int32Array.from(rows, (i) => a[i]);
  if (b.kind === 'nearest') return { kind: 'nearest', source: pick(b.source) };
  if (b.kind === 'pair') return { kind: 'pair', source: pick(b.source), target: pick(b.target) };
  return { kind: 'rival', target: pick(b.target) };
}

/** Most rows of one backward pass (tiled copies included), to bound memory on large batches. */
const MAX_ROWS = 2048;

/** The linearised boundary at x1 [m, D] per example: w = ∇f_s − ∇f_r and f = f_s − f_r (see Boundary). */
async function linearise(classifier: Classifier, x1: Float32Array, shape: number[], boundary: Boundary, norm: Norm): Promise<{ w: Float32Array; f: Float32Array }> {
  const [m, ...inner] = shape;
  const dim = x1.length / Math.max(1, m);
  const copies = boundary.kind === 'nearest' ? classifier.info.numClasses - 1 : 1;
  const chunk = Math.max(1, Math.floor(MAX_ROWS / copies));
  const out = { w: new Float32Array(m * dim), f: new Float32Array(m) };
  for (let start = 0; start < m; start += chunk) {
    const end = Math.min(m, start + chunk);
    const rows = Array.from({ length: end - start }, (_, r) => start + r);
    const [w, f] = tf.tidy(() => lineariseBatch(classifier, tf.tensor(x1.subarray(start * dim, end * dim), [end - start, ...inner], 'float32'), boundaryRows(boundary, rows), norm));
    out.w.set(await w.data(), start * dim);
    out.f.set(await f.data(), start);
    tf.dispose([w, f]);
  }
  return out;
}

/** One chunk of linearise: w [m, D] and f [m] as tensors, inside the caller's tidy. */
function lineariseBatch(classifier: Classifier, x: tf.Tensor, boundary: Boundary, norm: Norm): [tf.Tensor, tf.Tensor] {
  const numClasses = classifier.info.numClasses;
  const m = x.shape[0];
  if (boundary.kind === 'pair') {
    // The pair is known before the forward pass: the gradient's own forward pass gives f too.
    const diffHot = tf.sub(tf.oneHot(tf.tensor1d(boundary.target, 'int32'), numClasses), tf.oneHot(tf.tensor1d(boundary.source, 'int32'), numClasses));
    const { grad, f } = differenceGradient(classifier, x, diffHot);
    return [tf.reshape(grad, [m, -1]), f];
  }
  if (boundary.kind === 'rival') {
    const logits = classifier.logits(x);
    const tHot = tf.oneHot(tf.tensor1d(boundary.target, 'int32'), numClasses);
    // The rival: the top class once the target's logit is pushed below every other.
    const diffHot = tf.sub(tHot, tf.oneHot(tf.argMax(tf.sub(logits, tf.mul(tHot, 1e9)), 1), numClasses));
    const grad = tf.grad((z: tf.Tensor) => tf.sum(tf.mul(classifier.logits(z), diffHot)))(x);
    return [tf.reshape(grad, [m, -1]), tf.sum(tf.mul(logits, diffHot), 1)];
  }
  // All C − 1 differences in one backward pass: row j·m + r of the tiled batch is example r
  // against its j-th other class (the classes k ≠ y in increasing order).
  const src = boundary.source;
  const nc = numClasses - 1;
  const others = new Int32Array(nc * m);
  for (let r = 0; r < m; r++) for (let j = 0, k = 0; k < numClasses; k++) if (k !== src[r]) others[j++ * m + r] = k;
  const diffHot = tf.sub(tf.oneHot(tf.tensor1d(others, 'int32'), numClasses), tf.tile(tf.oneHot(tf.tensor1d(src, 'int32'), numClasses), [nc, 1]));
  const tiled = tf.tile(x, [nc, ...x.shape.slice(1).map(() => 1)]);
  const { grad, f } = differenceGradient(classifier, tiled, diffHot);
  const grads = tf.reshape(grad, [nc, m, -1]);
  const fPrime = tf.reshape(f, [nc, m]);
  const dual = norm === 'l2' ? tf.sqrt(tf.sum(tf.square(grads), -1)) : tf.sum(tf.abs(grads), -1);
  const dist = tf.div(tf.abs(fPrime), tf.add(dual, 1e-12)); // [C − 1, m]: distance to each linearised boundary
  const pick = tf.transpose(tf.oneHot(tf.argMin(dist, 0), nc)); // [C − 1, m]
  return [tf.sum(tf.mul(tf.expandDims(pick, 2), grads), 0), tf.sum(tf.mul(pick, fPrime), 0)];
}

/**
 * The gradient of Σ logits(x) ⊙ diffHot and, per row, f = Σ_k logits(x)_k · diffHot_k, both from
 * the gradient's own forward pass (one pass, not two; that pass runs the unfused kernels).
 */
function differenceGradient(classifier: Classifier, x: tf.Tensor, diffHot: tf.Tensor): { grad: tf.Tensor; f: tf.Tensor } {
  let logits: tf.Tensor | undefined;
  const grad = tf.grad((z: tf.Tensor) => {
    logits = tf.keep(classifier.logits(z)); // kept past tf.grad's own tidy, disposed below
    return tf.sum(tf.mul(logits, diffHot));
  })(x);
  const f = tf.sum(tf.mul(logits!, diffHot), 1);
  logits!.dispose();
  return { grad, f };
}

function normOf(d: ArrayLike<number>, norm: Norm): number {
  let s = 0;
  if (norm === 'linf') {
    for (let j = 0; j < d.length; j++) s = Math.max(s, Math.abs(d[j]));
    return s;
  }
  for (let j = 0; j < d.length; j++) s += d[j] * d[j];
  return Math.sqrt(s);
}

/**
 * The minimal-norm move d from `point` onto the hyperplane w·v = b inside the box [lo, hi]ᴰ:
 *   d = argmin ‖d‖_p  s.t.  w·(point + d) = b,  lo ≤ point + d ≤ hi        (p = ∞ or 2)
 * When the box does not reach the hyperplane, point + d is the box's corner nearest to it (as in
 * the reference). `point` must lie in the box.
 */
export function fabProjection(point: ArrayLike<number>, w: ArrayLike<number>, b: number, norm: Norm, bounds: [number, number]): Float64Array {
  let wp = 0;
  for (let j = 0; j < w.length; j++) wp += w[j] * point[j];
  const d = new Float64Array(w.length);
  solveProjection(point, w, b - wp, norm, bounds[0], bounds[1], d);
  return d;
}

/**
 * Writes into d the smallest d (in `norm`) with w·d = c and lo ≤ point + d ≤ hi.
 * With σ = sign(c), coordinate j moves toward the bound on σ·wⱼ's side, by at most room_j. By the
 * KKT conditions the optimum is, for a multiplier λ ≥ 0,
 *   L∞: dⱼ = σ·sign(wⱼ)·min(λ, room_j)          L2: dⱼ = σ·sign(wⱼ)·min(λ|wⱼ|, room_j)
 * and w·d = σ·g(λ), with g(λ) = Σ|wⱼ|·min(λ·κⱼ, room_j) (κⱼ = 1, L∞; |wⱼ|, L2) piecewise linear and
 * nondecreasing in λ: sorting the breakpoints room_j/κⱼ finds the λ with g(λ) = |c| exactly.
 */
function solveProjection(point: ArrayLike<number>, w: ArrayLike<number>, c: number, norm: Norm, lo: number, hi: number, d: Float64Array, s = projectionScratch(w.length)): void {
  d.fill(0);
  if (c === 0 || !Number.isFinite(c)) return;
  const sigma = c > 0 ? 1 : -1;
  const need = Math.abs(c);
  const { active, room, kappa, breaks } = s;
  let n = 0; // the coordinates with wⱼ ≠ 0, in increasing j
  let reach = 0; // g(∞): the most the box allows
  let slope = 0; // Σ κⱼ|wⱼ|: g's slope while no coordinate is on its bound
  for (let j = 0; j < w.length; j++) {
    const wj = sigma * w[j];
    if (wj === 0) continue;
    active[n] = j;
    room[n] = Math.max(0, wj > 0 ? hi - point[j] : point[j] - lo);
    kappa[n] = norm === 'l2' ? Math.abs(wj) : 1;
    breaks[n] = room[n] / kappa[n];
    reach += Math.abs(wj) * room[n];
    slope += Math.abs(wj) * kappa[n];
    n++;
  }
  // Where the box does not reach π, λ = ∞: every coordinate goes to its bound, the box's corner
  // nearest to π (as in the reference).
  let lambda = Infinity;
  if (reach > need) {
    // Walk the breakpoints in order: past each, its coordinate sits on its bound (adding to
    // `saturated`) and leaves the slope of g.
    const order = breakpointOrder(s, n);
    let saturated = 0;
    for (let i = 0; i < n; i++) {
      const k = order[i];
      if (saturated + slope * breaks[k] >= need) {
        lambda = (need - saturated) / slope;
        break;
      }
      const wj = Math.abs(w[active[k]]);
      saturated += wj * room[k];
      slope -= wj * kappa[k];
    }
  }
  for (let k = 0; k < n; k++) {
    const j = active[k];
    d[j] = Math.sign(sigma * w[j]) * Math.min(lambda * kappa[k], room[k]);
  }
}

/** solveProjection's working arrays for D coordinates: made once per run of the attack, not per projection. */
interface ProjectionScratch {
  active: Int32Array;
  room: Float64Array;
  kappa: Float64Array;
  breaks: Float64Array;
  sorted: Float64Array;
  order: Int32Array;
  taken: Int32Array;
}

function projectionScratch(D: number): ProjectionScratch {
  const f = () => new Float64Array(D);
  const i = () => new Int32Array(D);
  return { active: i(), room: f(), kappa: f(), breaks: f(), sorted: f(), order: i(), taken: i() };
}

/**
 * The first n breakpoints' positions in increasing order, ties in increasing position (a stable
 * sort), without a comparator: the breakpoints are sorted as numbers (a typed array's own sort),
 * then each position goes to its value's first place in the sorted list plus the count of its
 * equals placed before it. A comparator sort of D indices took most of the attack's JavaScript time.
 */
function breakpointOrder(s: ProjectionScratch, n: number): Int32Array {
  const { breaks, sorted, order, taken } = s;
  sorted.set(breaks.subarray(0, n));
  sorted.subarray(0, n).sort();
  taken.fill(0, 0, n);
  for (let k = 0; k < n; k++) {
    const v = breaks[k];
    let [a, b] = [0, n];
    while (a < b) {
      const mid = (a + b) >>> 1;
      if (sorted[mid] < v) a = mid + 1;
      else b = mid;
    }
    order[a + taken[a]++] = k;
  }
  return order;
}
