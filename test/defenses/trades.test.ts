import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { MNIST_SPEC, trainedMlp, wrapMnist } from '../helpers/mnist-mlp.ts';
import { setup, tensorCounts } from '../helpers/backend.ts';
import { loadDataset } from '../../src/node/datasets/index.ts';
import { toTensors, type ImageDataset } from '../../src/data/types.ts';
import { buildModel } from '../../src/models/zoo.ts';
import { Classifier } from '../../src/models/classifier.ts';
import { fitClassifier, type FitOptions } from '../../src/train/fit.ts';
import { klDivergence, tradesLoss, tradesPerturbation, tradesTraining } from '../../src/defenses/trades.ts';
import { adversarialPerturbation } from '../../src/defenses/adversarial-training.ts';
import { pgd } from '../../src/attacks/pgd.ts';
import { AdvxError } from '../../src/core/errors.ts';

let train: ImageDataset;
let x: tf.Tensor4D;
let y: tf.Tensor1D;
let standard: Classifier;
const spec = MNIST_SPEC;

const wrap = wrapMnist;
const trained = (seed: number, hooks?: (c: Classifier) => Partial<FitOptions>) => trainedMlp(train, seed, hooks);

before(async () => {
  await setup();
  const d = loadDataset('mnist', { limit: { train: 4000, test: 100 } });
  train = d.train;
  ({ x, y } = toTensors(d.test));
  standard = await trained(1);
});

const meanKl = (c: Classifier, a: tf.Tensor, b: tf.Tensor) =>
  tf.tidy(() => tf.mean(klDivergence(tf.logSoftmax(c.logits(a)) as tf.Tensor2D, tf.logSoftmax(c.logits(b)) as tf.Tensor2D)).dataSync()[0]);

test('the inner maximisation raises KL(p(x) ‖ p(x′)) from its random start and stays in the ε-ball and the bounds', () => {
  const eps = 0.1;
  // Same seed, so steps = 0 is exactly the start of the 10-step search.
  const start = tradesPerturbation(standard, x, { eps, steps: 0, alpha: 0.02, seed: 5 });
  const end = tradesPerturbation(standard, x, { eps, steps: 10, alpha: 0.02, seed: 5 });
  const [k0, k1] = [meanKl(standard, x, start), meanKl(standard, x, end)];
  assert.ok(k0 < 1e-3, `KL at the start (x + 0.001·N) ${k0}`);
  assert.ok(k1 > 100 * k0 && k1 > 0.5, `KL after 10 steps ${k1} vs at the start ${k0}`);
  const [dist, lo, hi] = tf.tidy(() => [tf.max(tf.abs(tf.sub(end, x))), tf.min(end), tf.max(end)].map((t) => t.dataSync()[0]));
  assert.ok(dist <= eps + 1e-6 && dist > eps / 2, `‖x′ − x‖∞ = ${dist}`);
  assert.ok(lo >= 0 && hi <= 1, `x′ in [${lo}, ${hi}]`);
  tf.dispose([start, end]);
});

test('the TRADES loss is CE + β·KL by hand, and its weight gradient (through both p(x) and p(x′)) matches finite differences', () => {
  // A linear model 4 → 3 and a fixed x′: the loss in float64 by hand, differentiated numerically.
  const [B, D, C, beta] = [5, 4, 3, 6];
  const model = tfl.sequential({ layers: [tfl.layers.dense({ units: C, inputShape: [D] })] });
  const W = Array.from({ length: D * C }, (_, i) => Math.sin(1.7 * i + 0.3));
  const b = [0.1, -0.2, 0.05];
  model.setWeights([tf.tensor2d(W, [D, C]), tf.tensor1d(b)]);
  const xs = Array.from({ length: B * D }, (_, i) => Math.cos(0.9 * i));
  const xa = xs.map((v, i) => v + 0.3 * Math.sin(2.3 * i + 1));
  const ys = [0, 2, 1, 1, 0];
  const hand = (w: number[], bias: number[]): number => {
    let total = 0;
    for (let n = 0; n < B; n++) {
      const logSoftmax = (inp: number[]) => {
        const z = Array.from({ length: C }, (_, c) => bias[c] + inp.slice(n * D, (n + 1) * D).reduce((s, v, d) => s + v * w[d * C + c], 0));
        const m = Math.max(...z);
        const lse = m + Math.log(z.reduce((s, v) => s + Math.exp(v - m), 0));
        return z.map((v) => v - lse);
      };
      const [lp, lq] = [logSoftmax(xs), logSoftmax(xa)];
      total += -lp[ys[n]] + beta * lp.reduce((s, v, c) => s + Math.exp(v) * (v - lq[c]), 0);
    }
    return total / B;
  };
  const { loss } = tradesTraining(wrap(model), { eps: 0.3, beta });
  const [xT, xaT, yT] = [tf.tensor2d(xs, [B, D]), tf.tensor2d(xa, [B, D]), tf.tensor1d(ys, 'int32')];
  const forward = (t: tf.Tensor) => model.apply(t, { training: true }) as tf.Tensor2D;
  let calls = 0;
  const vars = model.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val);
  const { value, grads } = tf.variableGrads(() => {
    const step = { forward: (t: tf.Tensor) => (calls++, assert.equal(t, xaT, 'the second pass is of x′'), forward(t)), companion: xaT };
    return loss(forward(xT), xT, yT, step);
  }, vars);
  assert.equal(calls, 1);
  const got = value.dataSync()[0];
  assert.ok(Math.abs(got - hand(W, b)) < 1e-5 * Math.max(1, Math.abs(got)), `loss ${got} vs by hand ${hand(W, b)}`);
  assert.ok(Math.abs(tradesLoss(forward(xT), forward(xaT), yT, beta).dataSync()[0] - got) < 1e-6);
  const h = 1e-6;
  const fd = (which: 'W' | 'b', i: number) => {
    const [wp, wm, bp, bm] = [[...W], [...W], [...b], [...b]];
    if (which === 'W') [wp[i], wm[i]] = [W[i] + h, W[i] - h];
    else [bp[i], bm[i]] = [b[i] + h, b[i] - h];
    return (hand(wp, bp) - hand(wm, bm)) / (2 * h);
  };
  const [gW, gb] = [grads[vars[0].name].dataSync(), grads[vars[1].name].dataSync()];
  let worst = 0;
  W.forEach((_, i) => (worst = Math.max(worst, Math.abs(gW[i] - fd('W', i)))));
  b.forEach((_, i) => (worst = Math.max(worst, Math.abs(gb[i] - fd('b', i)))));
  assert.ok(worst < 2e-5, `largest |autodiff − finite difference| ${worst}`);
  tf.dispose([value, ...Object.values(grads), xT, xaT, yT]);
  model.dispose();
});

test('a few epochs of TRADES give far higher PGD robust accuracy than plain training at the same ε', async () => {
  const eps = 0.1;
  const trades = await trained(1, (c) => tradesTraining(c, { eps, beta: 6, steps: 5, alpha: 0.025 }));
  const labels = await y.data();
  const acc = async (c: Classifier, t: tf.Tensor) => (await c.predict(t)).filter((p, i) => p === labels[i]).length / labels.length;
  const robust = async (c: Classifier) => {
    const r = await pgd(c, x, { labels: y }, { eps, steps: 20, stepSize: eps / 8, seed: 3 });
    const a = await acc(c, r.adversarial);
    r.adversarial.dispose();
    return a;
  };
  const [s, t, sc, tc] = [await robust(standard), await robust(trades), await acc(standard, x), await acc(trades, x)];
  const numbers = `PGD-20 ε ${eps} robust accuracy: TRADES ${t}, plain ${s}; clean: TRADES ${tc}, plain ${sc}`;
  console.log(numbers);
  assert.ok(s < 0.3, numbers); // the undefended model falls to PGD
  assert.ok(t > s + 0.3, numbers);
  assert.ok(tc > 0.8, numbers);
});

test('TRADES training leaks no tensors, and its options are checked', async () => {
  const model = buildModel('mlp', { ...spec, seed: 9 });
  const c = wrap(model);
  const small = { ...train, count: 64 };
  const counts = await tensorCounts(() =>
    fitClassifier(model, small, { epochs: 1, batchSize: 32, learningRate: 1e-3, seed: 9, ...tradesTraining(c, { eps: 0.1, steps: 2, rampEpochs: 2 }) }).then(() => undefined),
  );
  assert.equal(new Set(counts).size, 1, `tensor counts ${counts}`);
  const attackCounts = await tensorCounts(() => tradesPerturbation(c, x, { eps: 0.1, steps: 2, alpha: 0.05, seed: 1 }).dispose());
  assert.equal(new Set(attackCounts).size, 1, `tensor counts ${attackCounts}`);
  for (const bad of [{ eps: 0.1, beta: 0 }, { eps: 0.1, beta: -1 }, { eps: 0.1, beta: NaN }, { eps: 0 }, { eps: 0.1, steps: 1.5 }, { eps: 0.1, alpha: 0 }, { eps: 0.1, rampEpochs: -1 }]) {
    assert.throws(() => tradesTraining(c, bad), AdvxError, JSON.stringify(bad));
  }
  await assert.rejects(
    fitClassifier(model, small, { epochs: 1, batchSize: 32, learningRate: 1e-3, seed: 9, ...tradesTraining(c, { eps: 0.1 }), perturb: adversarialPerturbation(c, { method: 'pgd', eps: 0.1 }) }),
    /perturb or companion, not both/,
  );
  model.dispose();
});
