import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { setup } from '../helpers/backend.ts';
import { rotatedMoons } from '../../src/data/toy2d.ts';
import { Rng } from '../../src/core/rng.ts';
import { STREAM, TrainingDivergedError, epochRng } from '../../src/train/core.ts';
import { buildDannNetworks, mlpFeatures, trainDann, type DannOptions, type FeatureBuilder } from '../../src/da/dann.ts';
import { gradientReversal } from '../../src/da/gradient-reversal.ts';
import { ADAPTATION_METHODS, ALIGNMENT_STRATEGIES, type AlignmentStrategy } from '../../src/da/strategies.ts';
import { selectLambda } from '../../src/da/select-lambda.ts';

before(() => setup());

const { source, target } = rotatedMoons(35, 120);
const tiny: DannOptions = { epochs: 2, batchSize: 16, learningRate: 0.1, seed: 4, features: mlpFeatures([16, 16]), labelHidden: [16], domainHidden: [16] };
const copies = (ws: tf.Tensor[]) => ws.map((w) => w.dataSync().slice());

test('the epoch generators are the ones trainDann drew from before the training core', () => {
  for (const [seed, epoch] of [[0, 0], [3, 7], [123456, 41]]) {
    assert.deepEqual(epochRng(seed, epoch).permutation(50), new Rng(seed * 1000003 + epoch).permutation(50));
    assert.deepEqual(epochRng(seed, epoch, STREAM.target).permutation(50), new Rng(seed * 1000003 + epoch + 7919).permutation(50));
  }
});

test('every registry entry trains a tiny run, with a domain head exactly when it declares one', async () => {
  const start = tf.memory().numTensors;
  assert.deepEqual(ADAPTATION_METHODS, Object.keys(ALIGNMENT_STRATEGIES));
  for (const method of ADAPTATION_METHODS) {
    const strategy: AlignmentStrategy = ALIGNMENT_STRATEGIES[method];
    const r = await trainDann(source, target, { ...tiny, method });
    assert.equal(r.history.length, 2, method);
    assert.equal(r.domainHead !== undefined, strategy.domainHead !== undefined, method);
    for (const h of r.history) {
      assert.ok(Number.isFinite(h.labelLoss) && h.labelAccuracy > 0, `${method}: ${JSON.stringify(h)}`);
      assert.equal(Number.isFinite(h.domainLoss), strategy.align !== undefined, `${method} domain loss`);
      assert.equal(Number.isFinite(h.domainAccuracy), strategy.domainHead !== undefined, `${method} domain accuracy`);
    }
    r.dispose();
  }
  assert.equal(tf.memory().numTensors, start, 'no tensor leaks');
});

test('a strategy of zero loss runs through trainDann and trains as source-only does: the same source batches', async () => {
  const start = tf.memory().numTensors;
  let calls = 0;
  const zero: AlignmentStrategy = {
    name: 'zero',
    align: (b) => {
      calls++;
      const loss = tf.mul(tf.sum(b.target), 0) as tf.Scalar;
      return { objective: loss, loss };
    },
  };
  const z = await trainDann(source, target, { ...tiny, method: zero });
  const so = await trainDann(source, target, { ...tiny, method: 'source-only' });
  assert.equal(calls, 2 * Math.ceil(source.count / tiny.batchSize));
  assert.deepEqual(z.history.map((h) => h.domainLoss), [0, 0]);
  z.history.forEach((h, i) => assert.ok(Math.abs(h.labelLoss - so.history[i].labelLoss) < 1e-5, `epoch ${i + 1}: ${h.labelLoss} vs ${so.history[i].labelLoss}`));
  const a = copies(z.all.getWeights());
  const b = copies(so.all.getWeights());
  a.forEach((w, k) => w.forEach((x, i) => assert.ok(Math.abs(x - b[k][i]) < 1e-5, `weight ${k}[${i}]`)));
  z.dispose();
  so.dispose();
  assert.equal(tf.memory().numTensors, start, 'no tensor leaks');
});

test('strategies of one\'s own: a linear MMD, and a two-way domain classifier head trained through gradient reversal', async () => {
  const start = tf.memory().numTensors;
  const linearMmd: AlignmentStrategy = {
    name: 'linear-mmd',
    align: (b) => {
      const loss = tf.sum(tf.square(tf.sub(tf.mean(b.source, 0), tf.mean(b.target, 0)))) as tf.Scalar;
      return { objective: tf.mul(loss, b.lambda), loss };
    },
  };
  const r = await trainDann(source, target, { ...tiny, epochs: 4, method: linearMmd });
  assert.ok(r.history.every((h) => Number.isFinite(h.domainLoss) && h.domainLoss >= 0 && Number.isNaN(h.domainAccuracy)));
  r.dispose();

  // Softmax over {source, target} instead of DANN's one logit: the head's size comes from the strategy.
  const twoWay: AlignmentStrategy = {
    name: 'two-way',
    domainHead: (dim) => ({ inputs: dim, outputs: 2 }),
    align: (b) => {
      const [ns, nt] = [b.source.shape[0], b.target.shape[0]];
      const logits = b.domainHead!.apply(gradientReversal(b.features, b.lambda), { training: true }) as tf.Tensor2D;
      const domains = tf.concat([tf.zeros([ns], 'int32'), tf.ones([nt], 'int32')]);
      const loss = tf.losses.softmaxCrossEntropy(tf.oneHot(domains, 2), logits) as tf.Scalar;
      const correct = tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), domains), 'float32')) as tf.Scalar;
      return { objective: loss, loss, correct };
    },
  };
  const networks = buildDannNetworks([1, 1, 2], 2, { ...tiny, method: twoWay });
  assert.deepEqual(networks.domainHead!.outputs[0].shape, [null, 2]);
  const before = copies(networks.domainHead!.getWeights());
  const t = await trainDann(source, target, { ...tiny, method: twoWay, networks });
  assert.ok(t.history.every((h) => Number.isFinite(h.domainLoss) && h.domainAccuracy >= 0 && h.domainAccuracy <= 1));
  const after = copies(networks.domainHead!.getWeights());
  assert.ok(after.some((w, k) => w.some((x, i) => x !== before[k][i])), 'the domain head is trained');
  networks.dispose();
  assert.equal(tf.memory().numTensors, start, 'no tensor leaks');
});

// Batch norm moves its statistics in the forward pass, before the loss is checked.
const batchNormFeatures: FeatureBuilder = (inputShape, seed) => {
  const m = tfl.sequential();
  m.add(tfl.layers.flatten({ inputShape }));
  m.add(tfl.layers.dense({ units: 16, kernelInitializer: tfl.initializers.glorotUniform({ seed }) }));
  m.add(tfl.layers.batchNormalization({}));
  m.add(tfl.layers.reLU());
  return m;
};

test('a diverging run throws TrainingDivergedError before the bad update: the weights (batch-norm statistics too) are those of the last good step', async () => {
  const start = tf.memory().numTensors;
  const cases = [...ADAPTATION_METHODS.map((m) => [m, tiny.features!] as const), ['dann', batchNormFeatures] as const, ['coral', batchNormFeatures] as const];
  for (const [method, features] of cases) {
    const networks = buildDannNetworks([1, 1, 2], 2, { ...tiny, method, features });
    let last = copies(networks.all.getWeights());
    let steps = 0;
    const run = trainDann(source, target, {
      ...tiny,
      method,
      features,
      networks,
      learningRate: 1e30,
      lrSchedule: false,
      logEvery: 1,
      onBatch: () => {
        steps++;
        last = copies(networks.all.getWeights());
      },
    });
    await assert.rejects(run, (err: Error) => {
      assert.ok(err instanceof TrainingDivergedError, `${method}: ${err}`);
      assert.equal(err.step, steps + 1, method);
      assert.ok(!Number.isFinite(err.loss) || !Number.isFinite(err.gradNorm));
      return true;
    });
    assert.ok(steps >= 1, `${method}: diverged after at least one good step`);
    const now = copies(networks.all.getWeights());
    now.forEach((w, k) => {
      assert.ok(w.every(Number.isFinite), `${method}: weight ${k} finite`);
      assert.deepEqual(w, last[k], `${method}: weight ${k} as after step ${steps}`);
    });
    networks.dispose();
  }
  assert.equal(tf.memory().numTensors, start, 'no tensor leaks');
});

test('selectLambda keeps the run of highest SND and disposes the others', async () => {
  const start = tf.memory().numTensors;
  const seen: number[] = [];
  const best = await selectLambda([0, 0.5, 2], (lambda) => trainDann(source, target, { ...tiny, lambda }).then((r) => ({ networks: r, lambda })), target, {
    onTrial: (t) => seen.push(t.lambda),
  });
  assert.deepEqual(seen, [0, 0.5, 2]);
  assert.equal(best.snd, Math.max(...best.trials.map((t) => t.snd)));
  assert.equal(best.run.lambda, best.lambda);
  best.run.networks.dispose();
  assert.equal(tf.memory().numTensors, start, 'only the chosen run was kept');
  await assert.rejects(selectLambda([], () => Promise.reject(new Error('not called')), target), /at least one/);
});
