/**
 * Text adversarial training on a tiny word CNN (600 messages, window 64): with the same seed and
 * data as plain fitText, its last epoch on HotFlip copies makes the HotFlip attack fail far more
 * often on held-out spam while clean accuracy stays within 3 points; the clean warm-up is
 * fitText's training exactly; id-level HotFlip keeps to its budget and to words; the embedding
 * variant perturbs by ε mean row norms off the padding; bad options are errors; no tensor leaks.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { setup, tensorCounts } from '../helpers/backend.ts';
import { AdvxError } from '../../src/core/errors.ts';
import { loadSpam } from '../../src/node/datasets/spam.ts';
import { buildTextClassifier, type TextClassifier } from '../../src/text/models.ts';
import { encodeAll, fitText, textAccuracy, type LabelledTexts } from '../../src/text/train.ts';
import { tokenize, isWord } from '../../src/text/tokenize.ts';
import { TextCodec, Vocab } from '../../src/text/vocab.ts';
import { hotflip } from '../../src/text/attacks/hotflip.ts';
import { embeddingPerturbation, fitTextAdversarial, hotflipIds, type TextAdversarialEpochInfo, type TextAdversarialOptions } from '../../src/text/adversarial-training.ts';
import type { EpochInfo } from '../../src/train/fit.ts';

const EPOCHS = 3;
const FIT = { epochs: EPOCHS, seed: 1, learningRate: 5e-3 };
const ADV: TextAdversarialOptions = { method: 'hotflip', budget: 2, positions: 16, warmupEpochs: EPOCHS - 1 };

interface Data extends LabelledTexts {
  labels: number[];
}

let train: Data;
let heldOut: Data;
let codec: TextCodec;
let plain: TextClassifier;
let defended: TextClassifier;
let plainHistory: EpochInfo[];
let advHistory: TextAdversarialEpochInfo[];

const make = (seed = 1) => buildTextClassifier(codec, ['ham', 'spam'], { seed });

before(async () => {
  await setup();
  const s = loadSpam();
  const part = (list: typeof s.train) => ({ texts: list.map((e) => e.text), labels: list.map((e) => e.label) });
  train = part(s.train.slice(0, 600));
  heldOut = part(s.test.slice(0, 300));
  codec = new TextCodec('word', Vocab.build(train.texts.map(tokenize), 3000), 64);
  plain = make();
  plainHistory = await fitText(plain, train, FIT);
  defended = make();
  advHistory = await fitTextAdversarial(defended, train, { ...FIT, adversarial: ADV });
});

test('HotFlip adversarial training: the HotFlip attack fails far more often on held-out spam, clean accuracy within 3 points', async () => {
  const accPlain = await textAccuracy(plain, heldOut);
  const accDefended = await textAccuracy(defended, heldOut);
  assert.ok(accDefended >= accPlain - 0.03, `clean accuracy ${accDefended} vs ${accPlain} without adversarial training`);
  // Not robust by calling everything spam: ham accuracy (1 − false positives) within 3 points too.
  const ham = { texts: heldOut.texts.filter((_, i) => heldOut.labels[i] === 0), labels: heldOut.labels.filter((y) => y === 0) };
  const [hamPlain, hamDefended] = [await textAccuracy(plain, ham), await textAccuracy(defended, ham)];
  assert.ok(hamDefended >= hamPlain - 0.03, `ham accuracy ${hamDefended} vs ${hamPlain}`);
  // Held-out spam both models call spam, attacked towards ham with 3 word flips (training used 2).
  const spam = heldOut.texts.filter((_, i) => heldOut.labels[i] === 1);
  const [p1, p2] = [await plain.predict(spam), await defended.predict(spam)];
  const texts = spam.filter((_, i) => p1[i] === 1 && p2[i] === 1).slice(0, 12);
  assert.ok(texts.length >= 10, `${texts.length} held-out spam messages both models get right`);
  const rate = async (c: TextClassifier) => {
    let wins = 0;
    for (const t of texts) if ((await hotflip(c, t, { label: 0, targeted: true }, { budget: 3, beam: 1 })).success) wins++;
    return wins / texts.length;
  };
  const [before, after] = [await rate(plain), await rate(defended)];
  if (process.env.ADVX_VERBOSE) console.log({ accPlain, accDefended, hamPlain, hamDefended, before, after, texts: texts.length });
  assert.ok(before >= 0.7, `the undefended tiny model should fall to HotFlip (success ${before})`);
  assert.ok(after <= before - 0.3, `HotFlip success ${after} after adversarial training vs ${before} before`);
});

test('the warm-up is fitText exactly (same seed, batches, dropout); the adversarial epoch trains on a copy of every text', () => {
  for (let e = 0; e < EPOCHS - 1; e++) {
    assert.equal(advHistory[e].adversarial, false);
    assert.ok(Math.abs(advHistory[e].loss - plainHistory[e].loss) < 1e-4, `epoch ${e + 1}: loss ${advHistory[e].loss} vs fitText's ${plainHistory[e].loss}`);
    assert.equal(advHistory[e].accuracy, plainHistory[e].accuracy);
  }
  const last = advHistory[EPOCHS - 1];
  assert.equal(last.adversarial, true);
  assert.equal(last.copies, train.texts.length);
  assert.ok(last.meanFlips > 1.5 && last.meanFlips <= 2, `mean flips ${last.meanFlips}`);
  assert.ok(last.adversarialAccuracy > 0 && last.adversarialAccuracy <= 1);
});

test('id-level HotFlip: at most `budget` flips, words into words, never padding; it raises the loss; deterministic', async () => {
  const texts = heldOut.texts.slice(0, 12);
  const labels = heldOut.labels.slice(0, 12);
  const ids = encodeAll(plain, texts);
  const a = await hotflipIds(plain, ids, labels, { budget: 2, positions: 64 });
  const b = await hotflipIds(plain, ids, labels, { budget: 2, positions: 64 });
  assert.deepEqual(a, b);
  const tokens = codec.vocab.tokens;
  for (let r = 0; r < texts.length; r++) {
    let changed = 0;
    for (let p = 0; p < 64; p++) {
      const [was, now] = [ids[r * 64 + p], a.ids[r * 64 + p]];
      if (was === now) continue;
      changed++;
      assert.ok(was !== 0, 'padding is never flipped');
      assert.ok(was === 1 || isWord(tokens[was]), `a word position (${tokens[was]})`);
      assert.ok(now > 1 && isWord(tokens[now]), `flipped into a word (${tokens[now]})`);
    }
    assert.equal(changed, a.flips[r]);
    assert.ok(a.flips[r] <= 2);
  }
  const loss = (x: Int32Array) => tf.tidy(() => tf.losses.softmaxCrossEntropy(tf.oneHot(tf.tensor1d(labels, 'int32'), 2), plain.logits(tf.tensor2d(x, [texts.length, 64], 'int32'))).dataSync()[0]);
  assert.ok(loss(a.ids) > loss(ids) + 0.1, `loss ${loss(a.ids)} after flips vs ${loss(ids)}`);
  const none = await hotflipIds(plain, ids, labels, { budget: 0 });
  assert.deepEqual(none.ids, ids);
  // Char models flip letters and digits into letters and digits (an untrained model has gradients too).
  const char = buildTextClassifier(new TextCodec('char', Vocab.ascii(), 48), ['ham', 'spam'], { seed: 2 });
  const cids = encodeAll(char, ['Win $500 now!!', 'see you at 10']);
  const c = await hotflipIds(char, cids, [1, 0], { budget: 3 });
  const ct = char.codec.vocab.tokens;
  for (let k = 0; k < cids.length; k++) if (cids[k] !== c.ids[k]) assert.match(ct[cids[k]] + ct[c.ids[k]], /^[A-Za-z0-9]{2}$/);
  assert.ok(c.flips.every((f) => f >= 1 && f <= 3));
});

test('embedding variant (Miyato et al.): ε mean row norms per text, none on padding; trains', async () => {
  const texts = ['win a free prize now', heldOut.texts[0]];
  const ids = encodeAll(plain, texts);
  const r = tf.tidy(() => embeddingPerturbation(plain, plain.embed(tf.tensor2d(ids, [2, 64], 'int32')), ids, [1, 0], 0.7));
  const v = r.arraySync();
  r.dispose();
  for (let k = 0; k < 2; k++) {
    const norm = Math.sqrt(v[k].flat().reduce((s, x) => s + x * x, 0));
    assert.ok(Math.abs(norm - 0.7) < 1e-4, `norm ${norm}`);
    v[k].forEach((row, p) => {
      if (ids[k * 64 + p] === 0) assert.ok(row.every((x) => x === 0), 'padding is not perturbed');
    });
  }
  const m = make(3);
  const small = { texts: train.texts.slice(0, 96), labels: train.labels.slice(0, 96) };
  const h = await fitTextAdversarial(m, small, { epochs: 2, seed: 2, adversarial: { method: 'embedding', epsilon: 2.5, labels: [1] } });
  assert.equal(h.length, 2);
  assert.ok(h.every((e) => e.adversarial && Number.isFinite(e.loss) && e.meanFlips === 0));
  assert.equal(h[0].copies, small.labels.filter((y) => y === 1).length, 'copies of spam only');
});

test('bad options are clear errors', async () => {
  const small = { texts: train.texts.slice(0, 8), labels: train.labels.slice(0, 8) };
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ method: 'fgsm' }, /unknown text adversarial training method "fgsm".*hotflip, embedding/],
    [{ method: 'hotflip', budget: 0 }, /flip budget must be a positive integer/],
    [{ method: 'hotflip', positions: 0 }, /positions/],
    [{ method: 'embedding' }, /needs epsilon > 0/],
    [{ method: 'embedding', epsilon: -1 }, /needs epsilon > 0/],
    [{ method: 'hotflip', weight: 0 }, /weight must be in \(0, 1\]/],
    [{ method: 'hotflip', weight: 1.5 }, /weight must be in \(0, 1\]/],
    [{ method: 'hotflip', labels: [2] }, /label 2 is not a class/],
    [{ method: 'hotflip', labels: [] }, /at least one class/],
    [{ method: 'hotflip', warmupEpochs: 1 }, /warmupEpochs \(1\) must be fewer than epochs \(1\)/],
    [{ method: 'hotflip', warmupEpochs: -1 }, /warmupEpochs must be a non-negative integer/],
  ];
  for (const [adversarial, message] of bad) {
    await assert.rejects(fitTextAdversarial(make(), small, { epochs: 1, seed: 1, adversarial: adversarial as unknown as TextAdversarialOptions }), (e: Error) => e instanceof AdvxError && message.test(e.message), JSON.stringify(adversarial));
  }
  await assert.rejects(fitTextAdversarial(make(), { texts: [], labels: [] }, { epochs: 1, seed: 1, adversarial: ADV }), /empty/);
  await assert.rejects(fitTextAdversarial(make(), { texts: ['a b'], labels: [0, 1] }, { epochs: 1, seed: 1, adversarial: ADV }), /2 labels for 1 texts/);
  await assert.rejects(fitTextAdversarial(make(), { texts: ['a b'], labels: [3] }, { epochs: 2, seed: 1, adversarial: { method: 'hotflip' } }), /label 3 of text 0/);
  await assert.rejects(fitTextAdversarial(make(), small, { epochs: 0, seed: 1, adversarial: { method: 'hotflip' } }), /epochs must be a positive integer/);
  await assert.rejects(fitTextAdversarial(make(), small, { epochs: 1, seed: 1, adversarial: undefined as unknown as TextAdversarialOptions }), /needs options/);
  await assert.rejects(hotflipIds(plain, new Int32Array(10), [0], { budget: 1 }), /10 ids for 1 texts of window 64/);
  await assert.rejects(hotflipIds(plain, new Int32Array(64), [0], { budget: -1 }), /non-negative integer/);
});

test('no tensor leaks: repeated id-level HotFlip and adversarial epochs (both methods) leave the count flat', async () => {
  const small = { texts: train.texts.slice(0, 16), labels: train.labels.slice(0, 16) };
  const m = make(4);
  const ids = encodeAll(m, small.texts.slice(0, 5));
  const counts = await tensorCounts(async () => {
    await hotflipIds(m, ids, small.labels.slice(0, 5), { budget: 2 });
    await fitTextAdversarial(m, small, { epochs: 1, seed: 1, batchSize: 16, adversarial: { method: 'hotflip', budget: 1 } });
    await fitTextAdversarial(m, small, { epochs: 1, seed: 1, batchSize: 16, adversarial: { method: 'embedding', epsilon: 1 } });
  });
  assert.equal(new Set(counts).size, 1, `tensor counts ${counts}`);
});
