import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { PNG } from 'pngjs';
import { setup } from '../helpers/backend.ts';
import { advx, lastJson } from '../helpers/cli.ts';
import { loadDataset } from '../../src/node/datasets.ts';
import { toTensors } from '../../src/data/types.ts';
import { buildModel } from '../../src/models/zoo.ts';
import { Classifier } from '../../src/models/classifier.ts';
import { fitClassifier } from '../../src/train/fit.ts';
import { evaluateRobustness, sanityWarnings } from '../../src/eval/robustness.ts';

let classifier: Classifier;
let model: import('@tensorflow/tfjs-layers').LayersModel;
let x: tf.Tensor4D;
let y: tf.Tensor1D;

before(async () => {
  await setup();
  const { train, test } = loadDataset('mnist', { limit: { train: 3000, test: 48 } });
  model = buildModel('mlp', { inputShape: [28, 28, 1], numClasses: 10, seed: 9 });
  await fitClassifier(model, train, { epochs: 2, batchSize: 64, learningRate: 2e-3, seed: 9 });
  classifier = new Classifier((t) => model.apply(t) as tf.Tensor, { inputShape: [28, 28, 1], numClasses: 10, bounds: [0, 1] });
  ({ x, y } = toTensors(test));
});

test('robust accuracy: ε = 0 is clean accuracy, it falls with ε, unbounded ε gives 0%, worst case ≤ each attack', async () => {
  const r = await evaluateRobustness(classifier, x, y, { attacks: ['fgsm', 'pgd'], eps: [0, 0.05, 0.15, 1], steps: 10, seed: 1 });
  assert.equal(r.robust_accuracy['0'], r.clean_accuracy);
  assert.ok(r.clean_accuracy > 0.8);
  for (const a of ['fgsm', 'pgd']) {
    const curve = r.eps.map((e) => r.per_attack[a][String(e)]);
    for (let i = 1; i < curve.length; i++) assert.ok(curve[i] <= curve[i - 1], `${a} not monotone: ${curve}`);
  }
  assert.equal(r.per_attack.pgd['1'], 0, 'an unbounded budget must break every input');
  for (const e of r.eps) assert.ok(r.robust_accuracy[String(e)] <= Math.min(r.per_attack.fgsm[String(e)], r.per_attack.pgd[String(e)]));
  assert.deepEqual(r.warnings, []);
});

test('a model with zero gradients (rounded input) is flagged as masking', async () => {
  const masked = new Classifier((t) => model.apply(tf.round(t)) as tf.Tensor, { inputShape: [28, 28, 1], numClasses: 10, bounds: [0, 1] });
  const r = await evaluateRobustness(masked, x, y, { attacks: ['pgd'], eps: [0.1], steps: 5 });
  assert.equal(r.zero_gradient_share, 1);
  assert.ok(r.warnings.some((w) => /zero loss gradient/.test(w)), r.warnings.join('\n'));
  // PGD makes no progress without gradients: the "robustness" is an artefact, which the warning says.
  assert.ok(r.robust_accuracy['0.1'] > 0.5);
});

test('sanity checks: non-monotone curves and black-box beating white-box are reported', () => {
  const w = sanityWarnings({ pgd: { '0.1': 0.5, '0.2': 0.6 }, square: { '0.1': 0.2, '0.2': 0.1 } }, [0.1, 0.2], 0);
  assert.ok(w.some((s) => /pgd: robust accuracy rises/.test(s)));
  assert.ok(w.some((s) => /black-box attack/.test(s)));
});

test('advx robustness writes the JSON, SVG and PNG curve and prints the promised last line', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'advx-rob-'));
  const t = advx(['train', '--model', 'mlp', '--epochs', '1', '--limit', '2000', '--out', join(tmp, 'run'), '--quiet']);
  assert.equal(t.status, 0, t.stderr);
  const r = advx(['robustness', '--model', join(tmp, 'run', 'model'), '--attacks', 'fgsm,pgd', '--eps', '0,0.1,0.3', '--steps', '5', '--limit', '32', '--out', join(tmp, 'rob'), '--json']);
  assert.equal(r.status, 0, r.stderr);
  const last = lastJson(r.stdout);
  assert.equal(typeof last.clean_accuracy, 'number');
  assert.deepEqual(Object.keys(last.robust_accuracy as object), ['0', '0.1', '0.3']);
  assert.match(readFileSync(join(tmp, 'rob', 'curve.svg'), 'utf8'), /<svg[\s\S]*worst case/);
  const png = PNG.sync.read(readFileSync(join(tmp, 'rob', 'curve.png')));
  assert.ok(png.width > 600);
  const html = readFileSync(join(tmp, 'rob', 'report.html'), 'utf8');
  const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
  assert.ok(html.includes(pct(last.clean_accuracy as number)), 'clean accuracy in report.html');
  const per = last.per_attack as Record<string, Record<string, number>>;
  for (const e of ['0', '0.1', '0.3']) {
    const row = `<tr><td>${e}</td><td>${pct(per.fgsm[e])}</td><td>${pct(per.pgd[e])}</td><td>${pct((last.robust_accuracy as Record<string, number>)[e])}</td></tr>`;
    assert.ok(html.includes(row), `${row} in report.html`);
  }
  assert.match(html, /<img src="data:image\/svg\+xml;base64,/);
  assert.doesNotMatch(html, /https?:\/\/|<script/i);
  const bad = advx(['robustness', '--model', join(tmp, 'run', 'model'), '--eps', '0,-1']);
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /--eps: "-1" is not a non-negative number/);
});
