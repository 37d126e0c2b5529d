/**
 * Classic machine-learning classifiers, to compare with the networks of the zoo under attack.
 *
 * Differentiable (exposed as Classifier, so every white-box attack applies):
 *   - multinomial logistic regression: z = xW + b, loss = softmax cross-entropy + (l2/2)·‖W‖²
 *   - linear SVM, Crammer–Singer multiclass hinge:
 *       loss = mean_i max(0, 1 + max_{j≠yᵢ} zᵢⱼ − zᵢ,yᵢ) + (l2/2)·‖W‖²
 *     Both are trained by mini-batch Adam on the full-batch-free objective (seeded shuffling).
 *
 * Not differentiable (exposed as DecisionModel and ScoreModel, so decision-based (HopSkipJump)
 * and score-based (Square, NES) attacks apply):
 *   - k-nearest neighbours, L2 distance: ‖a − b‖² = ‖a‖² − 2a·b + ‖b‖², the cross term one
 *     matMul per batch of queries; the k nearest vote, each weighted 1 + 10⁻³·(k − rank)/k so
 *     that a tied vote goes to the class of the nearer neighbours; scores = weighted vote shares
 *     (their argmax is the label, so score- and decision-based attacks see the same model).
 *   - a CART decision tree: each node splits on x_f ≤ t minimising the children's weighted Gini
 *     impurity 1 − Σ_c p_c²; grown depth-first to maxDepth, or until a node is pure or smaller
 *     than minSamplesSplit. Thresholds are restricted to `thresholds − 1` evenly spaced values
 *     inside the input bounds (histogram splitting, as LightGBM does), so a node costs one pass
 *     over its samples per candidate feature; maxFeatures draws a random subset of features per
 *     node (seeded). Trained in plain TS on typed arrays. label = the leaf's majority class,
 *     scores = the leaf's class frequencies.
 *
 * No Node API here: it runs in the browser as well.
 */
import * as tf from '@tensorflow/tfjs-core';
import { AdvxError, assertOption } from '../core/errors.ts';
import { Rng } from '../core/rng.ts';
import { epochRng } from '../train/core.ts';
import { Classifier } from './classifier.ts';
import type { BlackBoxInfo, DecisionModel, ScoreModel } from './black-box.ts';

export interface ClassicInfo {
  /** Number of classes (default: 1 + the largest label). */
  numClasses?: number;
  /** Valid range of each input value (default [0, 1]). */
  bounds?: [number, number];
}

export interface LinearOptions extends ClassicInfo {
  epochs?: number;
  batchSize?: number;
  learningRate?: number;
  /** L2 regularisation strength on W (default 1e-4). */
  l2?: number;
  seed?: number;
}

/** A trained linear model: its Classifier and the variables behind it (dispose() frees them). */
export interface LinearModel {
  classifier: Classifier;
  weights: { w: tf.Variable; b: tf.Variable };
  dispose(): void;
}

/** Multinomial logistic regression, trained with Adam on softmax cross-entropy. */
export function trainLogisticRegression(x: tf.Tensor, y: tf.Tensor1D, options: LinearOptions = {}): Promise<LinearModel> {
  return trainLinear(x, y, options, (z, labels) => tf.losses.softmaxCrossEntropy(tf.oneHot(labels, z.shape[1]), z) as tf.Scalar);
}

/** Linear SVM with the Crammer–Singer multiclass hinge loss, trained with Adam. */
export function trainLinearSvm(x: tf.Tensor, y: tf.Tensor1D, options: LinearOptions = {}): Promise<LinearModel> {
  return trainLinear(x, y, options, crammerSinger);
}

/** mean_i max(0, 1 + max_{j≠y} z_j − z_y): a margin of 1 between the true class and the runner-up. */
export function crammerSinger(z: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => {
    const oneHot = tf.oneHot(labels, z.shape[1]);
    const own = tf.sum(tf.mul(z, oneHot), 1);
    // Push the true class out of the max with a large negative offset, not −∞ (0·∞ is NaN).
    const other = tf.max(tf.sub(z, tf.mul(oneHot, 1e9)), 1);
    return tf.mean(tf.relu(tf.add(1, tf.sub(other, own)))) as tf.Scalar;
  });
}

async function checkData(x: tf.Tensor, y: tf.Tensor1D, options: ClassicInfo): Promise<{ labels: Int32Array; info: BlackBoxInfo; d: number }> {
  const n = x.shape[0];
  assertOption(n > 0, 'the training set is empty');
  assertOption(y.shape[0] === n, `${y.shape[0]} labels for ${n} inputs`);
  const labels = Int32Array.from(await y.data());
  let top = 0;
  for (const l of labels) {
    assertOption(Number.isInteger(l) && l >= 0, `labels must be non-negative integers, got ${l}`);
    top = Math.max(top, l);
  }
  const numClasses = options.numClasses ?? top + 1;
  assertOption(Number.isInteger(numClasses) && numClasses >= 2, `a classifier needs at least 2 classes, got ${numClasses}`);
  assertOption(top < numClasses, `label ${top} is not a class (0…${numClasses - 1})`);
  const bounds = options.bounds ?? [0, 1];
  assertOption(bounds[0] < bounds[1], `bounds must satisfy low < high, got [${bounds}]`);
  const inputShape = x.shape.slice(1);
  return { labels, info: { inputShape, numClasses, bounds }, d: inputShape.reduce((a, b) => a * b, 1) };
}

async function trainLinear(x: tf.Tensor, y: tf.Tensor1D, options: LinearOptions, loss: (z: tf.Tensor2D, labels: tf.Tensor1D) => tf.Scalar): Promise<LinearModel> {
  const { epochs = 10, batchSize = 64, learningRate = 1e-2, l2 = 1e-4, seed = 0 } = options;
  assertOption(Number.isInteger(epochs) && epochs >= 0, `epochs must be a non-negative integer, got ${epochs}`);
  assertOption(Number.isInteger(batchSize) && batchSize > 0, `batch size must be a positive integer, got ${batchSize}`);
  assertOption(learningRate > 0, `learning rate must be positive, got ${learningRate}`);
  assertOption(l2 >= 0, `l2 must be non-negative, got ${l2}`);
  const { info, d } = await checkData(x, y, options);
  const n = x.shape[0];
  const k = info.numClasses;
  // The objectives are convex: zero initial weights lose nothing and need no seed.
  // In a tidy, so the zeros behind the variables go (tidy keeps variables).
  const [w, b] = tf.tidy(() => [tf.variable(tf.zeros([d, k]), true), tf.variable(tf.zeros([k]), true)]);
  const optimizer = tf.train.adam(learningRate);
  const flat = tf.reshape(x, [n, d]) as tf.Tensor2D;
  const yInt = tf.cast(y, 'int32') as tf.Tensor1D;
  try {
    for (let epoch = 0; epoch < epochs; epoch++) {
      const order = epochRng(seed, epoch).permutation(n);
      for (let s = 0; s < n; s += batchSize) {
        const idx = tf.tensor1d(order.subarray(s, Math.min(n, s + batchSize)), 'int32');
        tf.tidy(() => {
          const xb = tf.gather(flat, idx);
          const yb = tf.gather(yInt, idx) as tf.Tensor1D;
          optimizer.minimize(() => tf.add(loss(tf.add(tf.matMul(xb, w), b) as tf.Tensor2D, yb), tf.mul(l2 / 2, tf.sum(tf.square(w)))) as tf.Scalar, false, [w, b]);
        });
        idx.dispose();
      }
    }
  } finally {
    tf.dispose([flat, yInt]);
    optimizer.dispose();
  }
  const classifier = new Classifier((t) => tf.tidy(() => tf.add(tf.matMul(tf.reshape(t, [t.shape[0], d]), w), b)), info);
  return { classifier, weights: { w, b }, dispose: () => tf.dispose([w, b]) };
}

/** A label- and score-answering model: what decision- and score-based attacks take. */
export interface ClassicModel extends DecisionModel, ScoreModel {
  readonly info: BlackBoxInfo;
  /** Frees what the model holds on the backend (kNN's training set). */
  dispose(): void;
}

export interface KnnOptions extends ClassicInfo {
  /** Neighbours that vote (default 5). */
  k?: number;
  /** Queries per distance matMul (default 256): bounds the [batch, n] distance matrix. */
  batchSize?: number;
}

/** k-nearest neighbours with L2 distance over a stored training set (copied; the caller keeps x, y). */
export class KNearestNeighbors implements ClassicModel {
  readonly k: number;
  private readonly batchSize: number;
  /** [n, d] training inputs, their squared norms [n] and labels [n]. */
  private readonly points: tf.Tensor2D;
  private readonly norms: tf.Tensor1D;
  private readonly labels: tf.Tensor1D;

  private constructor(
    readonly info: BlackBoxInfo,
    points: tf.Tensor2D,
    labels: tf.Tensor1D,
    k: number,
    batchSize: number,
  ) {
    this.points = points;
    this.labels = labels;
    this.norms = tf.tidy(() => tf.sum(tf.square(points), 1));
    this.k = k;
    this.batchSize = batchSize;
  }

  static async fit(x: tf.Tensor, y: tf.Tensor1D, options: KnnOptions = {}): Promise<KNearestNeighbors> {
    const { k = 5, batchSize = 256 } = options;
    assertOption(Number.isInteger(k) && k >= 1, `k must be a positive integer, got ${k}`);
    assertOption(Number.isInteger(batchSize) && batchSize >= 1, `batch size must be a positive integer, got ${batchSize}`);
    const { info, d } = await checkData(x, y, options);
    assertOption(k <= x.shape[0], `k = ${k} exceeds the ${x.shape[0]} training examples`);
    const points = tf.tidy(() => tf.reshape(x, [x.shape[0], d]).clone() as tf.Tensor2D);
    const labels = tf.cast(y, 'int32') as tf.Tensor1D;
    return new KNearestNeighbors(info, points, labels, k, batchSize);
  }

  /** Weighted vote shares [b, numClasses] of one chunk (see the module's doc). */
  private votes(x: tf.Tensor): tf.Tensor2D {
    return tf.tidy(() => {
      const q = tf.reshape(x, [x.shape[0], -1]) as tf.Tensor2D;
      // ‖q‖² is the same for every candidate of a row: leave it out of the ranking.
      const partial = tf.sub(this.norms, tf.mul(2, tf.matMul(q, this.points, false, true)));
      const { indices } = tf.topk(tf.neg(partial), this.k);
      const votes = tf.oneHot(tf.gather(this.labels, indices), this.info.numClasses); // [b, k, C]
      const weights = tf.tensor1d(Array.from({ length: this.k }, (_, r) => 1 + (1e-3 * (this.k - r)) / this.k));
      const total = tf.sum(weights);
      return tf.div(tf.sum(tf.mul(votes, tf.reshape(weights, [1, this.k, 1])), 1), total) as tf.Tensor2D;
    });
  }

  scores(x: tf.Tensor): tf.Tensor2D {
    checkQuery(this.info, x);
    if (x.shape[0] === 0) return tf.zeros([0, this.info.numClasses]);
    const parts: tf.Tensor2D[] = [];
    for (let s = 0; s < x.shape[0]; s += this.batchSize) {
      const size = Math.min(this.batchSize, x.shape[0] - s);
      parts.push(tf.tidy(() => this.votes(tf.slice(x, s, size))));
    }
    if (parts.length === 1) return parts[0];
    const out = tf.concat(parts) as tf.Tensor2D;
    tf.dispose(parts);
    return out;
  }

  async label(x: tf.Tensor): Promise<Int32Array> {
    const s = this.scores(x);
    const l = tf.argMax(s, 1);
    s.dispose();
    const out = Int32Array.from(await l.data());
    l.dispose();
    return out;
  }

  dispose(): void {
    tf.dispose([this.points, this.norms, this.labels]);
  }
}

export interface TreeOptions extends ClassicInfo {
  /** Most levels of splits (default 10). */
  maxDepth?: number;
  /** A node with fewer samples is a leaf (default 2). */
  minSamplesSplit?: number;
  /** Candidate thresholds per feature: `thresholds − 1` evenly spaced inside the bounds (default 16 bins). */
  thresholds?: number;
  /** Features tried per node, drawn at random (default: all). */
  maxFeatures?: number;
  seed?: number;
}

/** A CART decision tree (Gini impurity), stored as flat arrays of nodes. */
export class DecisionTree implements ClassicModel {
  private constructor(
    readonly info: BlackBoxInfo,
    /** Per node: split feature, or −1 for a leaf. */
    readonly feature: Int32Array,
    readonly threshold: Float32Array,
    readonly left: Int32Array,
    readonly right: Int32Array,
    /** Per node: class frequencies of its training samples, [nodes × numClasses]. */
    readonly distribution: Float32Array,
    readonly depth: number,
  ) {}

  get nodes(): number {
    return this.feature.length;
  }

  static async fit(x: tf.Tensor, y: tf.Tensor1D, options: TreeOptions = {}): Promise<DecisionTree> {
    const { maxDepth = 10, minSamplesSplit = 2, thresholds: bins = 16, seed = 0 } = options;
    assertOption(Number.isInteger(maxDepth) && maxDepth >= 1, `the tree's depth must be a positive integer, got ${maxDepth}`);
    assertOption(Number.isInteger(minSamplesSplit) && minSamplesSplit >= 2, `minSamplesSplit must be an integer ≥ 2, got ${minSamplesSplit}`);
    assertOption(Number.isInteger(bins) && bins >= 2 && bins <= 256, `thresholds must be an integer in 2…256, got ${bins}`);
    const { info, d, labels } = await checkData(x, y, options);
    const maxFeatures = options.maxFeatures ?? d;
    assertOption(Number.isInteger(maxFeatures) && maxFeatures >= 1 && maxFeatures <= d, `maxFeatures must be an integer in 1…${d}, got ${maxFeatures}`);
    const n = x.shape[0];
    const C = info.numClasses;
    const [lo, hi] = info.bounds;
    const cuts = new Float32Array(bins - 1).map((_, i) => lo + ((hi - lo) * (i + 1)) / bins);
    // Bin of each value: how many cuts it exceeds, so "bin < s" is exactly "value ≤ cuts[s − 1]",
    // the rule prediction applies to the float32 threshold.
    const values = (await x.data()) as Float32Array;
    const binned = new Uint8Array(n * d);
    for (let i = 0; i < n * d; i++) {
      const v = values[i];
      let b = 0;
      while (b < bins - 1 && v > cuts[b]) b++;
      binned[i] = b;
    }
    const rng = new Rng(seed);
    const feature: number[] = [];
    const threshold: number[] = [];
    const left: number[] = [];
    const right: number[] = [];
    const dist: number[] = [];
    let deepest = 0;
    const hist = new Float64Array(bins * C);
    const features = new Int32Array(d).map((_, i) => i);

    // Depth-first recursion: at most maxDepth frames deep.
    const grow = (samples: Int32Array, depth: number): number => {
      const id = feature.length;
      feature.push(-1);
      threshold.push(0);
      left.push(-1);
      right.push(-1);
      const counts = new Float64Array(C);
      for (const i of samples) counts[labels[i]]++;
      for (let c = 0; c < C; c++) dist.push(counts[c] / samples.length);
      deepest = Math.max(deepest, depth);
      const pure = counts.some((c) => c === samples.length);
      if (depth >= maxDepth || samples.length < minSamplesSplit || pure) return id;
      // Partial Fisher–Yates: the first maxFeatures entries are a uniform random subset.
      if (maxFeatures < d) {
        for (let i = 0; i < maxFeatures; i++) {
          const j = i + rng.int(d - i);
          const t = features[i];
          features[i] = features[j];
          features[j] = t;
        }
      }
      const m = samples.length;
      let best = { gini: Infinity, f: -1, s: -1 };
      for (let fi = 0; fi < maxFeatures; fi++) {
        const f = features[fi];
        hist.fill(0);
        for (const i of samples) hist[binned[i * d + f] * C + labels[i]]++;
        // Sweep the cuts: left = bins < s. Weighted Gini = Σ_side (m_side − Σ_c n_c²/m_side) / m.
        const leftCounts = new Float64Array(C);
        let mLeft = 0;
        for (let s = 1; s < bins; s++) {
          for (let c = 0; c < C; c++) {
            leftCounts[c] += hist[(s - 1) * C + c];
            mLeft += hist[(s - 1) * C + c];
          }
          const mRight = m - mLeft;
          if (mLeft === 0 || mRight === 0) continue;
          let sqL = 0;
          let sqR = 0;
          for (let c = 0; c < C; c++) {
            sqL += leftCounts[c] * leftCounts[c];
            const r = counts[c] - leftCounts[c];
            sqR += r * r;
          }
          const gini = (mLeft - sqL / mLeft + mRight - sqR / mRight) / m;
          if (gini < best.gini - 1e-12) best = { gini, f, s };
        }
      }
      // No split that lowers the impurity: a leaf.
      let parent = 0;
      for (let c = 0; c < C; c++) parent += counts[c] * counts[c];
      if (best.f < 0 || best.gini >= 1 - parent / (m * m) - 1e-12) return id;
      const goLeft = samples.filter((i) => binned[i * d + best.f] < best.s);
      const goRight = samples.filter((i) => binned[i * d + best.f] >= best.s);
      feature[id] = best.f;
      threshold[id] = cuts[best.s - 1];
      left[id] = grow(goLeft, depth + 1);
      right[id] = grow(goRight, depth + 1);
      return id;
    };
    grow(new Int32Array(n).map((_, i) => i), 0);
    return new DecisionTree(info, Int32Array.from(feature), Float32Array.from(threshold), Int32Array.from(left), Int32Array.from(right), Float32Array.from(dist), deepest);
  }

  /** Leaf index of each row of a host batch. */
  private leaves(values: Float32Array, rows: number): Int32Array {
    const d = values.length / Math.max(1, rows);
    const out = new Int32Array(rows);
    for (let r = 0; r < rows; r++) {
      let node = 0;
      while (this.feature[node] >= 0) node = values[r * d + this.feature[node]] <= this.threshold[node] ? this.left[node] : this.right[node];
      out[r] = node;
    }
    return out;
  }

  async scores(x: tf.Tensor): Promise<tf.Tensor2D> {
    checkQuery(this.info, x);
    const C = this.info.numClasses;
    const leaves = this.leaves((await x.data()) as Float32Array, x.shape[0]);
    const out = new Float32Array(leaves.length * C);
    leaves.forEach((node, r) => out.set(this.distribution.subarray(node * C, (node + 1) * C), r * C));
    return tf.tensor2d(out, [leaves.length, C]);
  }

  async label(x: tf.Tensor): Promise<Int32Array> {
    checkQuery(this.info, x);
    const C = this.info.numClasses;
    const leaves = this.leaves((await x.data()) as Float32Array, x.shape[0]);
    return leaves.map((node) => {
      // The first of equal maxima, as tf.argMax on the scores.
      let best = 0;
      for (let c = 1; c < C; c++) if (this.distribution[node * C + c] > this.distribution[node * C + best]) best = c;
      return best;
    });
  }

  dispose(): void {
    // Host memory only.
  }
}

function checkQuery(info: BlackBoxInfo, x: tf.Tensor): void {
  if (x.shape.slice(1).join(',') !== info.inputShape.join(',')) {
    throw new AdvxError(`input shape [${x.shape}] does not match the model's input [batch, ${info.inputShape}]`);
  }
}
