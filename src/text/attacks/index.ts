/** The text attacks by name, with one calling convention for the CLI and the benchmark. */
import { AdvxError } from '../../core/errors.ts';
import type { TextClassifier } from '../models.ts';
import { deepWordBug } from './deepwordbug.ts';
import { hotflip } from './hotflip.ts';
import { liang } from './liang.ts';
import { synonymAttack, type SynonymSource } from './synonyms.ts';
import type { TextAttackResult, TextGoal } from './types.ts';

export interface RunTextAttackOptions {
  budget: number;
  seed?: number;
  /** Needed by 'synonyms'. */
  synonyms?: SynonymSource;
}

/** Runs one text attack on one text (how TEXT_ATTACKS holds them). */
export type TextAttackRunner = (c: TextClassifier, text: string, goal: TextGoal, o: RunTextAttackOptions) => Promise<TextAttackResult>;

export const TEXT_ATTACKS = {
  liang: ((c, t, g, o) => liang(c, t, g, o)) as TextAttackRunner,
  hotflip: ((c, t, g, o) => hotflip(c, t, g, o)) as TextAttackRunner,
  deepwordbug: ((c, t, g, o) => deepWordBug(c, t, g, { ...o, maxTokens: c.level === 'word' ? c.window : Math.ceil(c.window / 4) })) as TextAttackRunner,
  synonyms: ((c, t, g, o) => {
    if (!o.synonyms) throw new AdvxError('the synonyms attack needs a synonym source (in Node: loadWordNet().synonyms)');
    return synonymAttack(c, t, g, { ...o, synonyms: o.synonyms, maxTokens: c.level === 'word' ? c.window : Math.ceil(c.window / 4) });
  }) as TextAttackRunner,
};

export type TextAttackName = keyof typeof TEXT_ATTACKS;

export function parseTextAttack(name: string): TextAttackName {
  if (name in TEXT_ATTACKS) return name as TextAttackName;
  throw new AdvxError(`unknown text attack "${name}": choose one of ${Object.keys(TEXT_ATTACKS).join(', ')}`);
}

/** Runs attack `name` (errors, even an unknown name, come back as a rejected promise). */
export async function runTextAttack(name: TextAttackName | (string & {}), classifier: TextClassifier, text: string, goal: TextGoal, options: RunTextAttackOptions): Promise<TextAttackResult> {
  return TEXT_ATTACKS[parseTextAttack(name)](classifier, text, goal, options);
}
