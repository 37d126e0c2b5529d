/**
 * The practical black-box attack of Papernot, McDaniel, Goodfellow, Jha, Celik & Swami (2017):
 * train a local substitute on labels asked of the target (an oracle Õ that answers top-1 labels
 * only), then craft adversarial examples white-box on the substitute and rely on transferability.
 *
 * Substitute training (Algorithm 1, Jacobian-based dataset augmentation):
 *   S₀ = the seed set (a few images per class)
 *   for ρ = 0 … rounds − 1:
 *     ask Õ for the labels of the points of S_ρ not yet labelled          (the queries)
 *     train the substitute F on {(x, Õ(x)) : x ∈ S_ρ}                        (epochs per round)
 *     if ρ < rounds − 1:
 *       S_{ρ+1} = S_ρ ∪ {clip(x + λ_ρ · sign(J_F(x)[Õ(x)])) : x ∈ S_ρ}
 * where J_F(x)[c] = ∂F_c(x)/∂x, the gradient of the substitute's logit of the oracle's label:
 * the new points lie where the substitute's output changes fastest, i.e. near where it must learn
 * the oracle's decision boundaries. λ_ρ = λ·(−1)^⌊ρ/τ⌋ (the paper's periodic step size; no flip
 * by default). With `reservoir` = κ, each augmentation takes κ random points of S_ρ instead of
 * all (the paper's reservoir sampling), so S grows linearly rather than doubling.
 * The substitute is trained on, not re-initialised, from round to round (as the authors' code):
 * it starts each round near a solution for most of the data.
 *
 * Queries: one per point labelled; the seed's own labels, when given, cost none. With
 * `maxQueries`, an augmentation keeps only as many new points (a random subset) as the budget
 * leaves, and stops when it leaves none.
 *
 * transferAttack() then runs any registered white-box attack (FGSM, PGD, …) on a source
 * Classifier and reports the share of the target's correctly classified examples that the
 * adversarial examples fool (the transfer rate).
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { AdvxError, assertOption } from '../core/errors.ts';
import { clipToBounds, exactSign } from '../core/norms.ts';
import { Rng } from '../core/rng.ts';
import type { ImageDataset } from '../data/types.ts';
import { Classifier } from '../models/classifier.ts';
import { buildModel } from '../models/zoo.ts';
import { createOptimizer, fitClassifier } from '../train/fit.ts';
import type { DecisionModel } from './blackbox.ts';
import { getAttack, type AttackOptions } from './index.ts';
import type { AttackResult } from './types.ts';

export interface SubstituteOptions {
  /** The substitute's architecture, a zoo name (default 'mlp'). */
  architecture?: string;
  /** Substitute epochs ρ: rounds of labelling and training (default 5). */
  rounds?: number;
  /** Training epochs over S_ρ in each round (default 10). */
  epochs?: number;
  batchSize?: number;
  learningRate?: number;
  /** Augmentation step λ (default 0.1, as in the paper). */
  lambda?: number;
  /** Flip λ's sign every τ rounds (default: never). */
  tau?: number;
  /** Reservoir κ: points of S_ρ augmented per round (default: all). */
  reservoir?: number;
  /** Most oracle queries in all (default: no limit). */
  maxQueries?: number;
  /** Labels asked of the oracle per call (default 500). */
  oracleBatch?: number;
  seed?: number;
  onRound?: (info: SubstituteRound) => void;
}

export interface SubstituteRound {
  /** ρ, from 0. */
  round: number;
  /** |S_ρ|. */
  size: number;
  /** Oracle queries spent so far. */
  queries: number;
  /** The substitute's agreement with the oracle's labels on S_ρ after this round's training. */
  agreement: number;
}

export interface Substitute {
  classifier: Classifier;
  model: tfl.LayersModel;
  /** Oracle queries spent (images labelled), exactly. */
  queries: number;
  rounds: SubstituteRound[];
}

/** Trains a substitute for a label-only oracle from a seed set; `seed.y`, if given, is trusted and costs no query. */
export async function trainSubstitute(oracle: DecisionModel, seed: { x: tf.Tensor; y?: tf.Tensor1D }, options: SubstituteOptions = {}): Promise<Substitute> {
  const { architecture = 'mlp', rounds = 5, epochs = 10, batchSize = 32, learningRate = 1e-3, lambda = 0.1, tau = Infinity, oracleBatch = 500 } = options;
  const maxQueries = options.maxQueries ?? Infinity;
  const seedValue = options.seed ?? 0;
  const info = oracle.info;
  const shape = info.inputShape;
  const n0 = seed.x.shape[0];
  assertOption(n0 > 0, 'the seed set is empty: the substitute needs at least one image');
  assertOption(seed.x.shape.slice(1).join(',') === shape.join(','), `seed images of shape [${seed.x.shape.slice(1)}] do not match the oracle's input [${shape}]`);
  assertOption(shape.length === 3, `the substitute trains on images [H, W, C], the oracle's input is [${shape}]`);
  assertOption(info.numClasses <= 256, `at most 256 classes, got ${info.numClasses}`);
  assertOption(Number.isInteger(rounds) && rounds >= 1, `rounds must be a positive integer, got ${rounds}`);
  assertOption(Number.isInteger(epochs) && epochs >= 1, `epochs must be a positive integer, got ${epochs}`);
  assertOption(Number.isFinite(lambda) && lambda > 0, `λ must be a positive number, got ${lambda}`);
  assertOption(tau === Infinity || (Number.isInteger(tau) && tau >= 1), `τ must be a positive integer, got ${tau}`);
  assertOption(options.reservoir === undefined || (Number.isInteger(options.reservoir) && options.reservoir >= 1), `the reservoir must be a positive integer, got ${options.reservoir}`);
  assertOption(maxQueries === Infinity || (Number.isInteger(maxQueries) && maxQueries >= 0), `maxQueries must be a non-negative integer, got ${maxQueries}`);
  assertOption(Number.isInteger(oracleBatch) && oracleBatch >= 1, `oracleBatch must be a positive integer, got ${oracleBatch}`);
  if (seed.y) assertOption(seed.y.shape[0] === n0, `${seed.y.shape[0]} labels for ${n0} seed images`);
  const size = shape.reduce((a, b) => a * b, 1);
  const rng = new Rng(seedValue);

  // S on the host: images and the oracle's labels, grown round by round.
  let images = Float32Array.from((await seed.x.data()) as Float32Array);
  let labels = new Uint8Array(n0);
  let queries = 0;
  let labelled = 0;
  if (seed.y) {
    const given = await seed.y.data();
    for (let i = 0; i < n0; i++) {
      assertOption(Number.isInteger(given[i]) && given[i] >= 0 && given[i] < info.numClasses, `seed label ${given[i]} is not a class (0…${info.numClasses - 1})`);
      labels[i] = given[i];
    }
    labelled = n0;
  } else {
    assertOption(n0 <= maxQueries, `the seed set of ${n0} images needs ${n0} queries, over the budget of ${maxQueries}`);
  }

  const model = buildModel(architecture, { inputShape: shape, numClasses: info.numClasses, seed: rng.seed() });
  const classifier = new Classifier((t) => model.apply(t) as tf.Tensor, { inputShape: shape, numClasses: info.numClasses, bounds: info.bounds });
  // One optimizer for all rounds: its moments carry over as the model keeps training.
  const optimizer = createOptimizer(learningRate);
  const history: SubstituteRound[] = [];
  try {
    for (let round = 0; round < rounds; round++) {
      const count = labels.length;
      // Label the points added since the last round.
      for (let s = labelled; s < count; s += oracleBatch) {
        const rows = Math.min(oracleBatch, count - s);
        const part = tf.tensor(images.subarray(s * size, (s + rows) * size), [rows, ...shape]);
        try {
          const answer = await oracle.label(part);
          if (answer.length !== rows) throw new AdvxError(`the oracle returned ${answer.length} labels for ${rows} inputs`);
          queries += rows;
          for (let r = 0; r < rows; r++) {
            if (!(answer[r] >= 0 && answer[r] < info.numClasses)) throw new AdvxError(`the oracle returned label ${answer[r]}, not a class (0…${info.numClasses - 1})`);
            labels[s + r] = answer[r];
          }
        } finally {
          part.dispose();
        }
      }
      labelled = count;

      const data: ImageDataset = {
        name: 'substitute',
        images,
        labels,
        shape: shape as [number, number, number],
        numClasses: info.numClasses,
        classNames: Array.from({ length: info.numClasses }, (_, c) => String(c)),
        count,
      };
      await fitClassifier(model, data, { epochs, batchSize, learningRate, seed: rng.seed(), optimizer });

      // Agreement with the oracle on S_ρ and, unless last, the Jacobian augmentation: one batched
      // gradient of Σ_i F_{Õ(xᵢ)}(xᵢ), since each row's logit depends on its own input only.
      const budget = maxQueries - queries;
      let pick: Int32Array | undefined;
      if (round < rounds - 1 && budget > 0) {
        const want = Math.min(options.reservoir ?? count, count, budget);
        pick = want === count ? new Int32Array(count).map((_, i) => i) : rng.permutation(count).subarray(0, want);
      }
      const step = lambda * (-1) ** Math.floor(round / tau);
      let agree = 0;
      const added: Float32Array[] = [];
      const chosen = new Uint8Array(count);
      if (pick) for (const i of pick) chosen[i] = 1;
      for (let s = 0; s < count; s += oracleBatch) {
        const rows = Math.min(oracleBatch, count - s);
        const [pred, next] = tf.tidy(() => {
          const xb = tf.tensor(images.subarray(s * size, (s + rows) * size), [rows, ...shape]);
          const yb = tf.tensor1d(Int32Array.from(labels.subarray(s, s + rows)), 'int32');
          const p = tf.argMax(classifier.logits(xb), 1);
          if (!pick) return [p, undefined];
          const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(classifier.logits(t), tf.oneHot(yb, info.numClasses))))(xb);
          return [p, clipToBounds(tf.add(xb, tf.mul(step, exactSign(g))), info.bounds)];
        });
        const p = await pred.data();
        pred.dispose();
        for (let r = 0; r < rows; r++) if (p[r] === labels[s + r]) agree++;
        if (next) {
          const v = (await next.data()) as Float32Array;
          next.dispose();
          for (let r = 0; r < rows; r++) if (chosen[s + r]) added.push(v.slice(r * size, (r + 1) * size));
        }
      }
      history.push({ round, size: count, queries, agreement: agree / count });
      options.onRound?.(history[history.length - 1]);
      if (!pick) {
        if (round < rounds - 1) break; // the budget is spent: more rounds would learn nothing new
        continue;
      }
      const grown = new Float32Array((count + added.length) * size);
      grown.set(images);
      added.forEach((a, j) => grown.set(a, (count + j) * size));
      images = grown;
      const grownLabels = new Uint8Array(count + added.length);
      grownLabels.set(labels);
      labels = grownLabels;
    }
  } catch (e) {
    model.dispose();
    throw e;
  } finally {
    optimizer.dispose();
  }
  return { classifier, model, queries, rounds: history };
}

export interface TransferOptions extends AttackOptions {
  /** A registered white-box attack (default 'fgsm'). */
  attack?: string;
}

export interface TransferResult {
  /** Share of `counted` examples the target misclassifies after the attack (NaN when none counted). */
  rate: number;
  /** Examples the target classifies correctly when clean: the denominator. */
  counted: number;
  /** Per example: the target gets the clean input right. */
  targetCorrect: boolean[];
  /** Per example: the target gets the clean input right and the adversarial one wrong. */
  fooled: boolean[];
  /** The attack's white-box result on the source (its adversarial batch is the caller's to dispose). */
  source: AttackResult;
  /** Target queries spent (clean + adversarial labels): 2 per example. */
  queries: number;
}

/**
 * Crafts adversarial examples on `source` (white-box) and measures how many fool `target`
 * (a Classifier, or a label-only DecisionModel) among the examples the target gets right.
 */
export async function transferAttack(source: Classifier, target: Classifier | DecisionModel, x: tf.Tensor, y: tf.Tensor1D, options: TransferOptions): Promise<TransferResult> {
  const { attack = 'fgsm', ...attackOptions } = options;
  const run = getAttack(attack);
  const t = target.info;
  const s = source.info;
  assertOption(t.inputShape.join(',') === s.inputShape.join(',') && t.numClasses === s.numClasses, `source [${s.inputShape}] → ${s.numClasses} classes and target [${t.inputShape}] → ${t.numClasses} classes differ`);
  const result = await run(source, x, { labels: y }, attackOptions);
  try {
    const ask = (v: tf.Tensor) => (target instanceof Classifier ? target.predict(v) : target.label(v));
    const [labels, clean, adv] = await Promise.all([y.data(), ask(x), ask(result.adversarial)]);
    const targetCorrect = Array.from(clean, (p, i) => p === labels[i]);
    const fooled = Array.from(adv, (p, i) => targetCorrect[i] && p !== labels[i]);
    const counted = targetCorrect.filter(Boolean).length;
    const rate = counted === 0 ? NaN : fooled.filter(Boolean).length / counted;
    return { rate, counted, targetCorrect, fooled, source: result, queries: 2 * x.shape[0] };
  } catch (e) {
    result.adversarial.dispose();
    throw e;
  }
}
