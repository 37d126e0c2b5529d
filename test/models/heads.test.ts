/**
 * Output heads as users have them: one-unit sigmoid or logit heads (binary classifiers seen as the
 * logits [0, z]), softmax heads detected as probabilities, several outputs chosen by name, and
 * class names from a labels file — for Layers, Graph and ONNX models.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import protobuf from 'protobufjs/light.js';
import { setup } from '../helpers/backend.ts';
import { graphOp, writeGraphModel } from '../helpers/graph-model.ts';
import { Classifier } from '../../src/models/classifier.ts';
import { loadClassifier, parseInfo, readInfo } from '../../src/node/io/load-model.ts';
import { fileSystemHandler } from '../../src/node/io/model-files.ts';
import { ONNX_SCHEMA } from '../../src/models/onnx/schema.ts';
import { pgd } from '../../src/attacks/pgd.ts';
import { AdvxError } from '../../src/core/errors.ts';

const tmp = mkdtempSync(join(tmpdir(), 'advx-heads-'));
before(() => setup('cpu'));

const W = [4, -4, 2, 0];
/** Inputs near the decision boundary of x·W: z = 1, −1, 1.6, −0.8. */
const X = [
  [0.5, 0.5, 0.5, 0.5],
  [0.2, 0.6, 0.3, 0],
  [0.9, 0.5, 0, 0],
  [0.1, 0.4, 0.2, 1],
];
const Z = X.map((row) => row.reduce((s, v, i) => s + v * W[i], 0));
const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

function close(a: number, b: number, tol = 1e-5): void {
  assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);
}

async function assertBinary(classifier: Classifier, x: tf.Tensor, p: number[]): Promise<void> {
  const probs = (await classifier.probabilities(x).array()) as number[][];
  probs.forEach((row, i) => {
    close(row[0], 1 - p[i]);
    close(row[1], p[i]);
  });
}

test('a sigmoid head is the two logits [0, log(p/(1−p))]: softmax gives [1 − p, p]; a logit head [0, z]', async () => {
  const x = tf.tensor2d(X);
  const w = tf.tensor2d(W, [4, 1]);
  const p = Z.map(sigmoid);
  const sig = new Classifier((t) => tf.sigmoid(tf.matMul(t, w)), { inputShape: [4], numClasses: 2, bounds: [0, 1], output: 'sigmoid' });
  await assertBinary(sig, x, p);
  const logits = (await sig.logits(x).array()) as number[][];
  logits.forEach((row, i) => {
    assert.equal(row[0], 0);
    close(row[1], Z[i], 1e-4);
  });
  // A rank-1 output [N] works too, and so does a single logit.
  const flat = new Classifier((t) => tf.reshape(tf.matMul(t, w), [-1]), { inputShape: [4], numClasses: 2, bounds: [0, 1], output: 'logit' });
  await assertBinary(flat, x, p);
  // Saturated probabilities stay finite.
  const saturated = new Classifier((t) => tf.sigmoid(tf.mul(tf.matMul(t, w), 1000)), { inputShape: [4], numClasses: 2, bounds: [0, 1], output: 'sigmoid' });
  const z = (await saturated.logits(x).data()) as Float32Array;
  assert.ok(z.every(Number.isFinite));
  assert.throws(() => new Classifier((t) => t, { inputShape: [4], numClasses: 3, bounds: [0, 1], output: 'sigmoid' }), /binary classifier \(2 classes\)/);
  const wide = new Classifier((t) => t, { inputShape: [4], numClasses: 2, bounds: [0, 1], output: 'sigmoid' });
  assert.throws(() => wide.logits(x), /one probability per example/);
  tf.dispose([x, w]);
});

async function saveLayers(name: string, model: tfl.LayersModel, info?: object): Promise<string> {
  const dir = join(tmp, name);
  await model.save(fileSystemHandler(dir));
  if (info) writeFileSync(join(dir, 'advx.json'), JSON.stringify(info));
  return dir;
}

function binaryLayers(activation: 'sigmoid' | 'linear'): tfl.LayersModel {
  const m = tfl.sequential({ layers: [tfl.layers.dense({ units: 1, inputShape: [4], activation })] });
  m.setWeights([tf.tensor2d(W, [4, 1]), tf.zeros([1])]);
  return m;
}

test('a Layers model ending in a one-unit sigmoid loads as a binary classifier, and PGD flips it', async () => {
  const dir = await saveLayers('sigmoid', binaryLayers('sigmoid'));
  const { classifier, summary } = await loadClassifier(dir);
  assert.equal(classifier.info.output, 'sigmoid');
  assert.equal(classifier.info.numClasses, 2);
  assert.equal(summary.sources.output, 'detected');
  const x = tf.tensor2d(X);
  await assertBinary(classifier, x, Z.map(sigmoid));
  const labels = tf.tensor1d(await classifier.predict(x), 'int32');
  assert.deepEqual(Array.from(await labels.data()), [1, 0, 1, 0]);
  const result = await pgd(classifier, x, { labels }, { eps: 0.3, steps: 20, seed: 1, randomStart: false });
  assert.deepEqual(result.success, [true, true, true, true]);
  assert.ok(Math.max(...result.linf) <= 0.3 + 1e-6);
  tf.dispose([x, labels, result.adversarial]);
});

test('a one-unit linear head needs "output": "logit"; then it is a binary classifier on z', async () => {
  const model = binaryLayers('linear');
  const bare = await saveLayers('logit-bare', model);
  await assert.rejects(loadClassifier(bare), (e: unknown) => e instanceof AdvxError && /one output unit: declare "output": "sigmoid" or "logit"/.test(e.message) && !e.message.includes('\n'));
  const dir = await saveLayers('logit', model, { output: 'logit', classNames: ['ham', 'spam'] });
  const { classifier, summary } = await loadClassifier(dir);
  assert.equal(summary.sources.output, 'advx.json');
  const x = tf.tensor2d(X);
  await assertBinary(classifier, x, Z.map(sigmoid));
  x.dispose();
  // A binary head declared over a 3-unit output is refused.
  const wide = tfl.sequential({ layers: [tfl.layers.dense({ units: 3, inputShape: [4] })] });
  const wideDir = await saveLayers('wide-sigmoid', wide, { output: 'sigmoid' });
  await assert.rejects(loadClassifier(wideDir), /binary head with one output unit, but the model's output has 3 units/);
});

test('a softmax at the end is detected as probabilities unless advx.json says otherwise', async () => {
  const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 3, inputShape: [4], activation: 'softmax' })] });
  const dir = await saveLayers('softmax', model);
  const { classifier, summary } = await loadClassifier(dir);
  assert.equal(classifier.info.output, 'probabilities');
  assert.equal(summary.sources.output, 'detected');
  const x = tf.tensor2d(X);
  const want = (await (model.predict(x) as tf.Tensor).array()) as number[][];
  const got = (await classifier.probabilities(x).array()) as number[][];
  got.forEach((row, i) => row.forEach((v, j) => close(v, want[i][j])));
  writeFileSync(join(dir, 'advx.json'), JSON.stringify({ output: 'logits' }));
  assert.equal((await loadClassifier(dir)).classifier.info.output, 'logits');
  x.dispose();
});

test('a Layers model with two outputs: the first by default, another by outputName; an unknown name lists them', async () => {
  const input = tfl.input({ shape: [4] });
  const aux = tfl.layers.dense({ units: 3, name: 'aux' }).apply(input) as tfl.SymbolicTensor;
  const main = tfl.layers.dense({ units: 5, name: 'main', activation: 'softmax' }).apply(input) as tfl.SymbolicTensor;
  const model = tfl.model({ inputs: input, outputs: [aux, main] });
  const dir = await saveLayers('two-heads', model);
  const first = await loadClassifier(dir);
  assert.equal(first.classifier.info.numClasses, 3);
  assert.equal(first.summary.outputName, 'aux');
  assert.deepEqual(
    first.summary.outputs.map((o) => o.name),
    ['aux', 'main'],
  );
  const second = await loadClassifier(dir, { outputName: 'main' });
  assert.equal(second.classifier.info.numClasses, 5);
  assert.equal(second.classifier.info.output, 'probabilities');
  const x = tf.tensor2d(X);
  const want = (await ((model.predict(x) as tf.Tensor[])[1]).array()) as number[][];
  const got = (await second.classifier.probabilities(x).array()) as number[][];
  got.forEach((row, i) => row.forEach((v, j) => close(v, want[i][j])));
  x.dispose();
  writeFileSync(join(dir, 'advx.json'), JSON.stringify({ outputName: 'main' }));
  assert.equal((await loadClassifier(dir)).classifier.info.numClasses, 5);
  writeFileSync(join(dir, 'advx.json'), JSON.stringify({ outputName: 'nope' }));
  await assert.rejects(loadClassifier(dir), (e: unknown) => e instanceof AdvxError && /has no output "nope" \(its outputs: "aux", "main"\)/.test(e.message) && !e.message.includes('\n'));
});

/** A GraphModel with two heads on x [?, 4]: probs = softmax(x·A) (3 classes) and p = sigmoid(x·W). */
function writeTwoHeadGraph(dir: string, info?: object): void {
  writeGraphModel(dir, 4, { a: { shape: [4, 3], values: [1, 0, 0, 0, 2, 0, 0, 0, 3, 1, 1, 1] }, w: { shape: [4, 1], values: W } }, [
    graphOp('logits', 'MatMul', 'x', 'a'),
    graphOp('probs', 'Softmax', 'logits'),
    graphOp('z', 'MatMul', 'x', 'w'),
    graphOp('p', 'Sigmoid', 'z'),
  ]);
  if (info) writeFileSync(join(dir, 'advx.json'), JSON.stringify(info));
}

test('a GraphModel: Softmax and one-unit Sigmoid heads are detected, outputName picks the head', async () => {
  const dir = join(tmp, 'graph-two');
  writeTwoHeadGraph(dir, { outputName: 'p' });
  const binary = await loadClassifier(dir);
  assert.equal(binary.classifier.info.output, 'sigmoid');
  assert.equal(binary.classifier.info.numClasses, 2);
  assert.equal(binary.summary.lastOp, 'Sigmoid');
  const x = tf.tensor2d(X);
  await assertBinary(binary.classifier, x, Z.map(sigmoid));
  const probs = await loadClassifier(dir, { outputName: 'probs' });
  assert.equal(probs.classifier.info.output, 'probabilities');
  assert.equal(probs.classifier.info.numClasses, 3);
  assert.deepEqual(probs.summary.outputs.map((o) => o.name).sort(), ['p', 'probs']);
  // Gradients flow through the chosen head.
  const g = (await tf.grad((t: tf.Tensor) => tf.sum(tf.slice(binary.classifier.logits(t), [0, 1], [-1, 1])))(x).array()) as number[][];
  g.forEach((row) => row.forEach((v, i) => close(v, W[i], 1e-3)));
  await assert.rejects(loadClassifier(dir, { outputName: 'q' }), /has no output "q" \(its outputs: "(p|probs)", "(p|probs)"\)/);
  x.dispose();
});

/** An ONNX model on x [N, 4] with two outputs: probs = Softmax(x·A) and p = Sigmoid(x·W). */
function twoHeadOnnx(): Uint8Array {
  const Model = protobuf.Root.fromJSON(ONNX_SCHEMA).lookupType('onnx.ModelProto');
  const info = (name: string, ...dims: Array<number | string>) => ({
    name,
    type: { tensor_type: { elem_type: 1, shape: { dim: dims.map((d) => (typeof d === 'string' ? { dim_param: d } : { dim_value: d })) } } },
  });
  const weights = (name: string, dims: number[], values: number[]) => ({ name, dims, data_type: 1, float_data: values });
  return Model.encode(
    Model.fromObject({
      ir_version: 8,
      opset_import: [{ domain: '', version: 13 }],
      graph: {
        name: 'g',
        node: [
          { op_type: 'MatMul', name: 'm1', input: ['x', 'A'], output: ['logits'] },
          { op_type: 'Softmax', name: 's1', input: ['logits'], output: ['probs'] },
          { op_type: 'MatMul', name: 'm2', input: ['x', 'W'], output: ['z'] },
          { op_type: 'Sigmoid', name: 's2', input: ['z'], output: ['p'] },
        ],
        initializer: [weights('A', [4, 3], [1, 0, 0, 0, 2, 0, 0, 0, 3, 1, 1, 1]), weights('W', [4, 1], W)],
        input: [info('x', 'N', 4)],
        output: [info('probs', 'N', 3), info('p', 'N', 1)],
      },
    }),
  ).finish();
}

test('an ONNX model: Softmax detected as probabilities, a Sigmoid head by outputName, labels from a file', async () => {
  const path = join(tmp, 'two.onnx');
  writeFileSync(path, twoHeadOnnx());
  const first = await loadClassifier(path);
  assert.equal(first.classifier.info.output, 'probabilities');
  assert.equal(first.classifier.info.numClasses, 3);
  assert.equal(first.summary.sources.output, 'detected');
  first.onnx?.dispose();
  writeFileSync(join(tmp, 'labels.txt'), 'cat\ndog\n\n');
  writeFileSync(join(tmp, 'two.advx.json'), JSON.stringify({ outputName: 'p', labelsFile: 'labels.txt' }));
  const second = await loadClassifier(path);
  assert.equal(second.classifier.info.output, 'sigmoid');
  assert.deepEqual(second.classifier.info.classNames, ['cat', 'dog']);
  assert.equal(second.summary.sources.classNames, 'labels file');
  const x = tf.tensor2d(X);
  await assertBinary(second.classifier, x, Z.map(sigmoid));
  const labels = tf.tensor1d(await second.classifier.predict(x), 'int32');
  const result = await pgd(second.classifier, x, { labels }, { eps: 0.3, steps: 20, seed: 1, randomStart: false });
  assert.deepEqual(result.success, [true, true, true, true]);
  tf.dispose([x, labels, result.adversarial]);
  second.onnx?.dispose();
  writeFileSync(join(tmp, 'two.advx.json'), JSON.stringify({ outputName: 'nope' }));
  await assert.rejects(loadClassifier(path), (e: unknown) => e instanceof AdvxError && e.message.includes('(its outputs: "probs", "p")') && !e.message.includes('\n'));
});

test('advx.json: labelsFile is read relative to it and its count checked; new keys validated, unknown keys still refused', async () => {
  const dir = await saveLayers('labels', tfl.sequential({ layers: [tfl.layers.dense({ units: 3, inputShape: [4] })] }));
  writeFileSync(join(dir, 'names.txt'), 'a\r\nb\r\n');
  writeFileSync(join(dir, 'advx.json'), JSON.stringify({ labelsFile: 'names.txt' }));
  await assert.rejects(loadClassifier(dir), (e: unknown) => e instanceof AdvxError && e.message === `${join(dir, 'names.txt')} names 2 classes but the model has 3`);
  writeFileSync(join(dir, 'names.txt'), 'a\nb\nc');
  assert.deepEqual((await loadClassifier(dir)).classifier.info.classNames, ['a', 'b', 'c']);
  writeFileSync(join(dir, 'names.txt'), 'a\n\nc\n');
  assert.throws(() => readInfo(join(dir, 'advx.json')), /names\.txt: line 2 is blank/);
  writeFileSync(join(dir, 'advx.json'), JSON.stringify({ labelsFile: 'missing.txt' }));
  assert.throws(() => readInfo(join(dir, 'advx.json')), /could not read the labels file .*missing\.txt: no such file/);
  assert.throws(() => parseInfo({ classNames: ['a', 'b'], labelsFile: 'x.txt' }), /give classNames or labelsFile, not both/);
  assert.throws(() => parseInfo({ output: 'softmax' }), /output must be "logits", "probabilities", "sigmoid" .* or "logit"/);
  assert.throws(() => parseInfo({ outputName: '' }), /outputName must be a non-empty string/);
  assert.throws(() => parseInfo({ labels: 'x.txt' }), /unknown key "labels" \(allowed: .*outputName.*labelsFile/);
  assert.deepEqual(parseInfo({ output: 'sigmoid', outputName: 'p', labelsFile: 'l.txt' }), { output: 'sigmoid', outputName: 'p', labelsFile: 'l.txt' });
});
