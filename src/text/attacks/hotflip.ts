/**
 * HotFlip (Ebrahimi et al. 2018): flip one unit (a character for char models, a word for word
 * models) at a time, chosen by the first-order estimate of the loss change, with a small beam:
 *
 *   beams ← {text}
 *   for depth 1..budget:
 *     for each beam, gradient g of the goal's loss w.r.t. the embedded sequence
 *     estimate(p, c) = g_p · (E_c − E_{x_p})   for each editable position p and unit c
 *     expand each beam by its `beam` best estimates; score all expansions in one batch
 *     beams ← the `beam` best expansions by the model's real objective; stop when one meets the goal
 *
 * Readability constraint: only letters and digits are flipped, into letters and digits (word
 * models: into vocabulary words), never spaces or punctuation.
 */
import * as tf from '@tensorflow/tfjs-core';
import { EditableText } from '../edit.ts';
import type { TextClassifier } from '../models.ts';
import { isWord } from '../tokenize.ts';
import { checkTextAttack, Counted, embeddingGradients, objective, reached, result, unitTokens, type TextAttackOptions, type TextAttackResult, type TextGoal } from './types.ts';

export interface HotFlipOptions extends TextAttackOptions {
  /** Beam width (default 3; 1 is greedy). */
  beam?: number;
}

interface Beam {
  doc: EditableText;
  scores: number[];
}

const ALNUM = /^[A-Za-z0-9]$/;

export async function hotflip(classifier: TextClassifier, text: string, goal: TextGoal, options: HotFlipOptions): Promise<TextAttackResult> {
  checkTextAttack(text, goal, classifier.numClasses, options);
  const width = options.beam ?? 3;
  const model = new Counted(classifier);
  const vocab = classifier.codec.vocab;
  const charLevel = classifier.level === 'char';
  const allowed = (t: string, i: number) => i > 1 && (charLevel ? ALNUM.test(t) : isWord(t));
  const replaceMask = tf.tensor1d(vocab.tokens.map((t, i) => (allowed(t, i) ? 0 : -1e9)));
  const start = EditableText.of(text);
  const [before] = await model.scores([text]);
  let beams: Beam[] = [{ doc: start, scores: before }];
  let gradients = 0;
  try {
    for (let depth = 0; depth < options.budget && !beams.some((b) => reached(b.scores, goal)); depth++) {
      const texts = beams.map((b) => b.doc.text());
      const { grads, ids } = embeddingGradients(classifier, texts, goal);
      gradients += texts.length;
      const units = texts.map((t) => classifier.codec.encode(t).units);
      const owners = beams.map((b, k) => unitTokens(b.doc, units[k], classifier.window));
      const w = classifier.window;
      const posMask = new Float32Array(beams.length * w).fill(-1e9);
      owners.forEach((owner, k) => owner.forEach((t, p) => {
        if (t >= 0 && allowed(units[k][p].token, 2)) posMask[k * w + p] = 0;
      }));
      const top = tf.tidy(() => {
        const E = classifier.embeddingMatrix();
        const [b, , d] = grads.shape;
        const g = tf.reshape(grads, [b * w, d]);
        const gain = tf.sub(tf.matMul(g, E, false, true), tf.reshape(tf.sum(tf.mul(g, tf.gather(E, tf.reshape(ids, [-1]))), 1), [-1, 1]));
        const masked = tf.add(tf.add(gain, replaceMask), tf.reshape(tf.tensor1d(posMask), [-1, 1]));
        return tf.topk(tf.reshape(masked, [b, -1]), width);
      });
      const [flat, values] = await Promise.all([top.indices.data(), top.values.data()]);
      tf.dispose([grads, ids, top.indices, top.values]);
      const expansions: EditableText[] = [];
      const seen = new Set<string>();
      beams.forEach((beam, k) => {
        for (let j = 0; j < width; j++) {
          if (values[k * width + j] < -1e8) continue;
          const p = Math.floor(flat[k * width + j] / vocab.size);
          const c = vocab.tokens[flat[k * width + j] % vocab.size];
          const t = owners[k][p];
          let next: EditableText;
          if (charLevel) {
            const offset = units[k][p].start - beam.doc.render().starts[t];
            const s = beam.doc.surface(t);
            next = beam.doc.replace(t, s.slice(0, offset) + c + s.slice(offset + 1), 'flip');
          } else {
            next = beam.doc.replace(t, c, 'substitute');
          }
          const key = next.text();
          if (!seen.has(key)) {
            seen.add(key);
            expansions.push(next);
          }
        }
      });
      if (!expansions.length) break;
      const scores = await model.scores(expansions.map((e) => e.text()));
      beams = expansions.map((doc, i) => ({ doc, scores: scores[i] })).sort((a, b) => objective(a.scores, goal) - objective(b.scores, goal)).slice(0, width);
    }
  } finally {
    replaceMask.dispose();
  }
  const best = beams.find((b) => reached(b.scores, goal)) ?? beams.reduce((a, b) => (objective(b.scores, goal) < objective(a.scores, goal) ? b : a));
  return result(start, best.doc, goal, before, best.scores, model.queries, gradients, [classifier.codec.encode(text).warning]);
}
