import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { setup } from '../helpers/backend.ts';
import { graphOp, writeGraphModel } from '../helpers/graph-model.ts';
import { loadClassifier } from '../../src/node/io/load-model.ts';
import { fileSystemHandler } from '../../src/node/io/model-files.ts';
import { buildModel } from '../../src/models/zoo.ts';
import { AdvxError } from '../../src/core/errors.ts';

const tmp = mkdtempSync(join(tmpdir(), 'advx-load-'));
before(() => setup());

test('a saved LayersModel loads as a classifier with the same logits', async () => {
  const model = buildModel('lenet', { inputShape: [28, 28, 1], numClasses: 10, seed: 1 });
  const dir = join(tmp, 'lenet');
  await model.save(fileSystemHandler(dir));
  const { classifier } = await loadClassifier(dir);
  assert.deepEqual(classifier.info.inputShape, [28, 28, 1]);
  assert.equal(classifier.info.numClasses, 10);
  const x = tf.randomUniform([3, 28, 28, 1], 0, 1, 'float32', 5);
  const a = await (model.apply(x) as tf.Tensor).data();
  const b = await classifier.logits(x).data();
  assert.deepEqual(Array.from(b), Array.from(a));
});

/** A hand-written TF GraphModel: logits = (x·scale + offset) @ W, with W = [[1,0,0],[0,2,0],[0,0,3],[1,1,1]]. */
function writeLinearGraph(dir: string): void {
  writeGraphModel(dir, 4, { w: { shape: [4, 3], values: [1, 0, 0, 0, 2, 0, 0, 0, 3, 1, 1, 1] } }, [graphOp('logits', 'MatMul', 'x', 'w')]);
  // Declared bounds and preprocessing: inputs in [0, 255], the graph wants [0, 1].
  writeFileSync(join(dir, 'advx.json'), JSON.stringify({ inputShape: [4], numClasses: 3, bounds: [0, 255], preprocessing: { scale: 1 / 255 } }));
}

test('a GraphModel loads with its declared bounds and preprocessing', async () => {
  const dir = join(tmp, 'graph');
  writeLinearGraph(dir);
  const { classifier, graph } = await loadClassifier(dir);
  assert.ok(graph);
  assert.deepEqual(classifier.info.bounds, [0, 255]);
  const x = tf.tensor2d([[255, 0, 0, 0], [0, 0, 255, 255]]);
  const logits = await classifier.logits(x).array();
  assert.deepEqual(logits, [[1, 0, 0], [1, 1, 4]]);
  // Gradients flow through a GraphModel too: d(logit_2)/dx = W[:,2] / 255.
  const g = await tf.grad((t: tf.Tensor) => tf.sum(tf.slice(classifier.logits(t), [0, 2], [-1, 1])))(x).array();
  assert.ok(Math.abs((g as number[][])[0][2] - 3 / 255) < 1e-6);
});

test('broken model folders give clear errors', async () => {
  await assert.rejects(loadClassifier(join(tmp, 'missing')), /no model at/);
  const bad = join(tmp, 'bad');
  mkdirSync(bad, { recursive: true });
  writeFileSync(join(bad, 'model.json'), '{"modelTopology": ');
  await assert.rejects(loadClassifier(bad), /not valid JSON/);
  const nop = join(tmp, 'noweights');
  writeLinearGraph(nop);
  writeFileSync(join(nop, 'weights.bin'), Buffer.alloc(8));
  await assert.rejects(loadClassifier(nop), (e: Error) => e instanceof AdvxError && /truncated/.test(e.message));
});
