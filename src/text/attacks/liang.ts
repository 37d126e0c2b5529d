/**
 * Liang et al. 2018, "Deep Text Classification Can be Fooled" (white-box), word by word:
 *
 *   repeat until the goal is met, the budget is spent or no hot token is left:
 *     saliency(token) = Σ over its units (words or characters) of ‖∂loss/∂embedding‖₂
 *       (or, with rank: 'deletion', the drop in the objective when the token is deleted)
 *     take the hottest untried token and build its candidate edits:
 *       delete it; typo it (swap, substitute, drop, add a letter, a look-alike character);
 *       insert before it a word the first-order estimate prefers (word models: argmax_w ∇ₚ·E_w)
 *     score all candidates in one batch; keep the best if it lowers the objective
 *
 * Saliency is recomputed after each edit (one gradient), since an edit moves the hot spots.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../../core/rng.ts';
import { EditableText } from '../edit.ts';
import type { TextClassifier } from '../models.ts';
import { isWord } from '../tokenize.ts';
import { checkTextAttack, Counted, deletionScores, embeddingGradients, objective, reached, result, typos, unitTokens, type TextAttackOptions, type TextAttackResult, type TextGoal } from './types.ts';

export interface LiangOptions extends TextAttackOptions {
  rank?: 'gradient' | 'deletion';
  /** Words to try inserting (default: for word models, the 3 best by first-order estimate at the spot; for char models none). */
  insertWords?: string[];
  /**
   * Hot tokens tried at most (each try costs queries, an edit only when it helps); default 24.
   * Independent of the budget, so a run's first k edits are what a run with budget k makes.
   */
  maxTries?: number;
}

/** Per doc token: the sum of `perUnit` over the model's units that fall inside it. */
export function tokenSaliency(doc: EditableText, units: { start: number; end: number }[], perUnit: ArrayLike<number>, window: number): Float64Array {
  const owner = unitTokens(doc, units, window);
  const out = new Float64Array(doc.size);
  owner.forEach((t, p) => {
    if (t >= 0) out[t] += perUnit[p];
  });
  return out;
}

export async function liang(classifier: TextClassifier, text: string, goal: TextGoal, options: LiangOptions): Promise<TextAttackResult> {
  checkTextAttack(text, goal, classifier.numClasses, options);
  const rng = new Rng(options.seed ?? 0);
  const model = new Counted(classifier);
  const start = EditableText.of(text);
  let doc = start;
  const [before] = await model.scores([text]);
  let current = before;
  let gradients = 0;
  const tried = new Set<number>();
  const maxTries = options.maxTries ?? 24;
  const vocab = classifier.codec.vocab;
  const wordIds = tf.tensor1d(vocab.tokens.map((t, i) => (i > 1 && isWord(t) ? 0 : -1e9)));
  const candidate = (i: number) => doc.surface(i) !== '' && !doc.isEdited(i) && !tried.has(i);
  let order: number[] | undefined;
  if (options.rank === 'deletion') {
    order = (await deletionScores(model, doc, objective(before, goal), goal, Infinity, (i) => isWord(doc.surface(i).toLowerCase()))).map((s) => s.index);
  }
  const warnings = [classifier.codec.encode(text).warning];
  try {
    while (!reached(current, goal) && doc.edits.length < options.budget && tried.size < maxTries) {
      const rendered = doc.text();
      const { grads, ids } = embeddingGradients(classifier, [rendered], goal);
      gradients++;
      const norms = tf.tidy(() => tf.squeeze(tf.sqrt(tf.sum(tf.square(grads), 2)), [0]));
      const perUnit = await norms.data();
      const units = classifier.codec.encode(rendered).units;
      const saliency = tokenSaliency(doc, units, perUnit, classifier.window);
      let hot = -1;
      if (order) hot = order.find((i) => candidate(i)) ?? -1;
      else for (let i = 0; i < doc.size; i++) if (candidate(i) && saliency[i] > 0 && (hot < 0 || saliency[i] > saliency[hot])) hot = i;
      if (hot < 0) {
        tf.dispose([grads, ids, norms]);
        break;
      }
      tried.add(hot);
      const edits: EditableText[] = [];
      if (doc.delete(hot).text().trim() !== '') edits.push(doc.delete(hot));
      if (isWord(doc.surface(hot).toLowerCase())) for (const t of typos(doc.surface(hot), rng)) edits.push(doc.replace(hot, t, 'typo'));
      let inserts = options.insertWords ?? [];
      if (!options.insertWords && classifier.level === 'word') {
        // First-order estimate of putting word w at the hot token's first unit: ∇ₚ · E_w.
        const p = units.findIndex((u) => u.start >= doc.render().starts[hot]);
        if (p >= 0 && p < classifier.window) {
          const best = tf.tidy(() => {
            const g = tf.reshape(tf.slice(grads, [0, p, 0], [1, 1, -1]), [-1, 1]);
            return tf.topk(tf.add(tf.reshape(tf.matMul(classifier.embeddingMatrix(), g), [-1]), wordIds), 3).indices;
          });
          inserts = Array.from(await best.data(), (k) => vocab.tokens[k]);
          best.dispose();
        }
      }
      tf.dispose([grads, ids, norms]);
      for (const w of inserts) edits.push(doc.insert(hot, w));
      const scores = await model.scores(edits.map((e) => e.text()));
      let best = -1;
      for (let k = 0; k < edits.length; k++) if (objective(scores[k], goal) < objective(best < 0 ? current : scores[best], goal)) best = k;
      if (best >= 0) {
        doc = edits[best];
        current = scores[best];
      }
    }
  } finally {
    wordIds.dispose();
  }
  return result(start, doc, goal, before, current, model.queries, gradients, warnings);
}
