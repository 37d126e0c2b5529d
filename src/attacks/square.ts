/**
 * Square Attack (Andriushchenko et al., 2020): a score-based random search that needs no
 * gradient, not even an estimated one. L∞ (Algorithm 1):
 *   x̂⁰ = Π(x + ε·v)          v = vertical stripes: one random sign per column and channel
 *   for i = 1, 2, …:   s = round(√(pᵢ·h·w)) (at least 1)
 *     pick a random s×s window; δ = x̂ⁱ⁻¹ − x with the window set to ε·(one random sign per channel)
 *     x̂ⁱ = Π(x + δ) if L(Π(x + δ)) < L(x̂ⁱ⁻¹), else x̂ⁱ⁻¹
 * Π clips to the model's bounds; every candidate is a vertex of the ε-box, as the paper's are.
 * L is the margin z_y − max_{j≠y} z_j on log-probabilities (equal to the logit margin) when
 * untargeted, the cross-entropy −log p_t of the target when targeted (the paper's choices).
 * pᵢ, the share of pixels a window covers, follows the paper's schedule for 10,000 iterations,
 * rescaled to the budget: halved at 10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000 ‰ of it.
 * p_init: 0.8 on one-channel inputs (the paper's MNIST setting), else 0.05 (its ImageNet one).
 *
 * L2 (Algorithm 3, as the authors' code): the start is a grid of ⌊h/5⌋-sized blocks, each a
 * random-signed "meta" perturbation (two opposite-signed pseudo-Gaussian halves, peaked at their
 * centres, randomly transposed), scaled to ‖δ‖₂ = ε. An iteration picks two s×s windows W₁, W₂
 * (s odd, at least 3), and per channel replaces δ on W₁ by a fresh random-signed meta perturbation
 * plus δ|W₁'s direction, rescaled to take the norm of δ on W₁ ∪ W₂ plus any of the ε budget not
 * yet used, zeroes δ on W₂ (mass moves from W₂ to W₁), and asks about Π(x + ε·δ/‖δ‖₂).
 * p_init for L2: 0.1, the paper's L2 setting (whatever the channels).
 *
 * Batched: every active example tries one new window per iteration, all in one query. Queries per
 * example: 1 for the clean input (examples that already meet the goal stop there), 1 for the
 * stripes, then 1 per iteration; an example stops at success or when its budget is spent.
 */
import * as tf from '@tensorflow/tfjs-core';
import { AdvxError } from '../core/errors.ts';
import { Rng } from '../core/rng.ts';
import type { Norm } from '../core/norms.ts';
import type { AttackGoal, AttackResult, StepProgress } from './types.ts';
import { blackBoxResult, checkBlackBoxInputs, goalLabels, goalMargin, logScore, meetsGoal, QueryCounter, gatherRows, type ScoreModel } from './blackbox.ts';

/** `onStep` counts queries per example (QueryCounter.progress). */
export interface SquareOptions extends StepProgress {
  eps: number;
  /** 'linf' (default) or 'l2'. */
  norm?: Norm;
  /** Query budget per example, the clean query included (default 1000). */
  queries?: number;
  /** Initial share of pixels per square (default, L∞: 0.8 for one channel, else 0.05; L2: 0.1). */
  pInit?: number;
  /** Loss to descend: default 'margin' untargeted, 'ce' targeted. */
  loss?: 'margin' | 'ce';
  seed?: number;
}

/** The paper's schedule of p (its p_selection), for iteration `it` of a budget of `n`. */
export function squareP(pInit: number, it: number, n: number): number {
  const i = Math.floor((it / n) * 10000);
  const cuts = [10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000, 10000];
  for (let k = 0; k < cuts.length - 1; k++) if (i > cuts[k] && i <= cuts[k + 1]) return pInit / 2 ** (k + 1);
  return pInit;
}

/** Height, width and channels of an input shape (HWC; HW is one channel; a vector is one row). */
function layout(shape: number[]): [number, number, number] {
  if (shape.length === 3) return [shape[0], shape[1], shape[2]];
  if (shape.length === 2) return [shape[0], shape[1], 1];
  return [1, shape.reduce((a, b) => a * b, 1), 1];
}

/**
 * Square Attack (Andriushchenko et al.): a score-based black-box random search that changes a
 * random square window of the perturbation per iteration and keeps the change when the loss falls;
 * L∞ or L2, untargeted or targeted. `model` is only asked for class scores (a Classifier through
 * scoreOracle, or a served model); `result.queries` counts them per example, at most `queries`.
 * The caller disposes `result.adversarial`.
 */
export async function squareAttack(model: ScoreModel, x: tf.Tensor, goal: AttackGoal, options: SquareOptions): Promise<AttackResult> {
  const { eps, norm = 'linf', queries = 1000, seed = 0 } = options;
  const info = model.info;
  checkBlackBoxInputs(info, x, goal, { eps, queries });
  if (norm !== 'linf' && norm !== 'l2') throw new AdvxError(`norm must be linf or l2, got "${norm}"`);
  const [h, w, c] = layout(info.inputShape);
  const pInit = options.pInit ?? (norm === 'l2' ? 0.1 : c === 1 ? 0.8 : 0.05);
  if (!(pInit > 0 && pInit <= 1)) throw new AdvxError(`pInit must be in (0, 1], got ${pInit}`);
  const targeted = goal.targeted ?? false;
  const lossKind = options.loss ?? (targeted ? 'ce' : 'margin');
  const labels = await goalLabels(info, goal);
  const [lo, hi] = info.bounds;
  const k = info.numClasses;
  const n = x.shape[0];
  const size = h * w * c;
  const rng = new Rng(seed);
  const counter = new QueryCounter(n, queries, undefined, options.onStep);
  const clean = (await x.data()) as Float32Array;
  const best = Float32Array.from(clean);
  const bestLoss = new Float64Array(n).fill(Infinity);
  const done: boolean[] = new Array(n).fill(false);
  const clip = (v: number) => Math.min(hi, Math.max(lo, v));
  const loss = (p: Float32Array, row: number, i: number) =>
    lossKind === 'ce' ? (targeted ? -logScore(p[row * k + labels[i]]) : logScore(p[row * k + labels[i]])) : goalMargin(p, k, row, labels[i], targeted);

  /** Asks about `points` (rows for the examples `who`); returns the probabilities. */
  const ask = async (points: Float32Array, who: number[]) => {
    const batch = tf.tensor(points, [who.length, ...info.inputShape]);
    try {
      return await counter.scores(model, batch, who);
    } finally {
      batch.dispose();
    }
  };

  // Query 1: the clean inputs (an example that already meets the goal is done, unperturbed).
  const all = Array.from({ length: n }, (_, i) => i);
  const p0 = await ask(clean, all);
  for (const i of all) done[i] = meetsGoal(p0, k, i, labels[i], targeted);

  // Query 2: the start (L∞: vertical stripes; L2: a grid of meta perturbations).
  const shape = { h, w, c, size, eps, clip, rng };
  let active = all.filter((i) => !done[i] && counter.remaining(i) > 0);
  if (active.length > 0 && eps > 0) {
    for (const i of active) (norm === 'linf' ? stripesLinf : gridL2)(shape, clean.subarray(i * size, (i + 1) * size), best.subarray(i * size, (i + 1) * size));
    const p = await ask(gatherRows(best, active, size), active);
    active.forEach((i, row) => {
      bestLoss[i] = loss(p, row, i);
      done[i] = meetsGoal(p, k, row, labels[i], targeted);
    });
  }

  // One new square per active example per iteration. (ε = 0: no candidate can differ from x.)
  for (let it = 0; eps > 0; it++) {
    active = active.filter((i) => !done[i] && counter.remaining(i) > 0);
    if (active.length === 0) break;
    counter.progress(active);
    const p = squareP(pInit, it, queries);
    const points = new Float32Array(active.length * size);
    active.forEach((i, row) => {
      const span = [i * size, (i + 1) * size];
      (norm === 'linf' ? squareLinf : squareL2)(shape, p, clean.subarray(span[0], span[1]), best.subarray(span[0], span[1]), points.subarray(row * size, (row + 1) * size));
    });
    const scores = await ask(points, active);
    active.forEach((i, row) => {
      const l = loss(scores, row, i);
      const met = meetsGoal(scores, k, row, labels[i], targeted);
      // Keep a lower loss, or a success (a lower CE need not mean the target's on top, nor vice versa).
      if (l < bestLoss[i] || met) {
        bestLoss[i] = l;
        best.set(points.subarray(row * size, (row + 1) * size), i * size);
        done[i] = met;
      }
    });
  }
  counter.finished();
  const adversarial = tf.tensor(best, x.shape);
  return blackBoxResult(x, adversarial, done, counter.counts);
}

interface Shape {
  h: number;
  w: number;
  c: number;
  size: number;
  eps: number;
  clip: (v: number) => number;
  rng: Rng;
}

/** L∞ start: x + ε·(a random sign per column and channel, constant down each column), clipped. */
function stripesLinf({ h, w, c, eps, clip, rng }: Shape, x: Float32Array, out: Float32Array): void {
  for (let col = 0; col < w; col++) {
    for (let ch = 0; ch < c; ch++) {
      const sign = rng.next() < 0.5 ? -1 : 1;
      for (let r = 0; r < h; r++) out[(r * w + col) * c + ch] = clip(x[(r * w + col) * c + ch] + sign * eps);
    }
  }
}

/** L∞ candidate: the current point with one s×s window set to x ± ε (one sign per channel). */
function squareLinf({ h, w, c, eps, clip, rng }: Shape, p: number, x: Float32Array, current: Float32Array, out: Float32Array): void {
  const s = Math.min(h, w, Math.max(1, Math.round(Math.sqrt(p * h * w))));
  out.set(current);
  const top = rng.int(h - s + 1);
  const left = rng.int(w - s + 1);
  // Redraw the signs while the window would not change the current point (the paper's loop; with
  // few channels the same signs, or clipping, often give the same image). Bounded, as for one
  // channel there are only two choices.
  for (let attempt = 0; attempt < 10; attempt++) {
    let changed = false;
    for (let ch = 0; ch < c; ch++) {
      const sign = rng.next() < 0.5 ? -1 : 1;
      for (let r = top; r < top + s; r++) {
        for (let col = left; col < left + s; col++) {
          const at = (r * w + col) * c + ch;
          out[at] = clip(x[at] + sign * eps);
          if (Math.abs(out[at] - current[at]) >= 1e-7) changed = true;
        }
      }
    }
    if (changed) break;
  }
}

/** The authors' pseudo_gaussian_pert_rectangles: nested rectangles weighted 1/(k+1)², unit norm, rows × cols. */
function pseudoGaussian(rows: number, cols: number): Float64Array {
  const d = new Float64Array(rows * cols);
  let r0 = Math.floor(rows / 2);
  let c0 = Math.floor(cols / 2);
  for (let k = 0; k < Math.max(r0 + 1, c0 + 1); k++, r0--, c0--) {
    for (let r = Math.max(r0, 0); r < Math.min(r0 + 2 * k + 1, rows); r++) {
      for (let col = Math.max(c0, 0); col < Math.min(c0 + 2 * k + 1, cols); col++) d[r * cols + col] += 1 / (k + 1) ** 2;
    }
  }
  return unit(d);
}

/** The authors' meta_pseudo_gaussian_pert: an s×s block, +bump on the top half, −bump below, unit norm, transposed half the time. */
function metaPerturbation(s: number, rng: Rng): Float64Array {
  const half = Math.floor(s / 2);
  const d = new Float64Array(s * s);
  d.set(pseudoGaussian(half, s));
  pseudoGaussian(s - half, s).forEach((v, j) => (d[half * s + j] = -v));
  unit(d);
  if (rng.next() < 0.5) return d;
  const t = new Float64Array(s * s);
  for (let r = 0; r < s; r++) for (let col = 0; col < s; col++) t[col * s + r] = d[r * s + col];
  return t;
}

function unit(d: Float64Array): Float64Array {
  let n = 0;
  for (const v of d) n += v * v;
  n = Math.sqrt(n);
  if (n > 0) for (let j = 0; j < d.length; j++) d[j] /= n;
  return d;
}

/** Writes clip(x + ε·δ/‖δ‖₂) into `out`. */
function scaledL2({ eps, clip }: Shape, x: Float32Array, delta: Float64Array, out: Float32Array): void {
  let n = 0;
  for (const v of delta) n += v * v;
  const f = eps / Math.max(Math.sqrt(n), 1e-12);
  for (let j = 0; j < delta.length; j++) out[j] = clip(x[j] + f * delta[j]);
}

/** L2 start: ⌊h/5⌋-sized blocks of random-signed meta perturbations (a sign per channel), scaled to ε. */
function gridL2(shape: Shape, x: Float32Array, out: Float32Array): void {
  const { h, w, c, rng } = shape;
  const s = Math.max(1, Math.floor(Math.min(h, w) / 5));
  const delta = new Float64Array(x.length);
  const top0 = Math.floor((h - s * Math.floor(h / s)) / 2);
  const left0 = Math.floor((w - s * Math.floor(w / s)) / 2);
  for (let top = top0; top + s <= h; top += s) {
    for (let left = left0; left + s <= w; left += s) {
      const meta = metaPerturbation(s, rng);
      for (let ch = 0; ch < c; ch++) {
        const sign = rng.next() < 0.5 ? -1 : 1;
        for (let r = 0; r < s; r++) for (let col = 0; col < s; col++) delta[((top + r) * w + left + col) * c + ch] += sign * meta[r * s + col];
      }
    }
  }
  scaledL2(shape, x, delta, out);
}

/** L2 candidate: per channel, window W₁ gets a new meta perturbation plus its old direction, taking W₂'s mass and any unused budget; W₂ is zeroed. */
function squareL2(shape: Shape, p: number, x: Float32Array, current: Float32Array, out: Float32Array): void {
  const { h, w, c, eps, rng } = shape;
  let s = Math.max(3, Math.round(Math.sqrt(p * h * w)));
  if (s % 2 === 0) s++;
  s = Math.min(s, h, w);
  const delta = Float64Array.from(current, (v, j) => v - x[j]);
  const [t1, l1, t2, l2] = [rng.int(h - s + 1), rng.int(w - s + 1), rng.int(h - s + 1), rng.int(w - s + 1)];
  const inW1 = (r: number, col: number) => r >= t1 && r < t1 + s && col >= l1 && col < l1 + s;
  const inW2 = (r: number, col: number) => r >= t2 && r < t2 + s && col >= l2 && col < l2 + s;
  let imageNorm2 = 0;
  for (const v of delta) imageNorm2 += v * v;
  const meta = metaPerturbation(s, rng);
  const fresh = new Float64Array(s * s * c);
  for (let ch = 0; ch < c; ch++) {
    // ‖δ‖ on W₁ and on W₁ ∪ W₂, this channel.
    let w1 = 0;
    let both = 0;
    for (let r = Math.min(t1, t2); r < Math.max(t1, t2) + s; r++) {
      for (let col = Math.min(l1, l2); col < Math.max(l1, l2) + s; col++) {
        const a = inW1(r, col);
        if (!a && !inW2(r, col)) continue;
        const v = delta[(r * w + col) * c + ch] ** 2;
        both += v;
        if (a) w1 += v;
      }
    }
    const sign = rng.next() < 0.5 ? -1 : 1;
    const w1n = Math.sqrt(w1) + 1e-10;
    let n = 0;
    for (let r = 0; r < s; r++) {
      for (let col = 0; col < s; col++) {
        const v = sign * meta[r * s + col] + delta[((t1 + r) * w + l1 + col) * c + ch] / w1n;
        fresh[(r * s + col) * c + ch] = v;
        n += v * v;
      }
    }
    const target = Math.sqrt(Math.max(eps * eps - imageNorm2, 0) / c + both);
    const f = target / Math.max(Math.sqrt(n), 1e-12);
    for (let j = 0; j < s * s; j++) fresh[j * c + ch] *= f;
  }
  for (let r = t2; r < t2 + s; r++) for (let col = l2; col < l2 + s; col++) for (let ch = 0; ch < c; ch++) delta[(r * w + col) * c + ch] = 0;
  for (let r = 0; r < s; r++) for (let col = 0; col < s; col++) for (let ch = 0; ch < c; ch++) delta[((t1 + r) * w + l1 + col) * c + ch] = fresh[(r * s + col) * c + ch];
  scaledL2(shape, x, delta, out);
}
