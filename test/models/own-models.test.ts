/**
 * Models users bring, end to end through the CLI: a ResNet trained by PyTorch on MNIST-M and
 * exported to ONNX (scripts/onnx-trained.ts), attacked on a folder of images; a third-party TF.js
 * graph model with depthwise convolutions (scripts/third-party-models.sh), attacked white-box on wasm.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { loadDataset } from '../../src/node/datasets/index.ts';
import { loadClassifier } from '../../src/node/io/load-model.ts';
import { advx, lastJson } from '../helpers/cli.ts';
import { setup } from '../helpers/backend.ts';
import { writeImageFolder } from '../helpers/image-folder.ts';

const tmp = mkdtempSync(join(tmpdir(), 'advx-own-models-'));
const RESNET = new URL('../fixtures/onnx/resnet-mnistm.onnx', import.meta.url).pathname;
/** What scripts/onnx-trained.py recorded in PyTorch: its test accuracy and the logits of the first 8 test images. */
const made = () => JSON.parse(readFileSync(new URL('../fixtures/onnx/resnet-mnistm.json', import.meta.url), 'utf8')) as { pytorchTestAccuracy: number; firstTestLogits: number[][] };
const EMOTION = new URL('../fixtures/third-party/human-emotion', import.meta.url).pathname;
const DIGITS = Array.from({ length: 10 }, (_, i) => String(i));

test('the PyTorch-trained ResNet (ONNX) computes in advx what it computed in PyTorch', async () => {
  await setup('wasm');
  const { classifier: model, onnx } = await loadClassifier(RESNET);
  const data = loadDataset('mnist-m', { limit: { train: 0, test: 8 } }).test;
  const x = tf.tensor4d(data.images, [8, 28, 28, 3]);
  const logits = model.logits(x);
  const got = (await logits.array()) as number[][];
  tf.dispose([x, logits]);
  onnx?.dispose();
  const worst = Math.max(...got.flatMap((row, i) => row.map((v, j) => Math.abs(v - made().firstTestLogits[i][j]))));
  assert.ok(worst < 1e-4, `largest difference from PyTorch's logits: ${worst}`);
});

test('advx attack --model resnet-mnistm.onnx --data <image folder> --attack pgd --eps 0.03 flips ≥ 90% of the correctly classified images', () => {
  const folder = join(tmp, 'mnist-m');
  writeImageFolder(folder, loadDataset('mnist-m', { limit: { train: 0, test: 64 } }).test, 64, DIGITS);
  const r = advx(['attack', '--model', RESNET, '--data', folder, '--attack', 'pgd', '--eps', '0.03', '--json']);
  assert.equal(r.status, 0, r.stderr);
  const s = lastJson(r.stdout) as { count: number; clean_accuracy: number; success_rate: number; mean_linf: number };
  assert.equal(s.count, 64);
  // The folder's PNGs are the dataset's bytes: PyTorch's accuracy on the whole split, give or take a small sample's spread.
  assert.ok(Math.abs(s.clean_accuracy - made().pytorchTestAccuracy) < 0.1, `clean accuracy ${s.clean_accuracy} vs PyTorch's ${made().pytorchTestAccuracy}`);
  assert.ok(s.success_rate >= 0.9, `PGD ε 0.03 flipped ${s.success_rate}`);
  assert.ok(s.mean_linf <= 0.03 + 1e-6);
});

test('white-box PGD on a third-party TF.js graph model with depthwise convolutions (Human\'s emotion net), on wasm', () => {
  const folder = join(tmp, 'photos');
  // Unlabelled colour images: advx converts them to the model's 64×64 grey and labels them by its own predictions.
  writeImageFolder(folder, loadDataset('mnist-m', { limit: { train: 0, test: 8 } }).test, 8, DIGITS, { flat: true });
  const r = advx(['attack', '--model', EMOTION, '--data', folder, '--attack', 'pgd', '--eps', '0.03', '--steps', '10', '--backend', 'wasm', '--json']);
  assert.equal(r.status, 0, r.stderr);
  const s = lastJson(r.stdout) as { count: number; clean_accuracy: number; success_rate: number };
  assert.equal(s.count, 8);
  assert.equal(s.clean_accuracy, 1, 'labels are the model\'s own predictions');
  assert.ok(s.success_rate >= 0.9, `PGD ε 0.03 flipped ${s.success_rate}`);
  assert.match(r.stderr + r.stdout, /model's own predictions/);
});
