/** `advx inspect`: what advx sees of a Layers model, an ONNX file and a TF.js graph model; a bad path. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { advx, lastJson } from '../helpers/cli.ts';
import { graphOp, writeGraphModel } from '../helpers/graph-model.ts';

const tmp = mkdtempSync(join(tmpdir(), 'advx-inspect-'));
const ONNX = new URL('../fixtures/onnx/small-cnn.onnx', import.meta.url).pathname;

test('inspect models/mnist-cnn (TF.js layers): format, shapes, classes, sources, parameters, timing', () => {
  const r = advx(['inspect', 'models/mnist-cnn', '--json']);
  assert.equal(r.status, 0, r.stderr);
  const d = lastJson(r.stdout);
  assert.equal(d.format, 'layers');
  assert.equal(d.formatName, 'TF.js layers');
  assert.deepEqual(d.inputShape, [28, 28, 1]);
  assert.equal(d.layout, 'NHWC');
  assert.deepEqual((d.inputs as Array<{ shape: number[] }>)[0].shape, [-1, 28, 28, 1]);
  assert.deepEqual(d.outputs, [{ name: d.outputName, shape: [-1, 10], used: true }]);
  assert.equal(d.numClasses, 10);
  assert.deepEqual(d.classNames, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
  assert.equal(d.output, 'logits');
  assert.deepEqual(d.bounds, [0, 1]);
  assert.equal(d.preprocessing, null);
  assert.deepEqual(d.sources, { inputShape: 'advx.json', numClasses: 'advx.json', bounds: 'advx.json', preprocessing: 'default', output: 'advx.json', classNames: 'advx.json' });
  assert.ok(Number.isInteger(d.parameters) && (d.parameters as number) > 1000);
  assert.ok((d.layers as Array<{ type: string }>).some((l) => l.type === 'Conv2D'));
  assert.equal(d.backend, 'wasm');
  // advx's native kernels, their threads, and relaxed SIMD: on, the CLI turns Node 20's flag on itself.
  const threads = availableParallelism() < 2 ? 1 : Math.min(8, availableParallelism());
  assert.deepEqual(d.kernels, { backend: 'wasm', native: true, threads, relaxedSimd: true, relaxedSimdAvailable: true });
  assert.ok(typeof d.forwardMs === 'number' && d.forwardMs > 0);
  // The text form: one row per fact.
  const text = advx(['inspect', 'models/mnist-cnn']);
  assert.equal(text.status, 0, text.stderr);
  assert.match(text.stdout, /format\s+TF\.js layers/);
  assert.match(text.stdout, /kernels\s+wasm: native SIMD kernels on \d+ threads?, relaxed SIMD \(FMA\) on\n/);
  assert.match(text.stdout, /forward\s+[\d.]+ ms \(median of 5, batch of 1, wasm\)/);
});

test('inspect an ONNX file: opset, NCHW in the file and NHWC to advx, op counts, defaults', () => {
  const r = advx(['inspect', ONNX, '--json', '--backend', 'cpu']);
  assert.equal(r.status, 0, r.stderr);
  const d = lastJson(r.stdout);
  assert.equal(d.format, 'onnx');
  assert.match(d.formatName as string, /^ONNX opset \d+$/);
  assert.equal(d.formatName, `ONNX opset ${d.opset}`);
  assert.deepEqual((d.inputs as Array<{ shape: number[] }>)[0].shape.slice(1), [1, 28, 28]);
  assert.deepEqual(d.inputShape, [28, 28, 1]);
  assert.equal(d.layout, 'NCHW in the file, NHWC to advx');
  assert.equal(d.numClasses, 10);
  assert.equal(d.classNames, null);
  assert.equal(d.output, 'logits');
  assert.equal((d.sources as Record<string, string>).bounds, 'default');
  assert.equal((d.sources as Record<string, string>).output, 'default');
  assert.equal(d.infoFile, null);
  const ops = d.ops as Array<{ op: string; count: number }>;
  assert.equal(ops.find((o) => o.op === 'Conv')?.count, 2);
  assert.ok(ops.some((o) => o.op === 'Gemm'));
  assert.ok((d.parameters as number) > 0);
  assert.equal(d.backend, 'cpu');
  assert.ok(typeof d.forwardMs === 'number');
});

/** A TF.js graph model: probs = softmax(x·A + b) on x [?, 4], with bounds declared in advx.json. */
function writeGraph(dir: string): void {
  writeGraphModel(dir, 4, { a: { shape: [4, 3], values: [1, 0, 0, 0, 2, 0, 0, 0, 3, 1, 1, 1] }, b: { shape: [3], values: [0.1, 0.2, 0.3] } }, [
    graphOp('mm', 'MatMul', 'x', 'a'),
    graphOp('logits', 'BiasAdd', 'mm', 'b'),
    graphOp('probs', 'Softmax', 'logits'),
    graphOp('out', 'Identity', 'probs'),
  ]);
  writeFileSync(join(dir, 'advx.json'), JSON.stringify({ inputShape: [4], bounds: [0, 255], preprocessing: { scale: 1 / 255 }, labelsFile: 'labels.txt' }));
  writeFileSync(join(dir, 'labels.txt'), 'red\ngreen\nblue\n');
}

test('inspect a TF.js graph model: ops with kernels and gradients, a detected softmax, declared bounds and labels', () => {
  const dir = join(tmp, 'graph');
  writeGraph(dir);
  const r = advx(['inspect', dir, '--json']);
  assert.equal(r.status, 0, r.stderr);
  const d = lastJson(r.stdout);
  assert.equal(d.format, 'graph');
  assert.equal(d.formatName, 'TF.js graph');
  assert.equal(d.outputName, 'out');
  assert.equal(d.lastOp, 'Softmax');
  assert.equal(d.output, 'probabilities');
  assert.equal(d.numClasses, 3);
  assert.deepEqual(d.classNames, ['red', 'green', 'blue']);
  assert.deepEqual(d.bounds, [0, 255]);
  assert.deepEqual(d.preprocessing, { scale: 1 / 255 });
  const sources = d.sources as Record<string, string>;
  assert.equal(sources.output, 'detected');
  assert.equal(sources.bounds, 'advx.json');
  assert.equal(sources.classNames, 'labels file');
  assert.equal(d.labelsFile, join(dir, 'labels.txt'));
  assert.equal(d.parameters, 15);
  const ops = Object.fromEntries((d.ops as Array<{ op: string; count: number; gradient?: string; wasm?: string }>).map((o) => [o.op, o]));
  assert.deepEqual(ops.MatMul, { op: 'MatMul', count: 1, kernel: 'BatchMatMul', gradient: 'yes', wasm: 'yes' });
  assert.deepEqual(ops.BiasAdd, { op: 'BiasAdd', count: 1, kernel: 'Add', gradient: 'yes', wasm: 'yes' });
  assert.equal(ops.Softmax.gradient, 'yes');
  assert.equal(ops.Const.count, 2);
  assert.equal(ops.Const.gradient, 'n/a');
  assert.equal(d.gradients, 'available for every op');
  assert.ok(typeof d.forwardMs === 'number');
  // On cpu the wasm kernels are not loaded: whether wasm has an op is unknown, not "no".
  const cpu = lastJson(advx(['inspect', dir, '--json', '--backend', 'cpu']).stdout);
  assert.equal((cpu.ops as Array<{ op: string; wasm: string }>).find((o) => o.op === 'MatMul')?.wasm, 'unknown');
});

test('inspect a path with no model: one line, exit code 2', () => {
  const r = advx(['inspect', join(tmp, 'nothing-here'), '--json']);
  assert.equal(r.status, 2);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr.trim().split('\n').filter((l) => l.startsWith('advx:')).length, 1);
  assert.match(r.stderr, /advx: no model at .*nothing-here/);
  const onnx = advx(['inspect', join(tmp, 'missing.onnx')]);
  assert.equal(onnx.status, 2);
  assert.match(onnx.stderr, /advx: could not read the ONNX file .*missing\.onnx: no such file/);
});
