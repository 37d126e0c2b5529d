/**
 * Black-box access to a model: only its scores (class probabilities) or only its top-1 labels,
 * never its gradients. Score- and decision-based attacks (square.ts, nes.ts, hopskipjump.ts) take
 * these interfaces, so any model can be attacked: a Classifier through scoreOracle() or
 * decisionOracle(), or an ONNX session, an HTTP endpoint, anything async that answers a batch.
 *
 * Query accounting: an example's query count is the number of images derived from it that the
 * model has been asked about (a batch of 50 noisy copies of example 3 is 50 queries of example 3).
 * A model only sees a batch of images, so the attack, which knows whose images they are, charges
 * them through a QueryCounter; the counter also enforces the per-example budget.
 */
import * as tf from '@tensorflow/tfjs-core';
import { AdvxError } from '../core/errors.ts';
import { batchNorm } from '../core/norms.ts';
import type { BlackBoxInfo, DecisionModel, ScoreModel } from '../models/black-box.ts';
import type { Classifier } from '../models/classifier.ts';
import { checkInputsAgainst, type AttackGoal, type AttackResult } from './types.ts';

// The interfaces are the models' own (models implement them); re-exported here, where the attacks
// that take them have always found them.
export type { BlackBoxInfo, DecisionModel, ScoreModel } from '../models/black-box.ts';

/** A Classifier seen through its probabilities; `queries` counts the images it was asked about. */
export function scoreOracle(classifier: Classifier): ScoreModel & { queries: number } {
  const oracle = {
    info: classifier.info,
    queries: 0,
    async scores(x: tf.Tensor): Promise<tf.Tensor2D> {
      oracle.queries += x.shape[0];
      const p = classifier.probabilities(x);
      // Through host memory: what comes back is numbers, with no tape to the network behind them.
      const values = await p.data();
      p.dispose();
      return tf.tensor2d(values as Float32Array, [x.shape[0], classifier.info.numClasses]);
    },
  };
  return oracle;
}

/** A Classifier seen through its top-1 labels; `queries` counts the images it was asked about. */
export function decisionOracle(classifier: Classifier): DecisionModel & { queries: number } {
  const oracle = {
    info: classifier.info,
    queries: 0,
    async label(x: tf.Tensor): Promise<Int32Array> {
      oracle.queries += x.shape[0];
      return classifier.predict(x);
    },
  };
  return oracle;
}

/**
 * Per-example query accounting and the budget. Every image sent to the model goes through here
 * with the index of the example it belongs to; asking beyond an example's budget is a bug in the
 * attack, not a user error, so it throws a plain Error.
 */
export class QueryCounter {
  readonly counts: Int32Array;
  /** The last step told to onStep (never told a smaller one). */
  private told = -1;

  constructor(
    examples: number,
    readonly budget: number,
    /** Most images per call to the model, to bound memory (an attack may ask for thousands). */
    readonly maxBatch = 2048,
    /** The attack's progress callback, told queries per example of `budget` by progress() and finished(). */
    private readonly onStep?: (step: number, steps: number) => void,
  ) {
    this.counts = new Int32Array(examples);
  }

  /**
   * Tells onStep the fewest queries spent by an example of `live` (those still running; the
   * budget when none), when that has grown since the last call. Host arithmetic only.
   */
  progress(live: ArrayLike<number>): void {
    if (!this.onStep) return;
    let step = this.budget;
    for (let r = 0; r < live.length; r++) step = Math.min(step, this.counts[live[r]]);
    if (step > this.told) {
      this.told = step;
      this.onStep(step, this.budget);
    }
  }

  /** The attack is over: onStep(budget, budget). */
  finished(): void {
    this.progress([]);
  }

  remaining(i: number): number {
    return this.budget - this.counts[i];
  }

  charge(owners: ArrayLike<number>): void {
    for (let r = 0; r < owners.length; r++) {
      const i = owners[r];
      if (this.counts[i] >= this.budget) throw new Error(`black-box attack bug: example ${i} asked past its budget of ${this.budget} queries`);
      this.counts[i]++;
    }
  }

  /** Probabilities of each row of `x` (row-major [rows, numClasses]), charged to `owners`. */
  async scores(model: ScoreModel, x: tf.Tensor, owners: ArrayLike<number>): Promise<Float32Array> {
    const k = model.info.numClasses;
    return this.inChunks(x, owners, k, async (part) => {
      const s = await model.scores(part);
      if (s.rank !== 2 || s.shape[0] !== part.shape[0] || s.shape[1] !== k) {
        const shape = s.shape;
        s.dispose();
        throw new AdvxError(`the score model returned shape [${shape}] for ${part.shape[0]} inputs, expected [${part.shape[0]}, ${k}]`);
      }
      const values = (await s.data()) as Float32Array;
      s.dispose();
      return values;
    });
  }

  /** Top-1 label of each row of `x`, charged to `owners`. */
  async labels(model: DecisionModel, x: tf.Tensor, owners: ArrayLike<number>): Promise<Int32Array> {
    return this.inChunks(x, owners, 1, async (part) => {
      const l = await model.label(part);
      if (l.length !== part.shape[0]) throw new AdvxError(`the decision model returned ${l.length} labels for ${part.shape[0]} inputs`);
      return l;
    });
  }

  private async inChunks<T extends Float32Array | Int32Array>(x: tf.Tensor, owners: ArrayLike<number>, width: number, ask: (part: tf.Tensor) => Promise<T>): Promise<T> {
    const rows = x.shape[0];
    if (owners.length !== rows) throw new Error(`black-box attack bug: ${owners.length} owners for ${rows} images`);
    this.charge(owners);
    if (rows <= this.maxBatch) return ask(x);
    let out: T | undefined;
    for (let r = 0; r < rows; r += this.maxBatch) {
      const size = Math.min(this.maxBatch, rows - r);
      const part = tf.slice(x, r, size);
      try {
        const values = await ask(part);
        if (!out) out = new (values.constructor as new (n: number) => T)(rows * width);
        out.set(values, r * width);
      } finally {
        part.dispose();
      }
    }
    return out!;
  }
}

/**
 * Checks a black-box attack's inputs, with the same checks and messages as the white-box
 * checkAttackInputs (shapes, NaN or infinite pixels, the bounds, int32 labels that are classes).
 */
export function checkBlackBoxInputs(info: BlackBoxInfo, x: tf.Tensor, goal: AttackGoal, options: { eps?: number; queries: number }): void {
  const { eps, queries } = options;
  if (eps !== undefined && !(Number.isFinite(eps) && eps >= 0)) throw new AdvxError(`ε must be a non-negative number, got ${eps}`);
  if (!(Number.isInteger(queries) && queries >= 1)) throw new AdvxError(`the query budget must be a positive integer, got ${queries}`);
  checkInputsAgainst(info, x, goal);
}

/** The goal's labels on the host, checked against the number of classes. */
export async function goalLabels(info: BlackBoxInfo, goal: AttackGoal): Promise<Int32Array> {
  const labels = Int32Array.from(await goal.labels.data());
  for (const l of labels) {
    if (!(Number.isInteger(l) && l >= 0 && l < info.numClasses)) throw new AdvxError(`label ${l} is not a class of this model (0…${info.numClasses - 1})`);
  }
  return labels;
}

/** The row's top class (the first of equal maxima, as tf.argMax). */
export function argmaxRow(p: Float32Array | Int32Array, k: number, row: number): number {
  let best = 0;
  for (let j = 1; j < k; j++) if (p[row * k + j] > p[row * k + best]) best = j;
  return best;
}

/** log p, floored so that a probability that underflowed to 0 stays finite. */
export function logScore(p: number): number {
  return Math.log(Math.max(p, 1e-30));
}

/**
 * The goal's margin on log-probabilities, which is the logit margin (log-softmax only shifts
 * the logits): untargeted z_y − max_{j≠y} z_j, targeted max_{j≠t} z_j − z_t. It is positive
 * while the goal is unmet; attacks descend it.
 */
export function goalMargin(p: Float32Array, k: number, row: number, label: number, targeted: boolean): number {
  let other = -Infinity;
  for (let j = 0; j < k; j++) if (j !== label) other = Math.max(other, logScore(p[row * k + j]));
  const own = logScore(p[row * k + label]);
  return targeted ? other - own : own - other;
}

/** Whether the row's prediction meets the goal. */
export function meetsGoal(p: Float32Array | Int32Array, k: number, row: number, label: number, targeted: boolean): boolean {
  const pred = argmaxRow(p, k, row);
  return targeted ? pred === label : pred !== label;
}

/**
 * The AttackResult of a black-box attack: `success` as the model last answered for each returned
 * point (no extra query), `queries` per example, and `iterations` = the most queries any example
 * used. Takes ownership of nothing: `adversarial` goes into the result.
 */
export async function blackBoxResult(x: tf.Tensor, adversarial: tf.Tensor, success: boolean[], counts: Int32Array): Promise<AttackResult> {
  const [linf, l2] = tf.tidy(() => {
    const d = tf.sub(adversarial, x);
    return [batchNorm(d, 'linf'), batchNorm(d, 'l2')];
  });
  const [a, b] = await Promise.all([linf.data(), l2.data()]);
  tf.dispose([linf, l2]);
  const queries = Array.from(counts);
  return { adversarial, success, linf: Array.from(a), l2: Array.from(b), iterations: queries.reduce((m, q) => Math.max(m, q), 0), queries };
}

/** Rows `rows` of a host batch `data` (each `size` values long), copied into one array. */
export function gatherRows(data: Float32Array, rows: ArrayLike<number>, size: number): Float32Array {
  const out = new Float32Array(rows.length * size);
  for (let r = 0; r < rows.length; r++) out.set(data.subarray(rows[r] * size, (rows[r] + 1) * size), r * size);
  return out;
}
