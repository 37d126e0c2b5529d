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

/** One example's part of the matrix: which models classify it correctly, and which targets each source's adversarial example fools. */
export interface TransferRecord {
  /** Its position in the run (the first example of the batch given to transferRecords counts from `first`). */
  index: number;
  label: number;
  /** Per model (as `names`): whether it classifies the clean example correctly. */
  correct: boolean[];
  /** Per source (as `sources`), per target model: whether the target misclassifies the source's adversarial example. */
  fooled: boolean[][];
}

/** The models examples can be crafted on: every one with gradients. */
export function transferSources(models: { name: string; classifier: AnyModel }[]): number[] {
  const sources = models.flatMap((m, i) => (m.classifier instanceof Classifier ? [i] : []));
  if (!sources.length) throw new AdvxError('every model is a black box: transfer needs at least one model with gradients to craft the examples on');
  return sources;
}

/**
 * The records of the examples x (one batch: the attack runs once per source on all of them, with
 * attack.options as given, seed included), numbered from `first`.
 */
export async function transferRecords(models: { name: string; classifier: AnyModel }[], x: tf.Tensor, y: tf.Tensor1D, attack: { name: string; options: AttackOptions }, first = 0): Promise<TransferRecord[]> {
  assertOption(models.length > 0, 'the transfer matrix needs at least one model');
  assertOption(y.shape[0] === x.shape[0], `${y.shape[0]} labels for ${x.shape[0]} inputs`);
  const run = getAttack(attack.name);
  const info = models[0].classifier.info;
  for (const m of models) {
    assertOption(m.classifier.info.inputShape.join(',') === info.inputShape.join(',') && m.classifier.info.numClasses === info.numClasses, `model "${m.name}" does not take the same inputs and classes as "${models[0].name}"`);
  }
  const sources = transferSources(models);
  const labels = await y.data();
  const records: TransferRecord[] = Array.from(labels, (label, i) => ({ index: first + i, label, correct: [], fooled: [] }));
  for (const m of models) (await predictLabels(m.classifier, x)).forEach((p, i) => records[i].correct.push(p === labels[i]));
  for (const s of sources) {
    const result = await run(models[s].classifier as Classifier, x, { labels: y }, attack.options);
    try {
      const row = records.map(() => [] as boolean[]);
      for (const m of models) (await predictLabels(m.classifier, result.adversarial)).forEach((p, i) => row[i].push(p !== labels[i]));
      records.forEach((r, i) => r.fooled.push(row[i]));
    } finally {
      result.adversarial.dispose();
    }
  }
  return records;
}

/**
 * The matrix from the records (of one batch, or of a run's batches in index order): the one
 * summary of transferMatrix, of advx transfer and of its merge, so they agree by construction.
 */
export function summarizeTransfer(names: string[], sources: number[], records: readonly TransferRecord[]): TransferMatrix {
  const rates: number[][] = [];
  const counts: number[][] = [];
  for (const [row, s] of sources.entries()) {
    rates.push([]);
    counts.push([]);
    for (let t = 0; t < names.length; t++) {
      const both = records.filter((r) => r.correct[s] && r.correct[t]);
      const fooled = both.filter((r) => r.fooled[row][t]).length;
      rates[row].push(both.length === 0 ? NaN : fooled / both.length);
      counts[row].push(both.length);
    }
  }
  return { names, sources, rates, counts, accuracy: names.map((_, m) => records.filter((r) => r.correct[m]).length / records.length) };
}

/** The transfer matrix of the examples x, the attack run once per source on all of them. */
export async function transferMatrix(models: { name: string; classifier: AnyModel }[], x: tf.Tensor, y: tf.Tensor1D, attack: { name: string; options: AttackOptions }): Promise<TransferMatrix> {
  const records = await transferRecords(models, x, y, attack);
  return summarizeTransfer(models.map((m) => m.name), transferSources(models), records);
}
