/**
 * Generated sections of README.md, RESULTS.md and BENCHMARKS.md: the text between
 * `<!-- name:start … -->` and `<!-- name:end -->`, which a bench or docs script owns and rewrites,
 * leaving the rest of the file (prose, other scripts' sections) as it was. A section may hold
 * sections of its own (`attacks:eot` inside `attacks`), rewritten one at a time.
 */
import { existsSync, readFileSync } from 'node:fs';
import { writeFileAtomic } from '../src/node/io/files.ts';

/**
 * What to do with a file that has no markers for the section: throw (the default: a script must
 * not lose its numbers silently), leave the file alone, or return the new text.
 */
export type IfMissing = 'throw' | 'skip' | ((text: string, block: string) => string);

export interface SectionOptions {
  /** Said in the start marker after `name:start`, e.g. '(written by `npm run bench`)'. */
  note?: string;
  ifMissing?: IfMissing;
  /** The file's text when it does not exist yet (otherwise a missing file is an error). */
  newFile?: string;
}

/** A new section at the end of the file, under `heading` when one is given. */
export function appendSection(heading?: string): (text: string, block: string) => string {
  return (text, block) => `${text.trimEnd()}\n\n${heading ? `${heading}\n\n` : ''}${block}\n`;
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The first whole section `name` of `text`, markers included. */
function sectionPattern(name: string): RegExp {
  return new RegExp(`<!-- ${escape(name)}:start[\\s\\S]*?<!-- ${escape(name)}:end -->`);
}

/** The section `name` of `text` with its markers, as it stands (for keeping it), or undefined. */
export function findSection(text: string, name: string): string | undefined {
  return text.match(sectionPattern(name))?.[0];
}

/** A section's markdown and its start marker's note, as `markSection` would have been given them. */
export function readSection(text: string, name: string): { markdown: string; note?: string } | undefined {
  const block = findSection(text, name);
  if (block === undefined) return undefined;
  const start = block.match(new RegExp(`^<!-- ${escape(name)}:start(?: (.*?))? -->\\n?`))!;
  const end = `<!-- ${name}:end -->`;
  const markdown = block.slice(start[0].length, block.length - end.length).replace(/\n$/, '');
  return start[1] === undefined ? { markdown } : { markdown, note: start[1] };
}

/** `markdown` between the section's markers, each marker on a line of its own. */
export function markSection(name: string, markdown: string, note?: string): string {
  return [`<!-- ${name}:start${note ? ` ${note}` : ''} -->`, ...(markdown === '' ? [] : [markdown]), `<!-- ${name}:end -->`].join('\n');
}

/** `text` with section `name` rewritten to hold `markdown` (or undefined: missing, and options.ifMissing is 'skip'). */
export function replaceSectionIn(text: string, name: string, markdown: string, options: SectionOptions = {}, where = 'the text'): string | undefined {
  const block = markSection(name, markdown, options.note);
  const pattern = sectionPattern(name);
  // A function, not a string, as replacement: `$&` or `$'` in generated markdown stays as written.
  if (pattern.test(text)) return text.replace(pattern, () => block);
  const ifMissing = options.ifMissing ?? 'throw';
  if (ifMissing === 'skip') return undefined;
  if (ifMissing === 'throw') throw new Error(`${where} has no section "${name}": add the markers <!-- ${name}:start --> and <!-- ${name}:end --> where it belongs`);
  return ifMissing(text, block);
}

/**
 * Rewrites section `name` of `file` to hold `markdown`, atomically (a crash leaves the old file or
 * the new one, never half of it). The file is read here, just before writing, since another
 * script may have rewritten another of its sections meanwhile. Returns whether it wrote.
 */
export function replaceSection(file: string, name: string, markdown: string, options: SectionOptions = {}): boolean {
  let text: string;
  if (existsSync(file)) text = readFileSync(file, 'utf8');
  else if (options.newFile !== undefined) text = options.newFile;
  else throw new Error(`${file} does not exist, so its section "${name}" cannot be rewritten`);
  const next = replaceSectionIn(text, name, markdown, options, file);
  if (next === undefined) return false;
  writeFileAtomic(file, next);
  return true;
}
