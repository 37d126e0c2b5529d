/**
 * Tokenizers: text to the units a model reads (words or characters), each with its span in the
 * text, so an attack can map a unit back to the characters it edits and a report can highlight
 * them. Isomorphic.
 */
import { AdvxError } from '../core/errors.ts';

/** One unit of a text: its normalised form and where it sits in the text, [start, end). */
export interface Unit {
  token: string;
  start: number;
  end: number;
}

/**
 * Words (letters and digits, with an inner apostrophe: "don't") and single punctuation marks,
 * lowercased. Punctuation is kept because "!!!" and "$" are evidence in spam.
 */
const WORD = /[\p{L}\p{N}]+(?:['’][\p{L}]+)*|[^\s\p{L}\p{N}]/gu;

export function wordUnits(text: string): Unit[] {
  const out: Unit[] = [];
  for (const m of text.matchAll(WORD)) out.push({ token: m[0].toLowerCase(), start: m.index, end: m.index + m[0].length });
  return out;
}

export function tokenize(text: string): string[] {
  return wordUnits(text).map((u) => u.token);
}

/** Whether a token is a word (letters or digits) rather than a punctuation mark. */
export function isWord(token: string): boolean {
  return /^[\p{L}\p{N}]/u.test(token);
}

/**
 * Characters (UTF-16 code units), case kept: capitals are spam evidence. Every whitespace
 * character reads as a space, so line breaks and tabs cost no alphabet.
 */
export function charUnits(text: string): Unit[] {
  const out: Unit[] = new Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    out[i] = { token: /\s/.test(c) ? ' ' : c, start: i, end: i + 1 };
  }
  return out;
}

export type TextLevel = 'word' | 'char';

export function units(text: string, level: TextLevel): Unit[] {
  return level === 'word' ? wordUnits(text) : charUnits(text);
}

/** Throws the error of an empty input (nothing to classify), naming what was given. */
export function checkNotEmpty(text: string, index?: number): void {
  if (typeof text !== 'string') throw new AdvxError(`text${index === undefined ? '' : ` ${index}`} is not a string (got ${typeof text})`);
  if (text.trim() === '') throw new AdvxError(`text${index === undefined ? '' : ` ${index}`} is empty: there is nothing to classify`);
}
