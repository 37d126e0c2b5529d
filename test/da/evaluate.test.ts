import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { setup } from '../helpers/backend.ts';
import { rotatedMoons } from '../../src/data/toy2d.ts';
import { buildDannNetworks, type FeatureBuilder } from '../../src/da/dann.ts';
import { calibrateOn, domainAccuracies, evaluateEachDomain } from '../../src/da/evaluate.ts';
import { Classifier } from '../../src/models/classifier.ts';
import type { DatasetSplits } from '../../src/data/types.ts';

before(() => setup());

const batchNormFeatures: FeatureBuilder = (inputShape, seed) => {
  const m = tfl.sequential();
  m.add(tfl.layers.flatten({ inputShape }));
  m.add(tfl.layers.batchNormalization({}));
  m.add(tfl.layers.dense({ units: 8, activation: 'relu', kernelInitializer: tfl.initializers.glorotUniform({ seed }) }));
  return m;
};

const moons = rotatedMoons(60, 200);
const half = (d: typeof moons.source): DatasetSplits => ({
  train: { ...d, images: d.images.slice(0, 200), labels: d.labels.slice(0, 100), count: 100 },
  test: { ...d, images: d.images.slice(200), labels: d.labels.slice(100), count: 100 },
});
const [source, target] = [half(moons.source), half(moons.target)];

test('per-domain evaluation: each domain under its own batch-norm statistics, the target\'s left in the model', async () => {
  const start = tf.memory().numTensors;
  const networks = buildDannNetworks([1, 1, 2], 2, { method: 'source-only', features: batchNormFeatures, labelHidden: [8], seed: 1 });
  const classifier = new Classifier((x) => networks.model.apply(x) as tf.Tensor, { inputShape: [1, 1, 2], numClasses: 2, bounds: [0, 1] });
  const extract = (x: tf.Tensor) => networks.features.apply(x) as tf.Tensor;
  const statistics = () => networks.features.layers[1].getWeights().slice(-2).map((w) => Array.from(w.dataSync()));

  calibrateOn(networks.features, target.train);
  const targetStatistics = statistics();
  calibrateOn(networks.features, source.train);
  assert.notDeepEqual(statistics(), targetStatistics, 'the domains differ');

  const each = await evaluateEachDomain(classifier, networks.features, extract, { source, target }, 30);
  assert.deepEqual(statistics(), targetStatistics);
  assert.deepEqual(each.source.features.shape, [1, 1, 8]);
  assert.equal(each.target.features.count, 30);
  assert.deepEqual(each.target.features.labels, target.test.labels.slice(0, 30));
  const accuracies = await domainAccuracies(classifier, source, target, networks.features);
  assert.deepEqual(accuracies, {
    source: { accuracy: each.source.accuracy, perClass: each.source.perClass },
    target: { accuracy: each.target.accuracy, perClass: each.target.perClass },
  });
  // Per class and overall come from the same pass: the class accuracies weighted by the class counts give the overall one.
  const counts = [0, 1].map((k) => target.test.labels.filter((l) => l === k).length);
  const weighted = each.target.perClass.reduce((sum, a, k) => sum + a * counts[k], 0) / target.test.count;
  assert.ok(Math.abs(weighted - each.target.accuracy) < 1e-12, `${weighted} vs ${each.target.accuracy}`);
  assert.deepEqual(statistics(), targetStatistics);
  // Without an extractor to calibrate, both domains share the statistics in place.
  calibrateOn(networks.features, source.train);
  const shared = await domainAccuracies(classifier, source, target);
  assert.equal(shared.source.accuracy, each.source.accuracy);
  networks.dispose();
  assert.equal(tf.memory().numTensors, start, 'no tensor leaks');
});
