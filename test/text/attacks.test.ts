/**
 * Text models and attacks on tiny spam classifiers (a word CNN and a char CNN trained for a few
 * seconds on 800 messages): training learns, gradients reach the embeddings, each attack flips
 * some predictions within its budget and never exceeds it, queries are counted exactly, the same
 * seed gives the same result, and repeated calls leak no tensors.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { setup, tensorCounts } from '../helpers/backend.ts';
import { AdvxError } from '../../src/core/errors.ts';
import { loadSpam } from '../../src/node/datasets/spam.ts';
import { loadTextClassifier, saveTextClassifier } from '../../src/node/io/text-model.ts';
import { loadWordNet } from '../../src/node/datasets/wordnet.ts';
import { buildTextClassifier, type TextClassifier } from '../../src/text/models.ts';
import { fitText, textAccuracy } from '../../src/text/train.ts';
import { tokenize } from '../../src/text/tokenize.ts';
import { TextCodec, Vocab } from '../../src/text/vocab.ts';
import { liang } from '../../src/text/attacks/liang.ts';
import { hotflip } from '../../src/text/attacks/hotflip.ts';
import { deepWordBug } from '../../src/text/attacks/deepwordbug.ts';
import { synonymAttack } from '../../src/text/attacks/synonyms.ts';
import { runTextAttack } from '../../src/text/attacks/index.ts';
import { embeddingGradients, reached, type TextAttackResult, type TextGoal } from '../../src/text/attacks/types.ts';

let word: TextClassifier;
let char: TextClassifier;
/** Per model: test spam messages it gets right, closest to the boundary first (the ones a small budget can flip). */
const targets = new Map<TextClassifier, string[]>();
const HAM: TextGoal = { label: 0, targeted: true };
const BUDGET = 3;

async function hardestSpam(c: TextClassifier, texts: string[], n: number): Promise<string[]> {
  const p = await c.probabilities(texts);
  return texts.map((t, i) => ({ t, s: p[i][1] })).filter((x) => x.s > 0.5).sort((a, b) => a.s - b.s).slice(0, n).map((x) => x.t);
}

before(async () => {
  await setup();
  const s = loadSpam();
  const train = { texts: s.train.slice(0, 800).map((e) => e.text), labels: s.train.slice(0, 800).map((e) => e.label) };
  const vocab = Vocab.build(train.texts.map(tokenize), 3000);
  word = buildTextClassifier(new TextCodec('word', vocab, 64), s.classNames, { seed: 1 });
  char = buildTextClassifier(new TextCodec('char', Vocab.ascii(), 128), s.classNames, { seed: 1 });
  await fitText(word, train, { epochs: 4, seed: 1, learningRate: 5e-3 });
  await fitText(char, train, { epochs: 4, seed: 1, learningRate: 5e-3 });
  const spam = s.test.filter((e) => e.label === 1).slice(0, 150).map((e) => e.text);
  for (const c of [word, char]) targets.set(c, await hardestSpam(c, spam, 6));
});

/** The classifier with its score queries counted from outside the attack. */
function counting(c: TextClassifier): { model: TextClassifier; count: { n: number } } {
  const count = { n: 0 };
  const model = Object.create(c) as TextClassifier;
  model.probabilities = async (texts: string[]) => {
    count.n += texts.length;
    return c.probabilities(texts);
  };
  return { model, count };
}

async function checkResults(c: TextClassifier, results: TextAttackResult[], budget: number, minSuccess: number): Promise<void> {
  const rescored = await c.probabilities(results.map((r) => r.adversarial));
  results.forEach((r, i) => {
    assert.ok(r.edits.length <= budget, `${r.edits.length} edits for a budget of ${budget}`);
    assert.ok(Math.abs(rescored[i][0] - r.after[0]) < 1e-4, 'the reported probability is the adversarial text\'s');
    assert.equal(r.success, reached(rescored[i], r.goal));
    assert.equal(r.segments.map((s) => s.text).join(''), r.adversarial);
    if (r.edits.length === 0) assert.equal(r.adversarial, r.original);
  });
  const wins = results.filter((r) => r.success).length;
  assert.ok(wins >= minSuccess, `${wins} successes of ${results.length}, expected at least ${minSuccess}`);
}

test('tiny models learn (word CNN and char CNN), save and load with their vocabulary', async () => {
  const s = loadSpam();
  const test = { texts: s.test.slice(0, 300).map((e) => e.text), labels: s.test.slice(0, 300).map((e) => e.label) };
  const accWord = await textAccuracy(word, test);
  const accChar = await textAccuracy(char, test);
  assert.ok(accWord > 0.85, `word model accuracy ${accWord}`);
  assert.ok(accChar > 0.7, `char model accuracy ${accChar}`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'advx-text-model-'));
  await saveTextClassifier(word, dir);
  const loaded = await loadTextClassifier(dir);
  assert.deepEqual(await loaded.probabilities(test.texts.slice(0, 5)), await word.probabilities(test.texts.slice(0, 5)));
  assert.deepEqual(loaded.codec.toJSON(), word.codec.toJSON());
  fs.rmSync(path.join(dir, 'text.json'));
  await assert.rejects(loadTextClassifier(dir), (e: Error) => e instanceof AdvxError && /vocabulary/.test(e.message));
  fs.rmSync(dir, { recursive: true });
});

test('gradients w.r.t. the embedded sequence are finite, non-zero, and only inside the text', () => {
  const before = tf.memory().numTensors;
  const { grads, ids } = embeddingGradients(word, ['win a free prize now'], HAM);
  const g = tf.tidy(() => tf.sum(tf.abs(grads), 2));
  const v = g.dataSync();
  assert.ok(v[0] > 0 && Number.isFinite(v[0]));
  assert.equal(grads.shape.join(), `1,64,${word.embeddingMatrix().shape[1]}`);
  tf.dispose([grads, ids, g]);
  assert.equal(tf.memory().numTensors, before);
});

test('Liang et al. (white-box): flips within the budget on word and char models, targeted and untargeted', async () => {
  for (const c of [word, char]) {
    const { model, count } = counting(c);
    const results: TextAttackResult[] = [];
    for (const text of targets.get(c)!) {
      const before = count.n;
      const r = await liang(model, text, HAM, { budget: BUDGET, seed: 1 });
      assert.equal(r.queries, count.n - before, 'every scored text is counted');
      assert.ok(r.gradients >= 1);
      results.push(r);
    }
    await checkResults(c, results, BUDGET, 1);
    const untargeted = await liang(c, targets.get(c)![0], { label: 1 }, { budget: BUDGET, seed: 1, rank: 'deletion' });
    await checkResults(c, [untargeted], BUDGET, 0);
  }
});

test('HotFlip (white-box, beam search): flips characters or words within the budget', async () => {
  for (const c of [word, char]) {
    const { model, count } = counting(c);
    const results: TextAttackResult[] = [];
    for (const text of targets.get(c)!) {
      const before = count.n;
      const r = await hotflip(model, text, HAM, { budget: BUDGET, beam: 2 });
      assert.equal(r.queries, count.n - before);
      results.push(r);
    }
    await checkResults(c, results, BUDGET, 1);
    for (const r of results) for (const e of r.edits) assert.equal(e.kind, c.level === 'char' ? 'flip' : 'substitute');
    if (c.level === 'char') for (const r of results) for (const e of r.edits) assert.equal(e.after.length, e.before.length, 'a flip keeps the word length');
  }
});

test('DeepWordBug (black-box): typos ranked by score changes, queries counted', async () => {
  const { model, count } = counting(word);
  const results: TextAttackResult[] = [];
  for (const text of targets.get(word)!) {
    const before = count.n;
    const r = await deepWordBug(model, text, HAM, { budget: BUDGET, seed: 1, maxTokens: 64 });
    assert.equal(r.queries, count.n - before);
    assert.ok(r.edits.every((e) => e.kind === 'typo'));
    results.push(r);
  }
  await checkResults(word, results, BUDGET, 1);
  // The same seed gives the same result; the untargeted goal works too.
  const a = await deepWordBug(word, targets.get(word)![0], { label: 1 }, { budget: BUDGET, seed: 5, maxTokens: 64 });
  const b = await deepWordBug(word, targets.get(word)![0], { label: 1 }, { budget: BUDGET, seed: 5, maxTokens: 64 });
  assert.deepEqual(a, b);
});

test('WordNet synonym substitution (black-box): real synonyms, case kept, within the budget', async () => {
  const wn = loadWordNet();
  const results: TextAttackResult[] = [];
  for (const c of [word, char]) {
    for (const text of targets.get(c)!) results.push(await synonymAttack(c, text, HAM, { budget: BUDGET, synonyms: wn.synonyms, maxTokens: 64 }));
    for (const r of results) for (const e of r.edits) assert.ok(wn.synonyms(e.before.toLowerCase()).map((s) => s.toLowerCase()).includes(e.after.toLowerCase()), `${e.before} → ${e.after}`);
  }
  for (const r of results) assert.ok(r.edits.length <= BUDGET);
  assert.ok(results.some((r) => r.success), 'at least one message flipped by synonyms');
  await assert.rejects(runTextAttack('synonyms', word, 'hello', HAM, { budget: 1 }), AdvxError);
});

test('bad input: empty text and unknown attack are errors; a long text is attacked with a warning; budget 0 edits nothing', async () => {
  await assert.rejects(liang(word, '   ', HAM, { budget: 1 }), (e: Error) => e instanceof AdvxError && /empty/.test(e.message));
  await assert.rejects(hotflip(char, '', HAM, { budget: 1 }), (e: Error) => e instanceof AdvxError && /empty/.test(e.message));
  await assert.rejects(runTextAttack('nope', word, 'hi', HAM, { budget: 1 }), (e: Error) => e instanceof AdvxError && /unknown text attack/.test(e.message));
  await assert.rejects(liang(word, 'hi', { label: 5 }, { budget: 1 }), AdvxError);
  const long = `${targets.get(word)![0]} ${'lorem ipsum '.repeat(100)}`;
  const r = await liang(word, long, HAM, { budget: 2, seed: 1 });
  assert.match(r.warnings[0], /cut to the model's window of 64/);
  assert.ok(r.edits.length <= 2);
  const none = await hotflip(word, long, HAM, { budget: 0 });
  assert.equal(none.edits.length, 0);
  assert.equal(none.adversarial, long);
});

test('the same seed gives the same result, and repeated attacks leak no tensors', async () => {
  const text = targets.get(char)![1];
  const a = await liang(char, text, HAM, { budget: 2, seed: 3 });
  const b = await liang(char, text, HAM, { budget: 2, seed: 3 });
  assert.deepEqual(a, b);
  const counts = await tensorCounts(async () => {
    await liang(word, targets.get(word)![0], HAM, { budget: 2, seed: 1 });
    await hotflip(char, text, HAM, { budget: 2, beam: 2 });
    await deepWordBug(char, text, HAM, { budget: 1, maxTokens: 20 });
  });
  assert.equal(new Set(counts).size, 1, `tensor counts ${counts}`);
});

test('a one-word text: attacks never send the model an empty text', async () => {
  for (const r of [await liang(word, 'prize', HAM, { budget: 3, seed: 1 }), await deepWordBug(word, 'prize', HAM, { budget: 3 })]) {
    assert.ok(r.adversarial.trim() !== '');
    assert.ok(r.edits.length <= 3);
  }
});
