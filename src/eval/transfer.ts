/**
 * Transferability between models: craft adversarial examples white-box on each source model and
 * classify them with every target model.
 *   entry[s][t] = |{i : s(xᵢ) = yᵢ, t(xᵢ) = yᵢ, t(x'ᵢ,ₛ) ≠ yᵢ}| / |{i : s(xᵢ) = yᵢ, t(xᵢ) = yᵢ}|
 * where x'ᵢ,ₛ is the attack's output on source s. Only examples that both the source and the
 * target classify correctly count, so a rate measures fooling, not prior mistakes; the diagonal
 * (s = t) is then the white-box success rate on s. An entry with no such example is NaN.
 * A black box (a served model) is a target only: examples cannot be crafted on it with gradients,
 * so the rows are the Classifiers (`sources`), the columns every model.
 */
import * as tf from '@tensorflow/tfjs-core';
import { AdvxError, assertOption } from '../core/errors.ts';
import { getAttack, predictLabels, type AnyModel, type AttackOptions } from '../attacks/index.ts';
import { Classifier } from '../models/classifier.ts';

export interface TransferMatrix {
  names: string[];
  /** The models examples were crafted on, as indices into `names` (every one but the black boxes); row s of `rates` is model sources[s]. */
  sources: number[];
  /** rates[source][target], in [0, 1] (NaN when no example counts). */
  rates: number[][];
  /** counts[source][target]: the examples both classify correctly (each rate's denominator). */
  counts: number[][];
  /** Per model: its clean accuracy on x. */
  accuracy: number[];
}

export async function transferMatrix(models: { name: string; classifier: AnyModel }[], x: tf.Tensor, y: tf.Tensor1D, attack: { name: string; options: AttackOptions }): Promise<TransferMatrix> {
  assertOption(models.length > 0, 'the transfer matrix needs at least one model');
  assertOption(y.shape[0] === x.shape[0], `${y.shape[0]} labels for ${x.shape[0]} inputs`);
  const run = getAttack(attack.name);
  const first = models[0].classifier.info;
  for (const m of models) {
    assertOption(m.classifier.info.inputShape.join(',') === first.inputShape.join(',') && m.classifier.info.numClasses === first.numClasses, `model "${m.name}" does not take the same inputs and classes as "${models[0].name}"`);
  }
  const sources = models.flatMap((m, i) => (m.classifier instanceof Classifier ? [i] : []));
  if (!sources.length) throw new AdvxError('every model is a black box: transfer needs at least one model with gradients to craft the examples on');
  const labels = await y.data();
  const n = x.shape[0];
  const correct: boolean[][] = [];
  for (const m of models) correct.push(Array.from(await predictLabels(m.classifier, x), (p, i) => p === labels[i]));
  const rates: number[][] = [];
  const counts: number[][] = [];
  for (const [row, s] of sources.entries()) {
    const result = await run(models[s].classifier as Classifier, x, { labels: y }, attack.options);
    try {
      rates.push([]);
      counts.push([]);
      for (let t = 0; t < models.length; t++) {
        const adv = await predictLabels(models[t].classifier, result.adversarial);
        let count = 0;
        let fooled = 0;
        for (let i = 0; i < n; i++) {
          if (!(correct[s][i] && correct[t][i])) continue;
          count++;
          if (adv[i] !== labels[i]) fooled++;
        }
        rates[row].push(count === 0 ? NaN : fooled / count);
        counts[row].push(count);
      }
    } finally {
      result.adversarial.dispose();
    }
  }
  return { names: models.map((m) => m.name), sources, rates, counts, accuracy: correct.map((c) => c.filter(Boolean).length / n) };
}
