/**
 * Every attack of the registry refuses a bad input (NaN or infinite pixels, pixels outside the
 * model's bounds, an empty batch, labels that are no class, float labels, a label count that does
 * not match) with one AdvxError line naming the problem, before any work and without leaking a
 * tensor; and the CLI's number parsers refuse what is no number of the kind asked for.
 * The model is a fixed 4 → 10 linear map (no training), so the file runs in seconds.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { setup } from '../helpers/backend.ts';
import { tried } from '../helpers/tried.ts';
import { ATTACKS, type AttackOptions } from '../../src/attacks/index.ts';
import type { AttackGoal } from '../../src/attacks/types.ts';
import { AdvxError } from '../../src/core/errors.ts';
import { Classifier } from '../../src/models/classifier.ts';
import { nonNegativeInt, nonNegativeNumber, positiveInt, positiveNumber, seedInt } from '../../src/cli/common.ts';

const SHAPE = [2, 2, 1];
const N = 4;
const K = 10;
let weights: tf.Tensor2D;
let bias: tf.Tensor1D;
let classifier: Classifier;

/** Valid inputs: N images of 2×2 pixels in [0, 1]. */
const PIXELS = [0.1, 0.9, 0.3, 0.6, 0.8, 0.2, 0.5, 0.4, 0, 1, 0.7, 0.3, 0.25, 0.75, 0.5, 0.05];
const LABELS = [0, 1, 2, 3];

before(async () => {
  await setup();
  weights = tf.tensor2d(Array.from({ length: 4 * K }, (_, i) => Math.sin(1 + 7 * i) * 3), [4, K]);
  bias = tf.tensor1d(Array.from({ length: K }, (_, j) => 0.1 * Math.cos(j)));
  const [w, b] = [weights, bias];
  classifier = new Classifier((t) => tf.add(tf.matMul(tf.reshape(t, [t.shape[0], 4]), w), b), { inputShape: SHAPE, numClasses: K, bounds: [0, 1] });
});

after(() => tf.dispose([weights, bias]));

/** Cheap options for each attack, so that a valid input runs in milliseconds. */
const CHEAP: AttackOptions = { eps: 0.1, steps: 2, restarts: 1, queries: 40, samples: 2, targets: 2, seed: 1 };
function optionsFor(name: string): AttackOptions {
  const d = ATTACKS[name];
  return { ...CHEAP, norm: d.norms[0] };
}

interface BadCase {
  what: string;
  make: () => { x: tf.Tensor; labels: tf.Tensor1D };
  message: RegExp;
}

const x4 = (values: number[]) => tf.tensor4d(values, [N, ...SHAPE] as [number, number, number, number]);
const labels = (values: number[]) => tf.tensor1d(values, 'int32');

const BAD: BadCase[] = [
  {
    what: 'a NaN pixel',
    make: () => ({ x: x4(PIXELS.map((v, i) => (i === 5 ? NaN : v))), labels: labels(LABELS) }),
    message: /^inputs contain 1 NaN or infinite value\b/,
  },
  {
    what: 'infinite pixels',
    make: () => ({ x: x4(PIXELS.map((v, i) => (i === 2 ? Infinity : i === 9 ? -Infinity : v))), labels: labels(LABELS) }),
    message: /^inputs contain 2 NaN or infinite values\b/,
  },
  {
    what: 'pixels in 0–255 for a [0, 1] model',
    make: () => ({ x: x4(PIXELS.map((v) => Math.round(v * 255))), labels: labels(LABELS) }),
    message: /^inputs range over \[0, 255\] but the model's bounds are \[0, 1\]: scale the inputs or declare the bounds in advx\.json$/,
  },
  {
    what: 'a pixel below the lower bound',
    make: () => ({ x: x4(PIXELS.map((v, i) => (i === 0 ? -0.5 : v))), labels: labels(LABELS) }),
    message: /^inputs range over \[-0\.5, 1\] but the model's bounds are \[0, 1\]/,
  },
  {
    what: 'an empty batch',
    make: () => ({ x: tf.zeros([0, ...SHAPE]), labels: labels([]) }),
    message: /^no inputs to attack$/,
  },
  {
    what: 'label 12 of 10 classes',
    make: () => ({ x: x4(PIXELS), labels: labels([0, 1, 2, 12]) }),
    message: /^label 12 at index 3 is not a class of this 10-class model$/,
  },
  {
    what: 'label −1',
    make: () => ({ x: x4(PIXELS), labels: labels([-1, 1, 2, 3]) }),
    message: /^label -1 at index 0 is not a class of this 10-class model$/,
  },
  {
    what: 'float32 labels',
    make: () => ({ x: x4(PIXELS), labels: tf.tensor1d([0, 1, 2, 3]) }),
    message: /^labels must be an int32 tensor of class indices, got float32$/,
  },
  {
    what: 'labels of rank 2',
    make: () => ({ x: x4(PIXELS), labels: tf.tensor2d([0, 1, 2, 3], [4, 1], 'int32') as unknown as tf.Tensor1D }),
    message: /^labels must be a 1-D tensor of class indices, got shape \[4,1\]$/,
  },
  {
    what: '3 labels for 4 inputs',
    make: () => ({ x: x4(PIXELS), labels: labels([0, 1, 2]) }),
    message: /^3 labels for 4 inputs$/,
  },
];

for (const name of Object.keys(ATTACKS)) {
  test(`${name}: every bad input is refused with one AdvxError line, and no tensor leaks`, async () => {
    const d = ATTACKS[name];
    for (const bad of BAD) {
      const { x, labels: l } = bad.make();
      const goal: AttackGoal = { labels: l };
      const before = tf.memory().numTensors;
      await assert.rejects(d.run(classifier, x, goal, optionsFor(name)), (e: unknown) => {
        assert.ok(e instanceof AdvxError, `${name}, ${bad.what}: ${e instanceof Error ? e.stack : String(e)}`);
        assert.ok(!e.message.includes('\n'), `${name}, ${bad.what}: a one-line message, got ${JSON.stringify(e.message)}`);
        assert.match(e.message, bad.message, `${name}, ${bad.what}`);
        return true;
      });
      assert.equal(tf.memory().numTensors, before, `${name}, ${bad.what}: tensors leaked`);
      tf.dispose([x, l]);
      tried('bad attack input');
    }
  });
}

test('every attack still takes valid inputs, those exactly on the bounds and within float slack of them included', async () => {
  // Within float32 rounding of the bounds (1 + 1 ulp, −1e-8): accepted, not refused.
  const pixels = PIXELS.map((v, i) => (i === 0 ? 0 : i === 1 ? 1 : i === 2 ? Math.fround(1 + 2 ** -23) : i === 3 ? -1e-8 : v));
  const x = x4(pixels);
  const l = labels(LABELS);
  for (const name of Object.keys(ATTACKS)) {
    const before = tf.memory().numTensors;
    const r = await ATTACKS[name].run(classifier, x, { labels: l }, optionsFor(name));
    assert.equal(r.success.length, N, name);
    assert.ok(r.linf.every(Number.isFinite) && r.l2.every(Number.isFinite), `${name}: finite norms`);
    const adv = await r.adversarial.data();
    assert.ok(adv.every(Number.isFinite), `${name}: a finite adversarial`);
    r.adversarial.dispose();
    assert.equal(tf.memory().numTensors, before, `${name}: tensors leaked`);
  }
  tf.dispose([x, l]);
});

test('bounds other than [0, 1] are checked as declared', async () => {
  const wide = new Classifier((t) => tf.add(tf.matMul(tf.reshape(tf.div(t, 255), [t.shape[0], 4]), weights), bias), { inputShape: SHAPE, numClasses: K, bounds: [0, 255] });
  const x255 = x4(PIXELS.map((v) => Math.round(v * 255)));
  const l = labels(LABELS);
  const r = await ATTACKS.fgsm.run(wide, x255, { labels: l }, { eps: 8 });
  r.adversarial.dispose();
  const over = x4(PIXELS.map((v, i) => (i === 7 ? 300 : v * 255)));
  await assert.rejects(ATTACKS.fgsm.run(wide, over, { labels: l }, { eps: 8 }), /^AdvxError: inputs range over \[0, 300\] but the model's bounds are \[0, 255\]/);
  tf.dispose([x255, over, l]);
  tried('bad attack input');
});

test('number parsers: empty and blank strings, non-numbers, unsafe integers and seeds past 2³²−1 are refused', () => {
  const refused = (f: () => unknown, message: RegExp) => {
    assert.throws(f, (e: unknown) => e instanceof AdvxError && message.test(e.message) && !e.message.includes('\n'));
    tried('bad CLI input');
  };
  for (const blank of ['', ' ', '\t\n']) {
    refused(() => positiveInt('--epochs')(blank), /^--epochs must be a positive integer, got "/);
    refused(() => nonNegativeInt('--shift')(blank), /^--shift must be a non-negative integer, got "/);
    refused(() => positiveNumber('--lr')(blank), /^--lr must be a positive number, got "/);
    refused(() => nonNegativeNumber('--eps')(blank), /^--eps must be a non-negative number, got "/);
    refused(() => seedInt('--seed')(blank), /^--seed must be/);
  }
  refused(() => positiveInt('--epochs')('0'), /--epochs must be a positive integer, got "0"/);
  refused(() => positiveInt('--epochs')('2.5'), /positive integer/);
  refused(() => positiveInt('--epochs')('abc'), /positive integer/);
  refused(() => positiveInt('--epochs')('9007199254740993'), /positive integer/);
  refused(() => nonNegativeInt('--shift')('-1'), /non-negative integer/);
  refused(() => nonNegativeInt('--shift')('1e300'), /non-negative integer/);
  refused(() => positiveNumber('--lr')('0'), /positive number/);
  refused(() => positiveNumber('--lr')('Infinity'), /positive number/);
  refused(() => nonNegativeNumber('--eps')('-0.1'), /non-negative number/);
  refused(() => nonNegativeNumber('--eps')('NaN'), /non-negative number/);
  assert.equal(positiveInt('--epochs')('12'), 12);
  assert.equal(nonNegativeInt('--shift')('0'), 0);
  assert.equal(positiveNumber('--lr')('2e-4'), 2e-4);
  assert.equal(nonNegativeNumber('--eps')('0'), 0);
  assert.equal(nonNegativeNumber('--eps')(' 0.3 '), 0.3);
  // Seeds are 32-bit: 2³² would silently be seed 0.
  assert.equal(seedInt('--seed')('0'), 0);
  assert.equal(seedInt('--seed')('4294967295'), 4294967295);
  refused(() => seedInt('--seed')('4294967296'), /^--seed must be an integer in \[0, 4294967295\], got "4294967296"$/);
  refused(() => seedInt('--seed')('-1'), /--seed must be an integer in \[0, 4294967295\]/);
  // Sizes are bounded too: a huge value is refused with one line, not a RangeError later.
  refused(() => nonNegativeInt('--limit')('4294967296'), /^--limit must be at most/);
});
