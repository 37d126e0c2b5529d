/**
 * What every text attack takes and returns, and the pieces they share: the goal's objective,
 * query counting, gradients with respect to the embedded sequence, and typo generators.
 */
import * as tf from '@tensorflow/tfjs-core';
import { AdvxError } from '../../core/errors.ts';
import type { Rng } from '../../core/rng.ts';
import { EditableText, type Segment, type TextEdit } from '../edit.ts';
import type { TextClassifier } from '../models.ts';
import { checkNotEmpty } from '../tokenize.ts';

/** Untargeted: leave class `label` (the true one). Targeted: reach class `label` (the target). */
export interface TextGoal {
  label: number;
  targeted?: boolean;
}

export interface TextAttackOptions {
  /** Most edits (each word deleted, inserted, replaced, or character flipped counts one). */
  budget: number;
  seed?: number;
}

/** A model seen through its scores only (black-box): probabilities for each text. */
export interface TextScoreModel {
  probabilities(texts: string[]): Promise<number[][]>;
  readonly numClasses: number;
}

export interface TextAttackResult {
  original: string;
  adversarial: string;
  edits: TextEdit[];
  /** The adversarial text in pieces, edits marked (see src/text/highlight.ts). */
  segments: Segment[];
  goal: TextGoal;
  /** Class probabilities before and after. */
  before: number[];
  after: number[];
  success: boolean;
  /** Texts the model was asked to score (including the original). */
  queries: number;
  /** Gradient computations (white-box attacks). */
  gradients: number;
  /** E.g. the text was longer than the model's window (only its start is read and attacked). */
  warnings: string[];
}

export function checkTextAttack(text: string, goal: TextGoal, numClasses: number, options: TextAttackOptions): void {
  checkNotEmpty(text);
  if (!(Number.isInteger(goal.label) && goal.label >= 0 && goal.label < numClasses)) throw new AdvxError(`goal label ${goal.label} is not a class of this model (0..${numClasses - 1})`);
  if (!(Number.isInteger(options.budget) && options.budget >= 0)) throw new AdvxError(`the edit budget must be a non-negative integer, got ${options.budget}`);
}

/** What the attack minimises: the true class's probability, or 1 - the target's. */
export function objective(p: number[], goal: TextGoal): number {
  return goal.targeted ? 1 - p[goal.label] : p[goal.label];
}

export function reached(p: number[], goal: TextGoal): boolean {
  const top = p.indexOf(Math.max(...p));
  return goal.targeted ? top === goal.label : top !== goal.label;
}

/** A score model that counts the texts it is asked about. */
export class Counted {
  queries = 0;
  constructor(readonly model: TextScoreModel) {}

  async scores(texts: string[]): Promise<number[][]> {
    this.queries += texts.length;
    return texts.length ? this.model.probabilities(texts) : [];
  }
}

export function result(start: EditableText, end: EditableText, goal: TextGoal, before: number[], after: number[], queries: number, gradients: number, warnings: (string | undefined)[] = []): TextAttackResult {
  return {
    original: start.source,
    adversarial: end.text(),
    edits: [...end.edits],
    segments: end.segments(),
    goal,
    before,
    after,
    success: reached(after, goal),
    queries,
    gradients,
    warnings: warnings.filter((w): w is string => w !== undefined),
  };
}

/**
 * ∂loss/∂(embedded sequence) for texts [batch, window, dim], where loss is the cross-entropy
 * with the goal's label, signed so that ascending it moves towards the goal. Also the ids.
 */
export function embeddingGradients(classifier: TextClassifier, texts: string[], goal: TextGoal): { grads: tf.Tensor3D; ids: tf.Tensor2D; warnings: (string | undefined)[] } {
  const { ids, warnings } = classifier.encode(texts);
  const grads = tf.tidy(() => {
    const e = classifier.embed(ids);
    const y = tf.oneHot(tf.fill([texts.length], goal.label, 'int32') as tf.Tensor1D, classifier.numClasses);
    const sign = goal.targeted ? -1 : 1;
    return tf.grad((x: tf.Tensor) => tf.mul(sign, tf.losses.softmaxCrossEntropy(y, classifier.logitsFromEmbeddings(x as tf.Tensor3D), undefined, 0, tf.Reduction.SUM)))(e) as tf.Tensor3D;
  });
  return { grads, ids, warnings };
}

/** Keyboard-free look-alikes, after Liang et al.'s and DeepWordBug's character edits. */
const LOOKALIKE: Record<string, string> = { o: '0', O: '0', l: '1', i: '1', I: '1', e: '3', E: '3', a: '@', s: '$', S: '$', t: '7', b: '6', g: '9' };

/**
 * A word's typos, one per kind (DeepWordBug's four: swap two neighbours, substitute, delete and
 * insert a letter; and a look-alike character). Positions are drawn from `rng`; the first and
 * last letters are kept where the word is long enough, so the word stays readable.
 */
export function typos(word: string, rng: Rng): string[] {
  const out = new Set<string>();
  const n = word.length;
  const inner = (len: number) => (len > 3 ? 1 + rng.int(len - 2) : rng.int(len));
  const letter = () => String.fromCharCode(97 + rng.int(26));
  if (n >= 2) {
    const i = n > 3 ? 1 + rng.int(n - 3) : rng.int(n - 1);
    out.add(word.slice(0, i) + word[i + 1] + word[i] + word.slice(i + 2));
  }
  const j = inner(n);
  out.add(word.slice(0, j) + letter() + word.slice(j + 1));
  if (n >= 2) {
    const k = inner(n);
    out.add(word.slice(0, k) + word.slice(k + 1));
  }
  const m = n > 1 ? 1 + rng.int(n - 1) : n;
  out.add(word.slice(0, m) + letter() + word.slice(m));
  const look = [...word].findIndex((c) => LOOKALIKE[c]);
  if (look >= 0) out.add(word.slice(0, look) + LOOKALIKE[word[look]] + word.slice(look + 1));
  out.delete(word);
  return [...out];
}

/**
 * Black-box importance of each token (DeepWordBug's and TextFooler's deletion score): how much
 * the objective drops when the token is deleted. Only word tokens among the first `maxTokens`
 * are scored (a black box's guess of what the model reads); one query per scored token.
 */
/** Scores the candidate edits in one batch and keeps the one that lowers the objective most, if any. */
export async function keepBestEdit(model: Counted, edits: EditableText[], goal: TextGoal, doc: EditableText, current: number[]): Promise<{ doc: EditableText; current: number[] }> {
  const scores = await model.scores(edits.map((e) => e.text()));
  let best = -1;
  for (let k = 0; k < edits.length; k++) if (objective(scores[k], goal) < objective(best < 0 ? current : scores[best], goal)) best = k;
  return best >= 0 ? { doc: edits[best], current: scores[best] } : { doc, current };
}

export async function deletionScores(model: Counted, doc: EditableText, base: number, goal: TextGoal, maxTokens: number, isCandidate: (i: number) => boolean): Promise<{ index: number; score: number }[]> {
  const index: number[] = [];
  const texts: string[] = [];
  for (let i = 0; i < Math.min(doc.size, maxTokens); i++) {
    const text = isCandidate(i) ? doc.delete(i).text() : '';
    // A text of one word has nothing left to classify without it: that word is not ranked.
    if (text.trim() !== '') {
      index.push(i);
      texts.push(text);
    }
  }
  const scores = await model.scores(texts);
  return index.map((i, k) => ({ index: i, score: base - objective(scores[k], goal) })).sort((a, b) => b.score - a.score || a.index - b.index);
}

/** For each of the model's first `window` units (spans in the doc's rendered text), the doc token holding it, or -1. */
export function unitTokens(doc: EditableText, units: { start: number; end: number }[], window: number): Int32Array {
  const { starts, ends } = doc.render();
  const n = Math.min(units.length, window);
  const out = new Int32Array(n).fill(-1);
  let t = 0;
  for (let p = 0; p < n; p++) {
    while (t < doc.size && ends[t] <= units[p].start) t++;
    if (t < doc.size && starts[t] <= units[p].start && units[p].start < ends[t]) out[p] = t;
  }
  return out;
}
