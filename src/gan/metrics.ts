/**
 * Sample-quality metrics for image GANs on our own classifiers' features (isomorphic, no Node API).
 *
 * FID and KID are usually computed on Inception-v3 pool features; for 28×28 digits and clothes we
 * use the penultimate layer of the task's own classifier instead (models/mnist-cnn,
 * models/fashion-cnn: Conv32 → pool → Conv64 → pool → dropout → flatten → Dense128 relu → dropout →
 * Dense10). The default feature layer is the input of the last Dense layer, i.e. the output of
 * `dropout_Dropout2`, which at inference is the 128-d ReLU activation of `dense_Dense1`. Numbers
 * are therefore comparable only between runs that use the same classifier, never with published
 * Inception FIDs.
 *
 *   classifierFeatures       activations [n, d] of a layer of a LayersModel, in batches
 *   frechetDistance          FID = ‖μa − μb‖² + Tr(Σa + Σb − 2(ΣaΣb)^{1/2}), in float64 JS
 *   kernelInceptionDistance  KID: unbiased MMD² with k(x, y) = (x·y/d + 1)³ over random subsets
 *   classCoverage            histogram of argmax labels, classes covered, KL to uniform
 *   precisionRecall          improved precision and recall (k-NN manifolds in feature space)
 *   evaluateGenerator        all of them for a generator's samples against real images
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { AdvxError, assertOption } from '../core/errors.ts';
import { symmetricEigen } from '../core/linalg.ts';
import { Rng } from '../core/rng.ts';
import type { Classifier } from '../models/classifier.ts';
import type { Generator } from './dcgan.ts';
import { sampleImages } from './train-images.ts';

export { symmetricEigen };

// ---------------------------------------------------------------------------------------------
// Features

export interface FeatureOptions {
  /**
   * Name of the layer whose *output* is taken as features. Default: the input of the model's
   * last Dense layer (the penultimate representation; 128-d for models/mnist-cnn and fashion-cnn).
   */
  layer?: string;
  /** Images per forward pass; default 256 (whole datasets overflow the WASM heap). */
  batchSize?: number;
}

const extractors = new WeakMap<tfl.LayersModel, Map<string, tfl.LayersModel>>();
const DEFAULT_LAYER = '\u0000penultimate';

function symbolic(x: tfl.SymbolicTensor | tfl.SymbolicTensor[], what: string): tfl.SymbolicTensor {
  if (Array.isArray(x)) {
    if (x.length !== 1) throw new AdvxError(`${what} has ${x.length} tensors; features need exactly one`);
    return x[0];
  }
  return x;
}

/** A model from `model.inputs` to the feature tensor, built once per (model, layer) and cached. */
function featureExtractor(model: tfl.LayersModel, layer: string | undefined): tfl.LayersModel {
  let byLayer = extractors.get(model);
  if (!byLayer) extractors.set(model, (byLayer = new Map()));
  const key = layer ?? DEFAULT_LAYER;
  let sub = byLayer.get(key);
  if (sub) return sub;
  let output: tfl.SymbolicTensor;
  if (layer === undefined) {
    const dense = model.layers.filter((l) => l.getClassName() === 'Dense');
    const last = dense.at(-1);
    if (!last) throw new AdvxError(`model "${model.name}" has no Dense layer; pass the feature layer's name (opts.layer)`);
    // Node index 0: the call made when the model was built (`.input` throws for shared layers).
    output = symbolic(last.getInputAt(0), `the input of layer "${last.name}"`);
  } else {
    let l: tfl.layers.Layer;
    try {
      l = model.getLayer(layer);
    } catch {
      throw new AdvxError(`model "${model.name}" has no layer "${layer}"; its layers: ${model.layers.map((x) => x.name).join(', ')}`);
    }
    output = symbolic(l.getOutputAt(0), `the output of layer "${layer}"`);
  }
  if (output.shape.length !== 2) {
    throw new AdvxError(`features must be flat vectors [n, d]; ${layer ?? 'the last Dense layer\'s input'} has shape [${output.shape}]`);
  }
  // Shares the model's weights: nothing new to dispose.
  sub = tfl.model({ inputs: model.inputs, outputs: output });
  byLayer.set(key, sub);
  return sub;
}

/**
 * Activations [n, d] of a classifier's penultimate layer (or of `opts.layer`) for `images`
 * [n, H, W, C], computed `batchSize` images at a time at inference (dropout off). The images must
 * be in the form the model takes (for our models: pixels in [0, 1]). The caller disposes the result.
 */
export function classifierFeatures(model: tfl.LayersModel, images: tf.Tensor4D, opts: FeatureOptions = {}): tf.Tensor2D {
  const batchSize = opts.batchSize ?? 256;
  assertOption(Number.isInteger(batchSize) && batchSize > 0, `batchSize must be a positive integer, got ${batchSize}`);
  const expected = (model.inputs[0].shape as (number | null)[]).slice(1);
  const got = images.shape.slice(1);
  if (expected.length !== got.length || expected.some((s, i) => s !== null && s !== got[i])) {
    throw new AdvxError(`model "${model.name}" takes images [n, ${expected}], got [${images.shape}]`);
  }
  const sub = featureExtractor(model, opts.layer);
  const n = images.shape[0];
  const d = sub.outputs[0].shape[1] as number;
  const out = new Float32Array(n * d);
  for (let start = 0; start < n; start += batchSize) {
    const size = Math.min(batchSize, n - start);
    const f = tf.tidy(() => sub.predict(tf.slice(images, [start, 0, 0, 0], [size, -1, -1, -1])) as tf.Tensor);
    out.set(f.dataSync(), start * d);
    f.dispose();
  }
  return tf.tensor2d(out, [n, d]);
}

// ---------------------------------------------------------------------------------------------
// Float64 linear algebra (d ≈ 128: a few ms in plain JS, and more accurate than float32 tensors)

/** Column means and the unbiased covariance (divided by n − 1, as numpy.cov) of rows x [n, d]. */
function meanAndCovariance(x: Float32Array | Float64Array, n: number, d: number): { mu: Float64Array; cov: Float64Array } {
  const mu = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mu[j] += x[i * d + j];
  for (let j = 0; j < d; j++) mu[j] /= n;
  const cov = new Float64Array(d * d);
  const row = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) row[j] = x[i * d + j] - mu[j];
    for (let j = 0; j < d; j++) {
      const rj = row[j];
      if (rj === 0) continue;
      const o = j * d;
      for (let k = j; k < d; k++) cov[o + k] += rj * row[k];
    }
  }
  const denom = Math.max(n - 1, 1);
  for (let j = 0; j < d; j++) {
    for (let k = j; k < d; k++) {
      const v = cov[j * d + k] / denom;
      cov[j * d + k] = v;
      cov[k * d + j] = v;
    }
  }
  return { mu, cov };
}

/** The PSD square root V diag(√max(λ, 0)) Vᵀ of a symmetric matrix. */
function sqrtPsd(a: Float64Array, d: number): Float64Array {
  const { values, vectors: v } = symmetricEigen(a, d);
  const r = new Float64Array(d * d);
  for (let k = 0; k < d; k++) {
    const s = Math.sqrt(Math.max(values[k], 0));
    if (s === 0) continue;
    for (let i = 0; i < d; i++) {
      const vik = v[i * d + k] * s;
      if (vik === 0) continue;
      for (let j = 0; j < d; j++) r[i * d + j] += vik * v[j * d + k];
    }
  }
  return r;
}

function matMul64(a: Float64Array, b: Float64Array, d: number): Float64Array {
  const c = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let k = 0; k < d; k++) {
      const aik = a[i * d + k];
      if (aik === 0) continue;
      for (let j = 0; j < d; j++) c[i * d + j] += aik * b[k * d + j];
    }
  }
  return c;
}

/**
 * Fréchet distance between Gaussians N(μa, Σa) and N(μb, Σb):
 * ‖μa − μb‖² + Tr Σa + Tr Σb − 2 Tr (ΣaΣb)^{1/2}. The last trace is Σ √λᵢ over the eigenvalues
 * of the symmetric PSD matrix Σa^{1/2} Σb Σa^{1/2} (similar to ΣaΣb), negative rounding clamped to
 * 0, so it needs no inverse and works for singular covariances (n ≤ d). Clamped at 0.
 */
export function frechetFromMoments(muA: Float64Array, covA: Float64Array, muB: Float64Array, covB: Float64Array, d: number): number {
  let meanTerm = 0;
  for (let j = 0; j < d; j++) meanTerm += (muA[j] - muB[j]) ** 2;
  let traces = 0;
  for (let j = 0; j < d; j++) traces += covA[j * d + j] + covB[j * d + j];
  const s = sqrtPsd(covA, d);
  const m = matMul64(matMul64(s, covB, d), s, d);
  // Symmetrise the rounding before Jacobi.
  for (let i = 0; i < d; i++) {
    for (let j = i + 1; j < d; j++) {
      const v = 0.5 * (m[i * d + j] + m[j * d + i]);
      m[i * d + j] = v;
      m[j * d + i] = v;
    }
  }
  const { values } = symmetricEigen(m, d);
  let trSqrt = 0;
  for (const l of values) trSqrt += Math.sqrt(Math.max(l, 0));
  return Math.max(meanTerm + traces - 2 * trSqrt, 0);
}

function checkPair(a: tf.Tensor2D, b: tf.Tensor2D, what: string, min: number): void {
  if (a.rank !== 2 || b.rank !== 2) throw new AdvxError(`${what} takes features [n, d], got [${a.shape}] and [${b.shape}]`);
  if (a.shape[1] !== b.shape[1]) throw new AdvxError(`${what}: feature sizes differ, [${a.shape}] vs [${b.shape}]`);
  if (a.shape[0] < min || b.shape[0] < min) throw new AdvxError(`${what} needs at least ${min} samples per set, got ${a.shape[0]} and ${b.shape[0]}`);
}

/**
 * FID between feature sets a [na, d] and b [nb, d], each summarised by its mean and unbiased
 * covariance, computed in float64. Symmetric; 0 for identical sets. Biased upwards for small n
 * (the bias falls like 1/n): compare FIDs computed with the same sample sizes.
 */
export function frechetDistance(a: tf.Tensor2D, b: tf.Tensor2D): number {
  checkPair(a, b, 'frechetDistance', 2);
  const d = a.shape[1];
  const A = meanAndCovariance(a.dataSync() as Float32Array, a.shape[0], d);
  const B = meanAndCovariance(b.dataSync() as Float32Array, b.shape[0], d);
  return frechetFromMoments(A.mu, A.cov, B.mu, B.cov, d);
}

// ---------------------------------------------------------------------------------------------
// KID

export interface KidOptions {
  /** Number of random subset pairs; default 100. */
  subsets?: number;
  /** Samples drawn (without replacement) from each set per subset; default 1000, at most min(na, nb). */
  subsetSize?: number;
  seed?: number;
}

/** What kernelInceptionDistance returns. */
export type KidResult = {
  mean: number;
  /** Standard deviation over the subsets; null when every subset is the whole of both sets. */
  std: number | null;
  /** Subset pairs evaluated (1 when they would all be identical) and samples per subset. */
  subsets: number;
  subsetSize: number;
};

/**
 * Kernel Inception Distance (Bińkowski et al. 2018): the unbiased estimate of MMD² with the cubic
 * polynomial kernel k(x, y) = (x·y/d + 1)³, averaged over `subsets` random pairs of subsets of
 * `subsetSize` samples each (as in their code and torch-fidelity). Returns the mean and the
 * (population) standard deviation over subsets. Unbiased: ≈ 0 — and possibly slightly negative —
 * for two samples of one distribution. Kernel matrices are float32 matrix products; their sums
 * are taken in float64.
 *
 * The subset size is min(subsetSize, na, nb). When that is both whole sets (na = nb ≤ 1000 with
 * the defaults) every "random subset" is the same pair of sets: the estimate is computed once and
 * `std` is null, since a standard deviation over identical subsets is 0 by construction and says
 * nothing about the estimate's spread. Smaller subsets would give a spread, but of an estimator
 * on fewer samples than the mean is computed from (and would lower the default subset size below
 * the paper's 1000 only for small sets), so the spread is left unreported instead: draw more
 * samples, or pass a smaller `subsetSize` explicitly, for one. When only one set is whole
 * (na ≠ nb) the subsets of the larger still differ, and `std` is their spread.
 */
export function kernelInceptionDistance(a: tf.Tensor2D, b: tf.Tensor2D, opts: KidOptions = {}): KidResult {
  checkPair(a, b, 'kernelInceptionDistance', 2);
  const subsets = opts.subsets ?? 100;
  const m = Math.min(opts.subsetSize ?? 1000, a.shape[0], b.shape[0]);
  assertOption(Number.isInteger(subsets) && subsets > 0, `subsets must be a positive integer, got ${subsets}`);
  assertOption(Number.isInteger(m) && m >= 2, `subsetSize must be an integer ≥ 2, got ${opts.subsetSize}`);
  const rng = new Rng(opts.seed ?? 0);
  const d = a.shape[1];
  const kernel = (x: tf.Tensor2D, y: tf.Tensor2D) => tf.pow(tf.add(tf.div(tf.matMul(x, y, false, true), d), 1), 3);
  const sumAll = (k: Float32Array) => {
    let s = 0;
    for (let i = 0; i < k.length; i++) s += k[i];
    return s;
  };
  const sumDiag = (k: Float32Array) => {
    let s = 0;
    for (let i = 0; i < m; i++) s += k[i * m + i];
    return s;
  };
  const whole = m === a.shape[0] && m === b.shape[0];
  const draws = whole ? 1 : subsets;
  const values: number[] = [];
  for (let t = 0; t < draws; t++) {
    const ia = rng.permutation(a.shape[0]).subarray(0, m);
    const ib = rng.permutation(b.shape[0]).subarray(0, m);
    const [kxx, kyy, kxy] = tf.tidy(() => {
      const x = tf.gather(a, tf.tensor1d(ia, 'int32')) as tf.Tensor2D;
      const y = tf.gather(b, tf.tensor1d(ib, 'int32')) as tf.Tensor2D;
      return [kernel(x, x), kernel(y, y), kernel(x, y)];
    });
    const [xx, yy, xy] = [kxx, kyy, kxy].map((k) => k.dataSync() as Float32Array);
    tf.dispose([kxx, kyy, kxy]);
    const mmd = (sumAll(xx) - sumDiag(xx) + sumAll(yy) - sumDiag(yy)) / (m * (m - 1)) - (2 * sumAll(xy)) / (m * m);
    values.push(mmd);
  }
  const mean = values.reduce((s, v) => s + v, 0) / values.length;
  const std = whole ? null : Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / values.length);
  return { mean, std, subsets: draws, subsetSize: m };
}

// ---------------------------------------------------------------------------------------------
// Class coverage

/**
 * A class is covered when it holds at least this share of the uniform share 1/k of the samples
 * (10%: with 10 classes, at least 1% of the samples).
 */
export const COVERAGE_SHARE = 0.1;

/**
 * Mode coverage of a class-conditional or unconditional image GAN through a classifier: labels =
 * argmax of `probs` [n, numClasses] (probabilities or logits). `histogram[c]` is the number of
 * samples labelled c; a class is covered when it holds ≥ COVERAGE_SHARE · n / numClasses samples;
 * klToUniform = KL(p‖uniform) = Σ p_c log(p_c · numClasses) in nats, 0 for a balanced set, log
 * numClasses when every sample falls in one class.
 */
export function classCoverage(probs: tf.Tensor2D, numClasses: number): { classesCovered: number; klToUniform: number; histogram: number[] } {
  assertOption(Number.isInteger(numClasses) && numClasses >= 1, `numClasses must be a positive integer, got ${numClasses}`);
  if (probs.rank !== 2 || probs.shape[1] !== numClasses) {
    throw new AdvxError(`classCoverage takes class scores [n, ${numClasses}], got [${probs.shape}]`);
  }
  const n = probs.shape[0];
  if (n === 0) throw new AdvxError('classCoverage needs at least one sample');
  const argmax = tf.argMax(probs, 1);
  const labels = argmax.dataSync() as Int32Array;
  argmax.dispose();
  const histogram = new Array<number>(numClasses).fill(0);
  for (const c of labels) histogram[c]++;
  const threshold = (COVERAGE_SHARE * n) / numClasses;
  const classesCovered = histogram.filter((h) => h > 0 && h >= threshold).length;
  let klToUniform = 0;
  for (const h of histogram) {
    if (h === 0) continue;
    const p = h / n;
    klToUniform += p * Math.log(p * numClasses);
  }
  return { classesCovered, klToUniform: Math.max(klToUniform, 0), histogram };
}

// ---------------------------------------------------------------------------------------------
// Precision and recall

export interface PrecisionRecallOptions {
  /** Neighbour whose distance is a sample's radius; default 3 (Kynkäänniemi et al.). */
  k?: number;
  /** Rows per pairwise-distance block; default 1024. */
  batchSize?: number;
}

/** Squared Euclidean distances between rows of x [n, d] and y [m, d], returned row block by row block. */
function forEachDistanceBlock(x: tf.Tensor2D, y: tf.Tensor2D, batchSize: number, fn: (start: number, rows: number, dist: Float32Array) => void): void {
  const yNorms = tf.tidy(() => tf.sum(tf.square(y), 1));
  try {
    for (let start = 0; start < x.shape[0]; start += batchSize) {
      const rows = Math.min(batchSize, x.shape[0] - start);
      const dist = tf.tidy(() => {
        const xb = tf.slice(x, [start, 0], [rows, -1]);
        const xn = tf.sum(tf.square(xb), 1, true);
        return tf.relu(tf.add(tf.sub(xn, tf.mul(2, tf.matMul(xb, y, false, true))), yNorms));
      });
      const data = dist.dataSync() as Float32Array;
      dist.dispose();
      fn(start, rows, data);
    }
  } finally {
    yNorms.dispose();
  }
}

/** Squared distance of each row of x to its k-th nearest other row (the self-distance skipped). */
function kthNeighbourRadii(x: tf.Tensor2D, k: number, batchSize: number): Float64Array {
  const n = x.shape[0];
  const radii = new Float64Array(n);
  const row = new Float64Array(n);
  forEachDistanceBlock(x, x, batchSize, (start, rows, dist) => {
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < n; j++) row[j] = dist[r * n + j];
      row[start + r] = Infinity;
      // The k smallest: a partial selection is enough (n is at most a few thousand here).
      radii[start + r] = row.slice().sort()[k - 1];
    }
  });
  return radii;
}

/** Share of rows of `query` that fall inside at least one hypersphere (centre ∈ `ref`, radius²). */
function coveredShare(query: tf.Tensor2D, ref: tf.Tensor2D, radii: Float64Array, batchSize: number): number {
  let inside = 0;
  const m = ref.shape[0];
  forEachDistanceBlock(query, ref, batchSize, (_start, rows, dist) => {
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < m; j++) {
        if (dist[r * m + j] <= radii[j]) {
          inside++;
          break;
        }
      }
    }
  });
  return inside / query.shape[0];
}

/**
 * Improved precision and recall (Kynkäänniemi et al. 2019) of generated features `fake` against
 * `real`: each set's manifold is the union of balls around its samples reaching their k-th
 * nearest neighbour; precision = share of fakes inside the real manifold (quality), recall = share
 * of reals inside the fake manifold (coverage). O(n²) distances: use a few thousand samples.
 */
export function precisionRecall(real: tf.Tensor2D, fake: tf.Tensor2D, opts: PrecisionRecallOptions = {}): { precision: number; recall: number } {
  const k = opts.k ?? 3;
  const batchSize = opts.batchSize ?? 1024;
  checkPair(real, fake, 'precisionRecall', k + 1);
  assertOption(Number.isInteger(k) && k >= 1, `k must be a positive integer, got ${k}`);
  assertOption(Number.isInteger(batchSize) && batchSize > 0, `batchSize must be a positive integer, got ${batchSize}`);
  const realRadii = kthNeighbourRadii(real, k, batchSize);
  const fakeRadii = kthNeighbourRadii(fake, k, batchSize);
  return {
    precision: coveredShare(fake, real, realRadii, batchSize),
    recall: coveredShare(real, fake, fakeRadii, batchSize),
  };
}

// ---------------------------------------------------------------------------------------------
// All of them for a generator

/** What `advx gan evaluate` reports of a generator (snake_case: it is the CLI's JSON as well). */
export interface GeneratorEvaluation {
  fid: number;
  kid: number;
  /** KID's standard deviation over subsets; null when n ≤ 1000, where the one subset is all the samples (kernelInceptionDistance). */
  kid_std: number | null;
  classes_covered: number;
  kl_to_uniform: number;
  precision: number;
  recall: number;
  /** Samples per class the classifier predicts. */
  histogram: number[];
  /** Class-conditional generators: how often the classifier agrees with the label the generator was asked for. */
  class_accuracy?: number;
}

/** The models that judge a generator: a classifier, and the LayersModel whose penultimate features are compared (usually the same network). */
export interface GeneratorJudge {
  classifier: Classifier;
  features: tfl.LayersModel;
}

/** The phases of evaluateGenerator that `onPhase` reports, in order. */
export const EVALUATION_PHASES = ['sampling', 'features of the samples', 'features of the real images', 'class probabilities', 'FID and KID', 'precision and recall'] as const;

/**
 * FID, KID, precision/recall and class coverage of `n` samples of `generator` (seeded z; a cGAN is
 * asked for class k mod numClasses) against `real` images [m, H, W, C] in [0, 1], on the judge's
 * features; KID's subsets are drawn from `seed` too. `onPhase(done, total)`: told 0 before the
 * first phase and each phase of EVALUATION_PHASES as it ends (the results do not depend on it).
 */
export async function evaluateGenerator(generator: Generator, judge: GeneratorJudge, real: tf.Tensor4D, o: { n: number; seed: number; onPhase?: (done: number, total: number) => void }): Promise<GeneratorEvaluation> {
  const { n, seed } = o;
  const g = generator.config;
  assertOption(Number.isInteger(n) && n > 0, `n must be a positive integer, got ${n}`);
  const want = [g.imageSize, g.imageSize, g.channels];
  if (real.shape.slice(1).some((v, i) => v !== want[i])) throw new AdvxError(`the real images are ${real.shape.slice(1).join('×')}, the generator makes ${want.join('×')}`);
  const labels = g.numClasses ? Array.from({ length: n }, (_, i) => i % g.numClasses) : undefined;
  const phases = EVALUATION_PHASES.length;
  let phase = 0;
  const phaseDone = () => o.onPhase?.(++phase, phases);
  o.onPhase?.(0, phases);
  const fake = tf.tensor4d(await sampleImages(generator, n, seed, labels), [n, ...want] as [number, number, number, number]);
  const tensors: tf.Tensor[] = [fake];
  phaseDone();
  try {
    const fakeF = classifierFeatures(judge.features, fake);
    tensors.push(fakeF);
    phaseDone();
    const realF = classifierFeatures(judge.features, real);
    tensors.push(realF);
    phaseDone();
    // Class probabilities of the samples, in batches.
    const probs: tf.Tensor2D[] = [];
    for (let s = 0; s < n; s += 256) probs.push(tf.tidy(() => judge.classifier.probabilities(tf.slice(fake, [s, 0, 0, 0], [Math.min(256, n - s), -1, -1, -1]))));
    const p = tf.concat(probs) as tf.Tensor2D;
    tf.dispose(probs);
    tensors.push(p);
    const coverage = classCoverage(p, judge.classifier.info.numClasses);
    phaseDone();
    const fid = frechetDistance(realF, fakeF);
    const kid = kernelInceptionDistance(realF, fakeF, { seed });
    phaseDone();
    const pr = precisionRecall(realF, fakeF);
    phaseDone();
    const result: GeneratorEvaluation = {
      fid,
      kid: kid.mean,
      kid_std: kid.std,
      classes_covered: coverage.classesCovered,
      kl_to_uniform: coverage.klToUniform,
      precision: pr.precision,
      recall: pr.recall,
      histogram: coverage.histogram,
    };
    if (labels) {
      const argmax = tf.argMax(p, 1);
      const predicted = (await argmax.data()) as Int32Array;
      argmax.dispose();
      result.class_accuracy = predicted.reduce((a, y, i) => a + (y === labels[i] ? 1 : 0), 0) / n;
    }
    return result;
  } finally {
    tf.dispose(tensors);
  }
}
