/**
 * ONNX Runtime as advx's fast forward pass (src/node/io/onnx-runtime.ts): the importer (TF.js, cpu
 * and wasm) and onnxruntime-node agree on whole models, on the same inputs; black-box attacks run
 * through `--runtime onnxruntime` with exact query counts; white-box attacks are refused; an op the
 * importer lacks runs under ONNX Runtime and the importer's refusal says so; `--output` picks the
 * class vector of a model with two outputs, on both runtimes, over advx.json's outputName.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { stripVTControlCharacters } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import protobuf from 'protobufjs/light.js';
import { maxAbsDiff, setup } from '../helpers/backend.ts';
import { advx, BIN, lastJson } from '../helpers/cli.ts';
import { twoHeads } from '../helpers/onnx-models.ts';
import { loadClassifier } from '../../src/node/io/load-model.ts';
import { OnnxRuntimeModel } from '../../src/node/io/onnx-runtime.ts';
import { importOnnx } from '../../src/models/onnx.ts';
import { ONNX_SCHEMA } from '../../src/models/onnx/schema.ts';
import { loadDataset } from '../../src/node/datasets/index.ts';

const FIXTURES = new URL('../fixtures/onnx/', import.meta.url).pathname;
const NAMES = ['small-cnn', 'tiny-resnet', 'tiny-mobilenet'];
const tmp = mkdtempSync(join(tmpdir(), 'advx-ort-'));
const fixturePath = (name: string) => join(FIXTURES, `${name}.onnx`);

after(() => setup('wasm'));

test("onnxruntime-node answers each fixture as PyTorch did, on the fixture's own inputs, within 1e-4", async (t) => {
  await setup('cpu');
  for (const name of NAMES) {
    const f = JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), 'utf8')) as { inputShape: number[]; inputDivisor: number; input: number[]; output: number[] };
    const model = await OnnxRuntimeModel.open(fixturePath(name));
    // The fixture's inputs are NCHW, as PyTorch saw them; advx hands the model NHWC.
    const x = tf.transpose(tf.tensor(f.input.map((k) => k / f.inputDivisor), f.inputShape), [0, 2, 3, 1]);
    const logits = await model.logits(x);
    const diff = maxAbsDiff(await logits.data(), f.output);
    t.diagnostic(`${name}: max |onnxruntime − PyTorch| = ${diff.toExponential(2)}`);
    assert.ok(diff <= 1e-4, `${name}: ${diff}`);
    tf.dispose([x, logits]);
    await model.dispose();
  }
});

for (const backend of ['cpu', 'wasm'] as const) {
  test(`the importer on ${backend} and onnxruntime-node agree on each whole model, on the same random inputs, within 1e-4`, async (t) => {
    await setup(backend);
    for (const name of NAMES) {
      const { classifier, onnx } = await loadClassifier(fixturePath(name));
      // maxBatch 4 and 9 images: several runs, and the last of a fixed-batch (4) file padded.
      const runtime = await OnnxRuntimeModel.open(fixturePath(name), { maxBatch: 4 });
      assert.deepEqual(runtime.info, classifier.info);
      const x = tf.randomUniform([9, ...classifier.info.inputShape], 0, 1, 'float32', 11);
      const [tfLogits, ortLogits] = [classifier.logits(x), await runtime.logits(x)];
      const logitDiff = maxAbsDiff(await tfLogits.data(), await ortLogits.data());
      const [tfScores, ortScores] = [classifier.probabilities(x), await runtime.scores(x)];
      const scoreDiff = maxAbsDiff(await tfScores.data(), await ortScores.data());
      t.diagnostic(`${backend} ${name}: max |TF.js − onnxruntime| logits ${logitDiff.toExponential(2)}, probabilities ${scoreDiff.toExponential(2)}`);
      assert.ok(logitDiff <= 1e-4 && scoreDiff <= 1e-4, `${name}: logits ${logitDiff}, probabilities ${scoreDiff}`);
      assert.deepEqual(await runtime.label(x), await classifier.predict(x));
      assert.equal(runtime.queries, 27, 'three calls on 9 images');
      tf.dispose([x, tfLogits, ortLogits, tfScores, ortScores]);
      onnx?.dispose();
      await runtime.dispose();
    }
  });
}

/**
 * A graph that moves images between layouts (the importer keeps them NHWC between convolutions
 * and transposes lazily): a conv, a [C, 1, 1] bias added by broadcast, an asymmetric Pad, a
 * strided depthwise and a grouped conv, batch norm, max pooling, then ops that read axes by
 * position (Softmax and Concat on the channel axis, Flatten), and an NHWC intermediate as output.
 */
function layoutGraph(): Uint8Array {
  const Model = protobuf.Root.fromJSON(ONNX_SCHEMA).lookupType('onnx.ModelProto');
  let seed = 7;
  const random = (n: number) => Array.from({ length: n }, () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1);
  const floats = (name: string, dims: number[]) => ({ name, dims, data_type: 1, float_data: random(dims.reduce((a, b) => a * b, 1)) });
  const info = (name: string, dims: number[]) => ({ name, type: { tensor_type: { elem_type: 1, shape: { dim: dims.map((d) => ({ dim_value: d })) } } } });
  const ints = (name: string, values: number[]) => ({ name, type: 7, ints: values });
  const int = (name: string, i: number) => ({ name, type: 2, i });
  const node = (op_type: string, input: string[], output: string, attribute: object[] = []) => ({ op_type, name: output, input, output: [output], attribute });
  const initializer = [
    floats('w1', [4, 3, 3, 3]), floats('b1', [4]), floats('cb', [4, 1, 1]), floats('w2', [4, 1, 3, 3]), floats('w3', [6, 2, 1, 1]),
    floats('scale', [4]), floats('shift', [4]), floats('mean', [4]), { ...floats('var', [4]), float_data: [0.5, 1, 1.5, 2] },
    { name: 'pads', dims: [8], data_type: 7, int64_data: [0, 0, 1, 0, 0, 0, 0, 2] }, { name: 'fill', dims: [], data_type: 1, float_data: [0.5] },
  ];
  const nodes = [
    node('Conv', ['x', 'w1', 'b1'], 'c1', [ints('pads', [1, 1, 1, 1])]),
    node('Add', ['c1', 'cb'], 'a1'),
    node('Relu', ['a1'], 'r1'),
    node('Pad', ['r1', 'pads', 'fill'], 'p1'),
    node('Conv', ['p1', 'w2'], 'c2', [int('group', 4), ints('strides', [2, 2]), ints('pads', [1, 0, 1, 1])]),
    node('BatchNormalization', ['c2', 'scale', 'shift', 'mean', 'var'], 'n2'),
    node('Conv', ['n2', 'w3'], 'c3', [int('group', 2)]),
    node('MaxPool', ['c3'], 'm3', [ints('kernel_shape', [2, 2]), ints('strides', [1, 1])]),
    node('Sigmoid', ['m3'], 's3'),
    node('Softmax', ['s3'], 'sm', [int('axis', 1)]),
    node('Concat', ['sm', 's3'], 'cat', [int('axis', 1)]),
    node('Flatten', ['cat'], 'out'),
    node('GlobalAveragePool', ['r1'], 'g1'),
    node('Flatten', ['g1'], 'pooled'),
  ];
  const graph = { name: 'layouts', node: nodes, initializer, input: [info('x', [2, 3, 7, 6])], output: [info('out', [2, 108]), info('pooled', [2, 4]), info('r1', [2, 4, 7, 6])] };
  return Model.encode(Model.fromObject({ ir_version: 8, opset_import: [{ domain: '', version: 13 }], graph })).finish();
}

test('a graph whose images change layout between ops gives onnxruntime-node\'s outputs within 1e-4, on cpu and wasm, fed NCHW or NHWC', async (t) => {
  const ort = await import('onnxruntime-node');
  const bytes = layoutGraph();
  const session = await ort.InferenceSession.create(bytes);
  const data = Float32Array.from({ length: 2 * 3 * 7 * 6 }, (_, i) => Math.sin(i * 0.37));
  const want = await session.run({ x: new ort.Tensor('float32', data, [2, 3, 7, 6]) });
  for (const backend of ['cpu', 'wasm'] as const) {
    await setup(backend);
    const model = importOnnx(bytes);
    const nchw = tf.tensor(data, [2, 3, 7, 6]);
    const nhwc = tf.transpose(nchw, [0, 2, 3, 1]);
    for (const [fed, channelsLast] of [[nchw, false], [nhwc, true]] as const) {
      const got = tf.tidy(() => model.run({ x: fed }, new Set(channelsLast ? ['x'] : [])) as tf.Tensor[]);
      model.outputs.forEach((o, i) => {
        assert.deepEqual(got[i].shape, want[o.name].dims, o.name);
        const diff = maxAbsDiff(got[i].dataSync(), want[o.name].data as Float32Array);
        t.diagnostic(`${backend}, fed ${channelsLast ? 'NHWC' : 'NCHW'}, ${o.name}: max |TF.js − onnxruntime| = ${diff.toExponential(2)}`);
        assert.ok(diff <= 1e-4, `${o.name}: ${diff}`);
      });
      tf.dispose(got);
    }
    tf.dispose([nchw, nhwc]);
    model.dispose();
  }
  await session.release();
});

test('square through --runtime onnxruntime: the runtime answered exactly the queries results.json counts, plus two re-checks per image', (t) => {
  const runs = ['onnxruntime', 'tfjs'].map((runtime) => {
    const out = join(tmp, `square-${runtime}`);
    const r = advx(['attack', '--model', fixturePath('small-cnn'), '--runtime', runtime, '--attack', 'square', '--eps', '0.2', '--queries', '100', '--limit', '30', '--backend', 'cpu', '--out', out, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { examples: Array<{ queries: number; success: boolean }> };
    return { json: lastJson(r.stdout), examples: results.examples };
  });
  const [ort, tfjs] = runs;
  const asked = ort.examples.map((e) => e.queries);
  assert.equal(asked.length, 30);
  assert.ok(asked.every((q) => Number.isInteger(q) && q >= 1 && q <= 100), `queries ${asked}`);
  // Misclassified images cost the first query only; the others stop when flipped or at the budget.
  assert.ok(asked.some((q) => q > 1 && q < 100), `no example stopped between 1 and the budget: ${asked}`);
  t.diagnostic(`square, ε = 0.2, 100 queries: queries per example ${asked}; onnxruntime answered ${ort.json.queries} images`);
  assert.equal(ort.json.runtime, 'onnxruntime');
  assert.equal(ort.json.queries, asked.reduce((a, b) => a + b, 0) + 2 * 30, `runtime answered ${ort.json.queries}; the attack asked ${asked}`);
  // The same attack, seed and model through the importer takes the same path: the runtimes agree to ~1e-7.
  assert.deepEqual(asked, tfjs.examples.map((e) => e.queries));
  assert.deepEqual(ort.examples.map((e) => e.success), tfjs.examples.map((e) => e.success));
});

test('a white-box attack under --runtime onnxruntime is refused in one line, exit 2, before any work', () => {
  const out = join(tmp, 'pgd');
  const r = advx(['attack', '--model', fixturePath('small-cnn'), '--runtime', 'onnxruntime', '--attack', 'pgd', '--out', out]);
  assert.equal(r.status, 2);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.ok(!existsSync(out), 'nothing written');
  assert.match(lines[0], /attack "pgd" needs white-box access \(gradients\), but .*small-cnn\.onnx under --runtime onnxruntime gives score access only: use square, nes, spsa, hsj/);
  const folder = advx(['attack', '--model', join(tmp), '--runtime', 'onnxruntime', '--attack', 'square']);
  assert.equal(folder.status, 2);
  assert.match(folder.stderr.trim(), /^advx: --runtime onnxruntime runs an \.onnx --model, not /);
});

const LIMIT = 200;
const labels = loadDataset('mnist').test.labels.subarray(0, LIMIT);
const share = (k: number) => labels.filter((l) => l === k).length / LIMIT;

test('an op the importer lacks: the importer refuses in one line naming --runtime onnxruntime, which evaluates the model', () => {
  const path = join(tmp, 'softsign.onnx');
  writeFileSync(path, twoHeads(true));
  const refused = advx(['evaluate', '--model', path, '--limit', String(LIMIT), '--backend', 'cpu']);
  assert.equal(refused.status, 2);
  assert.equal(refused.stderr.trim().split('\n').length, 1, refused.stderr);
  assert.match(refused.stderr, /ONNX op "Softsign" \(node "b"\) is not supported by advx's ONNX importer yet: --runtime onnxruntime runs the file as a black box/);
  // A white-box attack cannot use ONNX Runtime: its refusal does not point there.
  const whiteBox = advx(['attack', '--model', path, '--attack', 'fgsm', '--limit', '4', '--backend', 'cpu']);
  assert.equal(whiteBox.status, 2);
  assert.match(whiteBox.stderr, /ONNX op "Softsign"/);
  assert.doesNotMatch(whiteBox.stderr, /--runtime/);
  const run = (output: string) => {
    const r = advx(['evaluate', '--model', path, '--runtime', 'onnxruntime', '--output', output, '--limit', String(LIMIT), '--json']);
    assert.equal(r.status, 0, r.stderr);
    return lastJson(r.stdout);
  };
  assert.equal(run('a').accuracy, share(7));
  const b = run('b');
  assert.equal(b.accuracy, share(1));
  assert.equal(b.queries, LIMIT);
});

test("--output picks the class vector over advx.json's outputName, on both runtimes", () => {
  const path = join(tmp, 'two-heads.onnx');
  writeFileSync(path, twoHeads(false));
  writeFileSync(join(tmp, 'two-heads.advx.json'), JSON.stringify({ outputName: 'b' }));
  for (const runtime of ['tfjs', 'onnxruntime']) {
    const accuracy = (...extra: string[]) => {
      const r = advx(['evaluate', '--model', path, '--runtime', runtime, '--limit', String(LIMIT), '--backend', 'cpu', '--json', ...extra]);
      assert.equal(r.status, 0, r.stderr);
      return lastJson(r.stdout).accuracy;
    };
    assert.equal(accuracy(), share(1), `${runtime}: advx.json's outputName`);
    assert.equal(accuracy('--output', 'a'), share(7), `${runtime}: --output a`);
  }
  const missing = advx(['evaluate', '--model', path, '--runtime', 'onnxruntime', '--output', 'c', '--limit', '4']);
  assert.equal(missing.status, 2);
  assert.match(missing.stderr.trim(), /^advx: .*two-heads\.onnx has no output "c" \(its outputs: "a", "b"\)$/);
});

test('without onnxruntime-node, --runtime onnxruntime says how to install it, in one line, exit 2', () => {
  // A resolve hook that finds no onnxruntime-node, as on a machine without it.
  const hooks = join(tmp, 'no-ort-hooks.mjs');
  writeFileSync(
    hooks,
    `export async function resolve(specifier, context, next) {
  if (specifier === 'onnxruntime-node') throw Object.assign(new Error("Cannot find package 'onnxruntime-node' imported from " + context.parentURL), { code: 'ERR_MODULE_NOT_FOUND' });
  return next(specifier, context);
}\n`,
  );
  const register = join(tmp, 'no-ort.mjs');
  writeFileSync(register, `import { register } from 'node:module';\nregister(${JSON.stringify(new URL(`file://${hooks}`).href)});\n`);
  copyFileSync(fixturePath('small-cnn'), join(tmp, 'cnn.onnx'));
  const r = spawnSync(process.execPath, ['--import', register, BIN, 'evaluate', '--model', join(tmp, 'cnn.onnx'), '--runtime', 'onnxruntime', '--limit', '4'], { encoding: 'utf8' });
  assert.equal(r.status, 2, r.stderr);
  assert.equal(stripVTControlCharacters(r.stderr).trim(), 'advx: onnxruntime-node is not installed: npm install onnxruntime-node');
});
