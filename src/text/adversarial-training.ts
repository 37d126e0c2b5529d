/**
 * Adversarial training for text classifiers: each batch is trained on its clean texts and on
 * adversarial copies made against the current model, labelled with their true labels
 * (Goodfellow et al. 2015's mixture, J = (1 − w)·J(clean) + w·J(adversarial)). Two ways to
 * make the copies:
 *
 *   hotflip    (Ebrahimi et al. 2018, who trained on their own flips): `budget` greedy word (or
 *              character) substitutions per text, each the best first-order estimate
 *              g_p · (E_c − E_{x_p}) over the `positions` positions of largest ‖g_p‖ and every
 *              vocabulary unit c, one batched gradient per flip. Real texts, made of the edits
 *              the HotFlip attack makes, without its beam and its re-scoring by the model.
 *   embedding  (Miyato et al. 2017): the embedded sequence moved by r = ε·ē·g/‖g‖₂ (per text,
 *              on its non-padding positions; ē the mean embedding-row norm), no text behind it.
 *              One gradient per batch: cheap, but a perturbation no text edit makes, so it need
 *              not make the model robust to edits (on SpamAssassin it hardly does: RESULTS.md).
 *
 * Only texts whose true label is in `labels` get copies (default: all). For a spam filter,
 * copying only spam (whose senders attack) is tempting, but on small models it teaches the
 * model to call more texts spam: it then resists ham-ward attacks through false positives, not
 * by reading texts better. Gradients for the copies are taken without dropout (the deployed
 * model); the training step applies dropout as fitText does, with fitText's batches and seeds,
 * so the clean warm-up epochs are fitText's epochs. Isomorphic.
 */
import * as tf from '@tensorflow/tfjs-core';
import { AdvxError, assertOption } from '../core/errors.ts';
import { createOptimizer, type EpochInfo } from '../train/fit.ts';
import { disposeOptimizer, epochRng, guardedUpdate, trainableVariables } from '../train/core.ts';
import type { TextClassifier } from './models.ts';
import { isWord } from './tokenize.ts';
import { encodeAll, type LabelledTexts, type TextFitOptions } from './train.ts';

export const TEXT_ADVERSARIAL_METHODS = ['hotflip', 'embedding'] as const;
export type TextAdversarialMethod = (typeof TEXT_ADVERSARIAL_METHODS)[number];

export interface TextAdversarialOptions {
  method: TextAdversarialMethod;
  /** hotflip: substitutions per text (default 3). */
  budget?: number;
  /** hotflip: positions searched per text and flip, those of largest gradient norm (default 32). */
  positions?: number;
  /**
   * embedding: L2 norm of each text's perturbation, as a multiple of the embedding table's mean
   * row norm at that step (required): one word swapped moves a text by about √2 of that, so ε ≈ 2.5
   * is the displacement of about three swaps. Relative, since the table's scale drifts in training
   * (Miyato et al. normalise the embeddings for the same reason).
   */
  epsilon?: number;
  /** Weight w of the adversarial loss, in (0, 1] (default 0.5). */
  weight?: number;
  /** True labels whose texts get adversarial copies (default: every class). */
  labels?: number[];
  /** Clean epochs before the adversarial ones (default 0; copies made against a random model teach little). */
  warmupEpochs?: number;
}

export interface TextAdversarialFitOptions extends Omit<TextFitOptions, 'onEpoch'> {
  adversarial: TextAdversarialOptions;
  onEpoch?: (info: TextAdversarialEpochInfo) => void | Promise<void>;
}

/** An epoch's numbers: loss and accuracy are the clean texts' (in training mode, as fitText's). */
export interface TextAdversarialEpochInfo extends EpochInfo {
  /** Whether this epoch trained on adversarial copies (false in the warm-up). */
  adversarial: boolean;
  /** Of the adversarial copies, the fraction the model (in training mode) still classified right. */
  adversarialAccuracy: number;
  /** Copies made this epoch, and their mean number of flips (hotflip). */
  copies: number;
  meanFlips: number;
}

/** Options checked and defaulted; every bad value is an AdvxError naming it. */
export function checkTextAdversarial(o: TextAdversarialOptions, numClasses: number, epochs: number): Required<TextAdversarialOptions> {
  if (!o || typeof o !== 'object') throw new AdvxError('adversarial training needs options: {method: "hotflip" | "embedding", …}');
  if (!(TEXT_ADVERSARIAL_METHODS as readonly string[]).includes(o.method)) {
    throw new AdvxError(`unknown text adversarial training method "${o.method}": choose one of ${TEXT_ADVERSARIAL_METHODS.join(', ')}`);
  }
  const budget = o.budget ?? 3;
  assertOption(Number.isInteger(budget) && budget >= 1, `the flip budget must be a positive integer, got ${budget}`);
  const positions = o.positions ?? 32;
  assertOption(Number.isInteger(positions) && positions >= 1, `positions searched must be a positive integer, got ${positions}`);
  const epsilon = o.epsilon ?? NaN;
  if (o.method === 'embedding') assertOption(Number.isFinite(epsilon) && epsilon > 0, `embedding adversarial training needs epsilon > 0 (a text's perturbation norm, in mean embedding-row norms), got ${o.epsilon}`);
  const weight = o.weight ?? 0.5;
  assertOption(Number.isFinite(weight) && weight > 0 && weight <= 1, `the adversarial loss weight must be in (0, 1], got ${weight}`);
  const labels = o.labels ?? Array.from({ length: numClasses }, (_, k) => k);
  assertOption(Array.isArray(labels) && labels.length > 0, 'labels must list at least one class whose texts get adversarial copies');
  for (const k of labels) assertOption(Number.isInteger(k) && k >= 0 && k < numClasses, `label ${k} is not a class of this model (0..${numClasses - 1})`);
  const warmupEpochs = o.warmupEpochs ?? 0;
  assertOption(Number.isInteger(warmupEpochs) && warmupEpochs >= 0, `warmupEpochs must be a non-negative integer, got ${warmupEpochs}`);
  assertOption(warmupEpochs < epochs, `warmupEpochs (${warmupEpochs}) must be fewer than epochs (${epochs}), or no epoch is adversarial`);
  return { method: o.method, budget, positions, epsilon, weight, labels, warmupEpochs };
}

const ALNUM = /^[A-Za-z0-9]$/;

/** Per vocabulary id: whether HotFlip may write it (words for word models, letters and digits for char models). */
function flippable(classifier: TextClassifier): Uint8Array {
  const charLevel = classifier.level === 'char';
  return Uint8Array.from(classifier.codec.vocab.tokens, (t, i) => (i > 1 && (charLevel ? ALNUM.test(t) : isWord(t)) ? 1 : 0));
}

/** Most gain-matrix elements computed at once (positions × vocabulary), about 16 MB. */
const MAX_GAIN_ELEMENTS = 4_000_000;

export interface HotFlipIdsOptions {
  /** Flips per text (greedy, one batched gradient each). */
  budget: number;
  /**
   * Positions searched per text and flip: the ones with the largest gradient norm ‖g_p‖, which
   * bounds the first-order gain there (default 32; the window searches them all, as the attack does).
   */
  positions?: number;
}

/**
 * HotFlip on id sequences, batched (what adversarial training needs: no text rendering, no
 * queries): `budget` times, one gradient of the true label's cross-entropy (untargeted: ascend
 * it) for all texts, then per text the best not-yet-flipped position p among its `positions`
 * largest ‖g_p‖ and the best replacement c by g_p · (E_c − E_{x_p}), applied when that estimate
 * is positive. Positions holding a word (word models; <unk> counts) or a letter or digit (char
 * models) may be flipped, into the same kind of unit, as in the HotFlip attack. Returns the new
 * ids and the flips made per text.
 */
export async function hotflipIds(classifier: TextClassifier, ids: Int32Array, labels: ArrayLike<number>, options: HotFlipIdsOptions): Promise<{ ids: Int32Array; flips: Int32Array }> {
  const w = classifier.window;
  const n = labels.length;
  const { budget } = options;
  const positions = Math.min(options.positions ?? 32, w);
  assertOption(ids.length === n * w, `${ids.length} ids for ${n} texts of window ${w}`);
  assertOption(Number.isInteger(budget) && budget >= 0, `the flip budget must be a non-negative integer, got ${budget}`);
  assertOption(Number.isInteger(positions) && positions >= 1, `positions searched must be a positive integer, got ${options.positions}`);
  for (let i = 0; i < n; i++) assertOption(Number.isInteger(labels[i]) && labels[i] >= 0 && labels[i] < classifier.numClasses, `label ${labels[i]} is not a class of this model (0..${classifier.numClasses - 1})`);
  const vocabSize = classifier.codec.vocab.size;
  const canWrite = flippable(classifier);
  const out = ids.slice();
  const flips = new Int32Array(n);
  if (n === 0 || budget === 0) return { ids: out, flips };
  const done = new Uint8Array(n * w);
  const replaceMask = tf.tensor1d(Array.from(canWrite, (ok) => (ok ? 0 : -1e9)));
  const y = tf.tensor1d(Int32Array.from(labels), 'int32');
  const chunk = Math.max(1, Math.floor(MAX_GAIN_ELEMENTS / (positions * vocabSize)));
  try {
    for (let step = 0; step < budget; step++) {
      const x = tf.tensor2d(out, [n, w], 'int32');
      const grads = tf.tidy(() => {
        const oneHot = tf.oneHot(y, classifier.numClasses);
        return tf.grad((e: tf.Tensor) => tf.losses.softmaxCrossEntropy(oneHot, classifier.logitsFromEmbeddings(e as tf.Tensor3D), undefined, 0, tf.Reduction.SUM))(classifier.embed(x)) as tf.Tensor3D;
      });
      x.dispose();
      let changed = false;
      for (let s = 0; s < n; s += chunk) {
        const rows = Math.min(chunk, n - s);
        const cur = out.slice(s * w, (s + rows) * w);
        const posMask = Float32Array.from(cur, (id, k) => ((id === 1 || canWrite[id]) && !done[s * w + k] ? 0 : -1e9));
        const best = tf.tidy(() => {
          const E = classifier.embeddingMatrix();
          const d = E.shape[1];
          const g = tf.slice(grads, [s, 0, 0], [rows, w, d]);
          const norms = tf.add(tf.sqrt(tf.sum(tf.square(g), 2)), tf.tensor2d(posMask, [rows, w]));
          const top = tf.topk(norms, positions);
          const flat = tf.reshape(tf.add(top.indices, tf.reshape(tf.mul(tf.range(0, rows, 1, 'int32'), tf.scalar(w, 'int32')), [-1, 1])), [-1]);
          const gp = tf.gather(tf.reshape(g, [rows * w, d]), flat);
          const at = tf.gather(tf.tensor1d(cur, 'int32'), flat);
          const gain = tf.sub(tf.matMul(gp, E, false, true), tf.reshape(tf.sum(tf.mul(gp, tf.gather(E, at)), 1), [-1, 1]));
          const invalid = tf.reshape(tf.where(tf.less(top.values, -1e8), tf.fill(top.values.shape, -1e9), tf.zerosLike(top.values)), [-1, 1]);
          const masked = tf.reshape(tf.add(tf.add(gain, replaceMask), invalid), [rows, -1]);
          return [tf.argMax(masked, 1), tf.max(masked, 1), top.indices];
        });
        const [where, value, pos] = await Promise.all(best.map((t) => t.data()));
        tf.dispose(best);
        for (let r = 0; r < rows; r++) {
          if (!(value[r] > 0)) continue;
          const p = pos[r * positions + Math.floor(where[r] / vocabSize)];
          const c = where[r] % vocabSize;
          out[(s + r) * w + p] = c;
          done[(s + r) * w + p] = 1;
          flips[s + r]++;
          changed = true;
        }
      }
      grads.dispose();
      if (!changed) break;
    }
  } finally {
    tf.dispose([replaceMask, y]);
  }
  return { ids: out, flips };
}

/**
 * Miyato et al.'s perturbation of embedded sequences `e` [n, window, dim]: `ε·g/‖g‖₂` per text,
 * g the true label's cross-entropy gradient restricted to non-padding positions (`ids` ≠ 0).
 */
export function embeddingPerturbation(classifier: TextClassifier, e: tf.Tensor3D, ids: Int32Array, labels: ArrayLike<number>, epsilon: number): tf.Tensor3D {
  return tf.tidy(() => {
    const [n, w] = e.shape;
    const oneHot = tf.oneHot(tf.tensor1d(Int32Array.from(labels), 'int32'), classifier.numClasses);
    const g = tf.grad((x: tf.Tensor) => tf.losses.softmaxCrossEntropy(oneHot, classifier.logitsFromEmbeddings(x as tf.Tensor3D), undefined, 0, tf.Reduction.SUM))(e);
    const mask = tf.reshape(tf.tensor1d(Float32Array.from(ids, (id) => (id === 0 ? 0 : 1))), [n, w, 1]);
    const gm = tf.mul(g, mask);
    const norm = tf.sqrt(tf.sum(tf.square(gm), [1, 2], true));
    return tf.mul(epsilon, tf.div(gm, tf.maximum(norm, 1e-12))) as tf.Tensor3D;
  });
}

/**
 * fitText with adversarial training: the same loop (Adam, a permutation and dropout seeds per
 * epoch from `seed`) with each batch's adversarial copies trained alongside it, in one forward
 * pass (rows weighted (1 − w)/b clean, w/m copies). With the same seed and data it sees the same
 * batches in the same order as fitText, so the two are a fair comparison.
 */
export async function fitTextAdversarial(classifier: TextClassifier, data: LabelledTexts, options: TextAdversarialFitOptions): Promise<TextAdversarialEpochInfo[]> {
  const n = data.texts.length;
  assertOption(n > 0, 'the training set is empty');
  assertOption(data.labels.length === n, `${data.labels.length} labels for ${n} texts`);
  assertOption(Number.isInteger(options.epochs) && options.epochs >= 1, `epochs must be a positive integer, got ${options.epochs}`);
  const batchSize = options.batchSize ?? 32;
  assertOption(Number.isInteger(batchSize) && batchSize > 0, `batch size must be a positive integer, got ${batchSize}`);
  const lr = options.learningRate ?? 2e-3;
  assertOption(Number.isFinite(lr) && lr > 0, `learning rate must be positive, got ${lr}`);
  assertOption(Number.isFinite(options.seed), `a seed is needed, got ${options.seed}`);
  const adv = checkTextAdversarial(options.adversarial, classifier.numClasses, options.epochs);
  for (let i = 0; i < n; i++) {
    const y = data.labels[i];
    if (!(Number.isInteger(y) && y >= 0 && y < classifier.numClasses)) throw new AdvxError(`label ${y} of text ${i} is not a class of this model (0..${classifier.numClasses - 1})`);
  }
  const attacked = new Set(adv.labels);
  const w = classifier.window;
  const ids = encodeAll(classifier, data.texts);
  const optimizer: tf.Optimizer = createOptimizer(lr);
  const vars = trainableVariables(classifier.model);
  const dropouts = classifier.model.layers.filter((l) => l.getClassName() === 'Dropout') as unknown as Array<{ seed?: number }>;
  const history: TextAdversarialEpochInfo[] = [];
  try {
    for (let epoch = 0; epoch < options.epochs; epoch++) {
      const adversarial = epoch >= adv.warmupEpochs;
      const rng = epochRng(options.seed, epoch);
      const order = rng.permutation(n);
      const start = performance.now();
      let lossSum = 0;
      let correct = 0;
      let advCorrect = 0;
      let copies = 0;
      let flipSum = 0;
      for (let s = 0; s < n; s += batchSize) {
        const idx = order.subarray(s, Math.min(n, s + batchSize));
        const b = idx.length;
        const batchIds = new Int32Array(b * w);
        idx.forEach((j, r) => batchIds.set(ids.subarray(j * w, (j + 1) * w), r * w));
        const labels = Int32Array.from(idx, (j) => data.labels[j]);
        // The adversarial copies of the batch's attacked texts, against the current model.
        const pick = adversarial ? Array.from(idx.keys()).filter((r) => attacked.has(labels[r])) : [];
        const m = pick.length;
        const pickIds = new Int32Array(m * w);
        pick.forEach((r, k) => pickIds.set(batchIds.subarray(r * w, (r + 1) * w), k * w));
        const pickLabels = Int32Array.from(pick, (r) => labels[r]);
        let advIds: Int32Array = pickIds;
        if (m && adv.method === 'hotflip') {
          const flipped = await hotflipIds(classifier, pickIds, pickLabels, { budget: adv.budget, positions: adv.positions });
          advIds = flipped.ids;
          flipSum += flipped.flips.reduce((a, f) => a + f, 0);
        }
        copies += m;
        for (const d of dropouts) d.seed = rng.seed();
        const allIds = new Int32Array((b + m) * w);
        allIds.set(batchIds);
        allIds.set(advIds, b * w);
        // Per-row weights: (1 − w)/b for clean rows, w/m for copies (or 1/b with no copies).
        const rowWeights = new Float32Array(b + m).fill(m ? (1 - adv.weight) / b : 1 / b);
        if (m) rowWeights.fill(adv.weight / m, b);
        const x = tf.tensor2d(allIds, [b + m, w], 'int32');
        const y = tf.tensor1d(Int32Array.from([...labels, ...pickLabels]), 'int32');
        // Outside the update's gradient tape: the perturbation is a constant of the step.
        const shift =
          m && adv.method === 'embedding'
            ? tf.tidy(() => {
                const cleanPick = tf.tensor2d(pickIds, [m, w], 'int32');
                const rowNorm = tf.mean(tf.norm(classifier.embeddingMatrix(), 'euclidean', 1));
                const r = tf.mul(rowNorm, embeddingPerturbation(classifier, classifier.embed(cleanPick), pickIds, pickLabels, adv.epsilon)) as tf.Tensor3D;
                return tf.concat([tf.zeros([b, w, r.shape[2]]), r], 0) as tf.Tensor3D;
              })
            : undefined;
        let v: Float32Array;
        try {
          // The fitText loop's batches and step, but rows weighted and each row's loss and hit read back.
          const done = await guardedUpdate(
            (_keep, report) => {
              let e = classifier.embed(x, allIds);
              if (shift) e = tf.add(e, shift) as tf.Tensor3D;
              const logits = classifier.logitsFromEmbeddings(e, true);
              const rowLoss = tf.losses.softmaxCrossEntropy(tf.oneHot(y, classifier.numClasses), logits, undefined, 0, tf.Reduction.NONE) as tf.Tensor1D;
              report(rowLoss);
              report(tf.cast(tf.equal(tf.argMax(logits, 1), y), 'float32'));
              return tf.sum(tf.mul(rowLoss, tf.tensor1d(rowWeights))) as tf.Scalar;
            },
            vars,
            optimizer,
            { step: epoch * Math.ceil(n / batchSize) + s / batchSize + 1, part: 'text classifier' },
          );
          v = done.reported;
        } finally {
          tf.dispose([x, y, ...(shift ? [shift] : [])]);
        }
        for (let r = 0; r < b; r++) {
          lossSum += v[r];
          correct += v[b + m + r];
        }
        for (let k = 0; k < m; k++) advCorrect += v[b + m + b + k];
      }
      const info: TextAdversarialEpochInfo = {
        epoch: epoch + 1,
        loss: lossSum / n,
        accuracy: correct / n,
        seconds: (performance.now() - start) / 1000,
        learningRate: lr,
        adversarial,
        adversarialAccuracy: copies ? advCorrect / copies : NaN,
        copies,
        meanFlips: copies && adv.method === 'hotflip' ? flipSum / copies : 0,
      };
      history.push(info);
      await options.onEpoch?.(info);
    }
  } finally {
    disposeOptimizer(optimizer);
  }
  return history;
}
