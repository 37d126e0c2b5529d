/**
 * DeepWordBug (Gao et al. 2018), black-box: rank words by how much deleting each one moves the
 * score (its "replace-1" score, one query per word), then, in that order, typo the words:
 *
 *   scores ← objective(text) − objective(text without word i), for each word i read
 *   for i in words by decreasing score, until the goal is met or the budget is spent:
 *     candidates ← typos of word i (swap, substitute, delete, insert a letter; a look-alike)
 *     score them in one batch; keep the best if it lowers the objective (one edit)
 *
 * Only scores are used, and every text sent to the model is counted in `queries`.
 */
import { Rng } from '../../core/rng.ts';
import { EditableText } from '../edit.ts';
import { isWord } from '../tokenize.ts';
import { checkTextAttack, Counted, deletionScores, keepBestEdit, objective, reached, result, typos, type TextAttackOptions, type TextAttackResult, type TextGoal, type TextScoreModel } from './types.ts';

export interface DeepWordBugOptions extends TextAttackOptions {
  /** Tokens scored from the start of the text: a black box's guess of what the model reads (default 256). */
  maxTokens?: number;
}

export async function deepWordBug(model: TextScoreModel, text: string, goal: TextGoal, options: DeepWordBugOptions): Promise<TextAttackResult> {
  checkTextAttack(text, goal, model.numClasses, options);
  const rng = new Rng(options.seed ?? 0);
  const counted = new Counted(model);
  const start = EditableText.of(text);
  let doc = start;
  const [before] = await counted.scores([text]);
  let current = before;
  if (!reached(current, goal) && options.budget > 0) {
    const ranked = await deletionScores(counted, doc, objective(before, goal), goal, options.maxTokens ?? 256, (i) => isWord(doc.surface(i).toLowerCase()));
    for (const { index } of ranked) {
      if (reached(current, goal) || doc.edits.length >= options.budget) break;
      const edits = typos(doc.surface(index), rng).map((t) => doc.replace(index, t, 'typo'));
      ({ doc, current } = await keepBestEdit(counted, edits, goal, doc, current));
    }
  }
  return result(start, doc, goal, before, current, counted.queries, 0);
}
