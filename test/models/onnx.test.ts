/**
 * ONNX import: PyTorch-exported fixtures (scripts/onnx-fixtures.py) against PyTorch's own outputs
 * on cpu and wasm, input gradients against finite differences, PGD through an imported model,
 * ONNX's backend node tests (Debian's libonnx-testdata) for each mapped op, and the error lines.
 * Gradients are checked on cpu against finite differences, and wasm's (advx's depthwise
 * gradient kernels among them) against cpu's.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import protobuf from 'protobufjs/light.js';
import { maxAbsDiff, setup, tensorCounts } from '../helpers/backend.ts';
import { importOnnx } from '../../src/models/onnx.ts';
import { decodeTensor, HostArray } from '../../src/models/onnx/proto.ts';
import { ONNX_SCHEMA } from '../../src/models/onnx/schema.ts';
import type { Value } from '../../src/models/onnx/graph.ts';
import { loadClassifier } from '../../src/node/io/load-model.ts';
import { pgd } from '../../src/attacks/pgd.ts';
import { AdvxError } from '../../src/core/errors.ts';

const FIXTURES = new URL('../fixtures/onnx/', import.meta.url).pathname;
const NAMES = ['small-cnn', 'tiny-resnet', 'tiny-mobilenet'];
const NODE_TESTS = '/usr/share/libonnx-testdata/data/node';
const tmp = mkdtempSync(join(tmpdir(), 'advx-onnx-'));

interface Fixture {
  inputShape: number[];
  inputDivisor: number;
  input: number[];
  outputShape: number[];
  output: number[];
}

const fixture = (name: string): Fixture => JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), 'utf8'));
const onnxBytes = (name: string) => readFileSync(join(FIXTURES, `${name}.onnx`));
/** The fixture's inputs, NCHW as PyTorch saw them. */
const inputs = (f: Fixture) => tf.tensor(f.input.map((k) => k / f.inputDivisor), f.inputShape);

after(() => setup('wasm'));

for (const backend of ['cpu', 'wasm'] as const) {
  test(`on ${backend}, each PyTorch fixture's logits equal PyTorch's within 1e-4`, async (t) => {
    await setup(backend);
    for (const name of NAMES) {
      const f = fixture(name);
      const model = importOnnx(onnxBytes(name), name);
      const x = inputs(f);
      const y = model.forward(x);
      assert.deepEqual(y.shape, f.outputShape);
      const diff = maxAbsDiff(await y.data(), f.output);
      t.diagnostic(`${backend} ${name}: max |TF.js − PyTorch| = ${diff.toExponential(2)}`);
      assert.ok(diff < 1e-4, `${name} on ${backend}: max abs difference ${diff}`);
      tf.dispose([x, y]);
      model.dispose();
    }
  });
}

test('loadClassifier takes an .onnx file: NHWC inputs, shapes from the file, net.advx.json beside it', async () => {
  await setup('cpu');
  const f = fixture('tiny-resnet');
  const path = join(tmp, 'resnet.onnx');
  copyFileSync(join(FIXTURES, 'tiny-resnet.onnx'), path);
  const classNames = Array.from({ length: 10 }, (_, i) => `class ${i}`);
  writeFileSync(join(tmp, 'resnet.advx.json'), JSON.stringify({ bounds: [0, 1], classNames }));
  const { classifier, onnx } = await loadClassifier(path);
  assert.deepEqual(classifier.info.inputShape, [32, 32, 3]);
  assert.equal(classifier.info.numClasses, 10);
  assert.deepEqual(classifier.info.classNames, classNames);
  const nhwc = tf.transpose(inputs(f), [0, 2, 3, 1]);
  const diff = maxAbsDiff(await classifier.logits(nhwc).data(), f.output);
  assert.ok(diff < 1e-4, `max abs difference ${diff}`);
  onnx?.dispose();
});

test('the input gradient through each imported model matches central finite differences (cpu)', async (t) => {
  await setup('cpu');
  for (const name of NAMES) {
    const { classifier, onnx } = await loadClassifier(join(FIXTURES, `${name}.onnx`));
    const [h, w, c] = classifier.info.inputShape;
    const x = tf.randomUniform([2, h, w, c], 0, 1, 'float32', 7);
    const weights = tf.randomNormal([2, 10], 0, 1, 'float32', 8);
    const loss = (input: tf.Tensor) => tf.sum(tf.mul(classifier.logits(input), weights));
    const grad = await tf.grad(loss)(x).data();
    const values = (await x.data()) as Float32Array;
    const step = 1e-3;
    const lossAt = (v: Float32Array) => tf.tidy(() => loss(tf.tensor(v, x.shape)).dataSync()[0]);
    // What a float32 difference quotient can resolve: the loss's rounding over the step.
    const resolution = (2 * Math.abs(lossAt(values)) * 2 ** -23) / step;
    // The coordinates with the largest gradients, where the derivative stands out of the rounding.
    const top = Array.from(grad.keys()).sort((a, b) => Math.abs(grad[b]) - Math.abs(grad[a])).slice(0, 8);
    let worst = 0;
    for (const at of top) {
      const shifted = (delta: number) => {
        const v = values.slice();
        v[at] += delta;
        return lossAt(v);
      };
      const fd = (shifted(step) - shifted(-step)) / (2 * step);
      const gap = Math.abs(fd - grad[at]);
      worst = Math.max(worst, gap / Math.abs(grad[at]));
      assert.ok(gap < 2e-2 * Math.abs(grad[at]) + resolution, `${name}, coordinate ${at}: gradient ${grad[at]} vs finite difference ${fd}`);
    }
    // Along the gradient itself the derivative is ‖g‖: with a longer step (each pixel still moves
    // < 10⁻³ on average) it stands far above the rounding, even for the nearly flat random MobileNet.
    const norm = Math.hypot(...grad);
    const along = (h: number) => lossAt(values.map((v, i) => v + (h * grad[i]) / norm));
    const longStep = 0.02;
    const directional = (along(longStep) - along(-longStep)) / (2 * longStep);
    const gapAlong = Math.abs(directional - norm) / norm;
    assert.ok(gapAlong < 2e-2, `${name}: derivative along the gradient ${directional} vs ‖g‖ = ${norm}`);
    t.diagnostic(`${name}: largest relative gap gradient vs finite difference on the 8 largest coordinates = ${worst.toExponential(2)} (max |g| ${Math.abs(grad[top[0]]).toExponential(1)}, float32 resolution ${resolution.toExponential(1)}); along the gradient ${gapAlong.toExponential(2)}`);
    tf.dispose([x, weights]);
    onnx?.dispose();
  }
});

test('on wasm, the input gradient through each imported model equals cpu\'s within 1e-4 of its largest value', async (t) => {
  const gradientOn = async (backend: 'cpu' | 'wasm', name: string) => {
    await setup(backend);
    const { classifier, onnx } = await loadClassifier(join(FIXTURES, `${name}.onnx`));
    const [h, w, c] = classifier.info.inputShape;
    const x = tf.randomUniform([2, h, w, c], 0, 1, 'float32', 7);
    const weights = tf.randomNormal([2, 10], 0, 1, 'float32', 8);
    const g = tf.grad((input: tf.Tensor) => tf.sum(tf.mul(classifier.logits(input), weights)))(x);
    const data = await g.data();
    tf.dispose([x, weights, g]);
    onnx?.dispose();
    return data;
  };
  for (const name of NAMES) {
    const [onCpu, onWasm] = [await gradientOn('cpu', name), await gradientOn('wasm', name)];
    const scale = Math.max(...Array.from(onCpu, Math.abs));
    const diff = maxAbsDiff(onWasm, onCpu) / scale;
    t.diagnostic(`${name}: max |wasm − cpu| / max |g| = ${diff.toExponential(2)}`);
    assert.ok(diff < 1e-4, `${name}: ${diff}`);
  }
});

test('PGD (L∞, ε = 0.1) through the imported CNN flips most of its own predictions (cpu)', async (t) => {
  await setup('cpu');
  const { classifier, onnx } = await loadClassifier(join(FIXTURES, 'small-cnn.onnx'));
  const x = tf.randomUniform([32, 28, 28, 1], 0, 1, 'float32', 3);
  // Random weights: the model's own predictions are the labels to move away from.
  const labels = tf.tensor1d(await classifier.predict(x), 'int32');
  const result = await pgd(classifier, x, { labels }, { eps: 0.1, steps: 20, seed: 1 });
  const flipped = result.success.filter(Boolean).length;
  t.diagnostic(`PGD flipped ${flipped}/32 predictions of the small CNN at ε = 0.1`);
  assert.ok(flipped >= 24, `only ${flipped}/32 flipped`);
  assert.ok(Math.max(...result.linf) <= 0.1 + 1e-6);
  tf.dispose([x, labels, result.adversarial]);
  onnx?.dispose();
});

test('repeated forwards leak no tensors, and dispose() frees the weights', async () => {
  await setup('cpu');
  const before = tf.memory().numTensors;
  const { classifier, onnx } = await loadClassifier(join(FIXTURES, 'small-cnn.onnx'));
  const x = tf.zeros([2, 28, 28, 1]);
  const counts = await tensorCounts(() => {
    classifier.logits(x).dispose();
    tf.tidy(() => tf.grad((input: tf.Tensor) => tf.sum(classifier.logits(input)))(x)).dispose();
  });
  assert.equal(new Set(counts).size, 1, `tensor counts ${counts}`);
  x.dispose();
  onnx?.dispose();
  assert.equal(tf.memory().numTensors, before);
});

/** A one-node ONNX model, encoded with the official schema. */
function oneNodeModel(opType: string, nodeName: string): Uint8Array {
  const Model = protobuf.Root.fromJSON(ONNX_SCHEMA).lookupType('onnx.ModelProto');
  const info = (name: string) => ({ name, type: { tensor_type: { elem_type: 1, shape: { dim: [{ dim_value: 2 }, { dim_value: 3 }] } } } });
  return Model.encode(
    Model.fromObject({
      ir_version: 8,
      opset_import: [{ domain: '', version: 13 }],
      graph: { name: 'g', node: [{ op_type: opType, name: nodeName, input: ['x'], output: ['y'] }], input: [info('x')], output: [info('y')] },
    }),
  ).finish();
}

function assertOneLine(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof AdvxError, `not an AdvxError: ${e}`);
    assert.match(e.message, pattern);
    assert.ok(!e.message.includes('\n'), `more than one line: ${e.message}`);
    return true;
  });
}

test('an unsupported op, corrupt bytes and a missing file each give one AdvxError line', async () => {
  assertOneLine(() => importOnnx(oneNodeModel('Einsum', '/Einsum_3')), /^ONNX op "Einsum" \(node "\/Einsum_3"\) is not supported by advx's ONNX importer yet$/);
  assert.doesNotThrow(() => importOnnx(oneNodeModel('Relu', 'r')).dispose());
  const bytes = onnxBytes('small-cnn');
  assertOneLine(() => importOnnx(bytes.subarray(0, bytes.length / 2), 'cut.onnx'), /^cut\.onnx is not a valid ONNX file/);
  const junk = join(tmp, 'junk.onnx');
  writeFileSync(junk, 'this is not a protobuf');
  await assert.rejects(loadClassifier(junk), (e: unknown) => e instanceof AdvxError && e.message.includes(junk) && !e.message.includes('\n'));
  const missing = join(tmp, 'missing.onnx');
  await assert.rejects(loadClassifier(missing), (e: unknown) => e instanceof AdvxError && e.message.includes(missing) && !e.message.includes('\n'));
});

/** A test data file as what the graph takes: floats as a tensor, integers as a host array. */
function feedOf(path: string): Value {
  const c = decodeTensor(readFileSync(path));
  return c instanceof HostArray ? c : tf.tensor(c.floats, c.shape, 'float32');
}

function numbersOf(v: Value): { shape: number[]; data: ArrayLike<number> } {
  return v instanceof HostArray ? v : { shape: v.shape, data: v.dataSync() };
}

test('ONNX backend node tests: every test whose ops are all mapped agrees within 1e-4 relative (cpu)', { skip: existsSync(NODE_TESTS) ? false : `ONNX's node test data is absent: apt-get install -y libonnx-testdata` }, async (t) => {
  await setup('cpu');
  const failures: string[] = [];
  let run = 0;
  let unmapped = 0;
  for (const dir of readdirSync(NODE_TESTS).sort()) {
    const at = join(NODE_TESTS, dir);
    const dataDir = join(at, 'test_data_set_0');
    if (!existsSync(join(at, 'model.onnx')) || !existsSync(dataDir)) continue;
    let model;
    try {
      model = importOnnx(readFileSync(join(at, 'model.onnx')), dir);
    } catch (e) {
      if (e instanceof AdvxError && / is not supported|does not read/.test(e.message)) {
        unmapped++;
        continue;
      }
      throw e;
    }
    const files = (prefix: string) => readdirSync(dataDir).filter((f) => f.startsWith(prefix)).sort((a, b) => parseInt(a.slice(prefix.length)) - parseInt(b.slice(prefix.length)));
    const m = model;
    try {
      tf.tidy(() => {
        const feeds = Object.fromEntries(files('input_').map((f, i) => [m.inputs[i].name, feedOf(join(dataDir, f))]));
        const outputs = m.run(feeds);
        files('output_').forEach((f, i) => {
          const want = numbersOf(feedOf(join(dataDir, f)));
          const got = numbersOf(outputs[i]);
          assert.deepEqual(got.shape, want.shape, `output ${i} shape`);
          for (let j = 0; j < want.data.length; j++) {
            const gap = Math.abs(got.data[j] - want.data[j]);
            if (!(gap <= 1e-4 * Math.max(1, Math.abs(want.data[j])))) throw new Error(`output ${i}[${j}]: ${got.data[j]} vs ${want.data[j]}`);
          }
        });
      });
      run++;
    } catch (e) {
      if (e instanceof AdvxError && / is not supported|does not read/.test(e.message)) unmapped++;
      else {
        run++;
        failures.push(`${dir}: ${(e as Error).message.split('\n')[0]}`);
      }
    } finally {
      m.dispose();
    }
  }
  t.diagnostic(`ONNX node tests: ${run - failures.length}/${run} passed; ${unmapped} use an op or variant advx does not map`);
  assert.deepEqual(failures, []);
});
