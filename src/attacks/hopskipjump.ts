/**
 * HopSkipJump (Chen, Jordan & Wainwright, 2020, Algorithm 2): a decision-based attack that sees
 * only top-1 labels and walks an adversarial point along the decision boundary toward x.
 *   φ(x') = 1 if the model's label for x' meets the goal, else −1
 *   x̃₀: an adversarial start: uniform noise in the bounds, redrawn until φ = 1 (untargeted), or
 *       a given image of the target class (targeted); then x₀ = BinarySearch(x, x̃₀)
 *   for t = 1, 2, …:
 *     δ_t = 0.1·(hi − lo) at t = 1, else √d·θ·d_{t−1} (L2) or d·θ·d_{t−1} (L∞)
 *     ĝ = Σ_b (φ(x_{t−1} + δ_t u_b) − φ̄) u_b over B_t = B₀√t unit directions u_b (uniform on the
 *         sphere, L2; uniform in the cube then normalised, L∞); φ̄ = their mean, the baseline,
 *         left out when all agree
 *     v = ĝ/‖ĝ‖₂ (L2) or sign(ĝ) (L∞)
 *     ξ = ‖x_{t−1} − x‖/√t, halved until φ(x_{t−1} + ξv) = 1         (geometric step search)
 *     x_t = BinarySearch(x, x_{t−1} + ξv)
 * BinarySearch(x, x̃) finds the boundary on the L2 segment (1 − α)x + αx̃, or, L∞, on the box
 * clips clip(x̃, x − α, x + α), keeping the adversarial end, down to a tolerance θ
 * (θ = γ/d^{3/2} on α ∈ [0, 1] for L2; L∞: α ∈ [0, ‖x̃ − x‖∞], tolerance min(‖x̃ − x‖∞, 1)·γ/d²), γ = 1.
 * d is the input's size, d_t = ‖x_t − x‖, and B₀ = 100, B_t capped at 10,000, as in the authors' code.
 * Every query is clipped to the bounds (the authors clip the samples and the step; the step
 * search's test point is clipped here too).
 *
 * Batched: all examples advance in lockstep, each stage (noise search, binary search, the
 * Monte-Carlo samples, the step search) one query per round for every example still at it.
 * Queries per example: 1 for the clean input (an example that already meets the goal stops there
 * with no perturbation), the start search, then per iteration B_t + the step search + the binary
 * search. B_t is cut to what the budget leaves after a binary search; a step search that would
 * leave too little for its binary search gives up (no move). Each example returns the closest
 * adversarial point it has found (the boundary walk may step back a little).
 */
import * as tf from '@tensorflow/tfjs-core';
import { AdvxError } from '../core/errors.ts';
import { Rng } from '../core/rng.ts';
import type { Norm } from '../core/norms.ts';
import type { AttackGoal, AttackResult, StepProgress } from './types.ts';
import { blackBoxResult, checkBlackBoxInputs, gatherRows, goalLabels, QueryCounter, type DecisionModel } from './blackbox.ts';

/** `onStep` counts queries per example (QueryCounter.progress). */
export interface HopSkipJumpOptions extends StepProgress {
  /** 'l2' (default) or 'linf'. */
  norm?: Norm;
  /** Query budget per example, the clean query included (default 5000). */
  queries?: number;
  /** Most iterations t (default: until the budget is spent). */
  steps?: number;
  /** B₀, Monte-Carlo samples at the first iteration (default 100). */
  initEvals?: number;
  /** Cap on B_t (default 10,000). */
  maxEvals?: number;
  /** γ of the binary-search tolerance θ (default 1). */
  gamma?: number;
  /** Random-noise draws per example to find an adversarial start (default 100). */
  initTries?: number;
  /** Adversarial starting points, one per example (a targeted attack needs images of the target class). */
  starts?: tf.Tensor;
  seed?: number;
}

/** Most halvings of the step-search ξ before an iteration gives up. */
const MAX_HALVINGS = 25;
/** Rows per Monte-Carlo chunk: bounds the memory of [rows, d] sample tensors. */
const CHUNK = 2048;

/**
 * HopSkipJump (Chen et al.): a decision-based black-box attack that sees only the top-1 label. From
 * an adversarial start (random noise, or `starts`: needed for a targeted goal) it estimates the
 * boundary's normal from label queries, steps along it and binary-searches back to the boundary,
 * shrinking the distance to the input. L2 (default) or L∞; `result.queries` per example, at most
 * `queries`. The caller disposes `result.adversarial`.
 */
export async function hopSkipJump(model: DecisionModel, x: tf.Tensor, goal: AttackGoal, options: HopSkipJumpOptions = {}): Promise<AttackResult> {
  const { norm = 'l2', queries = 5000, steps = Infinity, initEvals = 100, maxEvals = 10000, gamma = 1, initTries = 100, seed = 0 } = options;
  const info = model.info;
  checkBlackBoxInputs(info, x, goal, { queries });
  if (norm !== 'linf' && norm !== 'l2') throw new AdvxError(`norm must be linf or l2, got "${norm}"`);
  if (!(steps === Infinity || (Number.isInteger(steps) && steps >= 0))) throw new AdvxError(`steps must be a non-negative integer, got ${steps}`);
  if (!(Number.isInteger(initEvals) && initEvals >= 1)) throw new AdvxError(`initEvals must be a positive integer, got ${initEvals}`);
  if (!(Number.isInteger(maxEvals) && maxEvals >= initEvals)) throw new AdvxError(`maxEvals must be an integer ≥ initEvals, got ${maxEvals}`);
  if (!(Number.isFinite(gamma) && gamma > 0)) throw new AdvxError(`gamma must be a positive number, got ${gamma}`);
  if (!(Number.isInteger(initTries) && initTries >= 0)) throw new AdvxError(`initTries must be a non-negative integer, got ${initTries}`);
  if (options.starts && options.starts.shape.join(',') !== x.shape.join(',')) {
    throw new AdvxError(`starts of shape [${options.starts.shape}] do not match the inputs [${x.shape}]`);
  }
  const targeted = goal.targeted ?? false;
  const labels = await goalLabels(info, goal);
  const [lo, hi] = info.bounds;
  const n = x.shape[0];
  const shape = info.inputShape;
  const d = shape.reduce((a, b) => a * b, 1);
  const theta = norm === 'l2' ? gamma / (d * Math.sqrt(d)) : gamma / (d * d);
  const rng = new Rng(seed);
  const counter = new QueryCounter(n, queries, undefined, options.onStep);
  const clean = (await x.data()) as Float32Array;
  const all = Array.from({ length: n }, (_, i) => i);
  const clip = (v: number) => Math.min(hi, Math.max(lo, v));

  const distance = (row: Float32Array, i: number) => {
    let s = 0;
    for (let j = 0; j < d; j++) {
      const v = row[j] - clean[i * d + j];
      s = norm === 'l2' ? s + v * v : Math.max(s, Math.abs(v));
    }
    return norm === 'l2' ? Math.sqrt(s) : s;
  };
  /** Whether each row of `points` (the examples `who`) meets the goal. */
  const decide = async (points: Float32Array, who: number[]): Promise<boolean[]> => {
    const batch = tf.tensor(points, [who.length, ...shape]);
    const l = await counter.labels(model, batch, who).finally(() => batch.dispose());
    return who.map((i, r) => (targeted ? l[r] === labels[i] : l[r] !== labels[i]));
  };

  // Per example: the current boundary point, its distance, the distance before the last binary
  // search (δ's scale), iterations done, and the closest adversarial point found.
  const current = new Float32Array(n * d);
  const dist = new Float64Array(n);
  const distPost = new Float64Array(n);
  const iteration = new Int32Array(n);
  const best = Float32Array.from(clean);
  const bestDist = new Float64Array(n).fill(Infinity);
  const found: boolean[] = new Array(n).fill(false);
  let stopped: boolean[] = new Array(n).fill(false);
  const keep = (i: number, point: Float32Array, dd: number) => {
    current.set(point, i * d);
    dist[i] = dd;
    if (dd < bestDist[i]) {
      bestDist[i] = dd;
      best.set(point, i * d);
    }
  };

  /** The point at α between x and `end` (L2: the blend; L∞: `end` clipped to the box of radius α around x). */
  const project = (i: number, end: Float32Array, alpha: number, out: Float32Array, at: number) => {
    for (let j = 0; j < d; j++) {
      const c = clean[i * d + j];
      out[at + j] = norm === 'l2' ? (1 - alpha) * c + alpha * end[j] : Math.min(c + alpha, Math.max(c - alpha, end[j]));
    }
  };
  /** Queries the binary-search rounds need for an endpoint at distance `far`. */
  const searchSteps = (far: number) => Math.max(0, Math.ceil(Math.log2(norm === 'l2' ? 1 / theta : far / (Math.min(far, 1) * theta))));

  /** Binary search toward x from the adversarial ends (rows of `ends` for `who`); sets current, dist and distPost. */
  const binarySearch = async (who: number[], ends: Float32Array) => {
    const endOf = (r: number) => ends.subarray(r * d, (r + 1) * d);
    const far = who.map((i, r) => distance(endOf(r), i));
    const low = who.map(() => 0);
    const high = who.map((_, r) => (norm === 'l2' ? 1 : far[r]));
    const tol = who.map((_, r) => (norm === 'l2' ? theta : Math.min(far[r], 1) * theta));
    for (;;) {
      const rows = who.map((_, r) => r).filter((r) => (high[r] - low[r]) / tol[r] > 1 && counter.remaining(who[r]) > 0);
      if (rows.length === 0) break;
      const points = new Float32Array(rows.length * d);
      const mids = rows.map((r) => (low[r] + high[r]) / 2);
      rows.forEach((r, k) => project(who[r], endOf(r), mids[k], points, k * d));
      const met = await decide(points, rows.map((r) => who[r]));
      rows.forEach((r, k) => (met[k] ? (high[r] = mids[k]) : (low[r] = mids[k])));
    }
    const point = new Float32Array(d);
    who.forEach((i, r) => {
      project(i, endOf(r), high[r], point, 0);
      distPost[i] = far[r];
      keep(i, point, distance(point, i));
    });
  };

  // The clean inputs: an example that already meets the goal is done at distance 0.
  const cleanMet = await decide(clean, all);
  for (const i of all) {
    if (!cleanMet[i]) continue;
    found[i] = true;
    stopped[i] = true;
    bestDist[i] = 0;
  }

  // Adversarial starts: the given ones where they meet the goal, else uniform noise.
  const starts = new Float32Array(n * d);
  if (options.starts) {
    const given = (await options.starts.data()) as Float32Array;
    const who = all.filter((i) => !found[i] && counter.remaining(i) > 0);
    const met = await decide(gatherRows(given, who, d), who);
    who.forEach((i, r) => {
      if (!met[r]) return;
      found[i] = true;
      starts.set(given.subarray(i * d, (i + 1) * d), i * d);
    });
  }
  const fresh = all.filter((i) => found[i] && !stopped[i]);
  for (let tries = 0; tries < initTries; tries++) {
    const who = all.filter((i) => !found[i] && counter.remaining(i) > 0);
    if (who.length === 0) break;
    const points = new Float32Array(who.length * d);
    for (let j = 0; j < points.length; j++) points[j] = lo + (hi - lo) * rng.next();
    const met = await decide(points, who);
    who.forEach((i, r) => {
      if (!met[r]) return;
      found[i] = true;
      fresh.push(i);
      starts.set(points.subarray(r * d, (r + 1) * d), i * d);
    });
  }
  fresh.sort((a, b) => a - b);
  if (fresh.length > 0) await binarySearch(fresh, gatherRows(starts, fresh, d));
  stopped = stopped.map((s, i) => s || !found[i]);

  for (;;) {
    // Who iterates: a found start, iterations left, and budget for B_t ≥ 1 samples, a step and a binary search.
    const plan = all
      .filter((i) => !stopped[i] && iteration[i] < steps)
      .map((i) => {
        const t = iteration[i] + 1;
        const reserve = 1 + searchSteps(dist[i] * 2);
        const evals = Math.min(Math.floor(initEvals * Math.sqrt(t)), maxEvals, counter.remaining(i) - reserve);
        const delta = t === 1 ? 0.1 * (hi - lo) : (norm === 'l2' ? Math.sqrt(d) : d) * theta * distPost[i];
        return { i, t, evals, delta };
      })
      .filter((p) => p.evals >= 1);
    if (plan.length === 0) break;
    const who = plan.map((p) => p.i);
    counter.progress(who);
    const update = await estimateDirection(plan, gatherRows(current, who, d));

    // Geometric step search: ξ = d_{t−1}/√t, halved until the step lands on the adversarial side.
    const xi = plan.map((p) => dist[p.i] / Math.sqrt(p.t));
    const halvings = plan.map(() => 0);
    const landed = new Float32Array(plan.length * d);
    const accepted: number[] = [];
    let searching = plan.map((_, r) => r);
    while (searching.length > 0) {
      const points = new Float32Array(searching.length * d);
      searching.forEach((r, k) => {
        const i = who[r];
        for (let j = 0; j < d; j++) points[k * d + j] = clip(current[i * d + j] + xi[r] * update[r * d + j]);
      });
      const met = await decide(points, searching.map((r) => who[r]));
      const next: number[] = [];
      searching.forEach((r, k) => {
        if (met[k]) {
          accepted.push(r);
          landed.set(points.subarray(k * d, (k + 1) * d), r * d);
          return;
        }
        xi[r] /= 2;
        halvings[r]++;
        // Give up (no move) after many halvings, or if the next try would eat the binary search's queries.
        if (halvings[r] < MAX_HALVINGS && counter.remaining(who[r]) > 1 + searchSteps(dist[who[r]] * 2)) next.push(r);
      });
      searching = next;
    }
    accepted.sort((a, b) => a - b);
    if (accepted.length > 0) await binarySearch(accepted.map((r) => who[r]), gatherRows(landed, accepted, d));
    for (const p of plan) iteration[p.i]++;
  }

  /**
   * ĝ at each planned example's boundary point (rows of `points`), from its B_t sign queries,
   * batched over examples in chunks of rows; returns the update v (rows, host).
   */
  async function estimateDirection(plan: { i: number; evals: number; delta: number }[], points: Float32Array): Promise<Float32Array> {
    const a = plan.length;
    const owner: number[] = plan.flatMap((p, e) => new Array<number>(p.evals).fill(e));
    const centres = tf.tensor2d(points, [a, d]);
    // Σ φ·u and Σ u per example, accumulated over chunks, and Σ φ for the baseline.
    let sumPhiU = tf.zeros([a, d]);
    let sumU = tf.zeros([a, d]);
    const sumPhi = new Float64Array(a);
    try {
      for (let start = 0; start < owner.length; start += CHUNK) {
        const rows = owner.slice(start, start + CHUNK);
        const m = rows.length;
        const chunkSeed = rng.seed();
        const [u, perturbed] = tf.tidy(() => {
          const raw = norm === 'l2' ? tf.randomNormal([m, d], 0, 1, 'float32', chunkSeed) : tf.randomUniform([m, d], -1, 1, 'float32', chunkSeed);
          const unit = tf.div(raw, tf.maximum(tf.norm(raw, 'euclidean', 1, true), 1e-12));
          const idx = tf.tensor1d(rows, 'int32');
          const base = tf.gather(centres, idx);
          const delta = tf.reshape(tf.gather(tf.tensor1d(plan.map((p) => p.delta)), idx), [m, 1]);
          const at = tf.clipByValue(tf.add(base, tf.mul(delta, unit)), lo, hi);
          // The direction actually taken, after clipping (as the authors' code).
          return [tf.div(tf.sub(at, base), delta), at];
        });
        let met: boolean[];
        try {
          const batch = tf.reshape(perturbed, [m, ...shape]);
          met = await decide((await batch.data()) as Float32Array, rows.map((e) => plan[e].i)).finally(() => batch.dispose());
        } catch (e) {
          u.dispose();
          throw e;
        } finally {
          perturbed.dispose();
        }
        // Segment sums as a matrix product: W[e, r] = φ_r where row r is example e's.
        const w = new Float32Array(a * m);
        const ones = new Float32Array(a * m);
        rows.forEach((e, r) => {
          const phi = met[r] ? 1 : -1;
          w[e * m + r] = phi;
          ones[e * m + r] = 1;
          sumPhi[e] += phi;
        });
        const [nextPhiU, nextU] = tf.tidy(() => [tf.add(sumPhiU, tf.matMul(tf.tensor2d(w, [a, m]), u)), tf.add(sumU, tf.matMul(tf.tensor2d(ones, [a, m]), u))]);
        tf.dispose([u, sumPhiU, sumU]);
        [sumPhiU, sumU] = [nextPhiU, nextU];
      }
      const v = tf.tidy(() => {
        // Σ (φ − φ̄) u = Σ φu − φ̄ Σ u, with no baseline when all samples agree (φ̄ = ±1).
        const mean = plan.map((p, e) => (Math.abs(sumPhi[e]) === p.evals ? 0 : sumPhi[e] / p.evals));
        const g = tf.sub(sumPhiU, tf.mul(tf.tensor2d(mean, [a, 1]), sumU));
        if (norm === 'linf') return tf.sub(tf.cast(tf.greater(g, 0), 'float32'), tf.cast(tf.less(g, 0), 'float32'));
        return tf.div(g, tf.maximum(tf.norm(g, 'euclidean', 1, true), 1e-12));
      });
      const out = (await v.data()) as Float32Array;
      v.dispose();
      return out;
    } finally {
      tf.dispose([centres, sumPhiU, sumU]);
    }
  }

  counter.finished();
  return blackBoxResult(x, tf.tensor(best, x.shape), found, counter.counts);
}
