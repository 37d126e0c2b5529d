import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { setup } from '../helpers/backend.ts';
import { coralLoss } from '../../src/da/coral.ts';
import { mmdLoss } from '../../src/da/mmd.ts';
import { multilinearMap } from '../../src/da/cdan.ts';
import { Rng } from '../../src/core/rng.ts';
import { AdvxError } from '../../src/core/errors.ts';
import { domainSeparability } from '../../src/da/a-distance.ts';
import { buildDannNetworks, describeNetworks, mlpFeatures, MOONS_RECIPE, trainDann, type DannBatchInfo, type DannOptions } from '../../src/da/dann.ts';
import { disposeOptimizer } from '../../src/train/core.ts';
import { rotatedMoons } from '../../src/data/toy2d.ts';
import type { ImageDataset } from '../../src/data/types.ts';
import { loadDataset } from '../../src/node/datasets/index.ts';

before(() => setup());

// The paper's toy: two moons, and the same moons rotated by 35° as the target.
const { source, target } = rotatedMoons(35);
const toy: DannOptions = { ...MOONS_RECIPE }; // the lab's default seed too

async function accuracy(r: Awaited<ReturnType<typeof trainDann>>, ds: ImageDataset): Promise<number> {
  const x = tf.tensor4d(ds.images, [ds.count, ...ds.shape]);
  const pred = await r.classifier.predict(x);
  x.dispose();
  return pred.reduce((a, p, i) => a + (p === ds.labels[i] ? 1 : 0), 0) / ds.count;
}

test('DANN on rotated two moons: higher target accuracy and less separable features than source-only', async () => {
  const start = tf.memory().numTensors;
  const results: Record<string, { src: number; tgt: number; sep: number; domainAcc: number }> = {};
  for (const method of ['source-only', 'dann'] as const) {
    const batches: DannBatchInfo[] = [];
    const r = await trainDann(source, target, { ...toy, method, onBatch: (b) => batches.push(b) });
    assert.equal(r.history.length, 30);
    for (const h of r.history) assert.ok(Number.isFinite(h.labelLoss), 'no NaN');
    assert.ok(batches.length > 0 && batches.every((b) => b.progress > 0 && b.progress <= 1));
    const last = r.history.at(-1)!;
    if (method === 'dann') {
      assert.ok(r.domainHead);
      assert.ok(Number.isFinite(last.domainLoss));
      assert.ok(last.lambda > 0.99, 'λ ramps to 1');
      assert.ok(r.history[0].lambda < 0.5);
    } else {
      assert.equal(r.domainHead, undefined);
      assert.ok(Number.isNaN(last.domainLoss));
    }
    assert.ok(last.learningRate < 0.2 / 11 ** 0.75 + 1e-3, 'learning rate annealed');
    const sep = await domainSeparability((x) => r.features.apply(x) as tf.Tensor, source, target, { seed: 0 });
    results[method] = { src: await accuracy(r, source), tgt: await accuracy(r, target), sep: sep.accuracy, domainAcc: last.domainAccuracy };
    r.dispose();
  }
  const so = results['source-only'];
  const da = results.dann;
  console.log(JSON.stringify(results));
  assert.ok(so.src > 0.95 && da.src > 0.95, 'both fit the source');
  assert.ok(da.tgt >= so.tgt + 0.05, `DANN target accuracy ${da.tgt} vs source-only ${so.tgt}`);
  assert.ok(da.sep < so.sep - 0.03, `domain separability of the features: DANN ${da.sep} vs source-only ${so.sep}`);
  assert.ok(da.domainAcc < 0.7, `the domain head is kept near chance: ${da.domainAcc}`);
  assert.equal(tf.memory().numTensors, start, 'no tensor leaks');
});

test('CDAN on rotated two moons: higher mean target accuracy than source-only over three seeds', async () => {
  const start = tf.memory().numTensors;
  // CDAN conditions on the label head's target predictions, so it varies more from seed to seed
  // than DANN on this toy: the claim is about the mean.
  const mean: Record<string, number> = {};
  for (const method of ['source-only', 'cdan'] as const) {
    let sum = 0;
    for (const seed of [0, 1, 2]) {
      const r = await trainDann(source, target, { ...toy, seed, method });
      if (method === 'cdan') {
        // The domain head reads classes × features: 2 × 32 inputs.
        assert.equal(r.domainHead!.inputs[0].shape[1], 64);
        assert.ok(r.history.every((h) => Number.isFinite(h.domainLoss) && h.domainAccuracy >= 0));
        assert.ok((await accuracy(r, source)) > 0.95, 'CDAN fits the source');
      }
      sum += await accuracy(r, target);
      r.dispose();
    }
    mean[method] = sum / 3;
  }
  console.log(JSON.stringify(mean));
  assert.ok(mean.cdan >= mean['source-only'] + 0.05, `CDAN ${mean.cdan} vs source-only ${mean['source-only']}`);
  assert.equal(tf.memory().numTensors, start, 'no tensor leaks');
});

test('describeNetworks says the widths of the networks a recipe builds', () => {
  const nets = buildDannNetworks([1, 1, 2], 2, { ...MOONS_RECIPE, method: 'dann', seed: 0 });
  const hidden = (m: { layers: { getClassName(): string; getConfig(): { units?: unknown } }[] }) =>
    m.layers.filter((l) => l.getClassName() === 'Dense').map((l) => l.getConfig().units as number);
  const [extractor, label, domain] = [hidden(nets.features), hidden(nets.labelHead).slice(0, -1), hidden(nets.domainHead!).slice(0, -1)];
  assert.equal(describeNetworks(MOONS_RECIPE), `MLP ${extractor.join('-')} extractor, label head ${label.join('-')}, domain head ${domain.join('-')}`);
  assert.equal(describeNetworks(MOONS_RECIPE), 'MLP 32-32 extractor, label head 32, domain head 32');
  nets.dispose();
  assert.equal(describeNetworks({ features: mlpFeatures([8]), labelHidden: [], domainHidden: [4, 4] }), 'MLP 8 extractor, label head linear, domain head 4-4');
  // The defaults: the DANN paper's MNIST networks (conv 5×5 32 and 48 filters, heads 100-100 and 100).
  const paper = buildDannNetworks([28, 28, 3], 10, { method: 'dann', seed: 0 });
  const filters = paper.features.layers.filter((l) => l.getClassName() === 'Conv2D').map((l) => (l.getConfig() as { filters: number }).filters);
  assert.equal(describeNetworks({}), `conv ${filters.join('-')} extractor, label head ${hidden(paper.labelHead).slice(0, -1).join('-')}, domain head ${hidden(paper.domainHead!).slice(0, -1).join('-')}`);
  paper.dispose();
});

test('CDAN\'s multilinear map: g_i·f_j per row, no gradient into the class probabilities', () => {
  const f = tf.tensor2d([[1, 2, 3], [-1, 0, 2]]);
  const logits = tf.tensor2d([[0, Math.log(3)], [Math.log(4), 0]]);
  const t = multilinearMap(f, logits);
  assert.deepEqual(t.shape, [2, 6]);
  const expected = [0.25, 0.5, 0.75, 0.75, 1.5, 2.25, -0.8, 0, 1.6, -0.2, 0, 0.4];
  Array.from(t.dataSync()).forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 1e-6, `${i}: ${v} vs ${expected[i]}`));
  const gLogits = tf.grad((l: tf.Tensor) => tf.sum(multilinearMap(f, l as tf.Tensor2D)))(logits);
  assert.equal(tf.max(tf.abs(gLogits)).dataSync()[0], 0);
  const gFeatures = tf.grad((x: tf.Tensor) => tf.sum(multilinearMap(x as tf.Tensor2D, logits)))(f);
  // Σ_i g_i = 1: each feature's gradient is 1.
  Array.from(gFeatures.dataSync()).forEach((v) => assert.ok(Math.abs(v - 1) < 1e-6));
  tf.dispose([f, logits, t, gLogits, gFeatures]);
});

test('DANN is deterministic per seed, and stops on request', async () => {
  const short = { ...toy, epochs: 2 };
  const a = await trainDann(source, target, short);
  const b = await trainDann(source, target, short);
  assert.deepEqual(a.history.map((h) => [h.labelLoss, h.domainLoss]), b.history.map((h) => [h.labelLoss, h.domainLoss]));
  a.dispose();
  b.dispose();
  let steps = 0;
  const c = await trainDann(source, target, { ...short, logEvery: 1, onBatch: () => steps++, shouldStop: () => steps >= 3 });
  assert.equal(steps, 3);
  assert.equal(c.history.length, 1);
  c.dispose();
});

test('DANN with the paper\'s conv extractor on a tiny MNIST-RGB → MNIST-M subset', async () => {
  const start = tf.memory().numTensors;
  const src = loadDataset('mnist-rgb', { limit: { train: 128, test: 0 } }).train;
  const tgt = loadDataset('mnist-m', { limit: { train: 128, test: 0 }, cache: false }).train;
  const r = await trainDann(src, tgt, { epochs: 1, batchSize: 32, learningRate: 0.01, seed: 0 });
  assert.deepEqual(r.features.outputs[0].shape, [null, 768]);
  assert.deepEqual(r.classifier.info.inputShape, [28, 28, 3]);
  const h = r.history[0];
  assert.ok(Number.isFinite(h.labelLoss) && Number.isFinite(h.domainLoss), JSON.stringify(h));
  const x = tf.tensor4d(tgt.images.subarray(0, 4 * 2352), [4, 28, 28, 3]);
  const logits = r.classifier.logits(x);
  assert.deepEqual(logits.shape, [4, 10]);
  tf.dispose([x, logits]);
  r.dispose();
  assert.equal(tf.memory().numTensors, start, 'no tensor leaks');
});

test('DANN: bad inputs are AdvxErrors', async () => {
  const start = tf.memory().numTensors;
  const three: ImageDataset = { ...source, numClasses: 3, classNames: ['a', 'b', 'c'] };
  const wide: ImageDataset = { ...target, images: new Float32Array(400 * 3), shape: [1, 1, 3] };
  const empty: ImageDataset = { ...target, images: new Float32Array(0), labels: new Uint8Array(0), count: 0 };
  const cases: [string, Promise<unknown>, RegExp][] = [
    ['shape', trainDann(source, wide, toy), /shape/],
    ['classes', trainDann(source, three, toy), /classes/],
    ['empty target', trainDann(source, empty, toy), /empty/],
    ['empty source', trainDann(empty, target, toy), /empty/],
    ['λ < 0', trainDann(source, target, { ...toy, lambda: -1 }), /λ/],
    ['batch', trainDann(source, target, { ...toy, batchSize: 0 }), /batch/],
    ['lr', trainDann(source, target, { ...toy, learningRate: 0 }), /learning rate/],
    ['method', trainDann(source, target, { ...toy, method: 'adda' as 'dann' }), /method/],
    ['coral batch', trainDann(source, target, { ...toy, method: 'coral', batchSize: 1 }), /at least 2/],
  ];
  for (const [what, p, message] of cases) {
    await assert.rejects(p, (err: Error) => err instanceof AdvxError && message.test(err.message), what);
  }
  assert.equal(tf.memory().numTensors, start);
});

function gaussian(n: number, d: number, seed: number, scale: number[], shift = 0): tf.Tensor2D {
  const rng = new Rng(seed);
  return tf.tensor2d(Float32Array.from({ length: n * d }, (_, i) => rng.normal() * scale[i % d] + shift), [n, d]);
}

test('CORAL and MMD: zero for one batch against itself, larger as the distributions move apart', () => {
  const a = gaussian(200, 4, 1, [1, 1, 1, 1]);
  const b = gaussian(200, 4, 2, [1, 1, 1, 1]);
  const stretched = gaussian(200, 4, 3, [3, 1, 0.3, 1]);
  const shifted = gaussian(200, 4, 4, [1, 1, 1, 1], 2);
  const v = (t: tf.Scalar) => {
    const x = t.dataSync()[0];
    t.dispose();
    return x;
  };
  assert.ok(Math.abs(v(coralLoss(a, a))) < 1e-9 && Math.abs(v(mmdLoss(a, a))) < 1e-6);
  // CORAL sees covariance, not means; MMD sees both.
  assert.ok(v(coralLoss(a, stretched)) > 10 * v(coralLoss(a, b)));
  assert.ok(v(coralLoss(a, shifted)) < 3 * v(coralLoss(a, b)) + 1e-3);
  assert.ok(v(mmdLoss(a, shifted)) > 10 * v(mmdLoss(a, b)));
  assert.ok(v(mmdLoss(a, stretched)) > 2 * v(mmdLoss(a, b)));
  // The CORAL gradient matches central finite differences.
  const small = gaussian(6, 3, 5, [1, 2, 0.5]);
  const other = gaussian(7, 3, 6, [1, 1, 1]);
  const g = tf.grad((s: tf.Tensor) => coralLoss(s as tf.Tensor2D, other))(small) as tf.Tensor2D;
  const base = small.arraySync();
  const h = 1e-2;
  const f = (m: number[][]) => v(coralLoss(tf.tensor2d(m), other));
  for (const [i, j] of [[0, 0], [3, 1], [5, 2]]) {
    const up = base.map((r) => [...r]);
    const down = base.map((r) => [...r]);
    up[i][j] += h;
    down[i][j] -= h;
    const numeric = (f(up) - f(down)) / (2 * h);
    const analytic = (g.arraySync() as number[][])[i][j];
    assert.ok(Math.abs(numeric - analytic) < 1e-3 + 0.02 * Math.abs(analytic), `∂/∂s[${i}][${j}]: ${analytic} vs ${numeric}`);
  }
  tf.dispose([a, b, stretched, shifted, small, other, g]);
  assert.throws(() => coralLoss(gaussian(1, 3, 1, [1, 1, 1]), other), /at least 2/);
  assert.throws(() => mmdLoss(gaussian(4, 2, 1, [1, 1]), other), /same size/);
});

test('CORAL and MMD training pull the moons features together', async () => {
  const start = tf.memory().numTensors;
  const gap: Record<string, number> = {};
  for (const method of ['source-only', 'coral', 'mmd'] as const) {
    const r = await trainDann(source, target, { ...toy, epochs: 15, method });
    gap[method] = tf.tidy(() => {
      const fs = r.features.apply(tf.tensor4d(source.images, [source.count, 1, 1, 2])) as tf.Tensor2D;
      const ft = r.features.apply(tf.tensor4d(target.images, [target.count, 1, 1, 2])) as tf.Tensor2D;
      return mmdLoss(fs, ft).dataSync()[0];
    });
    if (method !== 'source-only') assert.ok(Number.isFinite(r.history.at(-1)!.domainLoss) && Number.isNaN(r.history.at(-1)!.domainAccuracy));
    r.dispose();
  }
  console.log(JSON.stringify(gap));
  assert.ok(gap.mmd < 0.7 * gap['source-only'], `MMD between the domains' features: mmd ${gap.mmd} vs source-only ${gap['source-only']}`);
  assert.ok(gap.coral < gap['source-only'], `coral ${gap.coral} vs source-only ${gap['source-only']}`);
  assert.equal(tf.memory().numTensors, start, 'no tensor leaks');
});

test('a run resumed from its networks and optimizer after epoch 1 ends where an uninterrupted run ends', async () => {
  const start = tf.memory().numTensors;
  const opts = { ...toy, epochs: 3 };
  const straight = await trainDann(source, target, opts);
  const whole = straight.all.getWeights().map((w) => w.dataSync().slice());
  straight.dispose();
  // What a checkpoint after epoch 1 holds: the weights and the optimizer's momentum.
  let snapshot: { weights: tf.Tensor[]; momentum: Array<{ name: string; tensor: tf.Tensor }> } | undefined;
  const first = await trainDann(source, target, {
    ...opts,
    onEpoch: async (_info, state) => {
      const own = await state.optimizer.getWeights();
      const momentum = own.map((w) => ({ name: w.name, tensor: tf.clone(w.tensor) }));
      tf.dispose(own.map((w) => w.tensor).filter((t) => !(t instanceof tf.Variable))); // the fresh iteration count
      snapshot = { weights: state.networks.all.getWeights().map((w) => tf.clone(w)), momentum };
    },
    shouldStop: () => snapshot !== undefined,
  });
  assert.equal(first.history.length, 1);
  first.dispose();
  const networks = buildDannNetworks([1, 1, 2], 2, { ...toy, seed: 99 });
  networks.all.setWeights(snapshot!.weights);
  const optimizer = tf.train.momentum(toy.learningRate, 0.9);
  await optimizer.setWeights(snapshot!.momentum);
  const resumed = await trainDann(source, target, { ...opts, networks, startEpoch: 1, optimizer });
  assert.deepEqual(resumed.history.map((h) => h.epoch), [2, 3]);
  resumed.all.getWeights().forEach((w, k) => {
    const v = w.dataSync();
    v.forEach((x, i) => assert.ok(Math.abs(x - whole[k][i]) <= 1e-5 * (1 + Math.abs(whole[k][i])), `weight ${k}[${i}]`));
  });
  tf.dispose([...snapshot!.weights, ...snapshot!.momentum.map((m) => m.tensor)]);
  disposeOptimizer(optimizer);
  networks.dispose();
  assert.equal(tf.memory().numTensors, start, 'no tensor leaks');
});

test('CORAL: λ changes the model on MNIST-RGB → MNIST-M (the loss is of the order of the cross-entropy, not ≈ 1e-7)', async () => {
  const start = tf.memory().numTensors;
  const src = loadDataset('mnist-rgb', { limit: { train: 128, test: 0 } }).train;
  const tgt = loadDataset('mnist-m', { limit: { train: 128, test: 0 }, cache: false }).train;
  const runs = [];
  for (const lambda of [0, 10]) {
    const r = await trainDann(src, tgt, { method: 'coral', epochs: 1, batchSize: 32, learningRate: 0.01, seed: 0, lambda });
    runs.push({ weights: r.all.getWeights().map((w) => w.dataSync().slice()), history: r.history[0] });
    r.dispose();
  }
  const [off, on] = runs;
  let largest = 0;
  off.weights.forEach((w, k) => w.forEach((x, i) => (largest = Math.max(largest, Math.abs(x - on.weights[k][i])))));
  assert.ok(largest > 1e-3, `largest weight difference between λ = 0 and λ = 10: ${largest}`);
  // The unweighted CORAL term is measured the same way whatever λ: about 0.1–2 here, as the cross-entropy (≈ 2.3 at the start).
  assert.ok(off.history.domainLoss > 0.05 && off.history.domainLoss < 2, `CORAL loss ${off.history.domainLoss}`);
  assert.ok(on.history.domainLoss < off.history.domainLoss, `λ = 10 aligns the covariances: ${on.history.domainLoss} vs ${off.history.domainLoss}`);
  assert.equal(tf.memory().numTensors, start, 'no tensor leaks');
});

test('CORAL loss = ‖C_S − C_T‖²_F / (‖C_S‖²_F + ‖C_T‖²_F): a direct computation; blind to a common scale, not to a relative one', () => {
  const cov = (m: number[][]) => {
    const [n, d] = [m.length, m[0].length];
    const mean = Array.from({ length: d }, (_, j) => m.reduce((a, r) => a + r[j], 0) / n);
    return Array.from({ length: d }, (_, i) => Array.from({ length: d }, (_, j) => m.reduce((a, r) => a + (r[i] - mean[i]) * (r[j] - mean[j]), 0) / (n - 1)));
  };
  const sq = (c: number[][]) => c.flat().reduce((a, x) => a + x * x, 0);
  const direct = (s: number[][], t: number[][]) => {
    const [cs, ct] = [cov(s), cov(t)];
    return sq(cs.map((r, i) => r.map((x, j) => x - ct[i][j]))) / (sq(cs) + sq(ct));
  };
  const v = (s: number[][], t: number[][]) => tf.tidy(() => coralLoss(tf.tensor2d(s), tf.tensor2d(t)).dataSync()[0]);
  const s = [[1, 2, 0], [0, 1, 1], [2, 0, 3], [1, 1, 1]];
  const t = [[0, 0, 1], [1, 3, 0], [0, 1, 2]];
  const expected = direct(s, t);
  assert.ok(expected > 0.05 && Math.abs(v(s, t) - expected) < 1e-5 * expected, `${v(s, t)} vs ${expected}`);
  // The paper's ‖ΔC‖²_F/(4d²) shrinks as the fourth power of the features; this one does not move.
  for (const k of [1e-3, 1e3]) {
    const scaled = (m: number[][]) => m.map((r) => r.map((x) => x * k));
    assert.ok(Math.abs(v(scaled(s), scaled(t)) - expected) < 1e-4 * expected, `features × ${k}`);
  }
  // Target features k × the source's: covariance k²·C_S, loss (1 − k²)²/(1 + k⁴).
  const twice = s.map((r) => r.map((x) => 2 * x));
  assert.ok(Math.abs(v(s, twice) - 9 / 17) < 1e-5, `${v(s, twice)}`);
  assert.equal(v(s, s), 0);
  // Features all zero (dead ReLUs): 0, not NaN.
  assert.equal(v([[0, 0], [0, 0]], [[0, 0], [0, 0], [0, 0]]), 0);
});
