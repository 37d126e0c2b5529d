/**
 * The training core: per-epoch generators are the ones the loops always drew; a non-finite loss or
 * gradient throws TrainingDivergedError before the update, leaving weights and optimizer state as
 * the last good step left them (in guardedUpdate and in the shared loop); the loss meter sums as
 * the device does; learning rates and optimizer disposal; no tensor leaks.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { setup } from '../helpers/backend.ts';
import { loadDataset } from '../../src/node/datasets/index.ts';
import { buildModel } from '../../src/models/zoo.ts';
import { Rng } from '../../src/core/rng.ts';
import { createOptimizer, crossEntropy, fitClassifier } from '../../src/train/fit.ts';
import { LossMeter, STREAM, TrainingDivergedError, disposeOptimizer, epochRng, globalNorm, guardedUpdate, setLearningRate, trainableVariables } from '../../src/train/core.ts';

before(() => setup());
const { train } = loadDataset('mnist', { limit: { train: 96, test: 0 } });
const spec = { inputShape: [28, 28, 1], numClasses: 10 };

const snapshot = (ts: tf.Tensor[]) => ts.map((t) => Array.from(t.dataSync()));
/** An optimizer's state as numbers (getWeights makes a new iteration-count scalar each call: it is freed). */
async function optimizerState(o: tf.Optimizer): Promise<number[][]> {
  const [count, ...rest] = await o.getWeights();
  const out = snapshot([count.tensor, ...rest.map((w) => w.tensor)]);
  count.tensor.dispose();
  return out;
}

test('epochRng draws what seed · 1000003 + epoch (+ stream) always drew', () => {
  for (const [seed, epoch] of [[0, 0], [1, 0], [7, 3], [12345, 41], [-3, 2]]) {
    for (const stream of [0, STREAM.target]) {
      const a = epochRng(seed, epoch, stream);
      const b = new Rng(seed * 1000003 + epoch + stream);
      assert.deepEqual(Array.from(a.permutation(50)), Array.from(b.permutation(50)));
      assert.deepEqual([a.seed(), a.normal(), a.int(1000)], [b.seed(), b.normal(), b.int(1000)]);
    }
  }
  assert.deepEqual(epochRng(5, 1).permutation(20), new Rng(5 * 1000003 + 1).permutation(20));
  assert.notDeepEqual(epochRng(5, 1).permutation(20), epochRng(5, 2).permutation(20));
});

/** A 4 → 3 linear model's variables, one Adam step taken (so its state is not the initial one). */
async function oneGoodStep(): Promise<{ vars: tf.Variable[]; optimizer: tf.Optimizer; x: tf.Tensor2D; y: tf.Tensor1D }> {
  const rng = new Rng(2);
  const vars = [tf.variable(tf.tensor2d(Float32Array.from({ length: 12 }, () => rng.normal()), [4, 3])), tf.variable(tf.zeros([3]))];
  const x = tf.tensor2d(Float32Array.from({ length: 20 }, () => rng.normal()), [5, 4]);
  const y = tf.tensor1d([0, 1, 2, 1, 0], 'int32');
  const optimizer = tf.train.adam(0.1);
  const r = await guardedUpdate(() => crossEntropy(tf.add(tf.matMul(x, vars[0]), vars[1]) as tf.Tensor2D, y), vars, optimizer, { step: 1, part: 'test' });
  assert.ok(Number.isFinite(r.loss) && r.gradNorm > 0);
  return { vars, optimizer, x, y };
}

test('guardedUpdate: a NaN loss or an infinite gradient throws TrainingDivergedError and changes no weight and no optimizer state', async () => {
  const { vars, optimizer, x, y } = await oneGoodStep();
  const weights = snapshot(vars);
  const state = await optimizerState(optimizer);
  const tensors = tf.memory().numTensors;
  const nanLoss = () => tf.mul(crossEntropy(tf.add(tf.matMul(x, vars[0]), vars[1]) as tf.Tensor2D, y), NaN) as tf.Scalar;
  // √ at 0: a finite loss (0) whose gradient is not.
  const badGradient = () => tf.sqrt(tf.sum(tf.square(tf.sub(vars[1], vars[1])))) as tf.Scalar;
  for (const [f, part] of [[nanLoss, 'loss'], [badGradient, 'gradient']] as const) {
    let kept: tf.Tensor | undefined;
    const e = await guardedUpdate(
      (keep) => {
        kept = keep(tf.ones([2]));
        return f();
      },
      vars,
      optimizer,
      { step: 7, part },
    ).then(
      () => assert.fail(`the ${part} case did not throw`),
      (err: unknown) => err,
    );
    assert.ok(e instanceof TrainingDivergedError, String(e));
    assert.equal(e.step, 7);
    assert.equal(e.part, part);
    assert.ok(part === 'loss' ? Number.isNaN(e.loss) : e.loss === 0 && !Number.isFinite(e.gradNorm), e.message);
    assert.ok(kept!.isDisposed, 'kept tensors are freed when the update is refused');
    assert.deepEqual(snapshot(vars), weights);
    assert.deepEqual(await optimizerState(optimizer), state);
  }
  assert.equal(tf.memory().numTensors, tensors);
  tf.dispose([...vars, x, y]);
  optimizer.dispose();
});

test('guardedUpdate reads reported tensors back with the loss, and leaks nothing', async () => {
  const { vars, optimizer, x, y } = await oneGoodStep();
  const tensors = tf.memory().numTensors;
  const r = await guardedUpdate(
    (keep, report) => {
      const logits = tf.add(tf.matMul(x, vars[0]), vars[1]) as tf.Tensor2D;
      report(tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), y), 'float32')));
      report(tf.argMax(logits, 1));
      keep(tf.scalar(3));
      return crossEntropy(logits, y);
    },
    vars,
    optimizer,
    { step: 2, part: 'test' },
  );
  assert.equal(r.reported.length, 6);
  const predicted = Array.from(r.reported.subarray(1));
  assert.equal(r.reported[0], predicted.filter((p, i) => p === [0, 1, 2, 1, 0][i]).length);
  assert.equal(r.kept.length, 1);
  const norm = tf.tidy(() => globalNorm({ a: tf.tensor1d([3]), b: tf.tensor1d([4]) }));
  assert.equal(norm.dataSync()[0], 5);
  tf.dispose([norm, ...r.kept]);
  assert.equal(tf.memory().numTensors, tensors);
  tf.dispose([...vars, x, y]);
  optimizer.dispose();
});

test('the loop stops at a diverging step with the weights and Adam state of the step before, and leaks nothing', async () => {
  const model = buildModel('mlp', { ...spec, seed: 4 });
  const tensors = tf.memory().numTensors;
  const optimizer = createOptimizer(1e-3);
  let weights: number[][] = [];
  let calls = 0;
  const err = await fitClassifier(model, train, {
    epochs: 2,
    batchSize: 16,
    learningRate: 1e-3,
    seed: 4,
    optimizer,
    logEvery: 1,
    onBatch: () => (weights = snapshot(model.getWeights())),
    // Step 9 (the third of epoch 2) goes wrong.
    loss: (logits, _x, y) => (++calls === 9 ? (tf.mul(crossEntropy(logits, y), Infinity) as tf.Scalar) : crossEntropy(logits, y)),
  }).then(
    () => assert.fail('training did not stop'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof TrainingDivergedError, String(err));
  assert.equal(err.step, 9);
  assert.equal(err.part, 'classifier');
  assert.equal(err.loss, Infinity);
  assert.deepEqual(snapshot(model.getWeights()), weights);
  assert.equal((await optimizerState(optimizer))[0][0], 8, 'Adam counted the 8 good steps only');
  optimizer.dispose();
  assert.equal(tf.memory().numTensors, tensors);
  model.dispose();
});

test('a refused step puts back the batch-norm statistics its forward pass moved', async () => {
  const model = tfl.sequential({
    layers: [tfl.layers.flatten({ inputShape: [28, 28, 1] }), tfl.layers.dense({ units: 8, kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) }), tfl.layers.batchNormalization(), tfl.layers.dense({ units: 10, kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }) })],
  });
  const tensors = tf.memory().numTensors;
  let weights: number[][] = [];
  let calls = 0;
  const err = await fitClassifier(model, train, {
    epochs: 1,
    batchSize: 16,
    learningRate: 1e-3,
    seed: 4,
    logEvery: 1,
    // getWeights holds the moving mean and variance too.
    onBatch: () => (weights = snapshot(model.getWeights())),
    loss: (logits, _x, y) => (++calls === 3 ? (tf.mul(crossEntropy(logits, y), NaN) as tf.Scalar) : crossEntropy(logits, y)),
  }).then(
    () => assert.fail('training did not stop'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof TrainingDivergedError, String(err));
  assert.equal(model.nonTrainableWeights.length, 2, 'moving mean and variance');
  assert.deepEqual(snapshot(model.getWeights()), weights);
  assert.equal(tf.memory().numTensors, tensors);
  model.dispose();
});

test('a huge learning rate is caught at the first non-finite step, not after it', async () => {
  const model = buildModel('mlp', { ...spec, seed: 5 });
  const optimizer = tf.train.sgd(1e30);
  let weights: number[][] = snapshot(model.getWeights());
  const err = await fitClassifier(model, train, { epochs: 3, batchSize: 16, learningRate: 1e30, seed: 5, optimizer, logEvery: 1, onBatch: () => (weights = snapshot(model.getWeights())) }).then(
    () => assert.fail('training did not diverge'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof TrainingDivergedError, String(err));
  assert.ok(err.step >= 2, `the first step (of finite weights) diverged: ${err.message}`);
  const now = snapshot(model.getWeights());
  assert.deepEqual(now, weights);
  assert.ok(now.every((w) => w.every(Number.isFinite)), 'no non-finite weight was written');
  disposeOptimizer(optimizer);
  model.dispose();
});

test('LossMeter: example-weighted means of float32 sums, as a device-side sum gives them', () => {
  const m = new LossMeter();
  assert.ok(Number.isNaN(m.mean('loss')));
  const batches: Array<[number, number, number]> = [[32, 2.3025851, 3], [32, 1.7, 9], [7, 0.1234567, 5]];
  let sum = tf.scalar(0);
  for (const [n, loss, correct] of batches) {
    // Losses come back from float32 tensors.
    m.add(n, { loss: Math.fround(loss), accuracy: correct / n });
    const next = tf.tidy(() => tf.add(sum, tf.mul(tf.scalar(loss), n)));
    sum.dispose();
    sum = next as tf.Scalar;
  }
  assert.equal(m.examples, 71);
  assert.equal(m.mean('loss'), sum.dataSync()[0] / 71);
  assert.equal(m.mean('accuracy'), 17 / 71);
  assert.equal(m.mean('absent'), 0);
  sum.dispose();
});

test('setLearningRate reaches Adam and SGD; disposeOptimizer frees momentum’s learning-rate scalar', () => {
  const v = tf.variable(tf.scalar(1));
  const adam = tf.train.adam(0.1);
  setLearningRate(adam, 0.01);
  assert.equal((adam as unknown as { learningRate: number }).learningRate, 0.01);
  const tensors = tf.memory().numTensors;
  const momentum = tf.train.momentum(0.5, 0.9);
  setLearningRate(momentum, 0.25);
  momentum.minimize(() => tf.square(v) as tf.Scalar, false, [v]);
  assert.equal(v.dataSync()[0], 0.5);
  disposeOptimizer(momentum);
  assert.equal(tf.memory().numTensors, tensors);
  adam.dispose();
  v.dispose();
});

test('trainableVariables are the variables the model trains', () => {
  const model = buildModel('mlp', { ...spec, seed: 1 });
  const vars = trainableVariables(model);
  assert.equal(vars.length, model.trainableWeights.length);
  assert.ok(vars.every((v) => v instanceof tf.Variable && v.trainable));
  assert.deepEqual(vars.map((v) => v.shape), model.trainableWeights.map((w) => w.shape));
  model.dispose();
});
