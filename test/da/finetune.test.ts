import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { setup, tensorCounts } from '../helpers/backend.ts';
import { AdvxError } from '../../src/core/errors.ts';
import { Rng } from '../../src/core/rng.ts';
import { buildDannNetworks, mlpFeatures, trainDann } from '../../src/da/dann.ts';
import { fineTune, headInputModel, keepHead, labelledPerClass, replaceHead } from '../../src/da/finetune.ts';
import { sndFromProbabilities, softNeighbourhoodDensity } from '../../src/da/snd.ts';
import { rotatedMoons } from '../../src/data/toy2d.ts';
import type { ImageDataset } from '../../src/data/types.ts';
import { Classifier } from '../../src/models/classifier.ts';

before(() => setup());

// A rotation large enough that a source-only classifier is wrong on much of the target.
const { source, target } = rotatedMoons(50);

function accuracy(model: tfl.LayersModel, ds: ImageDataset): number {
  return tf.tidy(() => {
    const pred = Array.from(tf.argMax(model.predict(tf.tensor4d(ds.images, [ds.count, 1, 1, 2])) as tf.Tensor, 1).dataSync());
    return pred.reduce((a, p, i) => a + (p === ds.labels[i] ? 1 : 0), 0) / ds.count;
  });
}

test('labelledPerClass draws k images of each class, seeded', () => {
  const a = labelledPerClass(target, 5, 7);
  assert.equal(a.count, 10);
  assert.deepEqual([...a.labels].filter((l) => l === 0).length, 5);
  assert.deepEqual(labelledPerClass(target, 5, 7).images, a.images);
  assert.notDeepEqual(labelledPerClass(target, 5, 8).images, a.images);
  assert.throws(() => labelledPerClass(target, 1000, 0), (e: Error) => e instanceof AdvxError && /only \d+ images of class/.test(e.message));
  assert.throws(() => labelledPerClass(target, 0, 0), /positive integer/);
});

test('fine-tuning a source-only network on 8 labelled target images per class raises target accuracy', async () => {
  const start = tf.memory().numTensors;
  const toy = { epochs: 30, batchSize: 32, learningRate: 0.2, seed: 3, features: mlpFeatures([32, 32]), labelHidden: [32] };
  const pretrained = await trainDann(source, target, { ...toy, method: 'source-only' });
  const before = accuracy(pretrained.model, target);
  const model = replaceHead(pretrained.model, 2, 11);
  assert.equal(model.layers.at(-1)!.getClassName(), 'Dense');
  // input, the extractor's flatten + 2 dense, the label head's hidden dense, the new head.
  assert.equal(model.layers.length, 6);
  const labelled = labelledPerClass(target, 8, 5);
  const frozenFirst = pretrained.features.getWeights()[0].dataSync().slice();
  const epochs: string[] = [];
  const history = await fineTune(model, labelled, { headEpochs: 30, epochs: 30, batchSize: 16, learningRate: 0.02, fullScale: 0.5, seed: 1, onEpoch: (e) => void epochs.push(e.phase) });
  assert.equal(history.length, 60);
  assert.deepEqual([epochs[0], epochs[29], epochs[30], epochs[59]], ['head', 'head', 'all', 'all']);
  assert.deepEqual(history.map((h) => h.epoch), Array.from({ length: 60 }, (_, i) => i + 1));
  assert.ok(model.layers.slice(1).every((l) => l.trainable), 'trainable flags restored');
  assert.notDeepEqual(pretrained.features.getWeights()[0].dataSync(), frozenFirst, 'the body moved in the second phase');
  const after = accuracy(model, target);
  console.log(JSON.stringify({ before, after }));
  assert.ok(before < 0.9, `the rotation hurts the source-only model: ${before}`);
  assert.ok(after >= before + 0.05, `target accuracy ${before} → ${after}`);
  model.dispose();
  pretrained.dispose();
  assert.equal(tf.memory().numTensors, start, 'no tensor leaks');
});

test('the head phase leaves the body untouched', async () => {
  const nets = buildDannNetworks([1, 1, 2], 2, { method: 'source-only', features: mlpFeatures([8]), labelHidden: [8], seed: 0 });
  const model = replaceHead(nets.model, 2, 1);
  const body = nets.features.getWeights().map((w) => w.dataSync().slice());
  await fineTune(model, labelledPerClass(target, 4, 0), { headEpochs: 3, epochs: 0, seed: 0 });
  nets.features.getWeights().forEach((w, i) => assert.deepEqual(w.dataSync(), body[i]));
  assert.throws(() => replaceHead(nets.model, 1, 0), /at least 2 classes/);
  await assert.rejects(fineTune(model, { ...target, numClasses: 3 }, { seed: 0 }), /3 classes/);
  model.dispose();
  nets.dispose();
});

test('keepHead: the same function as the pretrained model, its layers shared; headInputModel reads what the head reads', () => {
  const nets = buildDannNetworks([1, 1, 2], 2, { method: 'source-only', features: mlpFeatures([8]), labelHidden: [6], seed: 0 });
  const chain = keepHead(nets.model);
  const x = tf.tensor4d(target.images.slice(0, 20), [10, 1, 1, 2]);
  const gap = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
  const [ours, theirs] = [chain.predict(x) as tf.Tensor, nets.model.predict(x) as tf.Tensor];
  assert.ok(gap(ours, theirs) < 1e-6);
  assert.equal(chain.layers.at(-1), nets.labelHead.layers.at(-1), 'the trained head itself, not a copy');
  const features = headInputModel(chain).predict(x) as tf.Tensor;
  assert.deepEqual(features.shape, [10, 6], 'the label head\'s hidden layer feeds the head');
  const fresh = replaceHead(nets.model, 3, 0);
  const freshFeatures = headInputModel(fresh).predict(x) as tf.Tensor;
  assert.deepEqual(freshFeatures.shape, [10, 6]);
  tf.dispose([x, ours, theirs, features, freshFeatures]);
  fresh.dispose();
  chain.dispose();
  nets.dispose();
});

test('fine-tuning keeps batch norm in inference mode: statistics fixed, scale trained, override undone', async () => {
  const start = tf.memory().numTensors;
  const net = tfl.sequential({
    layers: [
      tfl.layers.flatten({ inputShape: [1, 1, 2] }),
      tfl.layers.dense({ units: 8, kernelInitializer: tfl.initializers.glorotUniform({ seed: 0 }) }),
      tfl.layers.batchNormalization({}),
      tfl.layers.reLU(),
      tfl.layers.dense({ units: 2 }),
    ],
  });
  const bn = net.layers[2];
  // Statistics unlike any batch's, so a step that used (or updated from) batch statistics shows.
  const statistics = [tf.fill([8], 0.5), tf.fill([8], 3)];
  bn.setWeights([...bn.getWeights().slice(0, 2), ...statistics]);
  tf.dispose(statistics);
  const [gamma, , mean, variance] = bn.getWeights().map((w) => w.dataSync().slice());
  const model = replaceHead(net, 2, 1);
  await fineTune(model, labelledPerClass(target, 8, 0), { headEpochs: 2, epochs: 3, batchSize: 8, learningRate: 0.05, seed: 0 });
  const after = bn.getWeights().map((w) => w.dataSync());
  assert.deepEqual(after[2], mean, 'moving mean unchanged');
  assert.deepEqual(after[3], variance, 'moving variance unchanged');
  assert.notDeepEqual(after[0], gamma, 'the scale trained in the second phase');
  // Outside fine-tuning, training mode uses batch statistics again.
  const x = tf.tensor4d(target.images.slice(0, 32), [16, 1, 1, 2]);
  const gap = tf.tidy(() => tf.max(tf.abs(tf.sub(model.apply(x, { training: true }) as tf.Tensor, model.apply(x) as tf.Tensor))).dataSync()[0]);
  assert.ok(gap > 1e-3, `training mode restored (gap ${gap})`);
  x.dispose();
  model.dispose();
  net.dispose();
  assert.equal(tf.memory().numTensors, start, 'no tensor leaks');
});

test('SND: exact on a small case, higher for clustered predictions than for scattered ones', async () => {
  // Three identical rows: each one's neighbours are the two others, equally: entropy ln 2.
  const same = tf.tensor2d([[0.7, 0.3], [0.7, 0.3], [0.7, 0.3]]);
  assert.ok(Math.abs(sndFromProbabilities(same) - Math.log(2)) < 1e-5);
  same.dispose();
  const rng = new Rng(0);
  const n = 200;
  const c = 10;
  const softmaxRows = (logit: (i: number, k: number) => number) =>
    tf.tidy(() => tf.softmax(tf.tensor2d(Float32Array.from({ length: n * c }, (_, j) => logit(Math.floor(j / c), j % c)), [n, c])) as tf.Tensor2D);
  const clustered = softmaxRows((i, k) => (k === i % c ? 6 : 0) + 0.3 * rng.normal());
  const scattered = softmaxRows(() => 1.5 * rng.normal());
  const sc = sndFromProbabilities(clustered);
  const ss = sndFromProbabilities(scattered);
  console.log(JSON.stringify({ clustered: sc, scattered: ss }));
  assert.ok(sc > ss + 0.2, `clustered ${sc} vs scattered ${ss}`);
  tf.dispose([clustered, scattered]);
  assert.throws(() => sndFromProbabilities(tf.tensor2d([[1, 0]]) as tf.Tensor2D), /at least 2/);

  const nets = buildDannNetworks([1, 1, 2], 2, { method: 'source-only', features: mlpFeatures([8]), labelHidden: [8], seed: 0 });
  const classifier = new Classifier((x) => nets.model.apply(x) as tf.Tensor, { inputShape: [1, 1, 2], numClasses: 2, bounds: [-3, 3] });
  const counts = await tensorCounts(async () => void (await softNeighbourhoodDensity(classifier, target, { count: 300 })));
  assert.equal(new Set(counts).size, 1, `no tensor leaks: ${counts}`);
  nets.dispose();
});
